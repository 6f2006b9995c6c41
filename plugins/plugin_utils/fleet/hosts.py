# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""From every inventory host's variables to the validated fleet: hosts, endpoints, catalog.

Private to the collection: the engine's API may change at any time.

The input is plain data (host name, groups, variables) so this runs without Ansible. It always
covers the whole inventory, never just the hosts of a play, so that a host's resolution is the
same whatever ``--limit`` or ``serial`` cuts the play into.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problem, Problems, Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.addresses import UNKNOWN, endpoint_addresses
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.variables import check_variable_names
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.catalog import (
    NETWORK_SETS_VAR,
    POLICIES_VAR,
    RESOURCES_VAR,
    Catalog,
    load_catalog,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.endpoint_loader import (
    HOST_ENDPOINT_SPEC_FIELDS,
    load_host_endpoint,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import canonical_fields, get_str, nesting_problem, require_mapping
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.labels import host_labels, load_labels
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.name_rules import check_host_name, check_resource_name
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.networks import ip_or_none, scoped_ip_problem
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import (
    EndpointPort,
    HostEndpoint,
    IPAddress,
    Settings,
    frozen_labels,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.settings_loader import (
    build_settings,
    load_settings_variables,
)

FLEET_WIDE_VARIABLES = (POLICIES_VAR, NETWORK_SETS_VAR, RESOURCES_VAR)
HOST_ENDPOINTS_VAR = "palisade_host_endpoints"
AUTO_ENDPOINT_VAR = "palisade_auto_host_endpoint"


@dataclass(frozen=True)
class HostInput:
    """One inventory host as the engine needs it: its groups and its (templated) variables."""

    name: str
    groups: tuple[str, ...] = ()
    variables: Mapping[str, Any] = field(default_factory=dict)
    other_names: tuple[str, ...] = ()  # other palisade_* variables, by name only (typo check)


@dataclass(frozen=True)
class Endpoint:
    """A host endpoint with everything selectors need: merged labels, addresses, named ports."""

    name: str
    host: str
    interface_name: str | None
    labels: Mapping[str, str]
    addresses: tuple[IPAddress, ...]
    address_source: str
    ports: tuple[EndpointPort, ...]
    origin: str

    @property
    def addresses_known(self) -> bool:
        return self.address_source != UNKNOWN


@dataclass(frozen=True)
class Host:
    name: str
    labels: Mapping[str, str]
    settings: Settings
    endpoints: tuple[Endpoint, ...]
    ansible_host: IPAddress | None = None  # when it is an IP: how the controller reaches the host


@dataclass(frozen=True)
class Fleet:
    catalog: Catalog
    hosts: Mapping[str, Host]
    warnings: tuple[Problem, ...] = ()

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(endpoint for host in self.hosts.values() for endpoint in host.endpoints)


def load_fleet(hosts: Sequence[HostInput]) -> Fleet:
    """Validate everything; raise ``ValidationError`` listing every problem of the fleet."""
    problems = Problems()
    hosts = _valid_hosts(hosts, problems)
    fleet_wide = _fleet_wide_values(hosts, problems)
    catalog = load_catalog(*(fleet_wide.get(name) for name in FLEET_WIDE_VARIABLES), problems)
    names = {host.name for host in hosts}
    _check_manifest_nodes(catalog, names, problems)
    _check_felix_names(catalog, names, problems)
    loaded = {host.name: _load_host(host, catalog, problems) for host in sorted(hosts, key=lambda h: h.name)}
    _check_endpoint_names(loaded, problems)
    problems.raise_if_any()
    return Fleet(catalog, loaded, tuple(problems.warnings))


def _valid_hosts(hosts: Sequence[HostInput], problems: Problems) -> list[HostInput]:
    """The hosts whose inventory names can be used in names and messages; the others reported."""
    valid = []
    for host in hosts:
        problem = check_host_name(host.name) if isinstance(host.name, str) else f"inventory host names must be strings, got {host.name!r}"
        if problem:
            problems.add("inventory", "", problem)
        else:
            valid.append(host)
    return valid


def _fleet_wide_values(hosts: Sequence[HostInput], problems: Problems) -> dict[str, Any]:
    """Policies and network sets are global: every host must see the same value.

    A policy defined in one group's vars only would otherwise exist or not depending on which
    host is asked, which is never what a fleet-wide selector means.
    """
    values: dict[str, Any] = {}
    for variable in FLEET_WIDE_VARIABLES:
        first: HostInput | None = None
        for host in hosts:
            value = host.variables.get(variable) or []
            if first is None:
                first, values[variable] = host, value
                problem = nesting_problem(value)
                if problem:
                    # Comparing (and loading) it would recurse as deep as it is nested. The
                    # first value bounds how deep a comparison with the others can go.
                    problems.add(variable, "", problem)
                    values[variable] = []
                    break
            elif value != values[variable]:
                problems.add(
                    variable,
                    "",
                    f"hosts {first.name!r} and {host.name!r} see different values; this variable is "
                    "fleet-wide and must be the same for every inventory host (define it in group_vars/all)",
                )
                break
    return values


def _check_manifest_nodes(catalog: Catalog, names: set[str], problems: Problems) -> None:
    for endpoint in catalog.host_endpoints:
        if endpoint.node not in names:
            problems.add(endpoint.origin, "spec.node", f"{endpoint.node!r} is not an inventory host")


def _check_felix_names(catalog: Catalog, names: set[str], problems: Problems) -> None:
    for name in catalog.felix:
        node = name[len("node."):] if name.startswith("node.") else None
        if name != "default" and node not in names:
            problems.add(
                f"{RESOURCES_VAR} (FelixConfiguration {name})",
                "metadata.name",
                "expected 'default' or 'node.<inventory host>'" + (f"; {node!r} is not an inventory host" if node else ""),
            )


def _load_host(host: HostInput, catalog: Catalog, problems: Problems) -> Host:
    where = Where(f"host {host.name}", problems)
    if any(not isinstance(name, str) for name in host.variables):
        # Ansible's variable names are strings; any other key cannot name a palisade_ variable.
        host = replace(host, variables={name: value for name, value in host.variables.items() if isinstance(name, str)})
    host = _without_deep_variables(host, where)
    check_variable_names([*host.variables, *host.other_names], where)
    if scoped_ip_problem(host.variables.get("ansible_host")):
        # Other hosts' rules would need the address without its scope, and so would the lockout
        # guard: refused here, where the message can name the variable.
        where.at("ansible_host").error(
            f"{host.variables['ansible_host']!r} has an IPv6 scope ID, which firewall rules cannot match; "
            "use a global address or a DNS name (and expectedIPs for the endpoints)"
        )
    labels = host_labels(host.name, host.groups, host.variables, where)
    settings = build_settings(
        catalog.felix.get("default", {}),
        catalog.felix.get(f"node.{host.name}", {}),
        load_settings_variables(host.variables, where),
    )
    declared = [*_compact_endpoints(host, where), *(e for e in catalog.host_endpoints if e.node == host.name)]
    declared.extend(_auto_endpoint(host, declared, where))
    _check_interfaces(declared, settings, where)
    endpoints = tuple(_resolve_endpoint(endpoint, labels, host.variables) for endpoint in declared)
    return Host(
        host.name,
        frozen_labels(labels),
        settings,
        tuple(sorted(endpoints, key=lambda e: e.name)),
        ip_or_none(host.variables.get("ansible_host")),
    )


def _without_deep_variables(host: HostInput, where: Where) -> HostInput:
    """The host's variables without those nested too deeply to load (each reported). Facts are
    left alone: only a few of their keys are read, never recursively."""
    deep = [
        name
        for name, value in host.variables.items()
        if name not in (*FLEET_WIDE_VARIABLES, "ansible_facts") and isinstance(value, (Mapping, list, tuple)) and nesting_problem(value)
    ]
    for name in deep:
        where.at(name).error(nesting_problem(host.variables[name]) or "")
    if not deep:
        return host
    return replace(host, variables={name: value for name, value in host.variables.items() if name not in deep})


def _compact_endpoints(host: HostInput, where: Where) -> list[HostEndpoint]:
    value = host.variables.get(HOST_ENDPOINTS_VAR)
    if value is None:
        return []
    if not isinstance(value, list):
        where.at(HOST_ENDPOINTS_VAR).error("expected a list of endpoints")
        return []
    endpoints = []
    for index, item in enumerate(value):
        endpoint = _compact_endpoint(host, index, item, where)
        if endpoint is not None:
            endpoints.append(endpoint)
    return endpoints


def _compact_endpoint(host: HostInput, index: int, item: Any, host_where: Where) -> HostEndpoint | None:
    where = host_where.at(HOST_ENDPOINTS_VAR, index)
    before = where.error_count()
    raw = require_mapping(item, where, "an endpoint (a mapping with interfaceName and/or expectedIPs)")
    if raw is None:
        return None
    fields = dict(canonical_fields(raw, ("name", "labels", *HOST_ENDPOINT_SPEC_FIELDS), where))
    node = fields.setdefault("node", host.name)
    if node != host.name:
        where.at("node").error(f"must be this host ({host.name!r}) or left out, got {node!r}")
        return None
    interface = fields.get("interfaceName")
    default_name = f"{host.name}-{'all' if interface == '*' else interface}" if interface else None
    name = get_str(fields, "name", where, default=default_name)
    if name is None:
        where.at("name").error("is required when interfaceName is not given")
        return None
    if "name" in fields and (problem := check_resource_name(name)):
        where.at("name").error(problem)
        return None
    labels = load_labels(fields.get("labels"), where.at("labels"))
    source = f"{where.source}: {HOST_ENDPOINTS_VAR}[{index}] ({name})"
    endpoint = load_host_endpoint(name, labels, fields, where, source)
    return None if where.error_count() > before else endpoint


def _auto_endpoint(host: HostInput, declared: list[HostEndpoint], where: Where) -> list[HostEndpoint]:
    value = host.variables.get(AUTO_ENDPOINT_VAR)
    if value is None or value is False:
        return []
    if value is not True:
        where.at(AUTO_ENDPOINT_VAR).error(f"expected true or false, got {value!r}")
        return []
    wildcard = next((e for e in declared if e.interface_name == "*"), None)
    if wildcard is not None:
        where.at(AUTO_ENDPOINT_VAR).error(f"the host already has a '*' endpoint ({wildcard.origin}); use one or the other")
        return []
    name = f"{host.name}-auto-hep"
    return [HostEndpoint(name=name, node=host.name, interface_name="*", origin=f"{where.source}: {AUTO_ENDPOINT_VAR}")]


LOOPBACK = "lo"


def _check_interfaces(endpoints: list[HostEndpoint], settings: Settings, where: Where) -> None:
    """One endpoint per interface, and never a workload interface; an endpoint on ``lo`` is
    said to do nothing (loopback traffic is never policed), not left to do nothing in silence."""
    claimed: dict[str, HostEndpoint] = {}
    for endpoint in endpoints:
        interface = endpoint.interface_name
        if interface is None:
            continue
        if interface == LOOPBACK:
            where.warn(
                f"endpoint {endpoint.name!r} ({endpoint.origin}) names 'lo': loopback traffic is never policed, "
                "so no policy applies on it (its addresses still count for other hosts' selectors)"
            )
        if interface != "*" and interface.startswith(settings.interface_prefixes):
            where.error(
                f"endpoint {endpoint.name!r} ({endpoint.origin}) names {interface!r}, a workload interface "
                f"(palisade_interface_prefixes: {list(settings.interface_prefixes)}); workload interfaces are never host endpoints"
            )
        earlier = claimed.get(interface)
        if earlier is not None:
            where.error(f"interface {interface!r} has two endpoints: {earlier.origin} and {endpoint.origin}")
        claimed[interface] = endpoint


def _resolve_endpoint(endpoint: HostEndpoint, host_labels_: Mapping[str, str], variables: Mapping[str, Any]) -> Endpoint:
    addresses, source = endpoint_addresses(endpoint, variables)
    labels = {**host_labels_, **endpoint.labels}
    return Endpoint(
        name=endpoint.name,
        host=endpoint.node,
        interface_name=endpoint.interface_name,
        labels=frozen_labels(labels),
        addresses=addresses,
        address_source=source,
        ports=endpoint.ports,
        origin=endpoint.origin,
    )


def _check_endpoint_names(hosts: Mapping[str, Host], problems: Problems) -> None:
    seen: dict[str, Endpoint] = {}
    for host in hosts.values():
        for endpoint in host.endpoints:
            earlier = seen.get(endpoint.name)
            if earlier is not None:
                problems.add(endpoint.origin, "name", f"endpoint name {endpoint.name!r} is also used by {earlier.origin}")
            seen[endpoint.name] = endpoint


def settle(fleet: Fleet) -> Fleet:
    """Move the fleet's objects out of the cyclic garbage collector's sight.

    The fleet lives as long as the process that compiles it (an action plugin's worker), and
    full collections that rescan hundreds of thousands of its objects again and again made a
    4x larger fleet cost 6x more to index. ``gc.freeze`` keeps them out of those scans.
    """
    gc.freeze()
    return fleet
