# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-host resolution: the host's endpoints, the policies that select each one per direction
in evaluation order, and what every rule selector of those policies resolves to.

Private to the collection: the engine's API may change at any time.

This is everything the compiler needs to know about the rest of the fleet; after this step a
host's ruleset depends only on its own resolution.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problem, ValidationError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import Endpoint, Host
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import AddressSet, FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import (
    EGRESS,
    INGRESS,
    GlobalNetworkPolicy,
    Rule,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import Selector

DIRECTIONS = (INGRESS, EGRESS)


@dataclass(frozen=True)
class EndpointPolicies:
    endpoint: Endpoint
    ingress: tuple[GlobalNetworkPolicy, ...]
    egress: tuple[GlobalNetworkPolicy, ...]

    def policies(self, direction: str) -> tuple[GlobalNetworkPolicy, ...]:
        return self.ingress if direction == INGRESS else self.egress


@dataclass(frozen=True)
class HostResolution:
    host: Host
    endpoints: tuple[EndpointPolicies, ...]
    rule_selectors: dict[str, AddressSet]  # canonical selector -> resolved addresses
    warnings: tuple[Problem, ...]


class Resolver:
    """Resolves hosts against one fleet index; the policy -> endpoints map is computed once."""

    def __init__(self, index: FleetIndex) -> None:
        self.index = index
        self._policies_by_endpoint: dict[str, list[GlobalNetworkPolicy]] = {}
        for policy in index.fleet.catalog.policies:  # already in evaluation order
            for endpoint in index.endpoints(policy.selector):
                self._policies_by_endpoint.setdefault(endpoint.name, []).append(policy)

    def resolve(self, host_name: str) -> HostResolution:
        host = self.index.fleet.hosts[host_name]
        endpoints = tuple(self._endpoint_policies(endpoint) for endpoint in host.endpoints)
        selectors: dict[str, AddressSet] = {}
        warnings: list[Problem] = []
        for policy, direction, index, rule in _governed_rules(endpoints):
            for path, selector in _rule_selectors(rule):
                resolved = self.index.addresses(selector)
                selectors.setdefault(selector.canonical, resolved)
                for endpoint in resolved.endpoints_without_addresses:
                    warnings.append(_unknown_address_problem(policy, f"{direction.lower()}[{index}].{path}", selector, endpoint))
        unique_warnings = tuple(dict.fromkeys(warnings))
        if host.settings.strict_addresses and unique_warnings:
            raise ValidationError(list(unique_warnings))
        return HostResolution(host, endpoints, dict(sorted(selectors.items())), unique_warnings)

    def _endpoint_policies(self, endpoint: Endpoint) -> EndpointPolicies:
        policies = self._policies_by_endpoint.get(endpoint.name, [])
        return EndpointPolicies(
            endpoint,
            ingress=tuple(p for p in policies if INGRESS in p.types),
            egress=tuple(p for p in policies if EGRESS in p.types),
        )


def _governed_rules(endpoints: tuple[EndpointPolicies, ...]) -> Iterator[tuple[GlobalNetworkPolicy, str, int, Rule]]:
    """Each rule that can take effect on this host, once, in a stable order."""
    seen: set[tuple[str, str]] = set()
    for endpoint in endpoints:
        for direction in DIRECTIONS:
            for policy in endpoint.policies(direction):
                if (policy.name, direction) in seen:
                    continue
                seen.add((policy.name, direction))
                for index, rule in enumerate(policy.rules(direction)):
                    yield policy, direction, index, rule


def _rule_selectors(rule: Rule) -> Iterator[tuple[str, Selector]]:
    for side_name, side in (("source", rule.source), ("destination", rule.destination)):
        if side.selector is not None:
            yield f"{side_name}.selector", side.selector
        if side.not_selector is not None:
            yield f"{side_name}.notSelector", side.not_selector


def _unknown_address_problem(policy: GlobalNetworkPolicy, path: str, selector: Selector, endpoint: Endpoint) -> Problem:
    return Problem(
        policy.origin,
        path,
        f"selector {selector.text!r} matches endpoint {endpoint.name!r} of host {endpoint.host!r}, whose addresses "
        "are unknown (no expectedIPs, no facts for its interface, and ansible_host is not an IP address), "
        "so this rule cannot match its traffic; give the endpoint expectedIPs",
    )


def resolution_to_dict(resolution: HostResolution) -> dict[str, Any]:
    """Plain data for Ansible results (snake_case keys, addresses as strings)."""
    return {
        "host": resolution.host.name,
        "labels": dict(resolution.host.labels),
        "endpoints": [_endpoint_to_dict(item) for item in resolution.endpoints],
        "rule_selectors": {key: _address_set_to_dict(value) for key, value in resolution.rule_selectors.items()},
        "warnings": [str(problem) for problem in resolution.warnings],
    }


def _endpoint_to_dict(item: EndpointPolicies) -> dict[str, Any]:
    endpoint = item.endpoint
    return {
        "name": endpoint.name,
        "interface_name": endpoint.interface_name,
        "labels": dict(endpoint.labels),
        "addresses": [str(address) for address in endpoint.addresses],
        "address_source": endpoint.address_source,
        "ports": [{"name": p.name, "protocol": p.protocol, "port": p.port} for p in endpoint.ports],
        "policies": {
            "ingress": [_policy_to_dict(p) for p in item.ingress],
            "egress": [_policy_to_dict(p) for p in item.egress],
        },
    }


def _policy_to_dict(policy: GlobalNetworkPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "order": policy.order,
        "stage": policy.stage,
        "apply_on_forward": policy.apply_on_forward,
    }


def _address_set_to_dict(value: AddressSet) -> dict[str, Any]:
    return {
        "ipv4": [str(net) for net in value.ipv4],
        "ipv6": [str(net) for net in value.ipv6],
        "endpoints": [endpoint.name for endpoint in value.endpoints],
        "network_sets": [network_set.name for network_set in value.network_sets],
    }
