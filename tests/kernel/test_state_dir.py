# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state directory against a real unprivileged user and a real full disk.

- A user other than root (uid 65534) who can write in the state directory's parent plants
  symbolic links and directories there; the apply as root, in a throwaway network namespace,
  is refused before any rule changes and writes nothing outside the state directory.
- The state directory on a tiny tmpfs, mounted in a private mount namespace of our own (it
  goes away with its last process), is filled up during the rollback window: the rollback
  still happens and its result still reaches ``status``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from netns import tool

from test_apply_ruleset import ENV, HOST_PYTHON, dump, golden, ns  # noqa: F401 pylint: disable=unused-import
from test_rollback import DRIVER, step

NOBODY = 65534


@pytest.fixture
def shared_parent():
    """A root-owned directory others can reach (tmp_path is 0700), holding a parent every user can write."""
    top = Path(tempfile.mkdtemp(prefix="palisade-statedir-", dir="/tmp"))
    os.chmod(top, 0o755)
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def as_nobody(*commands: str) -> None:
    """Run shell commands as uid/gid 65534 with no supplementary groups."""

    def drop():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    done = subprocess.run(["sh", "-ec", "; ".join(commands)], preexec_fn=drop, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def fingerprint(path: Path) -> tuple:
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, info.st_size


@pytest.mark.parametrize("mode", [0o1777, 0o777])
@pytest.mark.parametrize("attack", ["lock-link", "dir-link"])
def test_links_planted_by_another_user_are_refused_before_anything_changes(ns, shared_parent, mode, attack):
    parent = shared_parent / "shared"
    parent.mkdir()
    os.chmod(parent, mode)  # sticky like /tmp, or plainly world-writable
    victim = shared_parent / "victim"
    victim.mkdir(mode=0o755)
    (victim / "boot-lib-target").write_text("root's file\n")
    target = victim / "boot-lib-target"
    before_target = fingerprint(target)
    state_dir = parent / "palisade"
    if attack == "lock-link":  # the attacker's own directory, with the lock pointing at root's file
        as_nobody(f"mkdir -m 0777 {state_dir}", f"ln -s {target} {state_dir}/lock", f"ln -s {victim} {state_dir}/boot")
    else:  # the state directory itself is a link to a directory root trusts
        as_nobody(f"ln -s {victim} {state_dir}")
    before_rules = dump(ns)
    for op in ("apply", "arm"):
        output = step(ns, state_dir, op, inputs=golden("inventory-web-features"), run_id="run-attacked", window=5,
                      persist={"enabled": True, "method": "none"})
        assert output["error"]["type"] == "StateDirError", output
        if mode == 0o777:
            why = f"{parent} is writable by group and others (mode 0777)"
        elif attack == "lock-link":
            why = f"{state_dir} is owned by uid {NOBODY}, not by root"
        else:
            why = f"{state_dir} is a symbolic link"
        assert output["error"]["message"] == f"Refusing the state directory {str(state_dir)!r}: {why}. Nothing was changed."
    assert dump(ns) == before_rules  # no rule changed
    assert fingerprint(target) == before_target  # the link's target was neither truncated nor written
    assert sorted(path.name for path in victim.iterdir()) == ["boot-lib-target"]  # nothing made through the links


def test_a_root_owned_state_directory_under_a_sticky_parent_works(ns, shared_parent):
    parent = shared_parent / "shared"
    parent.mkdir()
    os.chmod(parent, 0o1777)
    state_dir = parent / "palisade"
    output = step(ns, state_dir, "apply", inputs=golden("inventory-web-features"))
    assert "error" not in output, output
    assert state_dir.stat().st_uid == 0 and state_dir.stat().st_mode & 0o7777 == 0o700
    # once root made it there, another user can neither replace nor rename it (sticky parent)
    done = subprocess.run(
        ["sh", "-c", f"mv {state_dir} {parent}/gone || rm -rf {state_dir}"],
        preexec_fn=lambda: (os.setgroups([]), os.setgid(NOBODY), os.setuid(NOBODY)),
        capture_output=True, text=True, check=False,
    )
    assert done.returncode != 0 and state_dir.is_dir()


def test_a_full_disk_during_the_window_still_reports_the_rollback(ns, tmp_path):
    """A 1 MiB tmpfs, mounted in a private mount namespace inside the network namespace, holds
    the state directory; once armed, a file fills it up; the watchdog rolls back at the end of
    the window and ``status`` reads its result from the space reserved before arming."""
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    first = golden("inventory-web-features")
    (tmp_path / "arm.json").write_text(json.dumps({"op": "arm", "state_dir": str(state_dir), "inputs": first, "run_id": "run-disk-full",
                                                   "window": 2, "persist": {"enabled": False}}))
    (tmp_path / "status.json").write_text(json.dumps({"op": "status", "state_dir": str(state_dir), "run_id": "run-disk-full"}))
    script = f"""
set -e
mount -t tmpfs -o size=1m,mode=0700 palisade-test-full {state_dir}
{HOST_PYTHON} {DRIVER} < {tmp_path}/arm.json > {tmp_path}/arm.out
dd if=/dev/zero of={state_dir}/filler bs=4096 2>/dev/null || true
df -k {state_dir} | tail -1 > {tmp_path}/df.out
{HOST_PYTHON} {DRIVER} < {tmp_path}/status.json > {tmp_path}/status.out
"""
    command = [tool("ip"), "netns", "exec", ns, tool("unshare"), "--mount", "--propagation", "private", "sh", "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=ENV, timeout=180)
    assert done.returncode == 0, done.stderr
    armed = json.loads((tmp_path / "arm.out").read_text())
    assert armed.get("armed") is True, armed
    assert (tmp_path / "df.out").read_text().split()[3] == "0"  # the disk was full during the window
    outcome = json.loads((tmp_path / "status.out").read_text())
    assert outcome["outcome"] == "rolled_back" and outcome["verified"] is True and outcome["verified_now"] is True, outcome
    assert "no confirmation" in outcome["reason"]
    assert not [line for text in dump(ns).values() for line in text.splitlines() if "pal-" in line]  # every owned rule and set removed
    assert list(state_dir.iterdir()) == []  # the tmpfs was only in the namespace we made, gone with it
