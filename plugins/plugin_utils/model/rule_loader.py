# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading and validating policy rules (Calico's Rule and EntityRule).

Private to the collection: the engine's API may change at any time.

The checks follow Calico's validator (as of its current release: a rule without a protocol may
use named ports, which carry their own protocol, but no numeric ones), plus the collection's own
decisions (``notICMP`` needs an ICMP protocol) so that no rule reaches the compiler with a
meaning the firewall cannot express.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import (
    as_int,
    canonical_fields,
    check_annotations,
    get_list,
    get_mapping,
    get_str,
    is_decimal,
    require_mapping,
    snake_case,
    type_name,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.name_rules import is_rule_port_name
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.networks import is_catch_all, parse_net
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import (
    EntityRule,
    IcmpMatch,
    IPNetwork,
    NamedPort,
    Port,
    PortRange,
    Protocol,
    Rule,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import Selector, SelectorError, parse_selector

ACTIONS = ("Allow", "Deny", "Pass", "Log")
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58, "SCTP": 132, "UDPLite": 136}
PORT_PROTOCOLS = {6, 17, 132}
ICMP_PROTOCOLS = {1: 4, 58: 6}  # protocol number -> the only IP version it exists in
MAX_NETS = 256
MAX_PORTS = 50
MAX_SELECTOR_LENGTH = 1024

RULE_FIELDS = ("action", "protocol", "notProtocol", "icmp", "notICMP", "ipVersion", "source", "destination", "metadata", "http")
ENTITY_FIELDS = (
    "nets",
    "notNets",
    "selector",
    "notSelector",
    "namespaceSelector",
    "ports",
    "notPorts",
    "serviceAccounts",
    "services",
)


def load_selector(value: Any, where: Where) -> Selector | None:
    """A selector string; ``global()`` is refused because it only scopes Kubernetes namespaces."""
    if not isinstance(value, str):
        where.error(f"expected a selector string, got {type_name(value)}")
        return None
    if len(value) > MAX_SELECTOR_LENGTH:
        where.error(f"selector is {len(value)} characters long; the limit is {MAX_SELECTOR_LENGTH}")
        return None
    try:
        selector = parse_selector(value)
    except SelectorError as err:
        where.error(str(err))
        return None
    if selector.uses_global:
        where.error("global() can only be used in a rule's namespaceSelector")
        return None
    return selector


def load_rule(value: Any, where: Where) -> Rule | None:
    raw = require_mapping(value, where, "a rule (a mapping with at least 'action')")
    if raw is None:
        return None
    before = where.error_count()
    raw = _misplaced(raw, ENTITY_FIELDS, "belongs in source or destination, not in the rule itself", where)
    fields = canonical_fields(raw, RULE_FIELDS, where)
    action = _load_action(fields, where)
    protocol = _load_protocol(fields, "protocol", where)
    not_protocol = _load_protocol(fields, "notProtocol", where)
    icmp = _load_icmp(fields, "icmp", where)
    not_icmp = _load_icmp(fields, "notICMP", where)
    ip_version = _load_ip_version(fields, where)
    source = load_entity_rule(fields.get("source"), where.at("source"))
    destination = load_entity_rule(fields.get("destination"), where.at("destination"))
    _refuse_unsupported_rule_fields(fields, where)
    # A field already found wrong was left out (a bad protocol reads as no protocol): the
    # cross-field checks would only add a derived second message, so they wait for a clean rule.
    if where.error_count() > before or action is None or source is None or destination is None:
        return None
    rule = Rule(action, protocol, not_protocol, icmp, not_icmp, ip_version, source, destination)
    _check_ports_need_protocol(rule, where)
    _check_icmp(rule, tuple(name for name in ("icmp", "notICMP") if fields.get(name) is not None), where)
    _check_nets_family(rule, where)
    return None if where.error_count() > before else rule


def _load_action(fields: Mapping[str, Any], where: Where) -> str | None:
    action = get_str(fields, "action", where, required=True)
    if action is None:
        return None
    if action in ACTIONS:
        return action
    hint = next((a for a in ACTIONS if a.lower() == action.lower()), None)
    suffix = f"; did you mean {hint!r}?" if hint else ""
    where.at("action").error(f"invalid action {action!r}: expected one of Allow, Deny, Pass, Log{suffix}")
    return None


def _load_protocol(fields: Mapping[str, Any], name: str, where: Where) -> Protocol | None:
    value = fields.get(name)
    if value is None:
        return None
    here = where.at(name)
    expected = "expected TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        here.error(f"invalid protocol {value!r}: {expected}")
        return None
    if isinstance(value, str) and not is_decimal(value):
        if value in PROTOCOL_NUMBERS:
            return Protocol(PROTOCOL_NUMBERS[value], value)
        hint = next((p for p in PROTOCOL_NUMBERS if p.lower() == value.lower()), None)
        suffix = f"; did you mean {hint!r}?" if hint else ""
        here.error(f"invalid protocol {value!r}: {expected}{suffix}")
        return None
    number = as_int(value, here, "a protocol number", 1, 255)
    return None if number is None else Protocol(number)


def _load_icmp(fields: Mapping[str, Any], name: str, where: Where) -> IcmpMatch | None:
    value = fields.get(name)
    if value is None:
        return None
    here = where.at(name)
    raw = require_mapping(value, here, "a mapping with 'type' and optionally 'code'")
    if raw is None:
        return None
    icmp = canonical_fields(raw, ("type", "code"), here)
    icmp_type = None if icmp.get("type") is None else as_int(icmp["type"], here.at("type"), "an ICMP type", 0, 254)
    code = None if icmp.get("code") is None else as_int(icmp["code"], here.at("code"), "an ICMP code", 0, 255)
    if icmp.get("type") is None:
        # No type (``icmp: {}``) is no constraint, as in Calico; the rule still needs an ICMP protocol.
        if icmp.get("code") is not None:
            here.at("code").error("an ICMP code needs an ICMP type: add 'type'")
        return None
    if icmp_type is None or (icmp.get("code") is not None and code is None):
        return None
    return IcmpMatch(icmp_type, code)


def _load_ip_version(fields: Mapping[str, Any], where: Where) -> int | None:
    value = fields.get("ipVersion")
    if value is None:
        return None
    if value in (4, 6) and not isinstance(value, bool):
        return int(value)
    where.at("ipVersion").error(f"expected 4 or 6, got {value!r}")
    return None


def _refuse_unsupported_rule_fields(fields: Mapping[str, Any], where: Where) -> None:
    if fields.get("http") is not None:
        where.at("http").error("HTTP matches need Calico's application layer policy, which host firewalls cannot enforce")
    metadata = get_mapping(fields, "metadata", where)
    if metadata:
        here = where.at("metadata")
        check_annotations(canonical_fields(metadata, ("annotations",), here).get("annotations"), here.at("annotations"))


def load_entity_rule(value: Any, where: Where) -> EntityRule | None:
    if value is None:
        return EntityRule()
    raw = require_mapping(value, where, "a mapping (nets, notNets, selector, notSelector, ports, notPorts)")
    if raw is None:
        return None
    before = where.error_count()
    side = where.path.rpartition(".")[2] or "source or destination"
    raw = _misplaced(raw, RULE_FIELDS, f"belongs to the rule itself, not to {side}", where)
    fields = canonical_fields(raw, ENTITY_FIELDS, where)
    nets = _load_nets(fields, "nets", where)
    not_nets = _load_nets(fields, "notNets", where)
    selector = _optional_selector(fields, "selector", where)
    not_selector = _optional_selector(fields, "notSelector", where)
    ports = _load_ports(fields, "ports", where)
    not_ports = _load_ports(fields, "notPorts", where)
    _check_namespace_scoping(fields, where)
    if where.error_count() > before:
        return None  # a bad entry was left out: never hand on a side that matches more or less than written
    return EntityRule(tuple(nets), tuple(not_nets), selector, not_selector, tuple(ports), tuple(not_ports))


def _optional_selector(fields: Mapping[str, Any], name: str, where: Where) -> Selector | None:
    """An EntityRule selector; absent, null or "" means no condition (unlike a policy's selector)."""
    value = fields.get(name)
    if value is None or value == "":
        return None
    return load_selector(value, where.at(name))


def _misplaced(raw: Mapping[str, Any], elsewhere: tuple[str, ...], message: str, where: Where) -> Mapping[str, Any]:
    """``raw`` without the fields that belong one level up or down (``ports`` written in the rule
    instead of its ``destination``, ``protocol`` inside ``destination``): those are reported
    with where they go, which says more than "unknown field"."""
    names = {*elsewhere, *(snake_case(name) for name in elsewhere)}
    kept = {}
    for key, value in raw.items():
        if isinstance(key, str) and key in names:
            where.at(key).error(message)
        else:
            kept[key] = value
    return kept


def _load_nets(fields: Mapping[str, Any], name: str, where: Where) -> list[IPNetwork]:
    items = get_list(fields, name, where)
    if len(items) > MAX_NETS:
        where.at(name).error(f"{len(items)} entries; the limit is {MAX_NETS} (use a network set for more)")
    nets = []
    for index, item in enumerate(items):
        net = parse_net(item, where.at(name, index), strict=True)
        if net is not None and name == "notNets" and is_catch_all(net):
            where.at(name, index).error(f"{net} matches every address, so the rule would match no traffic")
            net = None
        if net is not None:
            nets.append(net)
    return nets


def _load_ports(fields: Mapping[str, Any], name: str, where: Where) -> list[Port]:
    items = get_list(fields, name, where)
    if len(items) > MAX_PORTS:
        where.at(name).error(f"{len(items)} entries; the limit is {MAX_PORTS}")
    ports = [load_port(item, where.at(name, index)) for index, item in enumerate(items)]
    return [port for port in ports if port is not None]


def load_port(value: Any, where: Where) -> Port | None:
    """A port (``22``, ``"22"``), an inclusive range (``"8000:8080"``) or a named port."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = as_int(value, where, "a port", 1, 65535)
        return None if number is None else PortRange(number, number)
    if not isinstance(value, str):
        where.error(f"expected a port, a range such as '8000:8080' or a port name, got {type_name(value)}")
        return None
    if is_decimal(value):
        number = as_int(value, where, "a port", 1, 65535)
        return None if number is None else PortRange(number, number)
    match = re.fullmatch(r"([0-9]+):([0-9]+)", value)
    if match:
        return _load_range(match.group(1), match.group(2), value, where)
    if re.fullmatch(r"[0-9]+-[0-9]+", value):
        where.error(f"invalid port {value!r}: port ranges use ':'; did you mean {value.replace('-', ':')!r}?")
        return None
    # A name must be able to match an endpoint's port name, which always has a letter: "-1" or
    # "1.5" is a mistyped number, not a name.
    if not is_rule_port_name(value) or not re.search("[a-zA-Z]", value):
        where.error(f"invalid port {value!r}: expected a port 1-65535, a range such as '8000:8080' or a port name")
        return None
    return NamedPort(value)


def _load_range(first_text: str, last_text: str, value: str, where: Where) -> Port | None:
    # No int() of a long digit string (Python refuses more than 4300 digits): past 5 significant
    # digits a port is out of range whatever they are.
    first, last = (int(text) if len(text.lstrip("0")) <= 5 else 65536 for text in (first_text, last_text))
    if not (1 <= first <= 65535 and 1 <= last <= 65535):
        where.error(f"invalid port range {value!r}: ports are 1-65535")
        return None
    if first > last:
        where.error(f"invalid port range {value!r}: the first port is greater than the last")
        return None
    return PortRange(first, last)


def _check_namespace_scoping(fields: Mapping[str, Any], where: Where) -> None:
    namespace_selector = fields.get("namespaceSelector")
    if namespace_selector not in (None, "", "global()"):
        where.at("namespaceSelector").error(
            "selects Kubernetes namespaces, which host endpoints and network sets never have; "
            "only global() (meaning no namespace) is accepted"
        )
    for name in ("serviceAccounts", "services"):
        if fields.get(name):
            where.at(name).error(f"{name} matches Kubernetes workloads only and can never match a host")


def _check_ports_need_protocol(rule: Rule, where: Where) -> None:
    for side_name, side in (("source", rule.source), ("destination", rule.destination)):
        for field_name, ports in (("ports", side.ports), ("notPorts", side.not_ports)):
            if not ports:
                continue
            here = where.at(side_name, field_name)
            if rule.protocol is None:
                # As Calico's validator: named ports alone need no protocol (each endpoint port
                # brings its own); a numeric port or range does.
                if not all(isinstance(p, NamedPort) for p in ports):
                    here.error("ports need the rule's protocol to be TCP, UDP or SCTP; the rule has no protocol")
            elif rule.protocol.number not in PORT_PROTOCOLS:
                here.error(f"ports need the rule's protocol to be TCP, UDP or SCTP, not {rule.protocol}")


def _check_icmp(rule: Rule, given: tuple[str, ...], where: Where) -> None:
    """``given``: the ICMP fields present, with a type or not (``icmp: {}`` matches any type)."""
    for name in given:
        if rule.protocol is None:
            where.at(name).error("ICMP fields need the rule's protocol to be ICMP or ICMPv6; the rule has no protocol")
        elif rule.protocol.number not in ICMP_PROTOCOLS:
            where.at(name).error(f"ICMP fields need the rule's protocol to be ICMP or ICMPv6, not {rule.protocol}")
    for name, protocol in (("protocol", rule.protocol), ("notProtocol", rule.not_protocol)):
        if protocol is None or protocol.number not in ICMP_PROTOCOLS or rule.ip_version is None:
            continue
        family = ICMP_PROTOCOLS[protocol.number]
        if family != rule.ip_version:
            where.at(name).error(f"protocol {protocol} needs ipVersion {family}, not {rule.ip_version}")


def _check_nets_family(rule: Rule, where: Where) -> None:
    nets = [*rule.source.nets, *rule.source.not_nets, *rule.destination.nets, *rule.destination.not_nets]
    families = {net.version for net in nets}
    if len(families) > 1:
        where.error("the rule mixes IPv4 and IPv6 networks; write one rule per IP version")
        return
    if not families:
        return
    family = families.pop()
    if rule.ip_version is not None and rule.ip_version != family:
        where.at("ipVersion").error(f"ipVersion {rule.ip_version} does not match the rule's IPv{family} networks")
        return
    if rule.protocol is not None and ICMP_PROTOCOLS.get(rule.protocol.number, family) != family:
        where.at("protocol").error(f"protocol {rule.protocol} cannot match the rule's IPv{family} networks")
