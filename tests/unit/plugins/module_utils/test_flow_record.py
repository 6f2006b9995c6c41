# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The flow record on the host: written with the applied rules, read back by check mode."""

from __future__ import annotations

import palisade_fakes
import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import boot, flow_record
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted

RECORD = '{"version":1,"rulesets":[]}'


@pytest.fixture
def inputs():
    return palisade_fakes.golden_inputs("inventory-web-features")


def persist(state_dir, inputs, record):
    wanted = parse_wanted(inputs["ipv4_rules"], inputs["ipv6_rules"], inputs["ipsets"], inputs["hooks"])
    return boot.persist(str(state_dir), wanted, method="none", root=str(state_dir.parent / "root"), flow_record=record)


def test_never_applied_reads_as_none(tmp_path, inputs):
    assert flow_record.read(str(tmp_path / "state"), inputs["ipsets"]) == {"flow_record_state": "none", "flow_record": None, "recorded_sets": {}}


def test_the_record_is_written_with_the_applied_rules_and_read_back(tmp_path, inputs):
    state = tmp_path / "state"
    persist(state, inputs, RECORD)
    assert (state / "applied" / "flows.json").read_text() == RECORD
    assert flow_record.read(str(state), inputs["ipsets"]) == {"flow_record_state": "found", "flow_record": RECORD, "recorded_sets": {}}


def test_only_the_recorded_sets_that_differ_come_back(tmp_path, inputs):
    state = tmp_path / "state"
    persist(state, inputs, RECORD)
    recorded = flow_record.set_members(inputs["ipsets"])
    name = sorted(recorded)[0]
    changed = "\n".join(line for line in inputs["ipsets"].splitlines() if not line.startswith(f"add {name} ")) + "\n"
    assert recorded[name], "the golden case's first set has members"
    read = flow_record.read(str(state), changed)
    assert read["recorded_sets"] == {name: recorded[name]}
    gone = "\n".join(line for line in inputs["ipsets"].splitlines() if f" {name} " not in line and not line.endswith(f" {name}")) + "\n"
    assert flow_record.read(str(state), gone)["recorded_sets"] == {name: recorded[name]}


def test_an_apply_without_a_record_removes_the_older_one(tmp_path, inputs):
    state = tmp_path / "state"
    persist(state, inputs, RECORD)
    persist(state, inputs, None)
    assert not (state / "applied" / "flows.json").exists()
    assert flow_record.read(str(state), inputs["ipsets"])["flow_record_state"] == "missing"


def test_set_members_of_an_ipset_restore_text():
    text = ("create pal-a hash:net family inet hashsize 1024 maxelem 65536\nadd pal-a 198.51.100.0/24\nadd pal-a 198.51.100.7\n"
            "create pal-empty hash:net family inet6\n")
    assert flow_record.set_members(text) == {"pal-a": ["198.51.100.0/24", "198.51.100.7"], "pal-empty": []}
