# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""site.yml runs that must stop in the validation play, before any host is touched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_apply_refusals import recap, run_ansible


def assert_stops_in_validation(sandbox: dict[str, Path], inventory: Path, extra: dict[str, Any], message: str, host: str) -> None:
    """In a run and a ``--check --diff`` run: the validation task fails with ``message``, the
    canary play never starts, and the hosts' ssh (the sandbox's recorder) is never called."""
    extra = {**extra, "ansible_ssh_executable": str(sandbox["ssh"])}
    for mode in ([], ["--check", "--diff"]):
        run, _seconds = run_ansible("ansible-playbook", "-i", str(inventory), "-e", json.dumps(extra), "palisade.firewall.site", *mode)
        output = run.stdout + run.stderr
        assert run.returncode == 2, output
        assert f'"msg": {json.dumps(message)}' in output, output
        assert "Apply the firewall in canary batches" not in output, output
        assert recap(run.stdout, host)["failed"] == 1
        assert not sandbox["ssh_calls"].exists(), sandbox["ssh_calls"].read_text()
