# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying with faked tools: what runs in which order, failures and putting back, the lock, the record."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import palisade_fakes
import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.apply import Lock, apply, write_record
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import ApplyError, LockTimeout
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted

CASE = "inventory-web-features"


def golden_wanted(case=CASE):
    return parse_wanted(**palisade_fakes.golden_inputs(case))


def applied_runner(case=CASE, **kwargs):
    """A host that runs the golden case already."""
    texts = {family: palisade_fakes.as_saved((palisade_fakes.GOLDEN_DIR / case / f"ipv{family}.rules").read_text()) for family in (4, 6)}
    return palisade_fakes.FakeRunner(texts[4], texts[6], (palisade_fakes.GOLDEN_DIR / case / "ipsets.restore").read_text(), **kwargs)


def commands(runner):
    return [str(call) for call in runner.calls]


def test_nothing_differs_nothing_runs_but_the_reads(tmp_path):
    runner = applied_runner()
    result = apply(golden_wanted(), runner=runner, state_dir=str(tmp_path))
    assert not result.changed and not result.restored
    assert commands(runner) == ["iptables-save", "ip6tables-save", "ipset save"]
    assert result.commands == [] and result.transactions == {}
    assert result.before == result.after != ""
    # the record is written when missing, even without a change
    assert sorted(os.listdir(tmp_path / "applied")) == ["hooks.json", "ipsets.restore", "ipv4.rules", "ipv6.rules"]


def test_check_mode_reads_only_and_writes_no_file(tmp_path):
    runner = palisade_fakes.FakeRunner()
    state_dir = tmp_path / "state"
    result = apply(golden_wanted(), runner=runner, state_dir=str(state_dir), check_mode=True)
    assert result.changed and not result.restored
    assert commands(runner) == ["iptables-save", "ip6tables-save", "ipset save"]
    assert result.commands == [
        "ipset restore",
        "ipset restore",
        "iptables-restore --test --noflush -w 60",
        "ip6tables-restore --test --noflush -w 60",
        "iptables-restore --noflush -w 60",
        "ip6tables-restore --noflush -w 60",
    ]
    assert sorted(result.transactions) == ["ipset_load", "ipset_swap", "ipv4", "ipv6"]
    assert result.before == "" and "chain pal-INPUT\n" in result.after
    assert not state_dir.exists()


def test_apply_order_sets_then_tests_then_restores_then_stale_sets(tmp_path):
    runner = palisade_fakes.FakeRunner(ipset="create pal-s4-stale hash:ip family inet\n")
    result = apply(golden_wanted(), runner=runner, state_dir=str(tmp_path), lock_timeout=5)
    assert result.changed and result.restored
    assert result.commands == [
        "ipset restore",
        "ipset restore",
        "iptables-restore --test --noflush -w 5",
        "ip6tables-restore --test --noflush -w 5",
        "iptables-restore --noflush -w 5",
        "ip6tables-restore --noflush -w 5",
        "ipset destroy pal-s4-stale",
    ]
    load = runner.calls[3].stdin
    assert load.startswith("create pal-n4-f9f66edf501a0fed hash:net family inet hashsize 1024 maxelem 65536\n")
    assert "create pal-n4-f9f66edf501a0fed-t hash:net" in load and "add pal-n4-f9f66edf501a0fed-t 198.51.100.64/26\n" in load
    assert runner.calls[4].stdin.startswith("swap pal-n4-f9f66edf501a0fed-t pal-n4-f9f66edf501a0fed\ndestroy pal-n4-f9f66edf501a0fed-t\n")
    assert runner.calls[7].stdin == result.transactions["ipv4"]
    # the fake host did not change: the check after applying notices
    assert commands(runner)[-3:] == ["iptables-save", "ip6tables-save", "ipset save"]
    assert result.warnings and result.warnings[0].startswith("after applying, the host's owned state still differs")


