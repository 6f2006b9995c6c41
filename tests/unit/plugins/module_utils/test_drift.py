# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift: the live owned state against the record of the last apply, with faked tools."""

from __future__ import annotations

import palisade_fakes
import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.apply import apply, write_record
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.drift import describe
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted

CASE = "inventory-web-features"
OTHER = "inventory-wildcard-append"
EDITED_RULE = '-A pal-pi-web-ingress -p tcp -m comment --comment "policy web-ingress ingress rule 0 (hand edit)" -m tcp --dport 9999 -j ACCEPT\n'


def wanted(case=CASE):
    return parse_wanted(**palisade_fakes.golden_inputs(case))


def live(case=CASE, v4=lambda text: text, sets=lambda text: text):
    """A host running ``case``, its saved IPv4 rules and ipsets passed through the two edits."""
    texts = {family: palisade_fakes.as_saved((palisade_fakes.GOLDEN_DIR / case / f"ipv{family}.rules").read_text()) for family in (4, 6)}
    ipsets = (palisade_fakes.GOLDEN_DIR / case / "ipsets.restore").read_text()
    return palisade_fakes.FakeRunner(v4(texts[4]), texts[6], sets(ipsets))


def recorded(tmp_path, case=CASE):
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    write_record(str(state_dir), wanted(case))
    return str(state_dir)


def add_rule(text):
    return text.replace("\nCOMMIT", "\n" + EDITED_RULE.rstrip("\n") + "\nCOMMIT", 1)


def drop_member(text):
    lines = text.splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith("add pal-n4-"))
    return "".join(lines[:first] + lines[first + 1:])


def add_chain(text):
    return text.replace("\nCOMMIT", "\n:pal-hand-made - [0:0]\n-A pal-hand-made -j ACCEPT\nCOMMIT", 1)


def test_nothing_applied_is_no_drift(tmp_path):
    result = apply(wanted(), runner=live(), state_dir=str(tmp_path / "state"), check_mode=True)
    assert result.drift == {"record": "none", "found": False, "differences": []}


def test_the_recorded_state_live_is_no_drift(tmp_path):
    result = apply(wanted(), runner=live(), state_dir=recorded(tmp_path), check_mode=True)
    assert result.drift == {"record": "checked", "found": False, "differences": []}
    assert not result.changed


def test_a_policy_change_is_not_drift(tmp_path):
    """The host runs what its record says; the wanted rules differ: a change, no drift."""
    result = apply(wanted(OTHER), runner=live(), state_dir=recorded(tmp_path), check_mode=True)
    assert result.changed
    assert result.drift == {"record": "checked", "found": False, "differences": []}


@pytest.mark.parametrize(
    "edit, differences",
    [
        (dict(v4=add_rule), ["chain ipv4 filter pal-pi-web-ingress: its rules differ from the record"]),
        (dict(v4=add_chain), ["chain ipv4 filter pal-hand-made: not in the record"]),
        (dict(sets=drop_member), ["ipset ipv4 pal-n4-f9f66edf501a0fed: its members or options differ from the record"]),
        (dict(v4=add_rule, sets=drop_member), ["chain ipv4 filter pal-pi-web-ingress: its rules differ from the record",
                                               "ipset ipv4 pal-n4-f9f66edf501a0fed: its members or options differ from the record"]),
    ],
    ids=["rule added", "chain added", "member removed", "rule and member"],
)
@pytest.mark.parametrize("wanted_case", [CASE, OTHER], ids=["same rules wanted", "other rules wanted"])
def test_a_hand_edit_is_drift(tmp_path, edit, differences, wanted_case):
    """Found both when the record is the wanted state (the plan is the drift) and when it is not
    (the record is parsed and compared with the live state)."""
    result = apply(wanted(wanted_case), runner=live(**edit), state_dir=recorded(tmp_path), check_mode=True)
    assert result.drift == {"record": "checked", "found": True, "differences": differences}
    assert result.changed


def test_a_real_apply_repairs_the_drift_it_reports(tmp_path):
    state_dir = recorded(tmp_path)
    runner = live(v4=add_rule)
    result = apply(wanted(), runner=runner, state_dir=state_dir)
    assert result.drift["differences"] == ["chain ipv4 filter pal-pi-web-ingress: its rules differ from the record"]
    assert result.changed and result.restored
    restore = next(call for call in runner.calls if str(call) == "iptables-restore --noflush -w 60")
    assert "9999" not in restore.stdin and "-A pal-pi-web-ingress" in restore.stdin


@pytest.mark.parametrize("damage", ["hooks.json", "ipv4.rules"])
def test_a_damaged_record_says_drift_is_unknown(tmp_path, damage):
    state_dir = recorded(tmp_path)
    path = tmp_path / "state" / "applied" / damage
    if damage == "hooks.json":
        path.write_text("{not json")
    else:
        path.unlink()
    result = apply(wanted(), runner=live(v4=add_rule), state_dir=state_dir, check_mode=True)
    assert result.drift == {"record": "unreadable", "found": False, "differences": []}


def test_a_record_that_does_not_parse_says_drift_is_unknown(tmp_path):
    state_dir = recorded(tmp_path)
    (tmp_path / "state" / "applied" / "ipv4.rules").write_text("*filter\n-A INPUT -j nowhere-owned\nCOMMIT\n")
    result = apply(wanted(OTHER), runner=live(), state_dir=state_dir, check_mode=True)
    assert result.drift["record"] == "unreadable"


def test_describe_orders_every_kind():
    changes = {"sets_removed": ["ipv4 pal-s"], "chains_added": ["ipv4 filter pal-a"], "hooks_moved": ["ipv6 filter INPUT -j pal-INPUT (insert)"],
               "references_removed": ["ipv4 filter INPUT -j pal-x"]}
    assert describe(changes) == [
        "chain ipv4 filter pal-a: missing (the record has it)",
        "hook ipv6 filter INPUT -j pal-INPUT (insert): not where the record puts it",
        "rule ipv4 filter INPUT -j pal-x: jumps into an owned chain, not in the record",
        "ipset ipv4 pal-s: not in the record",
    ]
