# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reachability report's verdicts against one simulation per flow, on generated fleets.

The report simulates a packet once per class of packets an end cannot tell apart (the rules
its address pair may meet, ``flow_changes.Scope.key``, and the classes of those rules' ports
and ICMP types, ``flow_changes.PacketClasses``) and reuses that verdict for every other flow
of the class. Here every flow of every cell is simulated on its own, at each end, and must get
the verdict and deciding rule the report shows. The fleets are those of the differential test
(``tests/differential/fleet_generator.py``): every feature of the data model, ``*`` endpoints,
hosts with two interfaces, a host with no endpoint, named ports, ICMP types and codes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet, settle
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import flow_changes as fc
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import reachability as r
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.simulator import simulate

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_flow_classes_exhaustive import HOSTS, inputs  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "differential"))

from fleet_generator import generate  # noqa: E402  pylint: disable=wrong-import-position

SEEDS = list(range(24))
A = {"palisade_labels": {"role": "a"}, "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.10"]}]}
B = {"palisade_labels": {"role": "b"}, "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.20"]}]}
HTTP = {"palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.10"], "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]}
# Two ends the generator does not make: a negated ICMP code at one end and an ICMP type at the
# other (so packets with and without a code meet one test of a code), and a negated named port
# beside a protocol the simulator gives ports but check mode's services do not (UDPLite).
FLEETS = {
    "negated ICMP code": [
        {"name": "a", "selector": "role == 'a'", "ingress": [{"action": "Allow", "protocol": "ICMP", "notICMP": {"type": 3, "code": 4}}]},
        {"name": "b", "selector": "role == 'b'",
         "egress": [{"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8}}, {"action": "Allow", "protocol": "ICMP"}]},
    ],
    "UDPLite and a negated named port": [
        {"name": "a", "selector": "role == 'a'", "ingress": [{"action": "Allow", "destination": {"notPorts": ["http"]}}]},
        {"name": "b", "selector": "role == 'b'", "egress": [{"action": "Allow", "protocol": "UDPLite"}, {"action": "Allow"}]},
    ],
}


def one_by_one(compiled, host: str, flow: fc.FlowClass, src_port: int) -> r.EndVerdict:
    outcome = simulate(compiled[host].ruleset(flow.local.version), flow.packet(src_port))
    return r.EndVerdict(outcome.verdict, outcome.decided_by)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_flow_gets_the_verdict_of_its_own_simulation(seed):
    check_every_flow(load_fleet(inputs(generate(seed, HOSTS))), seed)


@pytest.mark.parametrize("name", FLEETS)
def test_every_flow_of_written_fleets_gets_the_verdict_of_its_own_simulation(name):
    shared = {"palisade_policies": FLEETS[name]}
    a1 = {**shared, **A, **(HTTP if "named port" in name else {})}
    check_every_flow(settle(load_fleet([HostInput("a1", (), a1), HostInput("b1", (), {**shared, **B})])), name)


def check_every_flow(fleet, seed) -> None:
    report = r.reachability(fleet)
    compiled = {party.name: r.compile_host(r.FleetIndex(fleet), party.name) for party in report.sources if party.kind == r.HOST}
    checked = 0
    for cell in report.cells:
        source, target = cell.source, cell.target
        for path in cell.paths:
            rulesets = [compiled[party.name].ruleset(path.family) for party in (source, target) if party.kind == r.HOST]
            src_port = fc.ephemeral_port(rulesets)
            for flow in path.flows:
                for service in _each_range(flow.service):  # a merged range: every class it was merged from
                    if source.kind == r.HOST:
                        out = fc.FlowClass(fc.EGRESS, path.source.interface or "", path.source.address,
                                           fc.Peer(target.name, path.target.address), service)
                        assert one_by_one(compiled, source.name, out, src_port) == flow.egress, (seed, source.name, out)
                        checked += 1
                    if target.kind == r.HOST:
                        into = fc.FlowClass(fc.INGRESS, path.target.interface or "", path.target.address,
                                            fc.Peer(source.name, path.source.address), service)
                        assert one_by_one(compiled, target.name, into, src_port) == flow.ingress, (seed, target.name, into)
                        checked += 1
    assert report.simulations < report.verdicts  # the report walked fewer packets than it shows verdicts
    print(f"seed {seed}: {checked} verdicts checked, {report.simulations} packets simulated by the report")


def _each_range(service: fc.Service) -> list[fc.Service]:
    """The first and last port of a merged range, each as the class a packet of it stands for."""
    if service.protocol not in fc.PORT_PROTOCOLS or service.first is None or service.first == service.last:
        return [service]
    return [service, fc.Service(service.protocol, service.last, service.last, src_first=service.src_first, src_last=service.src_last)]
