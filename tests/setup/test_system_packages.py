# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/setup/system_packages.sh: what `make setup` does about missing system tools.

Run as an unprivileged user on a PATH that hides some tools, so the script must name exactly
the packages of the hidden tools and stop, and never call apt. Needs root (to drop to nobody)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "system_packages.sh"


def run_as_nobody(path_dirs: list[Path]) -> subprocess.CompletedProcess:
    if os.geteuid() != 0:
        pytest.fail("this test drops to nobody: run it as root (make unit does)")
    return subprocess.run([shutil.which("setpriv", path="/usr/bin:/bin"), "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/bash", str(SCRIPT)],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": os.pathsep.join(map(str, path_dirs)), "LANG": "C"})


@pytest.fixture
def bin_dir():
    """An empty directory the user nobody can read (pytest's tmp_path is root's alone)."""
    with tempfile.TemporaryDirectory(prefix="palisade-setup-test-") as directory:
        os.chmod(directory, 0o755)
        yield Path(directory)


def bin_with(directory: Path, *tools: str) -> Path:
    """The directory holding links to just these tools of the machine (the system's python3:
    nobody cannot enter root's home, where pyenv's are)."""
    for tool in tools:
        found = shutil.which(tool, path="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        assert found, f"this machine lacks {tool}: run make setup"
        (directory / tool).symlink_to(found)
    return directory


def test_a_user_is_told_which_packages_are_missing_and_nothing_is_installed(bin_dir):
    # /usr/sbin and /sbin are always searched: iptables, ipset, ip and sshd come from there.
    directory = bin_with(bin_dir, "python3", "ssh", "ssh-keygen")
    proc = run_as_nobody([directory])
    assert proc.returncode == 1, proc
    assert proc.stderr.splitlines() == [
        "Missing system packages: openssh-client socat iputils-ping chromium shellcheck",
        "Install them as root (apt-get install openssh-client socat iputils-ping chromium shellcheck) or run this as root.",
    ]
    assert proc.stdout == ""


def test_nothing_is_done_when_every_tool_is_there(bin_dir):
    directory = bin_with(bin_dir, "python3", "ssh", "ssh-keygen", "ssh-keyscan", "socat", "ping", "chromium", "shellcheck")
    proc = run_as_nobody([directory])
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
