# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a ruleset change does to traffic: the flow classes two rulesets tell apart, and the ones
whose verdict changes.

Private to the collection: the engine's API may change at any time.

Why classes and not every packet: two packets that no rule of either ruleset tells apart get
the same verdict from both, so one representative per class is enough. The classes come from
the rulesets themselves, per direction and endpoint interface of the host:

- only the rules on that path count (the chains the hooks reach through rules whose interface
  tests pass: ``simulator.rules_on_path``);
- the peers (the fleet's endpoints and network sets, the networks and set members the rules
  name, and "anything else") are first grouped by the sets and networks that hold them, then,
  per local address, by which of the path's rules their addresses let match (``Scope.key``):
  peers with the same key get the same verdict for every packet, so they are one class;
- a key's services are the destination port ranges, protocols and ICMP types and codes that
  its rules (and the named ports its sets hold for those addresses) tell apart;
- a key under which both rulesets walk the same rules (once the rules its addresses exclude
  are dropped) cannot change any verdict: it is not simulated at all;
- of a key's other services, only those a rule that one ruleset walks and the other does not
  could match are kept (``Scope.changing``): for any other packet, the rules that could
  match it come in the same order on both sides, so both walks are the same. A rule replaced
  in place by one with the same effect (a port added, say) counts only for the packets one
  of the two could match and the other not.

Each remaining class is simulated on both rulesets (``simulator``), NEW; adjacent port ranges
with the same outcome are reported as one range.

Forwarded traffic is classified the same way, per pair of the host's endpoint interfaces and
pair of peer classes (source and target), when the forward path's rules differ.

