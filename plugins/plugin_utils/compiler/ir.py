# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The neutral intermediate representation of one host's ruleset, per IP family.

Private to the collection: the engine's API may change at any time.

The compiler writes it, the renderer lays it out as iptables-restore and ipset files, and the
simulator walks it to explain a packet's fate. Keeping iptables syntax out of it is what lets
the simulator check the compiler independently of the text the kernel reads.

Semantics (the renderer and the simulator both implement exactly these):

- A ``Rule`` matches when every field that is set matches (AND). ``None``/empty fields match
  anything. Negated fields match when the packet is NOT in the given values.
- ``Verdict`` kinds: ``accept`` and ``drop``/``reject`` end the packet's walk of this table
  (``accept`` ends only this table: later tables still see the packet); ``return`` leaves the
  current chain; ``jump`` enters ``target`` and comes back; ``goto`` enters ``target`` and
  returns, when it falls off the end, to the caller of the current chain; ``mark`` sets
  ``mark_value`` under ``mark_mask`` and continues; ``log`` continues; ``notrack`` marks the
  packet untracked (raw table only) and continues.
- A user chain that falls off its end returns to its caller; a built-in chain's hook rule
  returning means the packet continues with the rest of the built-in chain ("untouched").
- Marks are per packet: set in raw or mangle, they are still set in filter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import IPNetwork

TableName = Literal["raw", "mangle", "filter"]
VerdictKind = Literal["accept", "drop", "reject", "return", "jump", "goto", "mark", "log", "notrack"]
CtState = Literal["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"]

# Chains of each table the collection may hook into, in kernel traversal order.
BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING",),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
}


@dataclass(frozen=True)
class Interface:
    """An interface name, or a name prefix (``cali`` matches ``cali1234``) when ``prefix``."""

    name: str
    prefix: bool = False
    negate: bool = False


@dataclass(frozen=True)
class PortSpan:
    first: int
    last: int


@dataclass(frozen=True)
class Ports:
    """Port match on one side: in any of ``spans`` (or none of them when ``negate``).

    The compiler keeps at most 15 multiport slots per ``Ports`` (a span of two ports or more
    takes two), splitting longer lists into several rules.
    """

    spans: tuple[PortSpan, ...]
    negate: bool = False


@dataclass(frozen=True)
class SetRef:
    """Membership of the packet's source or destination in an ipset of this ruleset.

    For ``hash:net`` sets the address is looked up; for ``hash:ip,port`` sets the address,
    protocol and port of that side are looked up together.
    """

    name: str
    side: Literal["src", "dst"]
    negate: bool = False


@dataclass(frozen=True)
class NetMatch:
    """The packet's source or destination is in ``net`` (or not, when ``negate``)."""

    net: IPNetwork
    side: Literal["src", "dst"]
    negate: bool = False


@dataclass(frozen=True)
class IcmpTest:
    """ICMP (family 4) or ICMPv6 (family 6) type, and code when set."""

    type: int
    code: int | None = None
    negate: bool = False


@dataclass(frozen=True)
class MarkTest:
    """``packet.mark & mask == value`` (or ``!=`` when ``negate``)."""

    value: int
    mask: int
    negate: bool = False


@dataclass(frozen=True)
class Match:
    in_interface: Interface | None = None
    out_interface: Interface | None = None
    protocol: int | None = None
    protocol_negate: bool = False
    nets: tuple[NetMatch, ...] = ()
    sets: tuple[SetRef, ...] = ()
    src_ports: tuple[Ports, ...] = ()  # all must match
    dst_ports: tuple[Ports, ...] = ()
    icmp: IcmpTest | None = None
    not_icmp: IcmpTest | None = None  # a second, negated ICMP test (Calico's notICMP beside icmp)
    ct_states: tuple[CtState, ...] = ()  # conntrack state is one of these
    ct_negate: bool = False
    marks: tuple[MarkTest, ...] = ()
    not_dnat: bool = False  # the packet's destination was not changed by DNAT
    not_syn: bool = False  # TCP only: any segment but a connection's first SYN (iptables ``! --syn``)


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    target: str | None = None  # jump / goto
    mark_value: int = 0  # mark
    mark_mask: int = 0
    log_prefix: str | None = None  # log
    log_rate: str | None = None  # log: e.g. "10/minute"


@dataclass(frozen=True)
class Rule:
    match: Match
    verdict: Verdict
    comment: str  # why the rule exists: "policy web ingress rule 0", "failsafe tcp 22", ...


@dataclass(frozen=True)
class Chain:
    name: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Hook:
    """One rule in a built-in chain that sends packets to an owned chain."""

    table: TableName
    builtin: str
    target: str
    position: Literal["insert", "append"] = "insert"


@dataclass(frozen=True)
class Table:
    name: TableName
    chains: tuple[Chain, ...]

    def chain(self, name: str) -> Chain:
        for chain in self.chains:
            if chain.name == name:
                return chain
        raise KeyError(f"{self.name} table has no chain {name!r}")


@dataclass(frozen=True)
class NetMember:
    net: IPNetwork


@dataclass(frozen=True)
class IpPortMember:
    address: IPNetwork  # a host network (/32 or /128)
    protocol: int  # 6, 17 or 132
    port: int


SetMember = Union[NetMember, IpPortMember]


@dataclass(frozen=True)
class IpSet:
    name: str
    kind: Literal["hash:net", "hash:ip,port"]
    family: Literal[4, 6]
    members: tuple[SetMember, ...]
    comment: str  # what the set stands for: a selector, nets of a rule, a named port
    digest: str = ""  # a hash of the members: equal sets have equal digests, so renderers
    # and the apply step can compare or reuse a set without walking every member


@dataclass(frozen=True)
class Ruleset:
    """Everything one host owns for one IP family."""

    family: Literal[4, 6]
    tables: tuple[Table, ...]  # only tables with owned chains
    hooks: tuple[Hook, ...]
    ipsets: tuple[IpSet, ...]
    warnings: tuple[str, ...] = field(default=())
    # False: the collection leaves this family alone (``ipv6Support: false``); the ruleset is
    # then empty, so applying it removes whatever owned state an earlier run left.
    managed: bool = True

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    def ipset(self, name: str) -> IpSet:
        for item in self.ipsets:
            if item.name == name:
                return item
        raise KeyError(f"no ipset {name!r}")
