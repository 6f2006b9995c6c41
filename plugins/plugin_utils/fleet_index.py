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
from typing import Union

from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet import Endpoint, Fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.resources import (
    GlobalNetworkSet,
    IPNetwork,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector import Selector
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector_ast import (
    AllNode,
    AndNode,
    EqualsNode,
    HasNode,
    InNode,
    OrNode,
)

Member = Union[Endpoint, GlobalNetworkSet]


@dataclass(frozen=True)
class AddressSet:
    """What a rule selector resolves to: merged CIDRs per family and who contributed them."""

    ipv4: tuple[ipaddress.IPv4Network, ...]
    ipv6: tuple[ipaddress.IPv6Network, ...]
    endpoints: tuple[Endpoint, ...]
    network_sets: tuple[GlobalNetworkSet, ...]
    endpoints_without_addresses: tuple[Endpoint, ...] = ()


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
            cached = tuple(self._members[p] for p in positions if selector.matches(self._members[p].labels))
            self._cache[selector.canonical] = cached
        return cached

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
        self._endpoints = LabelIndex(fleet.endpoints)
        self._network_sets = LabelIndex(fleet.catalog.network_sets)
        self._addresses: dict[str, AddressSet] = {}

    def endpoints(self, selector: Selector) -> tuple[Endpoint, ...]:
        return self._endpoints.select(selector)  # type: ignore[return-value]

    def network_sets(self, selector: Selector) -> tuple[GlobalNetworkSet, ...]:
        return self._network_sets.select(selector)  # type: ignore[return-value]

    def addresses(self, selector: Selector) -> AddressSet:
        """Network-set CIDRs plus endpoint addresses matched by a rule selector, merged."""
        cached = self._addresses.get(selector.canonical)
        if cached is None:
            endpoints = self.endpoints(selector)
            network_sets = self.network_sets(selector)
            nets: list[IPNetwork] = [net for s in network_sets for net in s.nets]
            nets.extend(ipaddress.ip_network(address) for e in endpoints for address in e.addresses)
            cached = AddressSet(
                ipv4=_collapse(n for n in nets if n.version == 4),  # type: ignore[arg-type]
                ipv6=_collapse(n for n in nets if n.version == 6),  # type: ignore[arg-type]
                endpoints=endpoints,
                network_sets=network_sets,
                endpoints_without_addresses=tuple(e for e in endpoints if not e.addresses_known),
            )
            self._addresses[selector.canonical] = cached
        return cached


def _collapse(nets: Iterable[IPNetwork]) -> tuple:
    return tuple(ipaddress.collapse_addresses(nets))
