# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode's flow changes against a brute force, on generated fleets.

``flow_changes`` derives its classes per direction, interface and pair of addresses, from the
rules on that path which the addresses pass, and skips the pairs whose rules are the same in
both rulesets. Here every peer of the fleet is tried on every service the two rulesets name
anywhere (a finer partition), on both rulesets; every flow whose verdict changes must be in
the report, for a peer class that names that peer. The fleets are those of the differential
test (``tests/differential/fleet_generator.py``): every feature of the data model, doNotTrack,
preDNAT and applyOnForward policies, ``*`` endpoints and two interfaces.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils import flow_changes as fc
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet_index import FleetIndex

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "differential"))

from fleet_generator import Fleet, LabHost, generate  # noqa: E402  pylint: disable=wrong-import-position

HOSTS = [
    LabHost("h1", "198.51.100.11", "2001:db8:210::11"),
    LabHost("h2", "198.51.100.12", "2001:db8:210::12"),
    LabHost("h3", "198.51.100.13", "2001:db8:210::13", eth1=("198.51.100.193", "2001:db8:211::3")),
    LabHost("h4", "198.51.100.14", "2001:db8:210::14", eth1=("198.51.100.194", "2001:db8:211::4"), router=True),
]
PAIRS = [(seed, seed + 1000) for seed in range(12)]


def inputs(fleet: Fleet) -> list[HostInput]:
    return [HostInput(host.name, (), {**fleet.fleet_vars, "palisade_labels": fleet.labels[host.name],
                                      "palisade_host_endpoints": fleet.endpoints[host.name], **fleet.host_extras.get(host.name, {})})
            for host in HOSTS]


def names(peer: fc.Peer) -> set[str]:
    text = peer.name
    if text.startswith(fc.ANYTHING_ELSE):
        rest = text[len(fc.ANYTHING_ELSE):].strip()
        return {fc.ANYTHING_ELSE, *(rest[len("(also "):-1].split(", ") if rest else [])}
    return set(text.split(", "))


def covers(reported: fc.Service, service: fc.Service) -> bool:
    if reported.protocol != service.protocol:
        return reported.other and not service.other and service.protocol not in fc.PORT_PROTOCOLS and service.icmp_type is None
    if service.protocol in fc.PORT_PROTOCOLS:
        return reported.first <= service.first and service.last <= reported.last
    if service.icmp_type is None:
        return reported.icmp_type is None
    return reported.other or reported.icmp_type is None or (reported.icmp_type, reported.icmp_code) in (
        (service.icmp_type, service.icmp_code), (service.icmp_type, None))


def brute_force(before, after, local, peers):
    """Every (flow, old, new) with another verdict, over every peer and every service named anywhere."""
    services = fc.derive_services([before, after], after.family)
    other = fc.derive_peers([before, after], after.family, [])[-1]
    everyone = [p for p in peers if p.address.version == after.family] + [fc.Peer(fc.ANYTHING_ELSE, other.address)]
    port = fc._ephemeral_port([before, after])  # pylint: disable=protected-access
    found = []
    for endpoint in local:
        for address in (a for a in endpoint.addresses if a.version == after.family):
            for direction in (fc.INGRESS, fc.EGRESS):
                for peer in everyone:
                    for service in services:
                        flow = fc.FlowClass(direction, endpoint.interface, address, peer, service)
                        old = fc._verdict(before, flow.packet(port)).verdict  # pylint: disable=protected-access
                        new = fc._verdict(after, flow.packet(port)).verdict  # pylint: disable=protected-access
                        if old != new:
                            found.append((flow, old, new))
    return found


@pytest.mark.parametrize("first,second", PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_changed_flow_is_reported(monkeypatch, first, second):
    monkeypatch.setattr(fc, "GROUP_NAMES", 10_000)  # every member named, so a peer's class can be found
    fleets = [generate(seed, HOSTS) for seed in (first, second)]
    indexes = [FleetIndex(load_fleet(inputs(fleet))) for fleet in fleets]
    checked = 0
    for host in HOSTS:
        old, new = (compile_host(index, host.name) for index in indexes)
        local = fc.local_endpoints(item.endpoint for item in new.resolution.endpoints)
        peers = fc.fleet_peers(indexes[1], host.name)
        for before, after in zip(old.rulesets, new.rulesets):
            reported = fc.flow_changes(before, after, local, peers)
            for flow, was, now in brute_force(before, after, local, peers):
                checked += 1
                assert any(
                    (r.flow.direction, r.flow.interface, r.flow.local) == (flow.direction, flow.interface, flow.local)
                    and flow.peer.name in names(r.flow.peer) and covers(r.flow.service, flow.service)
                    and (r.before.verdict, r.after.verdict) == (was, now)
                    for r in reported
                ), f"{host.name} IPv{after.family}: {flow} {was} -> {now} is not reported"
            for change in reported:
                assert change.before.verdict != change.after.verdict
    assert checked or first == 0  # most pairs of fleets change some flow on some host


def test_peers_with_the_same_rules_on_the_path_are_one_class():
    """An ingress-only policy naming app1: on the egress path app1 is anything else."""
    policy = {"name": "db", "selector": "role == 'db'",
              "ingress": [{"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'app'"}, "destination": {"ports": [5432]}}]}
    hosts = [HostInput("db1", (), {"palisade_policies": [policy], "palisade_labels": {"role": "db"},
                                   "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.10"]}]}),
             HostInput("app1", (), {"palisade_policies": [policy], "palisade_labels": {"role": "app"},
                                    "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.20"]}]})]
    index = FleetIndex(load_fleet(hosts))
    ruleset = compile_host(index, "db1").ruleset(4)
    local = [fc.LocalEndpoint("eth0", (ipaddress.ip_address("198.51.100.10"),))]
    classes = fc.flow_classes([ruleset], 4, local, fc.fleet_peers(index, "db1"))
    ingress = {c.peer.name for c in classes if c.direction == fc.INGRESS}
    egress = {c.peer.name for c in classes if c.direction == fc.EGRESS}
    assert ingress == {"host app1", "anything else"}
    assert egress == {"anything else (also host app1)"}
    assert not any(c.service.first == 5432 for c in classes if c.direction == fc.EGRESS)  # the ingress rule is not on that path
