# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet index: answers "which endpoints and network sets does this selector match?".

Private to the collection: the engine's API may change at any time.

Built once per play from the whole inventory. A label index (key -> value -> members, and
key -> members) lets a selector with an equality, ``in`` or ``has()`` term look at the few
candidates those terms allow instead of scanning every endpoint; the full selector is still
evaluated on each candidate, so the index only ever narrows, never decides. Answers are cached
per canonical selector, since policies repeat the same selectors across thousands of hosts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Union

from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import Endpoint, Fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import GlobalNetworkSet
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import Selector
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.syntax_tree import (
    AllNode,
    AndNode,
    EqualsNode,
    HasNode,
    InNode,
    OrNode,
)

Member = Union[Endpoint, GlobalNetworkSet]


Block = tuple[int, int]  # (network address as an integer, prefix length)


@dataclass(frozen=True)
class AddressSet:
    """What a rule selector resolves to: merged CIDRs per family and who contributed them.

    CIDRs are kept as integer blocks: merging thousands of addresses with ``ipaddress``
    objects dominated the cost of resolving a large fleet, and most callers only need the
    objects (``ipv4``/``ipv6``) for the selectors their host actually uses.
    """

    ipv4_blocks: tuple[Block, ...]
    ipv6_blocks: tuple[Block, ...]
    endpoints: tuple[Endpoint, ...]
    network_sets: tuple[GlobalNetworkSet, ...]
    endpoints_without_addresses: tuple[Endpoint, ...] = ()

    @cached_property
    def ipv4(self) -> tuple[ipaddress.IPv4Network, ...]:
        return tuple(ipaddress.IPv4Network(block) for block in self.ipv4_blocks)

    @cached_property
    def ipv6(self) -> tuple[ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.IPv6Network(block) for block in self.ipv6_blocks)


class LabelIndex:
    """Members of one kind, indexed by label, with selector answers cached."""

    def __init__(self, members: Iterable[Member]) -> None:
        self._members: list[Member] = list(members)
        self._by_value: dict[str, dict[str, set[int]]] = {}
        self._by_key: dict[str, set[int]] = {}
        for position, member in enumerate(self._members):
            for key, value in member.labels.items():
                self._by_value.setdefault(key, {}).setdefault(value, set()).add(position)
                self._by_key.setdefault(key, set()).add(position)
        self._cache: dict[str, tuple[Member, ...]] = {}

    def select(self, selector: Selector) -> tuple[Member, ...]:
        cached = self._cache.get(selector.canonical)
        if cached is None:
            candidates = self._candidates(selector.root)
            positions = range(len(self._members)) if candidates is None else sorted(candidates)
            if candidates is not None and self._exact(selector.root):
                cached = tuple(self._members[p] for p in positions)
            else:
                cached = tuple(self._members[p] for p in positions if selector.matches(self._members[p].labels))
            self._cache[selector.canonical] = cached
        return cached

    def _exact(self, node: object) -> bool:
        """Whether the candidates of ``node`` are exactly its matches (no evaluation needed):
        true for ``==``, ``in``, ``has()`` and any ``&&``/``||`` made only of those."""
        if isinstance(node, (EqualsNode, InNode, HasNode)):
            return True
        if isinstance(node, (AndNode, OrNode)):
            return all(self._exact(operand) for operand in node.operands)
        return False

    def _candidates(self, node: object) -> set[int] | None:
        """Positions that can possibly match, or None when the index cannot narrow ``node``."""
        if isinstance(node, EqualsNode):
            return self._by_value.get(node.label, {}).get(node.value, set())
        if isinstance(node, InNode):
            values = self._by_value.get(node.label, {})
            return set().union(*(values.get(v, set()) for v in node.values))
        if isinstance(node, HasNode):
            return self._by_key.get(node.label, set())
        if isinstance(node, AndNode):
            narrowed = [c for c in map(self._candidates, node.operands) if c is not None]
            return set.intersection(*sorted(narrowed, key=len)) if narrowed else None
        if isinstance(node, OrNode):
            branches = [self._candidates(operand) for operand in node.operands]
            return None if any(b is None for b in branches) else set().union(*branches)
        if isinstance(node, AllNode):
            return None
        return None


class FleetIndex:
    """Selector answers over the whole fleet: endpoints (any host) and network sets."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        # In address order, so that the address ranges of any selector's matches come out
        # (nearly) sorted, and merging them stays linear instead of n log n.
        self._endpoints = LabelIndex(sorted(fleet.endpoints, key=_address_order))
        self._network_sets = LabelIndex(fleet.catalog.network_sets)
        self._addresses: dict[str, AddressSet] = {}
        # Address ranges (family, first, last) by member name, computed once for every selector.
        self._endpoint_ranges = {e.name: [(a.version, int(a), int(a)) for a in e.addresses] for e in fleet.endpoints}
        self._set_ranges = {
            n.name: [(net.version, int(net.network_address), int(net.broadcast_address)) for net in n.nets]
            for n in fleet.catalog.network_sets
        }
        self._any_unknown = any(not e.addresses_known for e in fleet.endpoints)

    def endpoints(self, selector: Selector) -> tuple[Endpoint, ...]:
        return self._endpoints.select(selector)  # type: ignore[return-value]

    def network_sets(self, selector: Selector) -> tuple[GlobalNetworkSet, ...]:
        return self._network_sets.select(selector)  # type: ignore[return-value]

    def addresses(self, selector: Selector) -> AddressSet:
        """Network-set CIDRs plus endpoint addresses matched by a rule selector, merged."""
        cached = self._addresses.get(selector.canonical)
        if cached is None:
            cached = self._resolve_addresses(selector)
        return cached

    def _resolve_addresses(self, selector: Selector) -> AddressSet:
        endpoints = self.endpoints(selector)
        network_sets = self.network_sets(selector)
        endpoint_ranges, set_ranges = self._endpoint_ranges, self._set_ranges
        ranges = [r for e in endpoints for r in endpoint_ranges[e.name]]
        ranges.extend(r for n in network_sets for r in set_ranges[n.name])
        resolved = AddressSet(
            ipv4_blocks=merge_blocks([(a, b) for family, a, b in ranges if family == 4], 32),
            ipv6_blocks=merge_blocks([(a, b) for family, a, b in ranges if family == 6], 128),
            endpoints=endpoints,
            network_sets=network_sets,
            endpoints_without_addresses=tuple(e for e in endpoints if not e.addresses_known) if self._any_unknown else (),
        )
        self._addresses[selector.canonical] = resolved
        return resolved


def _address_order(endpoint: Endpoint) -> tuple[int, int]:
    first = endpoint.addresses[0] if endpoint.addresses else None
    return (first.version, int(first)) if first is not None else (7, 0)


def merge_blocks(ranges: list[tuple[int, int]], bits: int) -> tuple[Block, ...]:
    """The fewest CIDR blocks covering the union of inclusive integer ranges."""
    blocks: list[Block] = []
    for first, last in _merged(ranges):
        blocks.extend(_range_blocks(first, last, bits))
    return tuple(blocks)


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def _range_blocks(first: int, last: int, bits: int) -> list[Block]:
    """Split an inclusive range into aligned power-of-two blocks, largest first."""
    blocks = []
    while first <= last:
        size = first & -first if first else 1 << bits
        while size > last - first + 1:
            size >>= 1
        blocks.append((first, bits - size.bit_length() + 1))
        first += size
    return blocks
