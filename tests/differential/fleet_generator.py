# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Seeded small fleets that use the data model broadly, and the packets to send through them.

Everything here is pure: a seed gives the same fleet and the same probes on every machine. The
fleet is the inventory's variables (labels, endpoints, policies, network sets, settings) for
the lab hosts ``h1``..``hN``, given their addresses; every policy it writes is valid, so that
``site.yml`` applies it and the kernel can be asked.

The lab has one router (``LabHost.router``) and hosts with a second interface ``eth1`` on a
link to the router's own ``eth1``: a host without ``eth1`` reaches an ``eth1`` address only
through the router, so that traffic is forwarded there. Endpoints on two-interface hosts are
one per interface, ``*``, ``*`` next to a named one, or leave an interface unpoliced.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from typing import Any

ROLES = ("web", "db", "cache")
ENVIRONMENTS = ("prod", "dev")
TCP_LISTEN = (80, 443, 5432, 8080, 9000)
TCP_CLOSED = (81, 9999)
UDP_LISTEN = (53, 5353, 9000)
NAMED_PORTS = (("http", "TCP", 80), ("https", "TCP", 443), ("pg", "TCP", 5432), ("dns", "UDP", 53), ("mdns", "UDP", 5353))
# Source ports that failsafe rules name (inbound 179 and 2379 by default), probed as well as
# ordinary ones: a connection opened from them must meet egress policy.
SPECIAL_SOURCE_PORTS = (179, 2379)
PROTOCOL_SPELLINGS = {"TCP": ("TCP", 6, "6"), "UDP": ("UDP", 17), "ICMP": ("ICMP", 1), "ICMPv6": ("ICMPv6", 58)}


@dataclass(frozen=True)
class LabHost:
    """A lab host: its ``eth0`` addresses, those of ``eth1`` when it has one, and whether it routes."""

    name: str
    ipv4: str
    ipv6: str
    eth1: tuple[str, str] | None = None
    router: bool = False

    def address(self, interface: str, family: int) -> str:
        pair = (self.ipv4, self.ipv6) if interface == "eth0" else self.eth1
        if pair is None:
            raise ValueError(f"{self.name} has no {interface}")
        return pair[0] if family == 4 else pair[1]


@dataclass(frozen=True)
class Probe:
    """One packet a host sends to another, and how its answer is read.

    ``protocol`` is tcp, udp or icmp (ICMPv6 for IPv6); TCP and UDP probes bind ``src_port``.
    The packet leaves ``src`` by ``src_if`` from that interface's address and arrives at
    ``dst_if``'s address, through the router ``via`` (its ``eth0`` and ``eth1``) when set.
    """

    src: str
    dst: str
    family: int
    protocol: str
    src_port: int | None
    dst_port: int | None
    src_if: str = "eth0"
    dst_if: str = "eth0"
    via: str | None = None

    @property
    def label(self) -> str:
        ports = "" if self.protocol == "icmp" else f" {self.src_port}->{self.dst_port}"
        ends = f"{self.src}/{self.src_if} -> {self.dst}/{self.dst_if}"
        return f"{ends}{' via ' + self.via if self.via else ''} IPv{self.family} {self.protocol}{ports}"


@dataclass
class Fleet:
    seed: int
    hosts: list[LabHost]
    labels: dict[str, dict[str, str]]
    endpoints: dict[str, list[dict[str, Any]]]
    fleet_vars: dict[str, Any] = field(default_factory=dict)
    host_extras: dict[str, dict[str, Any]] = field(default_factory=dict)  # other host variables

    @property
    def policies(self) -> list[dict[str, Any]]:
        return self.fleet_vars["palisade_policies"]

    def host(self, name: str) -> LabHost:
        return next(h for h in self.hosts if h.name == name)


