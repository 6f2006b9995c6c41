# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode's flow changes against a brute force, on generated fleets.

``flow_changes`` derives its classes per direction, interface and pair of addresses, from the
rules on that path which the addresses pass, and skips the pairs whose rules are the same in
both rulesets. Here every peer of the fleet is tried on every service the two rulesets name
anywhere (a finer partition), on both rulesets; every flow whose verdict changes must be in
the report, for a peer class that names that peer. The fleets are those of the differential
test (``tests/differential/fleet_generator.py``): every feature of the data model, doNotTrack,
preDNAT and applyOnForward policies, ``*`` endpoints and two interfaces, and traffic the
router host forwards between its two endpoints. Besides pairs of unrelated fleets, pairs where
the second fleet is the first after a small edit (a rule replaced, inserted or dropped, its
ports or action changed, a policy's order moved) check the classes that are left unsimulated
because no rule that differs could match them.
"""

from __future__ import annotations

import copy
import random
import sys
from pathlib import Path

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import flow_changes as fc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "differential"))

from fleet_generator import Fleet, LabHost, generate  # noqa: E402  pylint: disable=wrong-import-position
from fleet_generator import _ports, _rule  # noqa: E402  pylint: disable=wrong-import-position

HOSTS = [
    LabHost("h1", "198.51.100.11", "2001:db8:210::11"),
    LabHost("h2", "198.51.100.12", "2001:db8:210::12"),
    LabHost("h3", "198.51.100.13", "2001:db8:210::13", eth1=("198.51.100.193", "2001:db8:211::3")),
    LabHost("h4", "198.51.100.14", "2001:db8:210::14", eth1=("198.51.100.194", "2001:db8:211::4"), router=True),
]
PAIRS = [(seed, seed + 1000) for seed in (0, 1, 2, 3, 4, 5, 8, 11)]  # 6 of them change forwarded flows
# fleets compared with an edited copy of themselves: one edit changes nothing, three change forwarded flows
EDITED = [20, 30, 36, 37, 41, 42, 50, 52, 57]
EDITS = ("replace", "insert", "drop", "ports", "action", "order")


def edited(fleet: Fleet, seed: int) -> Fleet:
    """The fleet after one or two small edits of its policies, as one commit makes them."""
    rng = random.Random(f"edit-{seed}")
    changed = copy.deepcopy(fleet)
    for _unused in range(rng.randint(1, 2)):
        policy = rng.choice(changed.policies)
        direction = rng.choice([d for d in ("ingress", "egress") if d in policy] or ["ingress"])
        rules = policy.setdefault(direction, [])
        at = rng.randrange(len(rules) + 1)
        edit = rng.choice(EDITS) if rules else "insert"
        if edit == "insert":
            rules.insert(at, _rule(rng, HOSTS))
        elif edit == "order":
            policy["order"] = rng.choice((0, 2, 50, 1000))
        else:
            at = min(at, len(rules) - 1)
            if edit == "replace":
                rules[at] = _rule(rng, HOSTS)
            elif edit == "drop":
                del rules[at]
            elif edit == "action":
                rules[at]["action"] = "Deny" if rules[at]["action"] == "Allow" else "Allow"
            elif rules[at].get("protocol") in ("TCP", "UDP", "tcp", "udp"):
                rules[at].setdefault("destination", {})["ports"] = _ports(rng, rules[at]["protocol"].upper())
            else:
                rules[at]["protocol"], rules[at]["destination"] = "TCP", {"ports": _ports(rng, "TCP")}
                for name in ("notProtocol", "icmp", "notICMP"):
                    rules[at].pop(name, None)
    return changed


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


def covers(reported: fc.Service, service: fc.Service, src_port: int | None = None) -> bool:
    if reported.src_first is not None and src_port is not None and not reported.src_first <= src_port <= reported.src_last:
        return False
    if reported.protocol != service.protocol:
        return reported.other and not service.other and service.protocol not in fc.PORT_PROTOCOLS and service.icmp_type is None
    if service.protocol in fc.PORT_PROTOCOLS:
        return reported.first <= service.first and service.last <= reported.last
    if service.icmp_type is None:
        return reported.icmp_type is None
    return reported.other or reported.icmp_type is None or (reported.icmp_type, reported.icmp_code) in (
        (service.icmp_type, service.icmp_code), (service.icmp_type, None))


def brute_force(before, after, local, peers):
    """Every (flow, old, new, source port) with another verdict, over every peer and every
    service (destination and source port ranges included) named anywhere."""
    services = fc.derive_services([before, after], after.family)
    other = fc.derive_peers([before, after], after.family, [])[-1]
    everyone = [p for p in peers if p.address.version == after.family] + [fc.Peer(fc.ANYTHING_ELSE, other.address)]
    port = fc.ephemeral_port([before, after])
    flows = []
    for endpoint in local:
        for address in (a for a in endpoint.addresses if a.version == after.family):
            for direction in (fc.INGRESS, fc.EGRESS):
                flows += [fc.FlowClass(direction, endpoint.interface, address, peer, service) for peer in everyone for service in services]
    for into, out in fc._forwarding(local):  # pylint: disable=protected-access
        flows += [fc.FlowClass(fc.FORWARD, into, target.address, source, service, out, target)
                  for source in everyone for target in everyone for service in services]
    found = []
    for flow in flows:
        packet = flow.packet(port)
        old = fc._verdict(before, packet).verdict  # pylint: disable=protected-access
        new = fc._verdict(after, packet).verdict  # pylint: disable=protected-access
        if old != new:
            found.append((flow, old, new, packet.src_port))
    return found


def reports(change: fc.FlowChange, flow: fc.FlowClass, was: str, now: str, src_port: int | None) -> bool:
    """Whether the reported ``change`` covers the brute force's changed ``flow``."""
    r = change.flow
    if (r.direction, r.interface, r.out_interface) != (flow.direction, flow.interface, flow.out_interface):
        return False
    if flow.direction == fc.FORWARD:
        ends = flow.target.name in names(r.target)
    else:
        ends = r.local == flow.local
    verdicts = (change.before.verdict, change.after.verdict) == (was, now)
    return ends and verdicts and flow.peer.name in names(r.peer) and covers(r.service, flow.service, src_port)


@pytest.mark.parametrize("first,second", PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_changed_flow_is_reported(monkeypatch, first, second):
    check_pair(monkeypatch, [generate(seed, HOSTS) for seed in (first, second)], f"{first}->{second}", first == 0)


@pytest.mark.parametrize("seed", EDITED)
def test_every_changed_flow_of_a_small_edit_is_reported(monkeypatch, seed):
    fleet = generate(seed, HOSTS)
    check_pair(monkeypatch, [fleet, edited(fleet, seed)], f"{seed}->edited", True)


def check_pair(monkeypatch, fleets: list[Fleet], name: str, may_change_nothing: bool) -> None:
    """Every flow the brute force finds changed between the two fleets is reported."""
    monkeypatch.setattr(fc, "GROUP_NAMES", 10_000)  # every member named, so a peer's class can be found
    indexes = [FleetIndex(load_fleet(inputs(fleet))) for fleet in fleets]
    checked = forwarded = 0
    for host in HOSTS:
        old, new = (compile_host(index, host.name) for index in indexes)
        local = fc.local_endpoints(item.endpoint for item in new.resolution.endpoints)
        peers = fc.fleet_peers(indexes[1], host.name)
        for before, after in zip(old.rulesets, new.rulesets):
            reported = fc.flow_changes(before, after, local, peers)
            for flow, was, now, src_port in brute_force(before, after, local, peers):
                checked += 1
                forwarded += flow.direction == fc.FORWARD
                missing = f"{host.name} IPv{after.family}: {flow} {was} -> {now} is not reported"
                assert any(reports(change, flow, was, now, src_port) for change in reported), missing
            for change in reported:
                assert change.before.verdict != change.after.verdict
    assert checked or may_change_nothing  # most pairs of fleets change some flow on some host
    print(f"{name}: {checked} changed flows checked, {forwarded} forwarded")
