# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""apply_ruleset's controller-side refusals through real ansible-playbook runs; no host is contacted.

The action refuses, in this order and before it contacts the host: bad ``rollback_timeout`` or
``confirm_probes``, a ``lockout`` that says ``blocked`` (unless ``allow_lockout``), and a
connection that cannot confirm over a new connection (unless ``allow_unsafe_apply``). Each test
runs ``apply_refusal.yml`` (EMPTY rules only) and checks the exact message, and that nothing ran:

- ``localhost`` (``ansible_connection: local``) is this very machine. Its state_dir and the
  module's remote tmp directory must not be created, and the firewall must hold no ``pal-``
  chain or set before and after. Even a broken refusal could then only apply an empty owned
  ruleset, i.e. remove ``pal-`` objects, of which there are none.
- ``far`` (ssh to 203.0.113.254, where nothing listens) has its ssh executable replaced by a
  recorder: it must never be called, and the host must come out ``failed``, not ``unreachable``.
  ``test_the_probes_notice_a_connection`` shows that both probes do notice a real module run.

Not tested here, on purpose: ``allow_unsafe_apply: true`` with connection local (it would apply
to this machine's firewall), and ``allow_lockout: true`` (it goes on to connect).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from test_resolve import HERE, ROOT

INVENTORY = HERE / "inventories" / "refusals" / "hosts.yml"
PLAYBOOK = HERE / "apply_refusal.yml"
MAX_SECONDS = 20
LOCKOUT_MESSAGE = (
    "host far: refusing to apply the new firewall rules: they would deny the management connection"
    " TCP 198.51.100.1 -> 203.0.113.254 port 22 (on eth0 denied by end of tier: default deny)."
    " Set palisade_allow_lockout: true to apply anyway. Nothing was changed."
)
LOCAL_REFUSAL = (
    "Refusing to apply with connection 'local': the controller is the host itself, so reaching it again"
    " proves nothing about the network and rules that cut remote access would never be rolled back."
    " Use an ssh connection, or set palisade_allow_unsafe_apply: true to apply without rollback."
    " Nothing was changed."
)


def run_ansible(tool: str, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build" / "collections"),
        "ANSIBLE_TIMEOUT": "2",  # in case something does try to connect
        "ANSIBLE_PIPELINING": "0",  # so that a module run on localhost needs the remote tmp directory
        "ANSIBLE_HOST_KEY_CHECKING": "0",
    }
    command = [str(Path(sys.executable).parent / tool), *args]
    started = time.monotonic()
    run = subprocess.run(command, cwd=ROOT, env=env, check=False, capture_output=True, text=True, timeout=120)
    return run, time.monotonic() - started


def recap(output: str, host: str) -> dict:
    match = re.search(rf"^{re.escape(host)}\s+:\s+(.*)$", output, re.MULTILINE)
    assert match, output
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def pal_objects() -> list:
    """Every line naming a ``pal-`` chain, rule or ipset on this machine (root only; else nothing can change)."""
    found = []
    for command in (["iptables-save"], ["ip6tables-save"], ["ipset", "list", "-n"]):
        if shutil.which(command[0]) is None:
            continue
        listing = subprocess.run(command, capture_output=True, text=True, check=True, timeout=30).stdout
        found += [line for line in listing.splitlines() if "pal-" in line]
    return found


def refuse(sandbox, host: str, **task_args) -> dict:
    """Run the playbook on ``host`` alone; check it was refused quickly, without any connection."""
    extra = {
        "out_dir": str(sandbox["out"]),
        "state_dir": str(sandbox["state"]),
        "module_tmp": str(sandbox["module_tmp"]),
        "ansible_ssh_executable": str(sandbox["ssh"]),
        **task_args,
    }
    run, seconds = run_ansible("ansible-playbook", "-i", str(INVENTORY), "--limit", host, "-e", json.dumps(extra), str(PLAYBOOK))
    output = run.stdout + run.stderr
    assert run.returncode == 0, output  # the refusal is ignored by the playbook, so that its result gets saved
    assert seconds < MAX_SECONDS, output
    counts = recap(run.stdout, host)
    assert (counts["unreachable"], counts["failed"], counts["ignored"], counts["changed"]) == (0, 0, 1, 1), output
    assert not sandbox["ssh_calls"].exists(), sandbox["ssh_calls"].read_text()
    assert not sandbox["module_tmp"].exists()
    assert not sandbox["state"].exists()
    result = json.loads((sandbox["out"] / f"{host}.json").read_text())
    assert result["failed"] is True
    assert result["changed"] is False
    assert "unreachable" not in result
    return result


def test_connection_local_is_refused(sandbox):
    # SAFETY: this host is this machine. The rules are empty, and no pal- object exists, so even a
    # broken refusal could change nothing; refuse to run at all if one does exist.
    assert pal_objects() == []
    try:
        result = refuse(sandbox, "localhost")
    finally:
        assert pal_objects() == []
    assert result["msg"] == LOCAL_REFUSAL
    assert "warnings" not in result
    # allow_unsafe_apply: true is deliberately not tested: with connection local it would apply to
    # this machine's own firewall.


def test_too_short_rollback_timeout_is_refused_before_connecting(sandbox):
    result = refuse(sandbox, "far", rollback_timeout=2)
    assert result["msg"] == "rollback_timeout (palisade_rollback_timeout) must be at least 5 seconds, got 2"


def test_bad_confirm_probes_are_refused_before_connecting(sandbox):
    probes = [
        {"protocol": "sctp", "address": "198.51.100.1", "port": 9},
        {"protocol": "tcp", "address": "198.51.100.1"},
    ]
    result = refuse(sandbox, "far", confirm_probes=probes)
    assert result["msg"] == (
        "2 problems in palisade_confirm_probes:\n"
        "- palisade_confirm_probes[0].protocol: expected tcp, udp or icmp, got 'sctp'\n"
        "- palisade_confirm_probes[1]: missing field 'port' (tcp probes need a port from 1 to 65535)"
    )


def test_blocked_lockout_is_refused_before_connecting(sandbox):
    lockout = {"blocked": True, "verdict": "deny", "message": LOCKOUT_MESSAGE}
    result = refuse(sandbox, "far", lockout=lockout)
    assert result["msg"] == LOCKOUT_MESSAGE
    assert result["lockout"] == lockout
    # allow_lockout: true is deliberately not tested: the action would go on to connect.


def test_the_probes_notice_a_connection(sandbox):
    """The "nothing ran" checks above are not vacuous: a real module run trips each of them."""
    vars_ = json.dumps({"ansible_ssh_executable": str(sandbox["ssh"]), "ansible_remote_tmp": str(sandbox["module_tmp"])})
    run, seconds = run_ansible("ansible", "-i", str(INVENTORY), "far", "-m", "ansible.builtin.ping", "-e", vars_)
    assert "far | UNREACHABLE!" in run.stdout, run.stdout + run.stderr
    assert "203.0.113.254" in sandbox["ssh_calls"].read_text()
    assert seconds < MAX_SECONDS
    run, seconds = run_ansible("ansible", "-i", str(INVENTORY), "localhost", "-m", "ansible.builtin.ping", "-e", vars_)
    assert run.returncode == 0, run.stdout + run.stderr
    assert sandbox["module_tmp"].is_dir()
    assert seconds < MAX_SECONDS
