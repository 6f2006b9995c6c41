# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One policy rule -> IR rules for one IP family, and the ipsets they reference.

Private to the collection: the engine's API may change at any time.

Calico's per-family rules apply (calico-semantics d.2): a rule limited to the other family by
``ipVersion``, its ICMP protocol or any of its nets fields (``nets`` or ``notNets``, either
side) is omitted; selectors become per-family sets that may be empty. Where one Calico rule means "any of" (more than 15 port slots, numeric and named
ports together) it becomes several IR rules with the same verdict, so the firewall never
needs cooperating mark bits for OR.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir, naming
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import (
    EntityRule,
    IPNetwork,
    NamedPort,
    PortRange,
    Rule,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import Selector

MULTIPORT_SLOTS = 15
ICMP_FAMILY = {1: 4, 58: 6}
ENDPOINT_PORT_PROTOCOLS = {"TCP": 6, "UDP": 17, "SCTP": 132}  # an endpoint port's protocol name -> number


@dataclass
class SetRegistry:
    """The ipsets of one family's ruleset; a set is created once however many rules use it.

    ``shared`` is the fleet-wide cache (one per compiler): the same selector gives the same set
    on every host, so its members are built and hashed once per play, not once per host.
    """

    family: int
    shared: dict[str, ir.IpSet] = field(default_factory=dict)
    sets: dict[str, ir.IpSet] = field(default_factory=dict)

    def add(self, kind: str, key: str, set_type: str, members: Callable[[], tuple[ir.SetMember, ...]], comment: str) -> str:
        name = naming.set_name(kind, self.family, key)
        if name not in self.sets:
            ipset = self.shared.get(name)
            if ipset is None:
                content = members()
                ipset = ir.IpSet(name, set_type, self.family, content, comment, _digest(content))  # type: ignore[arg-type]
                self.shared[name] = ipset
            self.sets[name] = ipset
        return name


def _digest(members: tuple[ir.SetMember, ...]) -> str:
    text = "\n".join(_member_key(m) for m in members)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _member_key(member: ir.SetMember) -> str:
    if isinstance(member, ir.NetMember):
        return str(member.net)
    return f"{member.address},{member.protocol}:{member.port}"


@dataclass(frozen=True)
class RuleContext:
    """What a policy rule needs to know to compile: where it is, and the fleet."""

    policy: str
    direction: str  # Ingress / Egress
    index: int
    fleet: FleetIndex
    sets: SetRegistry
    warnings: list[str]

    @property
    def label(self) -> str:
        return f"policy {self.policy} {self.direction.lower()} rule {self.index}"

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.label}: {message}")


def compile_rule(rule: Rule, verdict: ir.Verdict, context: RuleContext) -> list[ir.Rule]:
    """IR rules for ``context.sets.family``; an empty list when the rule is for the other family."""
    family = context.sets.family
    if not _applies_to_family(rule, family):
        return []
    base = _protocol_match(rule, context)
    if base is None:
        return []
    icmp = _icmp_tests(rule)
    base = replace(base, icmp=icmp[0], not_icmp=icmp[1])
    sides = []
    for side_name, side in (("src", rule.source), ("dst", rule.destination)):
        side_matches = _side_matches(side_name, side, rule, context)
        if side_matches is None:
            return []
        sides.append(side_matches)
    rules = []
    for part, (src, dst) in enumerate((s, d) for s in sides[0] for d in sides[1]):
        match = _combine(base, src, dst)
        comment = context.label if len(sides[0]) * len(sides[1]) == 1 else f"{context.label} part {part}"
        rules.append(ir.Rule(match, verdict, comment))
    return rules


def _applies_to_family(rule: Rule, family: int) -> bool:
    if rule.ip_version is not None and rule.ip_version != family:
        return False
    return rule.protocol is None or ICMP_FAMILY.get(rule.protocol.number, family) == family