def test_a_failed_ipset_load_removes_what_it_created_and_changes_nothing(tmp_path):
    runner = palisade_fakes.FakeRunner(fail={"ipset restore": (1, "ipset v7.17: Error in line 4: Syntax error: cannot parse bogus")})
    with pytest.raises(ApplyError) as raised:
        apply(golden_wanted(), runner=runner, state_dir=str(tmp_path))
    assert not raised.value.changed
    assert str(raised.value).splitlines() == [
        "`ipset restore` failed (exit status 1): ipset v7.17: Error in line 4: Syntax error: cannot parse bogus",
        "Loading the new and changed ipsets into temporary sets failed.",
        "Nothing was changed.",
    ]
    destroyed = [str(call) for call in runner.calls if call.argv[:2] == ("ipset", "destroy")]
    assert "ipset destroy pal-n4-f9f66edf501a0fed" in destroyed and "ipset destroy pal-n4-f9f66edf501a0fed-t" in destroyed
    assert not any(call.argv[0].endswith("restore") and call.argv[0] != "ipset" for call in runner.calls)
    assert not (tmp_path / "applied").exists()


def test_a_refused_test_quotes_the_line_and_changes_nothing_when_no_set_changed(tmp_path):
    runner = applied_runner(
        fail={
            "iptables-restore --test": (
                2,
                "iptables-restore v1.8.9 (nf_tables): Couldn't load match `nosuch':No such file or directory\n\nError occurred at line: 4\n",
            )
        }
    )
    inputs = palisade_fakes.golden_inputs(CASE)
    inputs["ipv4_rules"] = inputs["ipv4_rules"].replace("-A pal-allow ", "-A pal-allow -m nosuch ")
    with pytest.raises(ApplyError) as raised:
        apply(parse_wanted(**inputs), runner=runner, state_dir=str(tmp_path))
    message = str(raised.value)
    assert message.startswith("`iptables-restore --test --noflush -w 60` failed (exit status 2): iptables-restore v1.8.9 (nf_tables):")
    assert "Line 4 of the IPv4 transaction: :pal-INPUT - [0:0]" in message
    assert message.endswith("The IPv4 test was refused; the IPv4 rules are unchanged (atomic restore).\nNothing was changed.")
    assert [call.argv[0] for call in runner.writes] == ["iptables-restore"]


def test_a_refused_restore_after_sets_changed_puts_the_sets_back(tmp_path):
    def model(runner, argv, stdin):  # swapping the sets in changes what ipset save prints
        if argv == ("ipset", "restore") and stdin.startswith("swap"):
            runner.outputs["ipset save"] = runner.outputs["ipset save"].replace("198.51.100.30", "198.51.100.31")

    runner = applied_runner(
        on_write=model,
        fail={
            "iptables-restore --noflush": (
                2,
                "iptables-restore v1.8.9 (nf_tables): Chain 'NOSUCH' does not exist\nError occurred at line: 90\n",
            )
        },
    )
    inputs = palisade_fakes.golden_inputs(CASE)
    inputs["ipsets"] = inputs["ipsets"].replace("198.51.100.30", "198.51.100.31")
    inputs["ipv4_rules"] = inputs["ipv4_rules"].replace("-j DROP\n", "-j NOSUCH\n", 1)
    with pytest.raises(ApplyError) as raised:
        apply(parse_wanted(**inputs), runner=runner, state_dir=str(tmp_path))
    assert not raised.value.changed
    assert "Chain 'NOSUCH' does not exist" in str(raised.value)
    assert str(raised.value).endswith("The owned state was put back as it was before this run.")
    writes = runner.writes
    assert [str(call) for call in writes] == [
        "ipset restore",
        "ipset restore",
        "iptables-restore --test --noflush -w 60",
        "iptables-restore --noflush -w 60",
        "ipset restore",
        "ipset restore",
    ]
    assert "add pal-s4-350250576f627f61-t 198.51.100.30\n" in writes[4].stdin  # the old member comes back


