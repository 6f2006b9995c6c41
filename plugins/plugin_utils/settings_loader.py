# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The FelixConfiguration equivalents: defaults, manifests and ``palisade_*`` variables.

Private to the collection: the engine's API may change at any time.

Precedence, lowest first: the defaults below (Calico's documented defaults), the
FelixConfiguration named ``default``, the one named ``node.<inventory host>``, then the host's
``palisade_*`` variables. Each source yields a partial mapping keyed by ``Settings`` field names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.fields import (
    as_int,
    canonical_fields,
    get_str,
    require_mapping,
    type_name,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.networks import parse_net
from ansible_collections.palisade.firewall.plugins.plugin_utils.resources import FailsafePort, Settings

_FAILSAFE_SHARED = (("tcp", 179), ("tcp", 2379), ("tcp", 2380), ("tcp", 6666), ("tcp", 6667))
DEFAULT_SETTINGS = Settings(
    failsafe_inbound_host_ports=tuple(FailsafePort(p, n) for p, n in (("tcp", 22), ("udp", 68), *_FAILSAFE_SHARED)),
    failsafe_outbound_host_ports=tuple(FailsafePort(p, n) for p, n in (("udp", 53), ("udp", 67), *_FAILSAFE_SHARED)),
)

ENDPOINT_TO_HOST_ACTIONS = ("Drop", "Accept", "Return")
INSERT_MODES = ("insert", "append")

# Variable name -> Settings field.
SETTINGS_VARIABLES = {
    "palisade_failsafe_inbound_host_ports": "failsafe_inbound_host_ports",
    "palisade_failsafe_outbound_host_ports": "failsafe_outbound_host_ports",
    "palisade_default_endpoint_to_host_action": "default_endpoint_to_host_action",
    "palisade_interface_prefixes": "interface_prefixes",
    "palisade_chain_insert_mode": "chain_insert_mode",
    "palisade_log_prefix": "log_prefix",
    "palisade_strict_addresses": "strict_addresses",
}

# FelixConfiguration field -> Settings field.
FELIX_FIELDS = {
    "failsafeInboundHostPorts": "failsafe_inbound_host_ports",
    "failsafeOutboundHostPorts": "failsafe_outbound_host_ports",
    "defaultEndpointToHostAction": "default_endpoint_to_host_action",
    "interfacePrefix": "interface_prefixes",
    "chainInsertMode": "chain_insert_mode",
    "logPrefix": "log_prefix",
}

# Felix fields that say nothing about host-endpoint policy: accepted with a warning, so a
# FelixConfiguration exported from a cluster can be pasted as it is.
FELIX_FIELDS_IGNORED = (
    "logSeverityScreen",
    "logSeverityFile",
    "logSeveritySys",
    "logFilePath",
    "reportingInterval",
    "reportingTTL",
    "ipipEnabled",
    "ipipMTU",
    "vxlanEnabled",
    "vxlanMTU",
    "vxlanVNI",
    "vxlanPort",
    "wireguardEnabled",
    "bpfEnabled",
    "bpfLogLevel",
    "prometheusMetricsEnabled",
    "prometheusMetricsPort",
    "healthEnabled",
    "healthPort",
    "iptablesRefreshInterval",
    "iptablesLockTimeout",
    "routeRefreshInterval",
    "interfaceExclude",
    "floatingIPs",
    "bpfExternalServiceMode",
    "nftablesMode",
)


def load_settings_variables(host_vars: Mapping[str, Any], where: Where) -> dict[str, Any]:
    """Settings given as ``palisade_*`` variables of one host."""
    values: dict[str, Any] = {}
    for variable, setting in SETTINGS_VARIABLES.items():
        if host_vars.get(variable) is not None:
            value = _load_setting(setting, host_vars[variable], where.at(variable), felix=False)
            if value is not None:
                values[setting] = value
    return values


def load_felix_configuration(spec: Mapping[str, Any], where: Where) -> dict[str, Any]:
    """Settings given by a FelixConfiguration manifest's spec."""
    fields = canonical_fields(spec, FELIX_FIELDS, where, ignored=FELIX_FIELDS_IGNORED)
    for name in spec:
        if name in FELIX_FIELDS_IGNORED:
            where.at(name).warn("ignored: this Felix setting has no effect on host firewalls")
    values: dict[str, Any] = {}
    for name, setting in FELIX_FIELDS.items():
        if fields.get(name) is not None:
            value = _load_setting(setting, fields[name], where.at(name), felix=True)
            if value is not None:
                values[setting] = value
    return values


def build_settings(*partials: Mapping[str, Any]) -> Settings:
    merged: dict[str, Any] = {}
    for partial in partials:
        merged.update(partial)
    return replace(DEFAULT_SETTINGS, **merged)


def _load_setting(setting: str, value: Any, where: Where, *, felix: bool) -> Any:
    if setting.startswith("failsafe_"):
        return _load_failsafe_list(value, where)
    if setting == "default_endpoint_to_host_action":
        return _load_choice(value, ENDPOINT_TO_HOST_ACTIONS, where, case_insensitive=felix)
    if setting == "chain_insert_mode":
        return _load_choice(value, INSERT_MODES, where, case_insensitive=True)
    if setting == "interface_prefixes":
        return _load_prefixes(value, where, comma_string=felix)
    if setting == "strict_addresses":
        if isinstance(value, bool):
            return value
        where.error(f"expected true or false, got {type_name(value)} {value!r}")
        return None
    return _load_log_prefix(value, where)


def _load_log_prefix(value: Any, where: Where) -> str | None:
    """The kernel truncates LOG prefixes at 29 characters; refuse rather than cut silently."""
    if not isinstance(value, str) or not value or len(value) > 27:
        where.error(f"expected a string of 1-27 characters, got {type_name(value)} {value!r}")
        return None
    return value


def _load_choice(value: Any, choices: tuple[str, ...], where: Where, *, case_insensitive: bool) -> str | None:
    if isinstance(value, str):
        for choice in choices:
            if value == choice or (case_insensitive and value.lower() == choice.lower()):
                return choice
    where.error(f"expected one of {', '.join(choices)}, got {value!r}")
    return None


def _load_prefixes(value: Any, where: Where, *, comma_string: bool) -> tuple[str, ...] | None:
    if comma_string and isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        where.error(f"expected a list of interface name prefixes, got {type_name(value)} {value!r}")
        return None
    return tuple(value)


def _load_failsafe_list(value: Any, where: Where) -> tuple[FailsafePort, ...] | None:
    if not isinstance(value, list):
        where.error(f"expected a list of {{protocol, port, net}} entries, got {type_name(value)}")
        return None
    entries = [_load_failsafe_entry(item, where.at(index)) for index, item in enumerate(value)]
    if None in entries:
        return None
    return tuple(entry for entry in entries if entry is not None)


def _load_failsafe_entry(value: Any, where: Where) -> FailsafePort | None:
    raw = require_mapping(value, where, "a mapping with protocol, port and optionally net")
    if raw is None:
        return None
    fields = canonical_fields(raw, ("protocol", "port", "net"), where)
    protocol = get_str(fields, "protocol", where, default="tcp")
    if protocol is not None and protocol.lower() not in ("tcp", "udp"):
        where.at("protocol").error(f"invalid protocol {protocol!r}: expected tcp or udp")
        protocol = None
    if "port" not in fields:
        where.at("port").error("is required")
    port = as_int(fields.get("port"), where.at("port"), "a port", 1, 65535) if "port" in fields else None
    net = parse_net(fields["net"], where.at("net"), strict=True) if fields.get("net") is not None else None
    if protocol is None or port is None or (fields.get("net") is not None and net is None):
        return None
    return FailsafePort(protocol.lower(), port, net)