def _protocol_match(rule: Rule, context: RuleContext) -> ir.Match | None:
    if rule.protocol is not None:
        if rule.not_protocol is not None and rule.not_protocol.number == rule.protocol.number:
            context.warn(f"protocol {rule.protocol} and notProtocol {rule.not_protocol} exclude each other; the rule matches nothing")
            return None
        return ir.Match(protocol=rule.protocol.number)
    if rule.not_protocol is not None:
        return ir.Match(protocol=rule.not_protocol.number, protocol_negate=True)
    return ir.Match()


def _icmp_tests(rule: Rule) -> tuple[ir.IcmpTest | None, ir.IcmpTest | None]:
    positive = ir.IcmpTest(rule.icmp.type, rule.icmp.code) if rule.icmp else None
    negative = ir.IcmpTest(rule.not_icmp.type, rule.not_icmp.code, negate=True) if rule.not_icmp else None
    return positive, negative


@dataclass(frozen=True)
class SideMatch:
    """The matches of one side (source or destination); a side may need several (OR)."""

    nets: tuple[ir.NetMatch, ...] = ()
    sets: tuple[ir.SetRef, ...] = ()
    ports: tuple[ir.Ports, ...] = ()


def _side_matches(side_name: str, side: EntityRule, rule: Rule, context: RuleContext) -> list[SideMatch] | None:
    """Alternatives (OR) for one side; ``None`` when the side can never match in this family."""
    family = context.sets.family
    common_nets: list[ir.NetMatch] = []
    common_sets: list[ir.SetRef] = []
    for nets, negate in ((side.nets, False), (side.not_nets, True)):
        family_nets = [n for n in nets if n.version == family]
        if _omitted_for_family(nets, family_nets, negate, side_name, context):
            return None
        _add_nets(family_nets, side_name, negate, context, common_nets, common_sets)
    for selector, negate in ((side.selector, False), (side.not_selector, True)):
        if selector is not None:
            common_sets.append(ir.SetRef(_selector_set(selector, context), side_name, negate))  # type: ignore[arg-type]
    negated_ports = _port_tests(side.not_ports, negate=True)
    negated_named = _named_port_refs(side_name, side, side.not_ports, rule, context, negate=True)
    alternatives = _positive_port_alternatives(side_name, side, rule, context)
    return [
        SideMatch(
            nets=tuple(common_nets),
            sets=tuple(common_sets) + negated_named + alt.sets,
            ports=negated_ports + alt.ports,
        )
        for alt in alternatives
    ]


def _omitted_for_family(nets: tuple[IPNetwork, ...], family_nets: list[IPNetwork], negate: bool, side: str, context: RuleContext) -> bool:
    """Felix's per-family filtering (``FilterRuleToIPVersion``): a nets field with entries but
    none of this family, positive or negated, leaves the whole rule out of this family's
    ruleset. Rendering a ``notNets`` of the other family as no test at all would turn
    "everything but 10.0.0.0/8" into "everything" on IPv6. (Felix also drops a rule whose
    negated field holds its family's catch-all; the loader refuses such a rule outright.)"""
    field_name = "notNets" if negate else "nets"
    if nets and not family_nets:
        if negate:
            where = "source" if side == "src" else "destination"
            family = context.sets.family
            context.warn(f"{where}.{field_name} has no IPv{family} entries, so the rule is left out of the IPv{family} rules (as Felix does)")
        return True
    return False


def _add_nets(nets: list[IPNetwork], side: str, negate: bool, context: RuleContext, out_nets: list, out_sets: list) -> None:
    if not nets:
        return
    merged = list(ipaddress.collapse_addresses(nets))  # type: ignore[type-var]
    if len(merged) == 1:
        out_nets.append(ir.NetMatch(merged[0], side, negate))  # type: ignore[arg-type]
        return
    key = ",".join(str(n) for n in merged)
    what = "notNets" if negate else "nets"
    name = context.sets.add("n", key, "hash:net", lambda: tuple(ir.NetMember(n) for n in merged), f"{what} of {context.label}")
    out_sets.append(ir.SetRef(name, side, negate))  # type: ignore[arg-type]


