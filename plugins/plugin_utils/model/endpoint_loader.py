# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading and validating HostEndpoint and GlobalNetworkSet specs.

Private to the collection: the engine's API may change at any time.

As with policies, callers pass canonical fields; where they came from (a host's
``palisade_host_endpoints``, ``palisade_network_sets`` or a manifest) only changes the
``Where`` that problems are reported to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import (
    as_int,
    canonical_fields,
    get_list,
    get_str,
    require_mapping,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.name_rules import (
    check_endpoint_port_name,
    check_interface_name,
    check_resource_name,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.networks import parse_ip, parse_net
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import (
    EndpointPort,
    GlobalNetworkSet,
    HostEndpoint,
    frozen_labels,
)

HOST_ENDPOINT_SPEC_FIELDS = ("node", "interfaceName", "expectedIPs", "profiles", "ports")
NETWORK_SET_SPEC_FIELDS = ("nets",)
ENDPOINT_PORT_PROTOCOLS = ("TCP", "UDP", "SCTP")
RESERVED_NETWORK_SET_LABEL = "projectcalico.org/namespace"


def check_name(name: str | None, where: Where) -> bool:
    if name is None:
        where.error("is required")
        return False
    problem = check_resource_name(name)
    if problem:
        where.error(problem)
        return False
    return True


def load_host_endpoint(
    name: str,
    labels: Mapping[str, str],
    fields: Mapping[str, Any],
    where: Where,
    origin: str,
) -> HostEndpoint | None:
    """Build a host endpoint from canonical spec fields (``node`` must already be set).

    Returns ``None`` when anything about the endpoint is wrong.
    """
    before = where.error_count()
    node = get_str(fields, "node", where)
    if fields.get("node") in (None, ""):
        where.at("node").error("is required: the inventory host that enforces this endpoint")
    interface = get_str(fields, "interfaceName", where) or None
    if interface is not None and (problem := check_interface_name(interface)):
        where.at("interfaceName").error(problem)
    raw_ips = get_list(fields, "expectedIPs", where)
    ips = [parse_ip(item, where.at("expectedIPs", index)) for index, item in enumerate(raw_ips)]
    if fields.get("interfaceName") in (None, "") and not raw_ips:
        where.error("at least one of interfaceName or expectedIPs must be given")
    if get_list(fields, "profiles", where):
        where.at("profiles").error("profiles are not supported: express their rules as a GlobalNetworkPolicy")
    ports = _load_endpoint_ports(get_list(fields, "ports", where), where.at("ports"))
    if node is None or None in ips or ports is None or where.error_count() > before:
        return None
    return HostEndpoint(
        name=name,
        node=node,
        interface_name=interface,
        expected_ips=tuple(ip for ip in ips if ip is not None),
        labels=frozen_labels(labels),
        ports=ports,
        origin=origin,
    )


def _load_endpoint_ports(items: list[Any], where: Where) -> tuple[EndpointPort, ...] | None:
    ports: list[EndpointPort] = []
    failed = False
    for index, item in enumerate(items):
        port = _load_endpoint_port(item, where.at(index))
        if port is None:
            failed = True
        elif any(p.name == port.name and p.protocol == port.protocol for p in ports):
            where.at(index).error(f"port {port.name!r} is declared twice for {port.protocol}")
            failed = True
        else:
            ports.append(port)
    return None if failed else tuple(ports)


def _load_endpoint_port(value: Any, where: Where) -> EndpointPort | None:
    raw = require_mapping(value, where, "a mapping with name, protocol and port")
    if raw is None:
        return None
    fields = canonical_fields(raw, ("name", "protocol", "port"), where)
    name = get_str(fields, "name", where, required=True)
    if name is not None and (problem := check_endpoint_port_name(name)):
        where.at("name").error(problem)
        name = None
    protocol = get_str(fields, "protocol", where, required=True)
    if protocol is not None and protocol not in ENDPOINT_PORT_PROTOCOLS:
        hint = next((p for p in ENDPOINT_PORT_PROTOCOLS if p.lower() == protocol.lower()), None)
        suffix = f"; did you mean {hint!r}?" if hint else ""
        where.at("protocol").error(f"invalid protocol {protocol!r}: expected TCP, UDP or SCTP{suffix}")
        protocol = None
    if fields.get("port") is None:
        where.at("port").error("is required")
    port = as_int(fields["port"], where.at("port"), "a port", 1, 65535) if fields.get("port") is not None else None
    if name is None or protocol is None or port is None:
        return None
    return EndpointPort(name, protocol, port)


def load_network_set(
    name: str, labels: Mapping[str, str], fields: Mapping[str, Any], where: Where, label_where: Where, origin: str
) -> GlobalNetworkSet | None:
    """Build a network set; ``None`` when anything about it is wrong."""
    before = where.error_count()
    if RESERVED_NETWORK_SET_LABEL in labels:
        label_where.at(RESERVED_NETWORK_SET_LABEL).error("is reserved for Kubernetes namespaces; a network set cannot have it")
    nets = [parse_net(item, where.at("nets", index), strict=False) for index, item in enumerate(get_list(fields, "nets", where))]
    if None in nets or where.error_count() > before:
        return None
    return GlobalNetworkSet(name, tuple(n for n in nets if n is not None), frozen_labels(labels), origin)
