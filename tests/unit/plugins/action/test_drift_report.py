# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the action reports the drift the host found: check mode, a real run, a failed run."""

from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.action.apply_ruleset import with_drift

DIFFERENCES = ["chain ipv4 filter pal-fi-eth0: its rules differ from the record", "ipset ipv4 pal-n4-1: not in the record"]
DRIFT = {"record": "checked", "found": True, "differences": DIFFERENCES}
LINES = "chain ipv4 filter pal-fi-eth0: its rules differ from the record; ipset ipv4 pal-n4-1: not in the record"


@pytest.mark.parametrize(
    "result, check_mode, summary",
    [
        ({"changed": True, "drift": DRIFT}, True, f"drift: 2 difference(s) from the last applied record, repaired by the next run: {LINES}"),
        ({"changed": True, "drift": DRIFT}, False, f"drift repaired: 2 difference(s) from the last applied record: {LINES}"),
        ({"changed": False, "failed": True, "drift": DRIFT}, False,
         f"drift: 2 difference(s) from the last applied record, not repaired (the apply did not complete): {LINES}"),
    ],
    ids=["check mode", "applied", "rolled back"],
)
def test_drift_is_a_summary_and_a_warning(result, check_mode, summary):
    reported = with_drift(result, "h1", check_mode, False)
    assert reported["drift_summary"] == summary
    assert reported["warnings"] == [f"h1: {summary}"]


@pytest.mark.parametrize("drift", [None, {"record": "none", "found": False, "differences": []},
                                   {"record": "unreadable", "found": False, "differences": []}])
def test_no_drift_adds_nothing(drift):
    result = {"changed": True, "drift": drift}
    assert with_drift(result, "h1", True, True) == result


def test_check_diff_puts_the_drift_before_the_flow_changes():
    result = {"changed": True, "drift": DRIFT, "diff": [{"before": "a", "after": "b"}, {"prepared": "# flow changes on h1: 1 flow changes\n"}]}
    reported = with_drift(result, "h1", True, True)
    assert reported["diff"] == [{"before": "a", "after": "b"}, {"prepared": (
        "# drift: 2 difference(s) from the last applied record, repaired by the next run:\n"
        "# chain ipv4 filter pal-fi-eth0: its rules differ from the record\n"
        "# ipset ipv4 pal-n4-1: not in the record\n"
        "# flow changes on h1: 1 flow changes\n")}]


def test_check_diff_without_flow_changes_gets_its_own_section():
    reported = with_drift({"changed": True, "drift": DRIFT, "diff": {"before": "a", "after": "b"}}, "h1", True, True)
    assert reported["diff"][0] == {"before": "a", "after": "b"}
    assert reported["diff"][1]["prepared"].startswith("# drift: 2 difference(s)")
