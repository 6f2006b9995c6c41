# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The immutable resource model: what the loaders produce and the compiler consumes.

Private to the collection: the engine's API may change at any time.

Compact inventory variables and Calico manifests both load into these classes, so that later
stages never care where a resource came from; ``origin`` keeps that for messages only.
Field names are the snake_case forms of Calico's v3 API.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Union

from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import Selector

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

INGRESS = "Ingress"
EGRESS = "Egress"

EMPTY_LABELS: Mapping[str, str] = MappingProxyType({})


def frozen_labels(labels: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only copy, so a model object can be shared without being changed."""
    return MappingProxyType(dict(sorted(labels.items())))


@dataclass(frozen=True)
class PortRange:
    """A port or an inclusive range; a single port has ``first == last``."""

    first: int
    last: int

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}:{self.last}"


@dataclass(frozen=True)
class NamedPort:
    """A port given by the name an endpoint declares in its ``ports``."""

    name: str

    def __str__(self) -> str:
        return self.name


Port = Union[PortRange, NamedPort]


@dataclass(frozen=True)
class Protocol:
    """A protocol as the user wrote it (``name`` when given by name) and its number."""

    number: int
    name: str | None = None

    def __str__(self) -> str:
        return self.name or str(self.number)


@dataclass(frozen=True)
class IcmpMatch:
    type: int
    code: int | None = None


@dataclass(frozen=True)
class EntityRule:
    """One side (source or destination) of a rule; every field present is AND-ed."""

    nets: tuple[IPNetwork, ...] = ()
    not_nets: tuple[IPNetwork, ...] = ()
    selector: Selector | None = None
    not_selector: Selector | None = None
    ports: tuple[Port, ...] = ()
    not_ports: tuple[Port, ...] = ()

    @property
    def selectors(self) -> tuple[Selector, ...]:
        return tuple(s for s in (self.selector, self.not_selector) if s is not None)


@dataclass(frozen=True)
class Rule:
    action: str  # Allow, Deny, Pass, Log
    protocol: Protocol | None = None
    not_protocol: Protocol | None = None
    icmp: IcmpMatch | None = None
    not_icmp: IcmpMatch | None = None
    ip_version: int | None = None
    source: EntityRule = field(default_factory=EntityRule)
    destination: EntityRule = field(default_factory=EntityRule)


@dataclass(frozen=True)
class GlobalNetworkPolicy:
    name: str
    selector: Selector
    types: tuple[str, ...]
    order: float | None = None
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    apply_on_forward: bool = False
    pre_dnat: bool = False
    do_not_track: bool = False
    origin: str = ""

    @property
    def sort_key(self) -> tuple[float, str]:
        """Calico's evaluation order: by ``order`` (absent = after all others), then by name."""
        return (math.inf if self.order is None else self.order, self.name)

    def rules(self, direction: str) -> tuple[Rule, ...]:
        return self.ingress if direction == INGRESS else self.egress

    @property
    def stage(self) -> str:
        """Where the policy runs: ``untracked`` (raw), ``preDNAT`` (mangle) or ``normal``."""
        if self.do_not_track:
            return "untracked"
        if self.pre_dnat:
            return "preDNAT"
        return "normal"


@dataclass(frozen=True)
class GlobalNetworkSet:
    name: str
    nets: tuple[IPNetwork, ...]
    labels: Mapping[str, str] = field(default_factory=lambda: EMPTY_LABELS)
    origin: str = ""


@dataclass(frozen=True)
class EndpointPort:
    """A named port an endpoint declares, for rules that match ports by name."""

    name: str
    protocol: str  # TCP, UDP or SCTP
    port: int


@dataclass(frozen=True)
class HostEndpoint:
    """A host interface under policy, as declared (before label merging and addresses).

    ``interface_name`` is ``"*"`` for the endpoint that covers every interface not claimed by a
    named endpoint, or ``None`` when the endpoint is identified by ``expected_ips`` only.
    """

    name: str
    node: str
    interface_name: str | None
    expected_ips: tuple[IPAddress, ...] = ()
    labels: Mapping[str, str] = field(default_factory=lambda: EMPTY_LABELS)
    ports: tuple[EndpointPort, ...] = ()
    origin: str = ""


@dataclass(frozen=True)
class FailsafePort:
    """A failsafe entry; ``net`` restricts the remote side and the entry to its IP family."""

    protocol: str  # tcp, udp or sctp
    port: int
    net: IPNetwork | None = None


@dataclass(frozen=True)
class Settings:
    """The FelixConfiguration equivalents that govern one host's ruleset."""

    failsafe_inbound_host_ports: tuple[FailsafePort, ...]
    failsafe_outbound_host_ports: tuple[FailsafePort, ...]
    default_endpoint_to_host_action: str = "Drop"
    interface_prefixes: tuple[str, ...] = ("cali",)
    chain_insert_mode: str = "insert"
    log_prefix: str = "palisade"
    strict_addresses: bool = False
    ipv6_support: bool = True  # false: the host's IPv6 traffic is left alone (no owned IPv6 state)
