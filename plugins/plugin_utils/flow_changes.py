# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a ruleset change does to traffic: the flow classes two rulesets tell apart, and the ones
whose verdict changes.

Private to the collection: the engine's API may change at any time.

Why classes and not every packet: two packets that no rule of either ruleset tells apart get
the same verdict from both, so one representative per class is enough. The classes come from
the rulesets themselves: every destination port range boundary, protocol, ICMP type and code
that a rule (policy, failsafe or default) or a named-port set mentions, crossed with the peers
(the fleet's endpoints and network sets, the networks the rules name, and "anything else")
and the host's own endpoints. Each class is simulated on both rulesets (``simulator``), NEW,
from an ephemeral source port no rule names; adjacent port ranges with the same outcome are
reported as one range.

Not classified yet: source ports other than one ephemeral port, forwarded traffic
(``applyOnForward``), and replies (``ESTABLISHED``); those flows are compared only through the
representative above.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ansible_collections.palisade.firewall.plugins.plugin_utils import ir
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet import Endpoint
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet_index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.resources import IPAddress, IPNetwork
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulator import UNTOUCHED, Packet, simulate

INGRESS = "ingress"
EGRESS = "egress"
ANYTHING_ELSE = "anything else"
PORT_PROTOCOLS = {6: "TCP", 17: "UDP", 132: "SCTP"}
ICMP = {4: (1, "ICMP"), 6: (58, "ICMPv6")}
EPHEMERAL = 40000
MEMBERS_PER_SET = 256  # members of one set tried as peers (beyond that they differ only by chance)
GROUP_NAMES = 3  # names shown for a class of peers before "and N more"
WILDCARD_INTERFACE = "*"
# The interface name simulated for a '*' endpoint: one no named endpoint or prefix claims.
OTHER_INTERFACE = "pal-other0"
# Where "anything else" is looked for first: addresses no fleet is likely to name.
ELSEWHERE = {4: ("203.0.113.254", "198.51.100.254", "100.127.255.254", "10.255.255.254"),
             6: ("2001:db8:ffff:ffff::fffe", "2001:db8:fffe::fffe", "fd7f:ffff::fffe")}


@dataclass(frozen=True)
class Peer:
    """The other end of a flow: an inventory host, a network set, a network a rule names, or
    anything else; ``address`` is the one simulated."""

    name: str
    address: IPAddress


@dataclass(frozen=True)
class Service:
    """A protocol and, for TCP/UDP/SCTP, a destination port range, or an ICMP type and code."""

    protocol: int
    first: int | None = None
    last: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    other: bool = False  # the representative of everything no rule names

    def label(self, family: int) -> str:
        if self.protocol in PORT_PROTOCOLS:
            ports = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
            return f"{PORT_PROTOCOLS[self.protocol]} {ports}"
        if self.protocol == ICMP[family][0]:
            name = ICMP[family][1]
            if self.icmp_type is None:
                return name
            if self.other:
                return f"{name} other types"
            return f"{name} type {self.icmp_type}" + ("" if self.icmp_code is None else f" code {self.icmp_code}")
        return "other protocols" if self.other else f"protocol {self.protocol}"


@dataclass(frozen=True)
class FlowClass:
    direction: str  # ingress: peer -> local, arriving on interface; egress: local -> peer
    interface: str
    local: IPAddress
    peer: Peer
    service: Service

    def packet(self, src_port: int) -> Packet:
        service = self.service
        ports = {"src_port": src_port, "dst_port": service.first} if service.protocol in PORT_PROTOCOLS else {}
        icmp = {"icmp_type": service.icmp_type, "icmp_code": service.icmp_code} if service.icmp_type is not None else {}
        interface = OTHER_INTERFACE if self.interface == WILDCARD_INTERFACE else self.interface
        if self.direction == INGRESS:
            return Packet(self.peer.address, self.local, service.protocol, in_interface=interface, **ports, **icmp)
        return Packet(self.local, self.peer.address, service.protocol, out_interface=interface, **ports, **icmp)


@dataclass(frozen=True)
class Verdict:
    verdict: str  # allow, deny or untouched
    decided_by: str | None

    def __str__(self) -> str:
        return self.verdict + (f" ({self.decided_by})" if self.decided_by else "")


@dataclass(frozen=True)
class FlowChange:
    flow: FlowClass
    before: Verdict
    after: Verdict

    def line(self, family: int) -> str:
        flow = self.flow
        ends = f"from {flow.peer.name}" if flow.direction == INGRESS else f"to {flow.peer.name}"
        return (f"{flow.direction} {flow.interface} {ends} {flow.service.label(family)}: "
                f"{self.before.verdict} -> {self.after.verdict} (was {self.before}; now {self.after})")


@dataclass(frozen=True)
class LocalEndpoint:
    """One of the host's own endpoints: the interface (``*`` for every other) and its addresses."""

    interface: str
    addresses: tuple[IPAddress, ...]


NO_FIREWALL = Verdict(UNTOUCHED, None)


def flow_changes(before: ir.Ruleset | None, after: ir.Ruleset, local: Sequence[LocalEndpoint],
                 peers: Sequence[Peer]) -> list[FlowChange]:
    """Every flow class of ``after``'s family whose verdict differs between the two rulesets.

    ``before`` None is a host with no firewall of ours: every flow is untouched there."""
    rulesets = [after] if before is None else [before, after]
    return compare(before, after, flow_classes(rulesets, after.family, local, peers))


def compare(before: ir.Ruleset | None, after: ir.Ruleset, classes: Iterable[FlowClass]) -> list[FlowChange]:
    """The ``classes`` whose verdict differs between the two rulesets, adjacent ranges merged."""
    src_port = _ephemeral_port([after] if before is None else [before, after])
    found: list[FlowChange] = []
    for flow in classes:
        packet = flow.packet(src_port)
        old = NO_FIREWALL if before is None else _verdict(before, packet)
        new = _verdict(after, packet)
        if old.verdict != new.verdict:  # the same verdict by another rule changes no traffic
            found.append(FlowChange(flow, old, new))
    return _merge_ranges(found)


def summary(changes: Iterable[FlowChange]) -> str:
    """``3 flows change: 1 allow -> deny, 2 deny -> allow`` (or ``no flow changes``)."""
    counts: dict[str, int] = {}
    for change in changes:
        key = f"{change.before.verdict} -> {change.after.verdict}"
        counts[key] = counts.get(key, 0) + 1
    total = sum(counts.values())
    if not total:
        return "no flow changes"
    return f"{total} flow{'s' if total > 1 else ''} change{'' if total > 1 else 's'}: " + ", ".join(
        f"{count} {key}" for key, count in sorted(counts.items()))


def flow_classes(rulesets: Sequence[ir.Ruleset], family: int, local: Sequence[LocalEndpoint],
                 peers: Sequence[Peer]) -> list[FlowClass]:
    services = derive_services(rulesets, family)
    all_peers = derive_peers(rulesets, family, peers)
    found = []
    for endpoint in local:
        for address in (a for a in endpoint.addresses if a.version == family):
            for direction in (INGRESS, EGRESS):
                found += [FlowClass(direction, endpoint.interface, address, peer, service)
                          for peer in all_peers for service in services]
    return found


def derive_services(rulesets: Sequence[ir.Ruleset], family: int) -> list[Service]:
    """One service per class of protocol, destination port range and ICMP type/code."""
    rules = [rule for ruleset in rulesets for rule in _rules(ruleset)]
    cuts: dict[int, set[int]] = {protocol: set() for protocol in (6, 17)}
    protocols: set[int] = set()
    icmp_codes: dict[int, set[int]] = {}
    for rule in rules:
        match = rule.match
        if match.protocol is not None:
            protocols.add(match.protocol)
        for ports in match.dst_ports:
            for protocol in ([match.protocol] if match.protocol in PORT_PROTOCOLS else list(cuts)):
                for span in ports.spans:
                    cuts.setdefault(protocol, set()).update((span.first, span.last + 1))
        for test in (match.icmp, match.not_icmp):
            if test is not None:
                codes = icmp_codes.setdefault(test.type, set())
                if test.code is not None:
                    codes.add(test.code)
    for ruleset in rulesets:
        for ipset in ruleset.ipsets:
            for member in ipset.members:
                if isinstance(member, ir.IpPortMember):
                    cuts.setdefault(member.protocol, set()).update((member.port, member.port + 1))
    found: list[Service] = []
    for protocol in sorted(cuts):
        found += [Service(protocol, first, last) for first, last in _intervals(cuts[protocol])]
    found += _icmp_services(ICMP[family][0], icmp_codes)
    found += [Service(p) for p in sorted(protocols) if p not in PORT_PROTOCOLS and p != ICMP[family][0] and p not in (1, 58)]
    taken = protocols | set(PORT_PROTOCOLS) | {1, 58}
    found.append(Service(next(p for p in range(2, 256) if p not in taken), other=True))
    return found


def _intervals(cuts: set[int]) -> list[tuple[int, int]]:
    """The port ranges of 1-65535 that no cut splits: a cut at p starts a range at p."""
    points = sorted({1, *(c for c in cuts if 1 < c <= 65535)})
    return [(start, (points[i + 1] - 1) if i + 1 < len(points) else 65535) for i, start in enumerate(points)]


def _icmp_services(protocol: int, codes: dict[int, set[int]]) -> list[Service]:
    if not codes:
        return [Service(protocol)]
    found = []
    for icmp_type in sorted(codes):
        named = codes[icmp_type]
        found += [Service(protocol, icmp_type=icmp_type, icmp_code=code) for code in sorted(named)]
        # the type with a code no rule names; any code when no rule names one
        found.append(Service(protocol, icmp_type=icmp_type, icmp_code=next(c for c in range(256) if c not in named) if named else None))
    other = next(t for t in range(256) if t not in codes)
    found.append(Service(protocol, icmp_type=other, icmp_code=0, other=True))
    return found


def derive_peers(rulesets: Sequence[ir.Ruleset], family: int, peers: Sequence[Peer]) -> list[Peer]:
    """One peer per class of addresses the rules tell apart, named after what it holds.

    Candidates are the given peers, a representative of each network a rule names and of the
    first ``MEMBERS_PER_SET`` members of each set, and anything else (an address no rule or set
    names). Candidates in exactly the same sets and networks get the same verdict from every
    rule, so they are one class: ``host app-1, host app-2 and 3 more``."""
    membership = _Membership(rulesets, family)
    candidates = [p for p in peers if p.address.version == family]
    known = {p.address for p in candidates}
    for net in membership.named_networks():
        address = inside(net)
        if address not in known:  # a set's member that is a known peer's address adds nothing
            known.add(address)
            candidates.append(Peer(str(address) if net.num_addresses == 1 else str(net), address))
    groups: dict[tuple, list[Peer]] = {}
    for peer in candidates:
        groups.setdefault(membership.signature(peer.address), []).append(peer)
    other = membership.outside()
    found = [Peer(_group_name(members), members[0].address) for signature, members in groups.items() if signature]
    unnamed = groups.get((), [])
    extra = f" (also {_group_name(unnamed)})" if unnamed else ""
    found.append(Peer(ANYTHING_ELSE + extra, other))
    return found


def _group_name(members: Sequence[Peer]) -> str:
    names = list(dict.fromkeys(peer.name for peer in members))
    shown = ", ".join(names[:GROUP_NAMES])
    return shown if len(names) <= GROUP_NAMES else f"{shown} and {len(names) - GROUP_NAMES} more"


class _Membership:
    """Which of the rules' networks and sets hold an address: its class's signature."""

    def __init__(self, rulesets: Sequence[ir.Ruleset], family: int) -> None:
        self.family = family
        self.nets = sorted({t.net for r in rulesets for rule in _rules(r) for t in rule.match.nets if t.net.version == family},
                           key=lambda n: (int(n.network_address), n.prefixlen))
        self.net_sets: dict[str, list[tuple[int, int]]] = {}
        self.port_sets: dict[str, dict[int, frozenset[tuple[int, int]]]] = {}
        self.samples: list[IPNetwork] = []
        for ruleset in rulesets:
            for item in ruleset.ipsets:
                if item.family != family:
                    continue
                if item.kind == "hash:ip,port":
                    self._add_port_set(item)
                else:
                    nets = [m.net for m in item.members if isinstance(m, ir.NetMember)]
                    self.net_sets[f"{ruleset.family}:{item.name}:{item.digest}"] = _merged(nets)
                    self.samples += sorted(nets, key=lambda n: (int(n.network_address), n.prefixlen))[:MEMBERS_PER_SET]

    def _add_port_set(self, item: ir.IpSet) -> None:
        ports: dict[int, set[tuple[int, int]]] = {}
        for member in item.members:
            if isinstance(member, ir.IpPortMember):
                ports.setdefault(int(member.address.network_address), set()).add((member.protocol, member.port))
                self.samples.append(member.address)
        self.port_sets[f"{item.name}:{item.digest}"] = {address: frozenset(pairs) for address, pairs in ports.items()}

    def named_networks(self) -> list[IPNetwork]:
        return list(dict.fromkeys(self.nets + self.samples))

    def signature(self, address: IPAddress) -> tuple:
        value = int(address)
        found: list[tuple] = [("net", str(net)) for net in self.nets if address in net]
        found += [("set", name) for name, spans in sorted(self.net_sets.items()) if _within(spans, value)]
        found += [("ports", name, tuple(sorted(by_address[value]))) for name, by_address in sorted(self.port_sets.items())
                  if value in by_address]
        return tuple(found)

    def outside(self) -> IPAddress:
        """An address in no network or set of the rules."""
        for text in ELSEWHERE[self.family]:
            candidate = ipaddress.ip_address(text)
            if not self.signature(candidate):
                return candidate
        size = 2 ** (32 if self.family == 4 else 128)
        for index in range(1, 4099):
            candidate = ipaddress.ip_address(size // 4099 * index) if self.family == 4 else ipaddress.IPv6Address(size // 4099 * index)
            if not self.signature(candidate):
                return candidate
        raise ValueError(f"no IPv{self.family} address is outside every network the rules name")


def _merged(nets: Iterable[IPNetwork]) -> list[tuple[int, int]]:
    spans = sorted((int(n.network_address), int(n.broadcast_address)) for n in nets)
    merged: list[tuple[int, int]] = []
    for first, last in spans:
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _within(spans: list[tuple[int, int]], value: int) -> bool:
    index = bisect.bisect_right(spans, (value, 2 ** 129)) - 1
    return index >= 0 and spans[index][0] <= value <= spans[index][1]


def fleet_peers(index: FleetIndex, host: str) -> list[Peer]:
    """The inventory's other hosts (by their endpoints' addresses) and its network sets."""
    found: list[Peer] = []
    for endpoint in index.fleet.endpoints:
        if endpoint.host != host:
            found += [Peer(f"host {endpoint.host}", address) for address in endpoint.addresses]
    for network_set in index.fleet.catalog.network_sets:
        found += [Peer(f"network set {network_set.name} ({net})", inside(net)) for net in network_set.nets]
    return unique(found)


def local_endpoints(endpoints: Iterable[Endpoint]) -> list[LocalEndpoint]:
    return [LocalEndpoint(e.interface_name, e.addresses) for e in endpoints if e.interface_name and e.addresses]


def unique(peers: list[Peer]) -> list[Peer]:
    seen: set[IPAddress] = set()
    found = []
    for peer in peers:
        if peer.address not in seen:
            seen.add(peer.address)
            found.append(peer)
    return found


def inside(net: IPNetwork) -> IPAddress:
    return net.network_address if net.num_addresses <= 2 else net.network_address + 1


def _rules(ruleset: ir.Ruleset) -> Iterable[ir.Rule]:
    for table in ruleset.tables:
        for chain in table.chains:
            yield from chain.rules


def _ephemeral_port(rulesets: Sequence[ir.Ruleset]) -> int:
    spans = [span for ruleset in rulesets for rule in _rules(ruleset) for ports in rule.match.src_ports for span in ports.spans]
    return next(p for p in range(EPHEMERAL, 65536) if not any(s.first <= p <= s.last for s in spans))


def _verdict(ruleset: ir.Ruleset, packet: Packet) -> Verdict:
    outcome = simulate(ruleset, packet)
    return Verdict(outcome.verdict, outcome.decided_by)


def _merge_ranges(changes: list[FlowChange]) -> list[FlowChange]:
    """Adjacent port ranges of one flow with the same outcome, as one range."""
    merged: list[FlowChange] = []
    for change in changes:
        last = merged[-1] if merged else None
        if last is not None and _continues(last, change):
            service = last.flow.service
            flow = FlowClass(last.flow.direction, last.flow.interface, last.flow.local, last.flow.peer,
                             Service(service.protocol, service.first, change.flow.service.last))
            merged[-1] = FlowChange(flow, last.before, last.after)
        else:
            merged.append(change)
    return merged


def _continues(last: FlowChange, change: FlowChange) -> bool:
    a, b = last.flow, change.flow
    return (a.direction, a.interface, a.local, a.peer, a.service.protocol) == (b.direction, b.interface, b.local, b.peer, b.service.protocol) \
        and a.service.protocol in PORT_PROTOCOLS and a.service.last is not None and b.service.first == a.service.last + 1 \
        and (last.before, last.after) == (change.before, change.after)