def _selector_set(selector: Selector, context: RuleContext) -> str:
    def members() -> tuple[ir.SetMember, ...]:
        resolved = context.fleet.addresses(selector)
        nets = resolved.ipv4 if context.sets.family == 4 else resolved.ipv6
        return tuple(ir.NetMember(n) for n in nets)

    return context.sets.add("s", selector.canonical, "hash:net", members, f"selector {selector.canonical}")


def _port_tests(ports: tuple, *, negate: bool) -> tuple[ir.Ports, ...]:
    """Numeric ports as multiport chunks of at most 15 slots (a range takes two)."""
    spans = [ir.PortSpan(p.first, p.last) for p in ports if isinstance(p, PortRange)]
    return tuple(ir.Ports(chunk, negate) for chunk in _chunks(spans))


def _chunks(spans: list[ir.PortSpan]) -> Iterator[tuple[ir.PortSpan, ...]]:
    chunk: list[ir.PortSpan] = []
    used = 0
    for span in spans:
        cost = 1 if span.first == span.last else 2
        if used + cost > MULTIPORT_SLOTS:
            yield tuple(chunk)
            chunk, used = [], 0
        chunk.append(span)
        used += cost
    if chunk:
        yield tuple(chunk)


@dataclass(frozen=True)
class _Alternative:
    sets: tuple[ir.SetRef, ...] = ()
    ports: tuple[ir.Ports, ...] = ()


def _positive_port_alternatives(side_name: str, side: EntityRule, rule: Rule, context: RuleContext) -> list[_Alternative]:
    """Each numeric chunk, and the named-port set, is one alternative (OR); none means any port."""
    alternatives = [_Alternative(ports=(ports,)) for ports in _port_tests(side.ports, negate=False)]
    named = _named_port_refs(side_name, side, side.ports, rule, context, negate=False)
    if named:
        alternatives.append(_Alternative(sets=named))
    return alternatives or [_Alternative()]


def _named_port_refs(side_name: str, side: EntityRule, ports: tuple, rule: Rule, context: RuleContext, *, negate: bool) -> tuple[ir.SetRef, ...]:
    """The ``hash:ip,port`` set of the named ports in ``ports``; each member carries its protocol.

    With a rule protocol, only endpoint ports of that protocol count; without one (Calico allows
    named ports alone then), every endpoint port of that name counts, with its own protocol, and
    the rule has no ``-p``: the set lookup checks the protocol.
    """
    names = tuple(sorted({p.name for p in ports if isinstance(p, NamedPort)}))
    if not names:
        return ()
    protocol = rule.protocol
    endpoints = context.fleet.endpoints(side.selector) if side.selector is not None else context.fleet.fleet.endpoints
    members: set[ir.IpPortMember] = set()
    found: set[str] = set()
    for endpoint in endpoints:
        for port in endpoint.ports:
            number = ENDPOINT_PORT_PROTOCOLS[port.protocol]
            if port.name in names and (protocol is None or number == protocol.number):
                found.add(port.name)
                for address in endpoint.addresses:
                    if address.version == context.sets.family:
                        members.add(ir.IpPortMember(ipaddress.ip_network(address), number, port.port))  # type: ignore[arg-type]
    which = "any protocol" if protocol is None else str(protocol)
    for name in names:
        if name not in found:
            context.warn(f"named port {name!r} ({which}) is declared by no endpoint the rule's {side_name} side matches; it matches nothing")
    selector = side.selector.canonical if side.selector is not None else "all endpoints"
    key = f"{selector}|{'any' if protocol is None else protocol.number}|{','.join(names)}"
    ordered = tuple(sorted(members, key=lambda m: (int(m.address.network_address), m.protocol, m.port)))
    comment = f"named ports {','.join(names)}/{'any protocol' if protocol is None else protocol} of {selector}"
    name = context.sets.add("p", key, "hash:ip,port", lambda: ordered, comment)
    return (ir.SetRef(name, side_name, negate),)  # type: ignore[arg-type]


def _combine(base: ir.Match, src: SideMatch, dst: SideMatch) -> ir.Match:
    return replace(
        base,
        nets=src.nets + dst.nets,
        sets=src.sets + dst.sets,
        src_ports=src.ports,
        dst_ports=dst.ports,
    )