def generate(seed: int, hosts: list[LabHost]) -> Fleet:
    rng = random.Random(f"differential-{seed}")
    labels = {host.name: _labels(rng, host) for host in hosts}
    # Most hosts are policed; one without an endpoint shows what is left untouched.
    endpoints = {host.name: _endpoints(rng, host) for host in hosts}
    extras = {host.name: {"palisade_auto_host_endpoint": True} for host in hosts
              if not any(e["interfaceName"] == "*" for e in endpoints[host.name]) and rng.random() < 0.1}
    network_sets = _network_sets(rng, hosts)
    policies = [_policy(rng, index, hosts) for index in range(rng.randint(2, 5))]
    policies += _stage_policies(rng, hosts)
    policies += _baselines(rng)
    fleet_vars: dict[str, Any] = {"palisade_policies": policies, "palisade_network_sets": network_sets}
    if rng.random() < 0.3:
        fleet_vars["palisade_chain_insert_mode"] = "append"
    if rng.random() < 0.3:
        fleet_vars["palisade_failsafe_outbound_host_ports"] = [
            {"protocol": "udp", "port": 53}, {"protocol": "tcp", "port": 9000, "net": f"{rng.choice(hosts).ipv4}/32"},
        ]
    if rng.random() < 0.25:  # SSH stays open for the controller; the lockout guard would refuse otherwise
        fleet_vars["palisade_failsafe_inbound_host_ports"] = [
            {"protocol": "tcp", "port": 22}, {"protocol": "tcp", "port": 8080, "net": f"{rng.choice(hosts).ipv4}/32"},
            {"protocol": "udp", "port": 5353, "net": f"{rng.choice(hosts).ipv6}/128"},
        ]
    return Fleet(seed, hosts, labels, endpoints, fleet_vars, extras)


def _stage_policies(rng: random.Random, hosts: list[LabHost]) -> list[dict[str, Any]]:
    """doNotTrack and preDNAT policies (both need applyOnForward): the raw and mangle stages.

    Their rules only allow or deny: an untracked Allow is where replies stop being
    ``ESTABLISHED``, which is what the comparison has to get right."""
    found = []
    for kind, chance in (("doNotTrack", 0.5), ("preDNAT", 0.4)):
        if rng.random() >= chance:
            continue
        policy: dict[str, Any] = {"name": f"{kind.lower()}-{rng.choice(('a', 'b'))}", "selector": _selector(rng),
                                  "order": rng.choice((5, 50)), kind: True, "applyOnForward": True}
        directions = ("ingress",) if kind == "preDNAT" else rng.choice((("ingress",), ("egress",), ("ingress", "egress")))
        for direction in directions:
            policy[direction] = [_rule(rng, hosts, actions=("Allow", "Deny")) for _unused in range(rng.randint(1, 3))]
        found.append(policy)
    return found


