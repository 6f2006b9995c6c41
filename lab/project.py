# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pointing an Ansible project (an inventory directory with group_vars and host_vars) at a lab.

The project's hosts keep their own names (``my-host``, ``etcd-1``); their ``ansible_host`` is
a lab address, and this writes the lab's connection settings into the inventory directory
(``90-lab.yml``) so that ``ansible-playbook`` from the project reaches the lab hosts by SSH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from palisade_lab import SSH_COMMON, Lab

CONNECTION_FILE = "90-lab.yml"


def connect_inventory(inventory_dir: Path, lab: Lab) -> Path:
    """Write the lab's connection settings beside the project's inventory files."""
    q = json.dumps
    path = inventory_dir / CONNECTION_FILE
    path.write_text(
        f"# written for lab {lab.name}; removed when the lab goes down\n"
        "all:\n  vars:\n"
        "    ansible_user: root\n"
        f"    ansible_ssh_private_key_file: {q(str(lab.key_path))}\n"
        f"    ansible_ssh_common_args: {q(SSH_COMMON)}\n"
        "    ansible_python_interpreter: /usr/bin/python3\n"
    )
    return path


def write_site_files(root: Path) -> None:
    """A project's ``site.yml`` (the collection's site playbook) and ``ansible.cfg`` (its inventory)."""
    (root / "site.yml").write_text("- name: Apply\n  ansible.builtin.import_playbook: palisade.firewall.site\n")
    (root / "ansible.cfg").write_text("[defaults]\ninventory = inventory\ninterpreter_python = auto_silent\n")


def ansible_env(lab: Lab, collections: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(lab.control_path_dir),
        "ANSIBLE_TIMEOUT": "10",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_PIPELINING": "True",
    }


def ansible_playbook(project: Path, lab: Lab, collections: Path, *args: str, capture: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "ansible-playbook"), *args]
    return subprocess.run(command, cwd=project, env=ansible_env(lab, collections), check=False, capture_output=capture, text=True, timeout=timeout)
