# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Seeded small fleets that use the data model broadly, and the packets to send through them.

Everything here is pure: a seed gives the same fleet and the same probes on every machine. The
fleet is the inventory's variables (labels, endpoints, policies, network sets, settings) for
the lab hosts ``h1``..``hN``, given their addresses; every policy it writes is valid, so that
``site.yml`` applies it and the kernel can be asked.
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
    name: str
    ipv4: str
    ipv6: str


@dataclass(frozen=True)
class Probe:
    """One packet a host sends to another, and how its answer is read.

    ``protocol`` is tcp, udp or icmp (ICMPv6 for IPv6); TCP and UDP probes bind ``src_port``.
    """

    src: str
    dst: str
    family: int
    protocol: str
    src_port: int | None
    dst_port: int | None

    @property
    def label(self) -> str:
        ports = "" if self.protocol == "icmp" else f" {self.src_port}->{self.dst_port}"
        return f"{self.src} -> {self.dst} IPv{self.family} {self.protocol}{ports}"


@dataclass
class Fleet:
    seed: int
    hosts: list[LabHost]
    labels: dict[str, dict[str, str]]
    endpoints: dict[str, list[dict[str, Any]]]
    fleet_vars: dict[str, Any] = field(default_factory=dict)

    @property
    def policies(self) -> list[dict[str, Any]]:
        return self.fleet_vars["palisade_policies"]


def generate(seed: int, hosts: list[LabHost]) -> Fleet:
    rng = random.Random(f"differential-{seed}")
    labels = {host.name: _labels(rng) for host in hosts}
    # Most hosts are policed; one without an endpoint shows what is left untouched.
    endpoints = {host.name: [_endpoint(rng, host)] if rng.random() < 0.8 else [] for host in hosts}
    network_sets = _network_sets(rng, hosts)
    policies = [_policy(rng, index, hosts) for index in range(rng.randint(2, 5))]
    policies += _baselines(rng)
    fleet_vars: dict[str, Any] = {"palisade_policies": policies, "palisade_network_sets": network_sets}
    if rng.random() < 0.3:
        fleet_vars["palisade_chain_insert_mode"] = "append"
    if rng.random() < 0.3:
        fleet_vars["palisade_failsafe_outbound_host_ports"] = [
            {"protocol": "udp", "port": 53}, {"protocol": "tcp", "port": 9000, "net": f"{rng.choice(hosts).ipv4}/32"},
        ]
    return Fleet(seed, hosts, labels, endpoints, fleet_vars)


def _baselines(rng: random.Random) -> list[dict[str, Any]]:
    """Broad policies late in the order, as real fleets have: without them nearly every probe
    meets a default deny on one side, and the comparison says little about the rules."""
    found = []
    if rng.random() < 0.7:
        egress: list[dict[str, Any]] = [{"action": "Allow"}]
        if rng.random() < 0.4:
            egress.insert(0, {"action": "Deny", "protocol": rng.choice(("TCP", 6)), "destination": {"ports": [rng.choice(TCP_LISTEN)]}})
        found.append({"name": "egress-open", "selector": rng.choice(("all()", "has(role)")), "order": 900, "egress": egress})
    if rng.random() < 0.6:
        ingress = [{"action": "Allow", "protocol": "TCP", "destination": {"ports": rng.sample(TCP_LISTEN + TCP_CLOSED, 4)}},
                   {"action": "Allow", "protocol": "UDP"}]
        if rng.random() < 0.5:
            ingress.append({"action": "Allow", "protocol": "ICMP"})
        found.append({"name": "ingress-common", "selector": _selector(rng), "order": 800, "ingress": ingress})
    return found


def _labels(rng: random.Random) -> dict[str, str]:
    labels = {"role": rng.choice(ROLES), "env": rng.choice(ENVIRONMENTS)}
    if rng.random() < 0.5:
        labels["zone"] = rng.choice("ab")
    return labels


def _endpoint(rng: random.Random, host: LabHost) -> dict[str, Any]:
    ports = [{"name": name, "protocol": protocol, "port": port} for name, protocol, port in NAMED_PORTS if rng.random() < 0.6]
    endpoint: dict[str, Any] = {"interfaceName": "eth0", "expectedIPs": [host.ipv4, host.ipv6]}
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
    directions = rng.choice((("ingress",), ("egress",), ("ingress", "egress")))
    for direction in directions:
        policy[direction] = [_rule(rng, hosts) for _unused in range(rng.randint(0, 3))]
    if rng.random() < 0.3:
        policy["types"] = [d.capitalize() for d in directions]
    return policy


def _rule(rng: random.Random, hosts: list[LabHost]) -> dict[str, Any]:
    rule: dict[str, Any] = {"action": rng.choices(("Allow", "Deny", "Pass", "Log"), (8, 3, 1, 1))[0]}
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
        address = host.ipv4 if nets_family == 4 else host.ipv6
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


def probes(fleet: Fleet, source_port_base: int) -> list[Probe]:
    """Every host pair, both families: TCP to open and closed ports (ordinary and special source
    ports), UDP to listening ports, ICMP echo. Source ports start at ``source_port_base`` and are
    unique, so that no probe meets a conntrack entry of another."""
    found: list[Probe] = []
    next_port = source_port_base
    for src in fleet.hosts:
        for dst in fleet.hosts:
            if src.name == dst.name:
                continue
            for family in (4, 6):
                for port in TCP_LISTEN + TCP_CLOSED:
                    found.append(Probe(src.name, dst.name, family, "tcp", next_port, port))
                    next_port += 1
                for special in SPECIAL_SOURCE_PORTS:
                    for port in (80, 443, 9999):
                        found.append(Probe(src.name, dst.name, family, "tcp", special, port))
                for port in UDP_LISTEN:
                    found.append(Probe(src.name, dst.name, family, "udp", next_port, port))
                    next_port += 1
                found.append(Probe(src.name, dst.name, family, "icmp", None, None))
    return found