def _baselines(rng: random.Random) -> list[dict[str, Any]]:
    """Broad policies late in the order, as real fleets have: without them nearly every probe
    meets a default deny on one side, and the comparison says little about the rules."""
    found = []
    if rng.random() < 0.8:
        egress: list[dict[str, Any]] = [{"action": "Allow"}]
        if rng.random() < 0.4:
            egress.insert(0, {"action": "Deny", "protocol": rng.choice(("TCP", 6)), "destination": {"ports": [rng.choice(TCP_LISTEN)]}})
        found.append({"name": "egress-open", "selector": rng.choice(("all()", "has(role)")), "order": 900, "egress": egress})
    if rng.random() < 0.5:  # what the router forwards, once an applyOnForward policy selects it
        found.append({"name": "forward-open", "selector": "role == 'router'", "order": 950, "applyOnForward": True,
                      "ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]})
    if rng.random() < 0.75:
        ingress = [{"action": "Allow", "protocol": "TCP", "destination": {"ports": rng.sample(TCP_LISTEN + TCP_CLOSED, 4)}},
                   {"action": "Allow", "protocol": "UDP"}]
        if rng.random() < 0.5:
            ingress.append({"action": "Allow", "protocol": "ICMP"})
        found.append({"name": "ingress-common", "selector": _selector(rng), "order": 800, "ingress": ingress})
    return found


def _labels(rng: random.Random, host: LabHost) -> dict[str, str]:
    labels = {"role": "router" if host.router else rng.choice(ROLES), "env": rng.choice(ENVIRONMENTS)}
    if rng.random() < 0.5:
        labels["zone"] = rng.choice("ab")
    return labels


def _endpoints(rng: random.Random, host: LabHost) -> list[dict[str, Any]]:
    if rng.random() < (0.1 if host.router else 0.2):
        return []
    eth0 = [host.ipv4, host.ipv6]
    if host.eth1 is None:
        return [_endpoint(rng, "eth0", eth0)]
    eth1 = list(host.eth1)
    shape = rng.choice(("both", "both", "eth0", "eth1", "*", "* and eth0"))
    if shape == "both":
        return [_endpoint(rng, "eth0", eth0), _endpoint(rng, "eth1", eth1)]
    if shape in ("eth0", "eth1"):  # the other interface is left unpoliced
        return [_endpoint(rng, shape, eth0 if shape == "eth0" else eth1)]
    if shape == "*":
        return [_endpoint(rng, "*", eth0 + eth1)]
    return [_endpoint(rng, "*", eth1), _endpoint(rng, "eth0", eth0)]  # '*' covers what eth0 does not


def _endpoint(rng: random.Random, interface: str, addresses: list[str]) -> dict[str, Any]:
    ports = [{"name": name, "protocol": protocol, "port": port} for name, protocol, port in NAMED_PORTS if rng.random() < 0.6]
    endpoint: dict[str, Any] = {"interfaceName": interface, "expectedIPs": addresses}
    if ports:
        endpoint["ports"] = ports
    return endpoint


def _network_sets(rng: random.Random, hosts: list[LabHost]) -> list[dict[str, Any]]:
    picked = rng.sample(hosts, 2)
    return [
        {"name": "pair", "labels": {"kind": "pair"}, "nets": [f"{h.ipv4}/32" for h in picked] + [f"{h.ipv6}/128" for h in picked]},
        {"name": "elsewhere", "labels": {"kind": "elsewhere"}, "nets": ["203.0.113.0/28", "2001:db8:ffff::/64"]},
    ]


def _selector(rng: random.Random) -> str:
    role, other = rng.sample(ROLES, 2)
    env = rng.choice(ENVIRONMENTS)
    shapes = (
        f"role == '{role}'",
        f"role != '{role}'",
        f"role in {{'{role}', '{other}'}}",
        f"role not in {{'{role}'}}",
        "has(zone)",
        "!has(zone)",
        f"env == '{env}' && role != '{role}'",
        f"role == '{role}' || zone == 'a'",
        "role == 'router'",
        "all()",
    )
    return rng.choice(shapes)


def _rule_selector(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return rng.choice(("kind == 'pair'", "kind == 'elsewhere'", "has(kind)"))
    return _selector(rng)


def _policy(rng: random.Random, index: int, hosts: list[LabHost]) -> dict[str, Any]:
    policy: dict[str, Any] = {"name": f"p{index}-{rng.choice(('a', 'b'))}", "selector": _selector(rng)}
    if rng.random() < 0.8:
        policy["order"] = rng.choice((1, 10, 10, 100, 500))  # ties too: then the name decides
    if rng.random() < 0.35:
        policy["applyOnForward"] = True  # then it also polices what the router forwards
    directions = rng.choice((("ingress",), ("egress",), ("ingress", "egress")))
    for direction in directions:
        policy[direction] = [_rule(rng, hosts) for _unused in range(rng.randint(0, 3))]
    if rng.random() < 0.3:
        policy["types"] = [d.capitalize() for d in directions]
    return policy


def _rule(rng: random.Random, hosts: list[LabHost], actions: tuple[str, ...] = ("Allow", "Deny", "Pass", "Log")) -> dict[str, Any]:
    weights = {"Allow": 8, "Deny": 3, "Pass": 1, "Log": 1}
    rule: dict[str, Any] = {"action": rng.choices(actions, [weights[a] for a in actions])[0]}
    protocol = rng.choices(("TCP", "UDP", "ICMP", "ICMPv6", None), (5, 3, 1, 1, 2))[0]
    if protocol is not None:
        rule["protocol"] = rng.choice(PROTOCOL_SPELLINGS[protocol])
    elif rng.random() < 0.3:
        rule["notProtocol"] = rng.choice(("UDP", 17, "TCP"))
    family = {"ICMP": 4, "ICMPv6": 6}.get(protocol or "", rng.choice((None, None, 4, 6)))
    if family is not None and protocol not in ("ICMP", "ICMPv6") and rng.random() < 0.5:
        rule["ipVersion"] = family
    nets_family = family or rng.choice((4, 6))  # a rule's nets are of one family (the loader refuses a mix)
    for side in ("source", "destination"):
        entity = _entity(rng, hosts, protocol, nets_family, side)
        if entity:
            rule[side] = entity
    if protocol in ("ICMP", "ICMPv6") and rng.random() < 0.6:
        echo = 8 if protocol == "ICMP" else 128
        rule[rng.choice(("icmp", "notICMP"))] = rng.choice(({"type": echo}, {"type": echo, "code": 0}, {"type": echo + 1}))
    return rule


def _entity(rng: random.Random, hosts: list[LabHost], protocol: str | None, nets_family: int, side: str) -> dict[str, Any]:
    entity: dict[str, Any] = {}
    if rng.random() < 0.4:
        entity["selector"] = _rule_selector(rng)
    if rng.random() < 0.15:
        entity["notSelector"] = _rule_selector(rng)
    if rng.random() < 0.3:
        host = rng.choice(hosts)
        address = host.address(rng.choice(("eth0", "eth1")) if host.eth1 else "eth0", nets_family)
        network = ipaddress.ip_network(f"{address}/{rng.choice((30, 32)) if nets_family == 4 else rng.choice((126, 128))}", strict=False)
        entity[rng.choice(("nets", "notNets"))] = [str(network)]
    if protocol in ("TCP", "UDP") and side == "destination" and rng.random() < 0.6:
        entity[rng.choice(("ports", "ports", "notPorts"))] = _ports(rng, protocol)
    if protocol in ("TCP", "UDP") and side == "source" and rng.random() < 0.15:
        entity["ports"] = [rng.choice(SPECIAL_SOURCE_PORTS), "20000:29999"]
    return entity


def _ports(rng: random.Random, protocol: str) -> list[Any]:
    pool: list[Any] = list(TCP_LISTEN + TCP_CLOSED) if protocol == "TCP" else list(UDP_LISTEN)
    pool += ["8000:8100", "1:1023"]
    pool += [name for name, port_protocol, _port in NAMED_PORTS if port_protocol == protocol]
    return rng.sample(pool, rng.randint(1, 3))


# --- the packets ---------------------------------------------------------------------------------


def paths(hosts: list[LabHost]) -> list[tuple[str, str, str, str, str | None]]:
    """The (source, its interface, destination, its interface, router) pairs probed.

    ``eth0`` between every two hosts that are not the router, the router and the first host;
    ``eth1`` between the router and each host on its link; and forwarded: every host without
    ``eth1`` to each ``eth1`` address behind the router, and back."""
    router = next((h for h in hosts if h.router), None)
    plain = [h for h in hosts if not h.router]
    found = [(a.name, "eth0", b.name, "eth0", None) for a in plain for b in plain if a.name != b.name]
    if router is None:
        return found
    found += [(router.name, "eth0", plain[0].name, "eth0", None), (plain[0].name, "eth0", router.name, "eth0", None)]
    for linked in (h for h in plain if h.eth1):
        found += [(router.name, "eth1", linked.name, "eth1", None), (linked.name, "eth1", router.name, "eth1", None)]
        for other in (h for h in plain if not h.eth1):
            found += [(other.name, "eth0", linked.name, "eth1", router.name), (linked.name, "eth1", other.name, "eth0", router.name)]
    return found


def probes(fleet: Fleet, source_port_base: int) -> list[Probe]:
    """Every path of ``paths``, both families: TCP to open and closed ports (ordinary and special
    source ports), UDP to listening ports, ICMP echo. Source ports start at ``source_port_base``
    and are unique, so that no probe meets a conntrack entry of another."""
    found: list[Probe] = []
    next_port = source_port_base
    for src, src_if, dst, dst_if, via in paths(fleet.hosts):
        for family in (4, 6):
            def probe(protocol: str, src_port: int | None, dst_port: int | None) -> Probe:
                return Probe(src, dst, family, protocol, src_port, dst_port, src_if, dst_if, via)

            for port in TCP_LISTEN + TCP_CLOSED:
                found.append(probe("tcp", next_port, port))
                next_port += 1
            for special in SPECIAL_SOURCE_PORTS:
                for port in (80, 443, 9999):
                    found.append(probe("tcp", special, port))
            for port in UDP_LISTEN:
                found.append(probe("udp", next_port, port))
                next_port += 1
            found.append(probe("icmp", None, None))
    return found
