# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode's flow-change text (the diff's ``prepared`` section), byte for byte.

The files are in ``tests/unit/golden_reports/flow-changes/``; after a deliberate change,
``PALISADE_UPDATE_GOLDEN=1`` rewrites them (review the diff: it is what operators read).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.flow_record import set_members
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir_json
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import render_files
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import flow_report

GOLDEN = Path(__file__).resolve().parents[4] / "unit" / "golden_reports" / "flow-changes"
ENDPOINTS = {
    "r1": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.1", "2001:db8::1"]}, {"interfaceName": "eth1", "expectedIPs": ["203.0.113.1"]}],
    "db1": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.10", "2001:db8::10"]}],
    "app1": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.20", "2001:db8::20"]}],
    "app2": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.21", "2001:db8::21"]}],
}
ROLES = {"r1": "router", "db1": "db", "app1": "app", "app2": "app"}
OPEN = {"name": "open", "selector": "all()", "order": 900, "egress": [{"action": "Allow"}]}
DB_FROM_APP = {"name": "db", "selector": "role == 'db'", "order": 10, "ingress": [
    {"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'app'"}, "destination": {"ports": [5432]}},
    {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8}},
    {"action": "Allow", "protocol": "ICMPv6", "icmp": {"type": 128}},
]}
DB_NARROWED = {"name": "db", "selector": "role == 'db'", "order": 10, "ingress": [
    {"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'app'"}, "destination": {"ports": ["5432:5433"]}},
    {"action": "Allow", "protocol": "UDP", "source": {"nets": ["203.0.113.0/24"]}, "destination": {"ports": [53]}},
    {"action": "Allow", "protocol": "ICMP", "source": {"selector": "role == 'app'"}, "icmp": {"type": 8, "code": 0}},
]}
ROUTER_OPEN = {"name": "router", "selector": "role == 'router'", "order": 900, "ingress": [{"action": "Allow"}]}
ROUTER_FORWARD = {"name": "forward", "selector": "role == 'router'", "order": 10, "applyOnForward": True, "ingress": [
    {"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'app'"}, "destination": {"selector": "role == 'db'", "ports": [5432]}}]}


def compiled(host, policies):
    hosts = [HostInput(name, (), {"palisade_policies": policies, "palisade_labels": {"role": ROLES[name]}, "palisade_host_endpoints": endpoints})
             for name, endpoints in ENDPOINTS.items()]
    return compile_host(FleetIndex(load_fleet(hosts)), host)


def text(host, before, after, state=flow_report.FOUND):
    new = compiled(host, after)
    if before is None:
        return flow_report.report(new, state, None, {})["text"]
    old = compiled(host, before)
    old_sets = set_members(render_files(old.rulesets, host=host)["ipsets.restore"])
    new_sets = set_members(render_files(new.rulesets, host=host)["ipsets.restore"])
    differing = {name: members for name, members in old_sets.items() if new_sets.get(name) != members}
    return flow_report.report(new, state, ir_json.dumps(old.rulesets), differing)["text"]


CASES = {
    "db-narrowed": lambda: text("db1", [DB_FROM_APP, OPEN], [DB_NARROWED, OPEN]),
    "db-first-apply": lambda: text("db1", None, [DB_FROM_APP, OPEN], flow_report.NEVER_APPLIED),
    "db-no-record": lambda: text("db1", None, [DB_FROM_APP, OPEN], flow_report.NO_FLOW_RECORD),
    "db-unchanged": lambda: text("db1", [DB_FROM_APP, OPEN], [DB_FROM_APP, OPEN]),
    "router-forwarding": lambda: text("r1", [ROUTER_OPEN, OPEN], [ROUTER_OPEN, ROUTER_FORWARD, OPEN]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_flow_change_text(case):
    produced = CASES[case]()
    path = GOLDEN / f"{case}.txt"
    if os.environ.get("PALISADE_UPDATE_GOLDEN"):
        path.write_text(produced)
    assert produced == path.read_text(), f"{path} differs (PALISADE_UPDATE_GOLDEN=1 to rewrite it after a deliberate change)"


def test_every_golden_file_has_a_case():
    assert sorted(p.stem for p in GOLDEN.glob("*.txt")) == sorted(CASES)