def test_stale_sets_that_cannot_be_destroyed_fail_after_the_rules_were_applied(tmp_path):
    runner = applied_runner(fail={"ipset destroy": (1, "ipset v7.17: Set cannot be destroyed: it is in use by a kernel component")})
    runner.outputs["ipset save"] += "create pal-s4-old hash:ip family inet\n"
    with pytest.raises(ApplyError) as raised:
        apply(golden_wanted(), runner=runner, state_dir=str(tmp_path))
    assert raised.value.changed
    assert str(raised.value) == (
        "The rules were applied, but ipsets no longer wanted could not be destroyed (does a rule of another tool use them?):"
        " ipset destroy pal-s4-old: ipset v7.17: Set cannot be destroyed: it is in use by a kernel component"
    )


# -- the lock --------------------------------------------------------------------------------


def hold(path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, b"4242\n")
    return fd


def test_the_lock_times_out_naming_the_file_and_the_holder(tmp_path):
    fd = hold(tmp_path / "lock")
    try:
        started = time.monotonic()
        with pytest.raises(LockTimeout) as raised:
            apply(golden_wanted(), runner=palisade_fakes.FakeRunner(), state_dir=str(tmp_path), lock_timeout=0.3)
        assert time.monotonic() - started >= 0.3
    finally:
        os.close(fd)
    assert str(raised.value) == (
        f"another palisade.firewall apply holds the lock {tmp_path}/lock (held by PID 4242); gave up after waiting 0.3 s (lock_timeout)"
    )


def test_a_second_run_waits_for_the_lock(tmp_path):
    fd = hold(tmp_path / "lock")
    threading.Timer(0.3, os.close, (fd,)).start()
    started = time.monotonic()
    with Lock(str(tmp_path), 5) as lock:
        assert time.monotonic() - started >= 0.25
        with open(lock.path) as handle:
            assert handle.read() == f"{os.getpid()}\n"
    with open(tmp_path / "lock") as handle:
        assert handle.read() == ""  # released: no stale PID


def test_check_mode_shares_the_lock_and_waits_for_an_apply(tmp_path):
    with Lock(str(tmp_path / "nothing-yet"), 0, shared=True) as lock:
        assert lock.fd is None  # no run ever applied there: nothing to wait for, nothing created
    assert not (tmp_path / "nothing-yet").exists()
    with Lock(str(tmp_path), 0, shared=True), Lock(str(tmp_path), 0, shared=True):
        pass  # two check-mode runs at once
    fd = hold(tmp_path / "lock")
    try:
        with pytest.raises(LockTimeout):
            with Lock(str(tmp_path), 0.1, shared=True):
                pass
    finally:
        os.close(fd)


# -- the record ------------------------------------------------------------------------------


def test_the_record_holds_the_inputs_and_unchanged_files_are_left_alone(tmp_path):
    wanted = golden_wanted()
    directory = write_record(str(tmp_path), wanted)
    inputs = palisade_fakes.golden_inputs(CASE)
    assert (tmp_path / "applied" / "ipv4.rules").read_text() == inputs["ipv4_rules"]
    assert (tmp_path / "applied" / "ipsets.restore").read_text() == inputs["ipsets"]
    assert '"target": "pal-INPUT"' in (tmp_path / "applied" / "hooks.json").read_text()
    inode = os.stat(tmp_path / "applied" / "ipv4.rules").st_ino
    write_record(str(tmp_path), wanted)
    assert os.stat(tmp_path / "applied" / "ipv4.rules").st_ino == inode
    write_record(str(tmp_path), parse_wanted("", "", "", []))
    assert (tmp_path / "applied" / "ipv4.rules").read_text() == ""
    assert sorted(os.listdir(directory)) == ["hooks.json", "ipsets.restore", "ipv4.rules", "ipv6.rules"]  # no temporaries left
