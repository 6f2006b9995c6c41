# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The FelixConfiguration equivalents: defaults, manifests and ``palisade_*`` variables.

Private to the collection: the engine's API may change at any time.

Precedence, lowest first: the defaults below (Calico's documented defaults), the
FelixConfiguration named ``default``, the one named ``node.<inventory host>``, then the host's
``palisade_*`` variables. Each source yields a partial mapping keyed by ``Settings`` field names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.felix_fields import FELIX_SPEC_FIELDS
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import (
    as_int,
    canonical_fields,
    get_str,
    require_mapping,
    snake_case,
    type_name,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.networks import parse_net
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import FailsafePort, Settings

_FAILSAFE_SHARED = (("tcp", 179), ("tcp", 2379), ("tcp", 2380), ("tcp", 6666), ("tcp", 6667))
DEFAULT_SETTINGS = Settings(
    failsafe_inbound_host_ports=tuple(FailsafePort(p, n) for p, n in (("tcp", 22), ("udp", 68), *_FAILSAFE_SHARED)),
    failsafe_outbound_host_ports=tuple(FailsafePort(p, n) for p, n in (("udp", 53), ("udp", 67), *_FAILSAFE_SHARED)),
)

ENDPOINT_TO_HOST_ACTIONS = ("Drop", "Accept", "Return")
FAILSAFE_PROTOCOLS = ("tcp", "udp", "sctp")
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
    "palisade_ipv6_support": "ipv6_support",
}

# FelixConfiguration field -> Settings field.
FELIX_FIELDS = {
    "failsafeInboundHostPorts": "failsafe_inbound_host_ports",
    "failsafeOutboundHostPorts": "failsafe_outbound_host_ports",
    "defaultEndpointToHostAction": "default_endpoint_to_host_action",
    "interfacePrefix": "interface_prefixes",
    "chainInsertMode": "chain_insert_mode",
    "logPrefix": "log_prefix",
    "ipv6Support": "ipv6_support",
}

# Felix fields whose behaviour the collection implements in one way only: their Calico default.
# Accepted when they say just that (as an exported FelixConfiguration often does), refused
# otherwise rather than silently doing something else.  Field -> (supported value, valid values).
FELIX_FIELDS_DEFAULT_ONLY: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "iptablesFilterAllowAction": ("Accept", ("Accept", "Return")),
    "iptablesMangleAllowAction": ("Accept", ("Accept", "Return")),
    "iptablesFilterDenyAction": ("Drop", ("Drop", "Reject")),
    "nftablesFilterAllowAction": ("Accept", ("Accept", "Return")),
    "nftablesMangleAllowAction": ("Accept", ("Accept", "Return")),
    "nftablesFilterDenyAction": ("Drop", ("Drop", "Reject")),
    # The endpoint chains always drop conntrack-invalid packets.
    "disableConntrackInvalidCheck": (False, (False, True)),
}

# Every other real Felix field says nothing the collection's host-endpoint rules depend on
# (logging, overlays, BPF, routing, metrics, ...): accepted with a warning naming it, so a
# FelixConfiguration exported from a cluster can be pasted as it is.
FELIX_FIELDS_IGNORED = tuple(sorted(FELIX_SPEC_FIELDS - set(FELIX_FIELDS) - set(FELIX_FIELDS_DEFAULT_ONLY)))

_LOG_PREFIX_RE = re.compile(r"[A-Za-z0-9:/_.-]{1,27}")  # fullmatch: "$" would let a trailing newline in
# A prefix is rendered as ``<prefix>+`` (iptables' wildcard), and IFNAMSIZ counts the '+': 14 is
# the most the renderer takes (iptables_syntax.interface_text), so it is the limit here too.
MAX_INTERFACE_PREFIX = 14
_INTERFACE_PREFIX_RE = re.compile(rf"[a-zA-Z0-9_.-]{{1,{MAX_INTERFACE_PREFIX}}}")


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
    fields = canonical_fields(spec, [*FELIX_FIELDS, *FELIX_FIELDS_DEFAULT_ONLY], where, ignored=FELIX_FIELDS_IGNORED)
    ignored = {*FELIX_FIELDS_IGNORED, *(snake_case(name) for name in FELIX_FIELDS_IGNORED)}
    for name in spec:
        if name in ignored:
            where.at(name).warn("ignored: this Felix setting has no effect on host firewalls")
    for name, (supported, valid) in FELIX_FIELDS_DEFAULT_ONLY.items():
        if fields.get(name) is not None:
            if isinstance(supported, bool):
                value = _load_bool(fields[name], where.at(name))
            else:
                value = _load_choice(fields[name], valid, where.at(name), case_insensitive=True)
            if value is not None and value != supported:
                shown, given = (_yaml_bool(supported), _yaml_bool(value)) if isinstance(supported, bool) else (supported, repr(fields[name]))
                where.at(name).error(f"only {shown} (Calico's default) is supported, got {given}")
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
        return _load_choice(value, ENDPOINT_TO_HOST_ACTIONS, where, case_insensitive=True)
    if setting == "chain_insert_mode":
        return _load_choice(value, INSERT_MODES, where, case_insensitive=True)
    if setting == "interface_prefixes":
        return _load_prefixes(value, where, comma_string=felix)
    if setting in ("strict_addresses", "ipv6_support"):
        return _load_bool(value, where)
    return _load_log_prefix(value, where)


def _yaml_bool(value: bool) -> str:
    return "true" if value else "false"


def _load_bool(value: Any, where: Where) -> bool | None:
    if isinstance(value, bool):
        return value
    where.error(f"expected true or false, got {type_name(value)} {value!r}")
    return None


def _load_log_prefix(value: Any, where: Where) -> str | None:
    """The kernel truncates LOG prefixes at 29 characters; refuse rather than cut silently.

    Characters are Calico's minus ``%`` (its substitutions are not implemented) and the space
    (so the prefix never needs quoting in a ruleset).
    """
    if not isinstance(value, str) or not _LOG_PREFIX_RE.fullmatch(value):
        where.error(
            "expected 1-27 characters of letters, digits, ':', '/', '_', '.' and '-', "
            f"got {type_name(value)} {value!r}"
        )
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
    if not isinstance(value, list):
        where.error(f"expected a list of interface name prefixes, got {type_name(value)} {value!r}")
        return None
    ok = True
    for index, item in enumerate(value):
        if not isinstance(item, str) or not _INTERFACE_PREFIX_RE.fullmatch(item):
            where.at(index).error(
                f"expected an interface name prefix (1-{MAX_INTERFACE_PREFIX} of letters, digits, '_', '.', '-'), got {type_name(item)} {item!r}"
            )
            ok = False
    return tuple(value) if ok else None


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
    before = where.error_count()
    fields = canonical_fields(raw, ("protocol", "port", "net"), where)
    protocol = get_str(fields, "protocol", where, default="tcp")  # Felix's default too
    if protocol is not None and protocol.lower() not in FAILSAFE_PROTOCOLS:
        where.at("protocol").error(f"invalid protocol {protocol!r}: expected tcp, udp or sctp")
    if fields.get("port") is None:
        where.at("port").error("is required")
    # Port 0 is valid, as in Calico's validator (0-65535).
    port = as_int(fields["port"], where.at("port"), "a port", 0, 65535) if fields.get("port") is not None else None
    # An empty net means any remote address, as in Felix.
    net = parse_net(fields["net"], where.at("net"), strict=True) if fields.get("net") not in (None, "") else None
    if protocol is None or port is None or where.error_count() > before:
        return None
    return FailsafePort(protocol.lower(), port, net)