Source port ranges split a class only where its rules test source ports; otherwise the class
is tried from an ephemeral port no rule names. Replies (``ESTABLISHED``) are not classified.
"""

from __future__ import annotations

import bisect
import difflib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import Endpoint
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import IPAddress, IPNetwork
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.simulator import PORT_PROTOCOLS as SIMULATED_PORT_PROTOCOLS
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.simulator import (
    UNTOUCHED,
    Packet,
    SetIndex,
    hooks_on_path,
    may_match,
    merged_spans,
    rules_on_path,
    set_index,
    simulate,
)

INGRESS = "ingress"
EGRESS = "egress"
FORWARD = "forward"
SIMULATED_PATH = {INGRESS: "input", EGRESS: "output", FORWARD: "forward"}
FORWARD_PAIRS = 40000  # pairs of peer classes tried per pair of interfaces a host forwards between
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
    """A protocol and, for TCP/UDP/SCTP, a destination port range (and a source port range when
    a rule tells source ports apart), or an ICMP type and code."""

    protocol: int
    first: int | None = None
    last: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    other: bool = False  # the representative of everything no rule names
    src_first: int | None = None
    src_last: int | None = None

    def label(self, family: int) -> str:
        if self.protocol in PORT_PROTOCOLS:
            ports = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
            if self.src_first is None:
                return f"{PORT_PROTOCOLS[self.protocol]} {ports}"
            sources = f"port {self.src_first}" if self.src_first == self.src_last else f"ports {self.src_first}-{self.src_last}"
            return f"{PORT_PROTOCOLS[self.protocol]} {ports} (source {sources})"
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
    """ingress: peer -> local, arriving on interface; egress: local -> peer, leaving by
    interface; forward: peer -> target through the host, in by interface, out by out_interface
    (``local`` is then the target's address)."""

    direction: str
    interface: str
    local: IPAddress
    peer: Peer
    service: Service
    out_interface: str | None = None
    target: Peer | None = None

    def packet(self, src_port: int) -> Packet:
        service = self.service
        ports = {"src_port": source_port(service, src_port), "dst_port": service.first} if service.protocol in PORT_PROTOCOLS else {}
        icmp = {"icmp_type": service.icmp_type, "icmp_code": service.icmp_code} if service.icmp_type is not None else {}
        interface = _simulated(self.interface)
        if self.direction == INGRESS:
            return Packet(self.peer.address, self.local, service.protocol, in_interface=interface, **ports, **icmp)
        if self.direction == FORWARD:
            return Packet(self.peer.address, self.local, service.protocol, in_interface=interface,
                          out_interface=_simulated(self.out_interface or ""), **ports, **icmp)
        return Packet(self.local, self.peer.address, service.protocol, out_interface=interface, **ports, **icmp)

    def slot(self) -> tuple:
        """Everything but the service: where the flow goes, between whom."""
        return (self.direction, self.interface, self.out_interface, self.local, self.peer, self.target)


def source_port(service: Service, src_port: int) -> int:
    """The source port of the class's packet: ``src_port``, unless the class is a source range without it."""
    if service.src_first is not None and not service.src_first <= src_port <= (service.src_last or service.src_first):
        return service.src_first
    return src_port


def _simulated(interface: str) -> str:
    return OTHER_INTERFACE if interface == WILDCARD_INTERFACE else interface


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
        if flow.direction == FORWARD and flow.target is not None:
            where = f"{flow.interface} -> {flow.out_interface} from {flow.peer.name} to {flow.target.name}"
        else:
            where = f"{flow.interface} " + (f"from {flow.peer.name}" if flow.direction == INGRESS else f"to {flow.peer.name}")
        return (f"{flow.direction} {where} {flow.service.label(family)}: "
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
    src_port = ephemeral_port([after] if before is None else [before, after])
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
                 peers: Sequence[Peer], notes: list[str] | None = None) -> list[FlowClass]:
    """Every (direction, interfaces, addresses, peers, service) class of ``family`` that could
    change: ingress and egress on each endpoint, and traffic forwarded between two endpoints.

    The services of one pair of addresses come only from the rules that could match a packet
    between them (``Scope``): a rule whose networks or sets exclude either address never
    decides such a packet, so its ports would only split classes that get the same verdict.
    ``notes`` receives what was not compared (too many pairs to forward between)."""
    groups = peer_groups(rulesets, family, peers)
    src_port = ephemeral_port(rulesets)
    found = []
    for endpoint in local:
        for direction in (INGRESS, EGRESS):
            scope = Scope(rulesets, family, direction, endpoint.interface)
            if scope.same_path():
                continue
            for address in (a for a in endpoint.addresses if a.version == family):
                alike: dict[tuple, list[PeerGroup]] = {}
                for group in groups:
                    src, dst = (group.address, address) if direction == INGRESS else (address, group.address)
                    alike.setdefault(scope.key(src, dst), []).append(group)
                for key, members in alike.items():
                    if scope.unchanged(key):
                        continue
                    peer = _named(members)
                    found += scope.changing(key, [FlowClass(direction, endpoint.interface, address, peer, service)
                                                  for service in scope.services(key)], src_port)
    for into, out in _forwarding(local):
        found += _forward_classes(rulesets, family, groups, into, out, notes, src_port)
    return found


def _forwarding(local: Sequence[LocalEndpoint]) -> list[tuple[str, str]]:
    """The pairs of the host's endpoint interfaces traffic can be forwarded between."""
    interfaces = list(dict.fromkeys(endpoint.interface for endpoint in local))
    return [(into, out) for into in interfaces for out in interfaces if into != out]


def _forward_classes(rulesets: Sequence[ir.Ruleset], family: int, groups: Sequence[PeerGroup], into: str, out: str,
                     notes: list[str] | None, src_port: int) -> list[FlowClass]:
    scope = Scope(rulesets, family, FORWARD, into, out)
    if scope.same_path():
        return []
    if len(groups) ** 2 > FORWARD_PAIRS:
        if notes is not None:
            notes.append(f"IPv{family} traffic forwarded from {into} to {out} not compared: {len(groups) ** 2} pairs of peer classes, "
                         f"more than the {FORWARD_PAIRS} a check tries")
        return []
    alike: dict[tuple, list[tuple[PeerGroup, PeerGroup]]] = {}
    for source in groups:
        for target in groups:
            alike.setdefault(scope.key(source.address, target.address), []).append((source, target))
    found = []
    for key, pairs in alike.items():
        if scope.unchanged(key):
            continue
        for sources, targets in _rectangles(pairs):
            source, target = _named(sources), _named(targets)
            found += scope.changing(key, [FlowClass(FORWARD, into, target.address, source, service, out, target)
                                          for service in scope.services(key)], src_port)
    return found


def _rectangles(pairs: Sequence[tuple[PeerGroup, PeerGroup]]) -> list[tuple[list[PeerGroup], list[PeerGroup]]]:
    """The (source, target) pairs as few "every source to every target" blocks: the sources
    that reach the same targets are one block."""
    targets: dict[PeerGroup, list[PeerGroup]] = {}
    for source, target in pairs:
        targets.setdefault(source, []).append(target)
    blocks: dict[tuple[PeerGroup, ...], list[PeerGroup]] = {}
    for source, reached in targets.items():
        blocks.setdefault(tuple(reached), []).append(source)
    return [(sources, list(reached)) for reached, sources in blocks.items()]


def derive_services(rulesets: Sequence[ir.Ruleset], family: int) -> list[Service]:
    """One service per class of protocol, destination port range and ICMP type/code, over every
    rule and named-port member of the rulesets (whatever the addresses)."""
    cuts = Cuts()
    for ruleset in rulesets:
        cuts.update(ruleset_cuts(ruleset))
    return cuts.services(family)


def ruleset_cuts(ruleset: ir.Ruleset) -> Cuts:
    """The cuts of every rule and named-port member of one ruleset: those of several rulesets
    are their union, so a report over many pairs of hosts works out each host's once."""
    cuts = Cuts()
    sets = {item.name: item for item in ruleset.ipsets}
    for rule in _rules(ruleset):
        cuts.add_rule(rule)
        for ref in rule.match.sets:
            item = sets.get(ref.name)
            if item is not None:
                cuts.add_members((ref.side, m.protocol, m.port) for m in item.members if isinstance(m, ir.IpPortMember))
    return cuts


@dataclass
class Cuts:
    """Where rules split protocols, port ranges and ICMP types: kept apart from the services
    they give, so the rules every pair of a path meets are added once (``Scope.services``).

    Source ports split a protocol's classes only where a rule tests them; the failsafe rules
    that only take TCP segments after a connection's first (``! --syn``) never meet the new
    connections simulated here, so their source ports split nothing. Ports a rule tests
    without naming a protocol split every port protocol."""

    dst: dict[int, set[int]] = field(default_factory=lambda: {6: set(), 17: set()})
    src: dict[int, set[int]] = field(default_factory=dict)
    any_dst: set[int] = field(default_factory=set)
    any_src: set[int] = field(default_factory=set)
    any_src_but_tcp: set[int] = field(default_factory=set)
    protocols: set[int] = field(default_factory=set)
    icmp_codes: dict[int, set[int]] = field(default_factory=dict)

    def copy(self) -> Cuts:
        return Cuts({p: set(c) for p, c in self.dst.items()}, {p: set(c) for p, c in self.src.items()}, set(self.any_dst),
                    set(self.any_src), set(self.any_src_but_tcp), set(self.protocols), {t: set(c) for t, c in self.icmp_codes.items()})

    def update(self, other: Cuts) -> None:
        """Add every cut of ``other``."""
        for mine, theirs in ((self.dst, other.dst), (self.src, other.src), (self.icmp_codes, other.icmp_codes)):
            for key, cuts in theirs.items():
                mine.setdefault(key, set()).update(cuts)
        for mine_set, their_set in ((self.any_dst, other.any_dst), (self.any_src, other.any_src),
                                    (self.any_src_but_tcp, other.any_src_but_tcp), (self.protocols, other.protocols)):
            mine_set.update(their_set)

    def fingerprint(self) -> tuple:
        """Equal for cuts that give the same services: hosts of one role share theirs."""
        def frozen(by_key: dict[int, set[int]]) -> tuple:
            return tuple(sorted((key, tuple(sorted(cuts))) for key, cuts in by_key.items()))
        return (frozen(self.dst), frozen(self.src), frozen(self.icmp_codes), *(tuple(sorted(cuts)) for cuts in (
            self.any_dst, self.any_src, self.any_src_but_tcp, self.protocols)))

    def add_rule(self, rule: ir.Rule) -> None:
        match = rule.match
        if match.protocol is not None:
            self.protocols.add(match.protocol)
        ported = match.protocol in PORT_PROTOCOLS
        for ports in match.dst_ports:
            edges = {edge for span in ports.spans for edge in (span.first, span.last + 1)}
            (self.dst.setdefault(match.protocol, set()) if ported else self.any_dst).update(edges)
        for ports in match.src_ports:
            edges = {edge for span in ports.spans for edge in (span.first, span.last + 1)}
            if not ported:
                (self.any_src_but_tcp if match.not_syn else self.any_src).update(edges)
            elif not (match.not_syn and match.protocol == 6):
                self.src.setdefault(match.protocol, set()).update(edges)
        for test in (match.icmp, match.not_icmp):
            if test is not None:
                codes = self.icmp_codes.setdefault(test.type, set())
                if test.code is not None:
                    codes.add(test.code)

    def add_members(self, port_members: Iterable[tuple[str, int, int]]) -> None:
        for side, protocol, port in port_members:
            (self.dst if side == "dst" else self.src).setdefault(protocol, set()).update((port, port + 1))

    def destination_cuts(self, protocol: int) -> set[int]:
        return self.dst.get(protocol, set()) | self.any_dst

    def source_cuts(self, protocol: int) -> set[int]:
        return self.src.get(protocol, set()) | self.any_src | (self.any_src_but_tcp if protocol != 6 else set())

    def services(self, family: int) -> list[Service]:
        found: list[Service] = []
        for protocol in sorted(self.dst):
            src = self.source_cuts(protocol)
            sources: list[tuple[int | None, int | None]] = list(_intervals(src)) if src else [(None, None)]
            found += [Service(protocol, first, last, src_first=src_first, src_last=src_last)
                      for src_first, src_last in sources for first, last in _intervals(self.destination_cuts(protocol))]
        found += _icmp_services(ICMP[family][0], self.icmp_codes)
        found += [Service(p) for p in sorted(self.protocols) if p not in PORT_PROTOCOLS and p != ICMP[family][0] and p not in (1, 58)]
        # the representative of every other protocol: not one the simulator gives ports (DCCP, UDPLite)
        taken = self.protocols | set(SIMULATED_PORT_PROTOCOLS) | {1, 58}
        found.append(Service(next(p for p in range(2, 256) if p not in taken), other=True))
        return found


class PacketClasses:
    """Which of the classes of some cuts the packet of a service falls in: two packets of one
    class meet the same tests of every rule the cuts came from (protocol, port ranges, ICMP
    type and code), so those rules give them the same verdict. A class is named by the lowest
    port of its ranges, its ICMP type and code when a rule names them, or OTHER; a packet these
    cuts cannot place is a class of its own."""

    OTHER = -1

    def __init__(self, cuts: Cuts, family: int) -> None:
        self._icmp_protocol = ICMP[family][0]
        self._dst = {protocol: sorted({1, *cuts.destination_cuts(protocol)}) for protocol in cuts.dst}
        self._src = {protocol: sorted({1, *cuts.source_cuts(protocol)}) for protocol in cuts.dst}
        self._protocols = frozenset(cuts.protocols)
        self._icmp = {icmp_type: frozenset(codes) for icmp_type, codes in cuts.icmp_codes.items()}

    def of(self, service: Service, src_port: int) -> tuple:
        """The class of the packet ``FlowClass.packet(src_port)`` builds for ``service``."""
        protocol = service.protocol
        if protocol in self._dst and service.first is not None:
            return (protocol, _floor(self._dst[protocol], service.first), _floor(self._src[protocol], source_port(service, src_port)))
        if protocol == self._icmp_protocol and service.icmp_type is not None:
            # a packet without a code fails every test of a code, even a negated one, whatever
            # its type: with a code or without is part of every ICMP class
            coded = service.icmp_code is not None
            if service.icmp_type not in self._icmp:
                return (protocol, self.OTHER if self._icmp else None, None, coded)
            codes = self._icmp[service.icmp_type]
            if not codes or not coded:
                return (protocol, service.icmp_type, None, coded)
            return (protocol, service.icmp_type, service.icmp_code if service.icmp_code in codes else self.OTHER, coded)
        if protocol in self._protocols or protocol in SIMULATED_PORT_PROTOCOLS or protocol in (1, 58):
            return (protocol, service.first, source_port(service, src_port), service.icmp_type, service.icmp_code)
        return (self.OTHER,)


def _floor(points: list[int], port: int) -> int:
    """The highest of the sorted ``points`` at or below ``port``."""
    return points[bisect.bisect_right(points, port) - 1]


class Scope:
    """Which rules could match a packet of one direction and interface between two addresses,
    the services they tell apart, and whether the two rulesets treat such packets alike.

    Only the rules on the packet's path count (``simulator.rules_on_path``). Of those, rules
    without a network or set test (failsafes, defaults, rules on ports alone) count for every
    pair; the others only where both addresses pass their tests. A named-port set adds only the
    ports it holds for the address tested. Pairs with the same rules share one list.

    Dropping a rule that cannot match changes no walk, so when the two rulesets' paths are the
    same once the rules excluded for a pair are dropped (``unchanged``), no packet of that pair
    can change its verdict, and its classes need no simulation."""

    def __init__(self, rulesets: Sequence[ir.Ruleset], family: int, direction: str, interface: str, out_interface: str | None = None) -> None:
        self.family = family
        self.rulesets = list(rulesets)
        self.managed = [ruleset.managed for ruleset in rulesets]
        if direction == FORWARD:
            interfaces = {"in_interface": _simulated(interface), "out_interface": _simulated(out_interface or "")}
        elif direction == INGRESS:
            interfaces = {"in_interface": _simulated(interface)}
        else:
            interfaces = {"out_interface": _simulated(interface)}
        path = SIMULATED_PATH[direction]
        # (which ruleset, chain, rule, its ruleset's sets or None when the rule tests no address)
        self.entries: list[tuple[int, str, ir.Rule, SetIndex | None]] = []
        self.hooks: list[tuple] = []
        for which, ruleset in enumerate(rulesets):
            index = set_index(ruleset)
            self.hooks.append(hooks_on_path(ruleset, path))
            for chain, rule in rules_on_path(ruleset, path, **interfaces):
                self.entries.append((which, chain, rule, index if rule.match.nets or rule.match.sets else None))
        # one number per distinct (chain, rule), so comparing walks hashes no rule twice
        tokens: dict[tuple[str, ir.Rule], int] = {}
        self.tokens = [tokens.setdefault((chain, rule), len(tokens)) for _which, chain, rule, _index in self.entries]
        # one group per distinct address test (its networks and what its sets hold): both rulesets
        # mostly share them, and each needs testing once per pair of addresses
        tests: dict[tuple, list[int]] = {}
        self.always: set[int] = set()  # the rules that test no address
        for position, (_which, _chain, rule, index) in enumerate(self.entries):
            if index is None:
                self.always.add(position)
            else:
                # only the address tests count: rules on other ports of the same sets share one
                sets = tuple((ref.side, ref.negate, _contents(index.by_name.get(ref.name))) for ref in rule.match.sets)
                tests.setdefault((rule.match.nets, sets), []).append(position)
        self.tests = list(tests.values())
        self._aligned: tuple[dict[int, int], list[tuple[int | None, int | None]]] | None = None
        self._always_cuts: Cuts | None = None
        self._known: dict[tuple, list[Service]] = {}
        self._differing: dict[tuple, list[tuple[ir.Rule | None, ir.Rule | None]]] = {}

    def key(self, src: IPAddress, dst: IPAddress) -> tuple:
        """The rules with address tests that may match a packet from ``src`` to ``dst``, each
        with the named ports its sets hold for them. Pairs with the same key get the same
        verdict for every packet: every other rule on the path that tests addresses excludes
        both, and these test nothing else that differs. (The rules that test no address are
        the same for every key.)"""
        found = []
        for positions in self.tests:
            _which, _chain, rule, index = self.entries[positions[0]]
            ports = _may_match(rule.match, index, src, dst) if index is not None else None
            if ports is not None:
                held = tuple(sorted(ports))
                found += [(position, held) for position in positions]
        return tuple(sorted(found))

    def services(self, key: tuple) -> list[Service]:
        if key not in self._known:
            self._known[key] = self.cuts(key).services(self.family)
        return self._known[key]

    def cuts(self, key: tuple) -> Cuts:
        """The cuts of the rules the key's pairs may meet: those on no address, and the key's."""
        if self._always_cuts is None:
            self._always_cuts = Cuts()
            for position in self.always:
                self._always_cuts.add_rule(self.entries[position][2])
        cuts = self._always_cuts.copy()
        for position, ports in key:
            cuts.add_rule(self.entries[position][2])
            cuts.add_members(ports)
        return cuts

    def _same_frame(self) -> bool:
        """Two rulesets, both managed or not, with the same hooks on this path."""
        return len(self.managed) == 2 and self.managed[0] == self.managed[1] and self.hooks[0] == self.hooks[1]

    def same_path(self) -> bool:
        """Whether both rulesets have the same rules on this path: no packet on it can change."""
        if not self._same_frame():
            return False
        sides: tuple[list, list] = ([], [])
        for which, chain, rule, index in self.entries:
            sets = tuple(_contents(index.by_name.get(ref.name)) for ref in rule.match.sets) if index is not None else ()
            sides[which].append((chain, rule, sets))  # the same set name may hold other members
        return sides[0] == sides[1]

    def unchanged(self, key: tuple) -> bool:
        """Whether both rulesets walk every packet of the key's pairs through the same rules."""
        return self._same_frame() and not self.differing(key)

    def differing(self, key: tuple) -> list[tuple[ir.Rule | None, ir.Rule | None]]:
        """The rules a walk of the key's pairs may meet on one side and not, in the same place,
        on the other, as (old, new): the path's differing runs (``_alignment``) that these pairs
        may meet, and the rules of its common run that one side has for them and the other not
        (a set with other members). The rest is a run both sides have in the same order. A
        rule replaced by one in the same chain gives a pair; the others have None on one side.
        Meaningful only in the same frame."""
        if key not in self._differing:
            partner, runs = self._alignment()
            held = dict(key)
            found: list[tuple[ir.Rule | None, ir.Rule | None]] = []
            for old, new in runs:
                old = old if old is not None and (old in held or old in self.always) else None
                new = new if new is not None and (new in held or new in self.always) else None
                if old is not None or new is not None:
                    found.append((self._rule(old), self._rule(new)))
            for position, ports in key:
                other = partner.get(position)
                if other is not None and held.get(other) != ports:
                    rule = self.entries[position][2]
                    found.append((rule, None) if self.entries[position][0] == 0 else (None, rule))
            self._differing[key] = found
        return self._differing[key]

    def _rule(self, position: int | None) -> ir.Rule | None:
        return None if position is None else self.entries[position][2]

    def _alignment(self) -> tuple[dict[int, int], list[tuple[int | None, int | None]]]:
        """Once per path: the longest run of rules both rulesets have in the same order (each
        position with its partner on the other side) and the runs outside it, as pairs of
        positions. Any key's common run is this one less the rules its pairs never meet, so
        each key costs only its own rules."""
        if self._aligned is None:
            positions: tuple[list[int], list[int]] = ([], [])
            for position, entry in enumerate(self.entries):
                positions[entry[0]].append(position)
            old, new = ([self.tokens[position] for position in side] for side in positions)
            head, tail = common_ends(old, new)  # they need no matcher
            partner: dict[int, int] = {}
            runs: list[tuple[int | None, int | None]] = []
            blocks = [("equal", 0, head, 0, head), ("equal", len(old) - tail, len(old), len(new) - tail, len(new))]
            matcher = difflib.SequenceMatcher(None, old[head:len(old) - tail], new[head:len(new) - tail], autojunk=False)
            for tag, old_first, old_last, new_first, new_last in matcher.get_opcodes():
                blocks.append((tag, head + old_first, head + old_last, head + new_first, head + new_last))
            for tag, old_first, old_last, new_first, new_last in blocks:
                olds, news = positions[0][old_first:old_last], positions[1][new_first:new_last]
                if tag == "equal":
                    for a, b in zip(olds, news):
                        partner[a], partner[b] = b, a
                else:
                    runs += self._pairs(olds, news)
            self._aligned = (partner, runs)
        return self._aligned

    def _pairs(self, old: list[int], new: list[int]) -> list[tuple[int | None, int | None]]:
        if len(old) == len(new) and all(self.entries[a][1] == self.entries[b][1] for a, b in zip(old, new)):
            return list(zip(old, new))
        return [(a, None) for a in old] + [(None, b) for b in new]

    def changing(self, key: tuple, classes: list[FlowClass], src_port: int) -> list[FlowClass]:
        """The ``classes`` of a key whose packet a differing rule could match (``may_match``).

        Any other packet meets, of the rules that could match it, only rules of the common
        run (and replaced rules that act alike on it), in the same order on both sides, so
        both walks match the same rules: no verdict changes. Two frames (no record, other
        hooks) keep every class."""
        if not self._same_frame():
            return classes
        differing = self.differing(key)
        kept = []
        for index in sorted(_carried(differing, classes)):
            packet = classes[index].packet(src_port)
            if any(self._differs(old, new, packet) for old, new in differing):
                kept.append(classes[index])
        return kept

    def _differs(self, old: ir.Rule | None, new: ir.Rule | None, packet: Packet) -> bool:
        """Whether the walks of ``packet`` could part at this difference."""
        old_matches = old is not None and may_match(self.rulesets[0], old.match, packet)
        new_matches = new is not None and may_match(self.rulesets[1], new.match, packet)
        if old is None or new is None or old_matches != new_matches:
            return old_matches or new_matches
        return old_matches and not _same_effect(old, new)


def _carried(differing: list[tuple[ir.Rule | None, ir.Rule | None]], classes: list[FlowClass]) -> set[int]:
    """The positions of the classes whose service a differing rule's protocol and destination
    ports admit: a necessary test of ``may_match`` that needs no packet, found by bisection,
    so the classes no differing rule could carry cost nothing."""
    ported: dict[int, list[tuple[int, int]]] = {}
    for index, flow in enumerate(classes):
        if flow.service.protocol in PORT_PROTOCOLS and flow.service.first is not None:
            ported.setdefault(flow.service.protocol, []).append((flow.service.first, index))
    for entries in ported.values():
        entries.sort()
    found: set[int] = set()
    for rule in (rule for pair in differing for rule in pair if rule is not None):
        bounds = _port_bounds(rule)
        if bounds is None:
            return set(range(len(classes)))
        protocol, spans = bounds
        entries = ported.get(protocol, [])
        for first, last in spans:
            start = bisect.bisect_left(entries, (first, -1))
            stop = bisect.bisect_right(entries, (last, len(classes)))
            found.update(index for _first, index in entries[start:stop])
    return found


def _port_bounds(rule: ir.Rule) -> tuple[int, list[tuple[int, int]]] | None:
    """The one port protocol and the destination port spans outside which the rule matches
    nothing, or None when it may match other protocols or ports."""
    match = rule.match
    if match.protocol not in PORT_PROTOCOLS or match.protocol_negate:
        return None
    for ports in match.dst_ports:
        if not ports.negate:
            return match.protocol, [(span.first, span.last) for span in ports.spans]
    return None


def common_ends(old: Sequence, new: Sequence) -> tuple[int, int]:
    """How many items both sequences start with, and how many of the rest they end with:
    most edits touch a few rules in the middle of long walks, which then cost the matcher
    nothing."""
    shorter = min(len(old), len(new))
    head = 0
    while head < shorter and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < shorter - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return head, tail


def _same_effect(old: ir.Rule, new: ir.Rule) -> bool:
    """Two rules that, once their fixed tests pass, match the same walks and do the same."""
    return (old.verdict, old.comment, old.match.ct_states, old.match.ct_negate, old.match.marks) == \
        (new.verdict, new.comment, new.match.ct_states, new.match.ct_negate, new.match.marks)


def _contents(ipset: ir.IpSet | None) -> tuple:
    if ipset is None:
        return ()
    return (ipset.kind, ipset.family, ipset.digest) if ipset.digest else (ipset.kind, ipset.family, ipset.members)


def _may_match(match: ir.Match, index: SetIndex, src: IPAddress, dst: IPAddress) -> frozenset[tuple[str, int, int]] | None:
    """None when the match's networks or sets exclude ``src`` or ``dst``; else the named ports
    (side, protocol, port) its sets hold for them, which the port ranges must then tell apart."""
    for test in match.nets:
        if ((src if test.side == "src" else dst) in test.net) == test.negate:
            return None
    ports: frozenset[tuple[str, int, int]] = frozenset()
    for ref in match.sets:
        ipset = index.by_name.get(ref.name)
        if ipset is None:
            continue  # the simulator names the missing set
        address = src if ref.side == "src" else dst
        if ipset.kind == "hash:net":
            if index.holds(ipset, address) == ref.negate:
                return None
            continue
        held = index.ports_at(ipset, address)
        if not held and not ref.negate:
            return None
        ports |= {(ref.side, protocol, port) for protocol, port in held}
    return ports


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
    return [_named([group]) for group in peer_groups(rulesets, family, peers)]


@dataclass(frozen=True)
class PeerGroup:
    """Candidates in the same sets and networks: ``address`` stands for all of them."""

    address: IPAddress
    names: tuple[str, ...]
    anything_else: bool = False  # the group of addresses no rule or set names


def peer_groups(rulesets: Sequence[ir.Ruleset], family: int, peers: Sequence[Peer]) -> list[PeerGroup]:
    """The classes of ``derive_peers``, with the names of every candidate each holds."""
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
    found = [PeerGroup(members[0].address, tuple(p.name for p in members)) for signature, members in groups.items() if signature]
    found.append(PeerGroup(membership.outside(), tuple(p.name for p in groups.get((), [])), anything_else=True))
    return found


def _named(groups: Sequence[PeerGroup]) -> Peer:
    """One peer for groups that get the same verdicts: named after all they hold."""
    names = [name for group in groups for name in group.names]
    if any(group.anything_else for group in groups):
        return Peer(ANYTHING_ELSE + (f" (also {_group_name(names)})" if names else ""), next(g.address for g in groups if g.anything_else))
    return Peer(_group_name(names), groups[0].address)


def _group_name(names: Sequence[str]) -> str:
    names = list(dict.fromkeys(names))
    shown = ", ".join(names[:GROUP_NAMES])
    return shown if len(names) <= GROUP_NAMES else f"{shown} and {len(names) - GROUP_NAMES} more"


class _Membership:
    """Which of the rules' networks and sets hold an address: its class's signature."""

    def __init__(self, rulesets: Sequence[ir.Ruleset], family: int) -> None:
        self.family = family
        self.nets = sorted({t.net for r in rulesets for rule in _rules(r) for t in rule.match.nets if t.net.version == family},
                           key=lambda n: (int(n.network_address), n.prefixlen))
        self.net_sets: dict[str, tuple[list[int], list[int]]] = {}
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
                    self.net_sets[f"{ruleset.family}:{item.name}:{item.digest}"] = merged_spans(nets)
                    self.samples += sorted(nets, key=lambda n: (int(n.network_address), n.prefixlen))[:MEMBERS_PER_SET]

        self.net_sets = dict(sorted(self.net_sets.items()))  # in the order signatures list them
        self.port_sets = dict(sorted(self.port_sets.items()))

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
        found += [("set", name) for name, spans in self.net_sets.items() if _within(spans, value)]
        found += [("ports", name, tuple(sorted(by_address[value]))) for name, by_address in self.port_sets.items() if value in by_address]
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


def _within(spans: tuple[list[int], list[int]], value: int) -> bool:
    firsts, lasts = spans
    index = bisect.bisect_right(firsts, value) - 1
    return index >= 0 and value <= lasts[index]


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


def ephemeral_port(rulesets: Sequence[ir.Ruleset]) -> int:
    """A source port no rule names, when there is one: a class without a source range is then
    tried from a port as ordinary as a client's (a class with one uses a port inside it)."""
    return free_port([source_spans(ruleset) for ruleset in rulesets])


def source_spans(ruleset: ir.Ruleset) -> tuple[tuple[int, int], ...]:
    """The source port ranges the ruleset's rules name, each once, in order."""
    return tuple(sorted({(span.first, span.last) for rule in _rules(ruleset) for ports in rule.match.src_ports for span in ports.spans}))


def free_port(spans: Sequence[Sequence[tuple[int, int]]]) -> int:
    """The first port from ``EPHEMERAL`` in none of the spans (``EPHEMERAL`` when all are taken)."""
    every = [span for found in spans for span in found]
    return next((p for p in range(EPHEMERAL, 65536) if not any(first <= p <= last for first, last in every)), EPHEMERAL)


def _verdict(ruleset: ir.Ruleset, packet: Packet) -> Verdict:
    outcome = simulate(ruleset, packet)
    return Verdict(outcome.verdict, outcome.decided_by)


def _merge_ranges(changes: list[FlowChange]) -> list[FlowChange]:
    """Adjacent port ranges of one flow with the same outcome, as one range: source ranges
    first (all of them together are no source range at all), then destination ranges."""
    merged: list[FlowChange] = []
    for change in _merge_sources(changes):
        last = merged[-1] if merged else None
        if last is not None and _continues(last, change):
            service = last.flow.service
            flow = replace(last.flow, service=replace(service, last=change.flow.service.last))
            merged[-1] = FlowChange(flow, last.before, last.after)
        else:
            merged.append(change)
    return merged


def _merge_sources(changes: list[FlowChange]) -> list[FlowChange]:
    groups: dict[tuple, list[tuple[int, FlowChange]]] = {}
    order: dict[tuple, int] = {}
    for index, change in enumerate(changes):
        service = change.flow.service
        groups.setdefault((change.flow.slot(), replace(service, src_first=None, src_last=None), change.before, change.after), []).append((index, change))
        order.setdefault((change.flow.slot(), service.protocol), index)
    found: list[tuple[tuple, FlowChange]] = []
    for members in groups.values():
        spans: list[list] = []
        for index, change in sorted(members, key=lambda item: item[1].flow.service.src_first or 0):
            service = change.flow.service
            if spans and service.src_first is not None and spans[-1][1] is not None and service.src_first == spans[-1][1] + 1:
                spans[-1][1] = service.src_last
            else:
                spans.append([service.src_first, service.src_last, index, change])
        for first, last, index, change in spans:
            whole = (first, last) == (1, 65535)
            service = replace(change.flow.service, src_first=None if whole else first, src_last=None if whole else last)
            key = (order[(change.flow.slot(), service.protocol)], service.src_first or 0, service.first or 0, index)
            found.append((key, FlowChange(replace(change.flow, service=service), change.before, change.after)))
    return [change for _key, change in sorted(found, key=lambda item: item[0])]


def _continues(last: FlowChange, change: FlowChange) -> bool:
    a, b = last.flow, change.flow
    return (a.slot(), a.service.protocol, a.service.src_first) == (b.slot(), b.service.protocol, b.service.src_first) \
        and a.service.protocol in PORT_PROTOCOLS and a.service.last is not None and b.service.first == a.service.last + 1 \
        and (last.before, last.after) == (change.before, change.after)
