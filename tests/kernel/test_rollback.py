# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback watchdog, persistence and boot restore against the real kernel.

Each test runs the host-side steps (``arm``, ``confirm``, ``status``) inside a throwaway network
namespace through ``rollback_driver.py``; the watchdog ``arm`` starts lives on in that
namespace after the driver exits, as it does on a host after the SSH session ends. The same
protocol over real SSH, driven by the controller, is tested in tests/integration.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from netns import tool

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import rollback
from test_apply_ruleset import ENV, HOST_PYTHON, add_foreign, changed_policy, dump, golden, ns, run_in, without_owned  # noqa: F401 pylint: disable=unused-import

DRIVER = Path(__file__).with_name("rollback_driver.py")
WINDOW = 2.0
PERSIST = {"enabled": True, "method": "none"}


def step(ns: str, state_dir, op: str, **request) -> dict:
    request = {"op": op, "state_dir": str(state_dir), **request}
    command = [tool("ip"), "netns", "exec", ns, HOST_PYTHON, str(DRIVER)]
    done = subprocess.run(command, input=json.dumps(request), capture_output=True, text=True, check=False, env=ENV, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def arm(ns, state_dir, inputs, run_id, window=WINDOW, persist=None, **options) -> dict:
    persist = PERSIST if persist is None else persist
    return step(ns, state_dir, "arm", inputs=inputs, run_id=run_id, window=window, persist=persist, **options)


def record(state_dir) -> dict:
    directory = Path(state_dir) / "applied"
    return {path.name: path.read_text() for path in sorted(directory.glob("*"))} if directory.exists() else {}


def wait_for_result(state_dir, run_id, timeout=30.0) -> dict:
    return rollback.wait_for_result(str(Path(state_dir) / "runs" / run_id), timeout)


@pytest.fixture
def lo_up(ns):
    run_in(ns, ["ip", "link", "set", "lo", "up"])
    return ns


def test_unconfirmed_apply_rolls_back_alone_and_keeps_foreign_changes_made_meanwhile(ns, tmp_path):
    add_foreign(ns)
    first = golden("inventory-web-features")
    assert "error" not in step(ns, tmp_path, "apply", inputs=first)
    assert "error" not in arm(ns, tmp_path, first, "run-confirmed-1")  # nothing to change: not armed
    before, persisted = dump(ns), record(tmp_path)
    armed = arm(ns, tmp_path, changed_policy(), "run-unconfirmed")
    assert armed["armed"] is True and armed["changed"] is True, armed
    assert 0 < armed["window_left"] <= WINDOW
    assert dump(ns) != before  # the new rules are live during the window
    # another tool changes its own state during the window
    run_in(ns, ["iptables", "-A", "f2b-sshd", "-s", "203.0.113.77/32", "-j", "DROP"])
    run_in(ns, ["ip6tables", "-N", "other-tool"])
    run_in(ns, ["ipset", "add", "f2b-blacklist", "203.0.113.78"])
    started = time.monotonic()
    outcome = wait_for_result(tmp_path, "run-unconfirmed")
    assert time.monotonic() - started < WINDOW + 2
    assert outcome["outcome"] == "rolled_back" and outcome["verified"] is True, outcome
    assert "no confirmation" in outcome["reason"]
    after = dump(ns)
    # owned state is exactly what it was; the foreign changes made meanwhile are all still there
    assert [line for line in after["iptables"].splitlines() if "pal-" in line] == [
        line for line in before["iptables"].splitlines() if "pal-" in line
    ]
    assert [line for line in after["ipset"].splitlines() if "pal-" in line] == [line for line in before["ipset"].splitlines() if "pal-" in line]
    assert "-A f2b-sshd -s 203.0.113.77/32 -j DROP" in after["iptables"]
    assert ":other-tool - [0:0]" in after["ip6tables"]
    assert "add f2b-blacklist 203.0.113.78" in after["ipset"]
    expected_foreign = without_owned(before)
    expected_foreign["iptables"] = expected_foreign["iptables"].replace(
        "-A f2b-sshd -j RETURN\n", "-A f2b-sshd -j RETURN\n-A f2b-sshd -s 203.0.113.77/32 -j DROP\n"
    )
    assert without_owned(after)["iptables"] == expected_foreign["iptables"]
    assert record(tmp_path) == persisted  # nothing persisted
    # status (what the controller asks after reconnecting) checks the snapshot again
    again = step(ns, tmp_path, "status", run_id="run-unconfirmed")
    assert again["outcome"] == "rolled_back" and again["verified_now"] is True


def test_rolling_back_the_first_apply_removes_everything_it_added(ns, tmp_path):
    add_foreign(ns)
    before = dump(ns)
    armed = arm(ns, tmp_path, golden("inventory-web-features"), "run-first-ever")
    assert armed["armed"] is True
    assert ":pal-" in dump(ns)["iptables"]
    outcome = wait_for_result(tmp_path, "run-first-ever")
    assert outcome["outcome"] == "rolled_back" and outcome["verified"] is True
    assert dump(ns) == before
    assert record(tmp_path) == {}


def test_confirmation_keeps_the_rules_persists_them_and_releases_the_lock(lo_up, tmp_path):
    ns = lo_up
    inputs = golden("inventory-web-features")
    armed = arm(ns, tmp_path, inputs, "run-good-1", window=20)
    live = dump(ns)
    started = time.monotonic()
    outcome = step(ns, tmp_path, "confirm", run_id="run-good-1", probes=[{"protocol": "icmp", "address": "127.0.0.1"}])
    assert time.monotonic() - started < 5, "a confirmation is acted on at once, not at the end of the window"
    assert armed["armed"] is True
    assert outcome["outcome"] == "confirmed", outcome
    assert [probe["ok"] for probe in outcome["probes"]] == [True]
    assert outcome["persisted"]["enabled"] is True and outcome["persisted"]["method"] == "none"
    assert dump(ns) == live
    assert record(tmp_path)["ipv4.rules"] == inputs["ipv4_rules"]
    # the lock is free again: an apply right now does not wait
    started = time.monotonic()
    assert "error" not in step(ns, tmp_path, "apply", inputs=inputs, lock_timeout=1)
    assert time.monotonic() - started < 3
    # asked again (an answer lost on the way), confirm gives the same outcome
    assert step(ns, tmp_path, "confirm", run_id="run-good-1")["outcome"] == "confirmed"


def test_a_failing_probe_rolls_back_at_once_and_names_the_probe(lo_up, tmp_path):
    ns = lo_up
    before = dump(ns)
    arm(ns, tmp_path, golden("inventory-web-features"), "run-bad-probe", window=30)
    started = time.monotonic()
    probes = [
        {"name": "loopback", "protocol": "icmp", "address": "127.0.0.1"},
        {"name": "api", "protocol": "tcp", "address": "127.0.0.1", "port": 9, "timeout": 1},
    ]
    outcome = step(ns, tmp_path, "confirm", run_id="run-bad-probe", probes=probes)
    assert time.monotonic() - started < 10
    assert outcome["outcome"] == "rolled_back" and outcome["verified"] is True, outcome
    assert outcome["reason"].startswith("probe 'api' (tcp 127.0.0.1:9"), outcome["reason"]
    assert [probe["ok"] for probe in outcome["probes"]] == [True, False]
    assert owned_lines(dump(ns)) == owned_lines(before)  # (nf_tables keeps the emptied filter table)
    assert record(tmp_path) == {}


def test_a_second_run_waits_for_the_window_and_never_interleaves(ns, tmp_path):
    armed = arm(ns, tmp_path, golden("inventory-web-features"), "run-holder", window=3)
    assert armed["armed"] is True
    refused = step(ns, tmp_path, "apply", inputs=golden("inventory-router-forwarding"), lock_timeout=1)
    assert refused["error"]["type"] == "LockTimeout"
    pid = wait_pid(tmp_path)
    assert f"held by PID {pid}" in refused["error"]["message"], refused
    waited = step(ns, tmp_path, "apply", inputs=golden("inventory-router-forwarding"), lock_timeout=30)
    assert "error" not in waited, waited
    assert wait_for_result(tmp_path, "run-holder")["outcome"] == "rolled_back"
    # the second apply ran after the rollback: the host holds exactly its state
    again = step(ns, tmp_path, "apply", inputs=golden("inventory-router-forwarding"))
    assert again["changed"] is False


def wait_pid(state_dir) -> str:
    text = (Path(state_dir) / "lock").read_text().strip()
    assert text.isdigit(), text
    return text


def test_boot_restore_brings_back_exactly_the_owned_state_after_a_flush(lo_up, tmp_path):
    ns = lo_up
    add_foreign(ns)
    root = tmp_path / "root"
    state_dir = tmp_path / "state"
    inputs = golden("inventory-web-features")
    arm(ns, state_dir, inputs, "run-persist", window=20, persist={"enabled": True, "method": "systemd", "root": str(root)})
    outcome = step(ns, state_dir, "confirm", run_id="run-persist")
    assert outcome["outcome"] == "confirmed", outcome
    persisted = outcome["persisted"]
    command = str(state_dir / "boot" / "palisade-restore")
    assert persisted["method"] == "systemd" and persisted["command"] == command
    unit = (root / "etc/systemd/system/palisade-firewall.service").read_text()
    assert f"ExecStart={command}\n" in unit and "Before=network-pre.target" in unit
    assert os.readlink(root / "etc/systemd/system/multi-user.target.wants/palisade-firewall.service") == "/etc/systemd/system/palisade-firewall.service"
    owned_before = owned_lines(dump(ns))
    # a reboot, as far as the firewall is concerned: every table and set gone
    for family in ("iptables", "ip6tables"):
        for table in ("filter", "raw", "mangle", "nat"):
            run_in(ns, [family, "-t", table, "-F"])
            run_in(ns, [family, "-t", table, "-X"])
    run_in(ns, ["ipset", "destroy"])
    assert owned_lines(dump(ns)) == {"iptables": [], "ip6tables": [], "ipset": []}
    done = subprocess.run([tool("ip"), "netns", "exec", ns, command], capture_output=True, text=True, check=False, env=ENV)
    assert done.returncode == 0, done.stderr
    assert "restored" in done.stdout
    assert owned_lines(dump(ns)) == owned_before
    again = subprocess.run([tool("ip"), "netns", "exec", ns, command], capture_output=True, text=True, check=False, env=ENV)
    assert again.returncode == 0 and "already in place (0 changes)" in again.stdout, again.stdout + again.stderr


def owned_lines(state: dict) -> dict:
    """The owned lines; ipsets without the kernel's random hash seed, members in a stable order."""
    lines = {name: [line for line in text.splitlines() if "pal-" in line] for name, text in state.items()}
    lines["ipset"] = sorted(re.sub(r" initval 0x[0-9a-f]+", "", line) for line in lines["ipset"])
    return lines
