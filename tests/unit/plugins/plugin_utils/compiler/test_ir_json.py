# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The flow record: every golden case's rulesets written as JSON and read back unchanged."""

from __future__ import annotations

import dataclasses
import json

import pytest
from golden_cases import IR_CASES, INVENTORY_CASES, compile_inventory

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.flow_record import set_members
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir_json
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import render_files


def golden_rulesets():
    for name, _host, build in IR_CASES:
        yield name, build()
    for name, build in INVENTORY_CASES:
        yield name, compile_inventory(build())[1]


CASES = list(golden_rulesets())


@pytest.mark.parametrize("name,rulesets", CASES, ids=[c[0] for c in CASES])
def test_the_record_reads_back_as_the_same_rulesets(name, rulesets):
    text = ir_json.dumps(rulesets)
    members = {(r.family, s.name): s.members for r in rulesets for s in r.ipsets}
    read = ir_json.loads(text, lambda family, set_name, _kind: members[(family, set_name)])
    assert read == tuple(dataclasses.replace(r, warnings=()) for r in rulesets)  # the compiler's warnings are not recorded
    assert ir_json.dumps(rulesets) == text  # deterministic
    assert "members" not in text


@pytest.mark.parametrize("name,rulesets", CASES, ids=[c[0] for c in CASES])
def test_members_read_from_the_rendered_ipsets_are_the_members(name, rulesets):
    """What the host sends back for a set that changed: the lines ``ipset save`` wrote."""
    recorded = set_members(render_files(rulesets, host="h")["ipsets.restore"])
    for ruleset in rulesets:
        for item in ruleset.ipsets:
            parsed = {ir_json.parse_member(item.kind, text) for text in recorded[item.name]}
            wanted = set()
            for member in item.members:  # the renderer writes a /0 as its two halves
                net = getattr(member, "net", None)
                wanted.update(type(member)(half) for half in net.subnets()) if net is not None and net.prefixlen == 0 else wanted.add(member)
            assert parsed == wanted, item.name


@pytest.mark.parametrize("text,message", [
    ("{}", "flow record version None, this collection reads 1"),
    ('{"version": 2, "rulesets": []}', "flow record version 2, this collection reads 1"),
    ("not json", "the flow record cannot be read: Expecting value: line 1 column 1 (char 0)"),
    (json.dumps({"version": 1, "rulesets": [{"family": 4}]}), "the flow record cannot be read: 'tables'"),
])
def test_a_record_that_cannot_be_read_says_why(text, message):
    with pytest.raises(ir_json.RecordError) as raised:
        ir_json.loads(text, lambda *_args: ())
    assert str(raised.value) == message
