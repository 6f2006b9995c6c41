# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rule and EntityRule validation: semantics (d) and checks 11-25 of (h), with exact messages.

Every table row is (case id, rule as the user writes it, every problem expected, in order).
"""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problems, Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import (
    EntityRule,
    IcmpMatch,
    NamedPort,
    PortRange,
    Protocol,
    Rule,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.rule_loader import load_rule, load_selector
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import parse_selector

RULE_FIELDS = "(expected one of: action, destination, http, icmp, ipVersion, metadata, notICMP, notProtocol, protocol, source)"
ENTITY_FIELDS = "(expected one of: namespaceSelector, nets, notNets, notPorts, notSelector, ports, selector, serviceAccounts, services)"
PROTOCOLS = "expected TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255"
PORT_PROTOCOLS = "ports need the rule's protocol to be TCP, UDP or SCTP"
ICMP_PROTOCOLS = "ICMP fields need the rule's protocol to be ICMP or ICMPv6"
PORT_FORMS = "expected a port 1-65535, a range such as '8000:8080' or a port name"


def load(rule):
    problems = Problems()
    result = load_rule(rule, Where("rule", problems))
    return result, [str(problem) for problem in problems.items]


def problems_of(rule):
    return load(rule)[1]


def allow(**fields):
    """An Allow rule with ``fields``."""
    return {"action": "Allow", **fields}


def tcp(**fields):
    return allow(protocol="TCP", **fields)


def to_ports(*ports, protocol="TCP"):
    return allow(protocol=protocol, destination={"ports": list(ports)})


def params(table):
    return [pytest.param(*values, id=case_id) for case_id, *values in table]


def net(text):
    return ipaddress.ip_network(text)


# --- action (h 11) ---------------------------------------------------------------------------

ACTION_ERRORS = [
    ("missing", {}, ["rule: action: is required"]),
    ("null", {"action": None}, ["rule: action: is required"]),
    (
        "lower case",
        {"action": "allow"},
        ["rule: action: invalid action 'allow': expected one of Allow, Deny, Pass, Log; did you mean 'Allow'?"],
    ),
    (
        "upper case",
        {"action": "DENY"},
        ["rule: action: invalid action 'DENY': expected one of Allow, Deny, Pass, Log; did you mean 'Deny'?"],
    ),
    ("iptables word", {"action": "Accept"}, ["rule: action: invalid action 'Accept': expected one of Allow, Deny, Pass, Log"]),
    ("not a string", {"action": True}, ["rule: action: expected a string, got a boolean"]),
    ("rule not a mapping", ["Allow"], ["rule: expected a rule (a mapping with at least 'action'), got a list"]),
    ("rule is a string", "Allow", ["rule: expected a rule (a mapping with at least 'action'), got a string"]),
]


@pytest.mark.parametrize(("rule", "expected"), params(ACTION_ERRORS))
def test_action_errors(rule, expected):
    assert problems_of(rule) == expected


@pytest.mark.parametrize("action", ["Allow", "Deny", "Pass", "Log"])
def test_every_action_loads(action):
    assert load({"action": action}) == (Rule(action), [])


# --- protocol / notProtocol (h 12) -----------------------------------------------------------

PROTOCOL_OK = [
    ("TCP", "TCP", Protocol(6, "TCP")),
    ("UDP", "UDP", Protocol(17, "UDP")),
    ("ICMP", "ICMP", Protocol(1, "ICMP")),
    ("ICMPv6", "ICMPv6", Protocol(58, "ICMPv6")),
    ("SCTP", "SCTP", Protocol(132, "SCTP")),
    ("UDPLite", "UDPLite", Protocol(136, "UDPLite")),
    ("number 1", 1, Protocol(1)),
    ("number 255", 255, Protocol(255)),
    ("numeric string", "6", Protocol(6)),
]


@pytest.mark.parametrize(("protocol", "expected"), params(PROTOCOL_OK))
def test_protocols_load(protocol, expected):
    assert load(allow(protocol=protocol)) == (Rule("Allow", protocol=expected), [])
    assert load(allow(notProtocol=protocol)) == (Rule("Allow", not_protocol=expected), [])


PROTOCOL_ERRORS = [
    ("zero", allow(protocol=0), ["rule: protocol: protocol number 0 is out of range 1-255"]),
    ("zero as a string", allow(protocol="0"), ["rule: protocol: protocol number 0 is out of range 1-255"]),
    ("256", allow(protocol=256), ["rule: protocol: protocol number 256 is out of range 1-255"]),
    ("negative", allow(protocol=-6), ["rule: protocol: protocol number -6 is out of range 1-255"]),
    ("lower case tcp", allow(protocol="tcp"), [f"rule: protocol: invalid protocol 'tcp': {PROTOCOLS}; did you mean 'TCP'?"]),
    ("icmpv6 case", allow(protocol="icmpv6"), [f"rule: protocol: invalid protocol 'icmpv6': {PROTOCOLS}; did you mean 'ICMPv6'?"]),
    ("udplite case", allow(protocol="UDPLITE"), [f"rule: protocol: invalid protocol 'UDPLITE': {PROTOCOLS}; did you mean 'UDPLite'?"]),
    ("unknown name", allow(protocol="HTTP"), [f"rule: protocol: invalid protocol 'HTTP': {PROTOCOLS}"]),
    ("empty string", allow(protocol=""), [f"rule: protocol: invalid protocol '': {PROTOCOLS}"]),
    ("boolean", allow(protocol=True), [f"rule: protocol: invalid protocol True: {PROTOCOLS}"]),
    ("float", allow(protocol=6.5), [f"rule: protocol: invalid protocol 6.5: {PROTOCOLS}"]),
    ("notProtocol lower case", allow(notProtocol="udp"), [f"rule: notProtocol: invalid protocol 'udp': {PROTOCOLS}; did you mean 'UDP'?"]),
    ("notProtocol zero", allow(notProtocol=0), ["rule: notProtocol: protocol number 0 is out of range 1-255"]),
]


@pytest.mark.parametrize(("rule", "expected"), params(PROTOCOL_ERRORS))
def test_protocol_errors(rule, expected):
    assert problems_of(rule) == expected


# --- ports (h 13, 14, 23; port parsing of (d.2)) --------------------------------------------

PORT_OK = [
    ("integer", 22, PortRange(22, 22)),
    ("digit string", "22", PortRange(22, 22)),
    ("lowest", 1, PortRange(1, 1)),
    ("highest", 65535, PortRange(65535, 65535)),
    ("range", "8000:8080", PortRange(8000, 8080)),
    ("range of one", "22:22", PortRange(22, 22)),
    ("whole range", "1:65535", PortRange(1, 65535)),
    ("named", "http", NamedPort("http")),
    ("named with Calico's extra characters", "my_port.v2", NamedPort("my_port.v2")),
]


@pytest.mark.parametrize(("port", "expected"), params(PORT_OK))
def test_ports_load(port, expected):
    rule, problems = load(to_ports(port))
    assert problems == []
    assert rule.destination.ports == (expected,)


PORT_ERRORS = [
    ("zero", 0, ["rule: destination.ports[0]: port 0 is out of range 1-65535"]),
    ("65536", 65536, ["rule: destination.ports[0]: port 65536 is out of range 1-65535"]),
    ("zero as a string", "0", ["rule: destination.ports[0]: port 0 is out of range 1-65535"]),
    ("65536 as a string", "65536", ["rule: destination.ports[0]: port 65536 is out of range 1-65535"]),
    ("range from zero", "0:10", ["rule: destination.ports[0]: invalid port range '0:10': ports are 1-65535"]),
    ("range past the top", "10:65536", ["rule: destination.ports[0]: invalid port range '10:65536': ports are 1-65535"]),
    ("min above max", "90:80", ["rule: destination.ports[0]: invalid port range '90:80': the first port is greater than the last"]),
    ("dash range", "80-90", ["rule: destination.ports[0]: invalid port '80-90': port ranges use ':'; did you mean '80:90'?"]),
    ("negative", -1, ["rule: destination.ports[0]: port -1 is out of range 1-65535"]),
    ("negative as a string", "-1", [f"rule: destination.ports[0]: invalid port '-1': {PORT_FORMS}"]),
    ("decimal", "1.5", [f"rule: destination.ports[0]: invalid port '1.5': {PORT_FORMS}"]),
    ("space in a name", "my port", [f"rule: destination.ports[0]: invalid port 'my port': {PORT_FORMS}"]),
    ("unicode digit", "²", [f"rule: destination.ports[0]: invalid port '²': {PORT_FORMS}"]),
    ("name too long", "p" * 129, [f"rule: destination.ports[0]: invalid port '{'p' * 129}': {PORT_FORMS}"]),
    ("open range", "80:", [f"rule: destination.ports[0]: invalid port '80:': {PORT_FORMS}"]),
    ("boolean", True, ["rule: destination.ports[0]: expected a port, a range such as '8000:8080' or a port name, got a boolean"]),
    ("float", 22.0, ["rule: destination.ports[0]: expected a port, a range such as '8000:8080' or a port name, got a number"]),
    ("nested list", [22], ["rule: destination.ports[0]: expected a port, a range such as '8000:8080' or a port name, got a list"]),
]


@pytest.mark.parametrize(("port", "expected"), params(PORT_ERRORS))
def test_port_errors(port, expected):
    assert problems_of(to_ports(port)) == expected


PORT_LIST_ERRORS = [
    ("ports not a list", tcp(destination={"ports": 22}), ["rule: destination.ports: expected a list, got an integer"]),
    ("notPorts not a list", tcp(source={"notPorts": "22"}), ["rule: source.notPorts: expected a list, got a string"]),
    ("51 ports", tcp(destination={"ports": list(range(1, 52))}), ["rule: destination.ports: 51 entries; the limit is 50"]),
    (
        "every bad port is reported",
        tcp(destination={"ports": [0, 22, "80-90"], "notPorts": [70000]}),
        [
            "rule: destination.ports[0]: port 0 is out of range 1-65535",
            "rule: destination.ports[2]: invalid port '80-90': port ranges use ':'; did you mean '80:90'?",
            "rule: destination.notPorts[0]: port 70000 is out of range 1-65535",
        ],
    ),
]


@pytest.mark.parametrize(("rule", "expected"), params(PORT_LIST_ERRORS))
def test_port_list_errors(rule, expected):
    assert problems_of(rule) == expected


def test_fifty_ports_are_fine():
    assert problems_of(tcp(destination={"ports": list(range(1, 51))})) == []


PORTS_NEED_PROTOCOL = [
    (
        "numeric without protocol",
        allow(destination={"ports": [22]}),
        [f"rule: destination.ports: {PORT_PROTOCOLS}; the rule has no protocol"],
    ),
    ("range without protocol", allow(source={"ports": ["1:1024"]}), [f"rule: source.ports: {PORT_PROTOCOLS}; the rule has no protocol"]),
    # As Calico's validator: only numeric ports need a protocol, also when named ports are beside them.
    (
        "named and numeric without protocol",
        allow(destination={"ports": ["http", 80]}),
        [f"rule: destination.ports: {PORT_PROTOCOLS}; the rule has no protocol"],
    ),
    (
        "notPorts without protocol",
        allow(destination={"notPorts": [22]}),
        [f"rule: destination.notPorts: {PORT_PROTOCOLS}; the rule has no protocol"],
    ),
    ("ICMP has no ports", to_ports(22, protocol="ICMP"), [f"rule: destination.ports: {PORT_PROTOCOLS}, not ICMP"]),
    ("UDPLite does not count", to_ports(22, protocol="UDPLite"), [f"rule: destination.ports: {PORT_PROTOCOLS}, not UDPLite"]),
    ("protocol number without ports", to_ports(22, protocol=47), [f"rule: destination.ports: {PORT_PROTOCOLS}, not 47"]),
    ("named port with ICMP", to_ports("http", protocol="ICMP"), [f"rule: destination.ports: {PORT_PROTOCOLS}, not ICMP"]),
    (
        "only protocol counts, not notProtocol",
        allow(notProtocol="TCP", destination={"ports": [22]}),
        [f"rule: destination.ports: {PORT_PROTOCOLS}; the rule has no protocol"],
    ),
    (
        "both sides reported",
        allow(source={"ports": [1024]}, destination={"notPorts": [22]}),
        [
            f"rule: source.ports: {PORT_PROTOCOLS}; the rule has no protocol",
            f"rule: destination.notPorts: {PORT_PROTOCOLS}; the rule has no protocol",
        ],
    ),
    # A bad protocol is reported once; it does not also read as "no protocol" for the ports.
    (
        "bad protocol is not reported twice",
        to_ports(22, protocol="tcp"),
        [f"rule: protocol: invalid protocol 'tcp': {PROTOCOLS}; did you mean 'TCP'?"],
    ),
]


@pytest.mark.parametrize(("rule", "expected"), params(PORTS_NEED_PROTOCOL))
def test_ports_need_a_port_protocol(rule, expected):
    assert problems_of(rule) == expected


NAMED_WITHOUT_PROTOCOL = [
    ("named destination port", allow(destination={"ports": ["http"]}), ("destination", "ports", (NamedPort("http"),))),
    ("named source ports", allow(source={"ports": ["dns", "ntp"]}), ("source", "ports", (NamedPort("dns"), NamedPort("ntp")))),
    ("named notPorts", allow(destination={"notPorts": ["metrics"]}), ("destination", "not_ports", (NamedPort("metrics"),))),
    ("with notProtocol", allow(notProtocol="UDP", destination={"ports": ["http"]}), ("destination", "ports", (NamedPort("http"),))),
]


@pytest.mark.parametrize(("rule", "expected"), params(NAMED_WITHOUT_PROTOCOL))
def test_named_ports_alone_need_no_protocol(rule, expected):
    loaded, problems = load(rule)
    side, field_name, ports = expected
    assert problems == []
    assert loaded.protocol is None
    assert getattr(getattr(loaded, side), field_name) == ports


@pytest.mark.parametrize("protocol", ["TCP", "UDP", "SCTP", 6, 17, 132, "17"])
def test_port_protocols_accept_ports(protocol):
    assert problems_of(to_ports(22, "1:1024", "http", protocol=protocol)) == []


# --- ICMP (h 15, 16, 17) ---------------------------------------------------------------------

ICMP_OK = [
    ("type only", {"type": 8}, IcmpMatch(8)),
    ("type 0", {"type": 0}, IcmpMatch(0)),
    ("type 254", {"type": 254}, IcmpMatch(254)),
    ("type and code", {"type": 3, "code": 4}, IcmpMatch(3, 4)),
    ("code 0", {"type": 3, "code": 0}, IcmpMatch(3, 0)),
    ("code 255", {"type": 3, "code": 255}, IcmpMatch(3, 255)),
    ("digit strings", {"type": "8", "code": "0"}, IcmpMatch(8, 0)),
    ("empty: any type, as in Calico", {}, None),
    ("null type and code", {"type": None, "code": None}, None),
]


@pytest.mark.parametrize(("icmp", "expected"), params(ICMP_OK))
def test_icmp_loads(icmp, expected):
    assert load(allow(protocol="ICMP", icmp=icmp)) == (Rule("Allow", Protocol(1, "ICMP"), icmp=expected), [])
    assert load(allow(protocol="ICMPv6", notICMP=icmp)) == (Rule("Allow", Protocol(58, "ICMPv6"), not_icmp=expected), [])


ICMP_ERRORS = [
    ("type 255", allow(protocol="ICMP", icmp={"type": 255}), ["rule: icmp.type: ICMP type 255 is out of range 0-254"]),
    ("negative type", allow(protocol="ICMP", icmp={"type": -1}), ["rule: icmp.type: ICMP type -1 is out of range 0-254"]),
    ("code 256", allow(protocol="ICMP", icmp={"type": 3, "code": 256}), ["rule: icmp.code: ICMP code 256 is out of range 0-255"]),
    (
        "type not a number",
        allow(protocol="ICMP", icmp={"type": "echo"}),
        ["rule: icmp.type: expected an ICMP type (0-254), got a string 'echo'"],
    ),
    ("code without type", allow(protocol="ICMP", icmp={"code": 0}), ["rule: icmp.code: an ICMP code needs an ICMP type: add 'type'"]),
    ("empty icmp without protocol", allow(icmp={}), [f"rule: icmp: {ICMP_PROTOCOLS}; the rule has no protocol"]),
    ("empty icmp with TCP", tcp(icmp={}), [f"rule: icmp: {ICMP_PROTOCOLS}, not TCP"]),
    ("empty notICMP with UDP", allow(protocol="UDP", notICMP={}), [f"rule: notICMP: {ICMP_PROTOCOLS}, not UDP"]),
    ("not a mapping", allow(protocol="ICMP", icmp=8), ["rule: icmp: expected a mapping with 'type' and optionally 'code', got an integer"]),
    (
        "unknown field",
        allow(protocol="ICMP", icmp={"typ": 8}),
        ["rule: icmp.typ: unknown field; did you mean 'type'? (expected one of: code, type)"],
    ),
    (
        "notICMP code without type",
        allow(protocol="ICMP", notICMP={"code": 1}),
        ["rule: notICMP.code: an ICMP code needs an ICMP type: add 'type'"],
    ),
    ("icmp without protocol", allow(icmp={"type": 8}), [f"rule: icmp: {ICMP_PROTOCOLS}; the rule has no protocol"]),
    ("icmp with TCP", tcp(icmp={"type": 8}), [f"rule: icmp: {ICMP_PROTOCOLS}, not TCP"]),
    (
        "icmp with notProtocol only",
        allow(notProtocol="ICMP", icmp={"type": 8}),
        [f"rule: icmp: {ICMP_PROTOCOLS}; the rule has no protocol"],
    ),
    # The collection's choice: notICMP needs an ICMP protocol too (Calico does not check it).
    ("notICMP without protocol", allow(notICMP={"type": 8}), [f"rule: notICMP: {ICMP_PROTOCOLS}; the rule has no protocol"]),
    ("ICMP with ipVersion 6", allow(protocol="ICMP", ipVersion=6), ["rule: protocol: protocol ICMP needs ipVersion 4, not 6"]),
    ("ICMPv6 with ipVersion 4", allow(protocol="ICMPv6", ipVersion=4), ["rule: protocol: protocol ICMPv6 needs ipVersion 6, not 4"]),
    ("protocol 1 with ipVersion 6", allow(protocol=1, ipVersion=6), ["rule: protocol: protocol 1 needs ipVersion 4, not 6"]),
    (
        "notProtocol ICMP with ipVersion 6",
        allow(notProtocol="ICMP", ipVersion=6),
        ["rule: notProtocol: protocol ICMP needs ipVersion 4, not 6"],
    ),
    (
        "ICMP with IPv6 networks",
        allow(protocol="ICMP", source={"nets": ["2001:db8::/32"]}),
        ["rule: protocol: protocol ICMP cannot match the rule's IPv6 networks"],
    ),
    (
        "ICMPv6 with IPv4 networks",
        allow(protocol="ICMPv6", destination={"notNets": ["10.0.0.0/8"]}),
        ["rule: protocol: protocol ICMPv6 cannot match the rule's IPv4 networks"],
    ),
]


@pytest.mark.parametrize(("rule", "expected"), params(ICMP_ERRORS))
def test_icmp_errors(rule, expected):
    assert problems_of(rule) == expected


def test_icmp_with_matching_ip_version_and_nets():
    rule = allow(protocol="ICMPv6", ipVersion=6, icmp={"type": 128}, source={"nets": ["2001:db8::/32"]})
    assert problems_of(rule) == []


# --- ipVersion (h 18) ------------------------------------------------------------------------

IP_VERSION = [
    ("4", 4, 4, []),
    ("6", 6, 6, []),
    ("5", 5, None, ["rule: ipVersion: expected 4 or 6, got 5"]),
    ("string", "4", None, ["rule: ipVersion: expected 4 or 6, got '4'"]),
    ("boolean", True, None, ["rule: ipVersion: expected 4 or 6, got True"]),
    ("IPv4 spelled out", "IPv4", None, ["rule: ipVersion: expected 4 or 6, got 'IPv4'"]),
]


@pytest.mark.parametrize(("version", "expected", "problems"), params(IP_VERSION))
def test_ip_version(version, expected, problems):
    rule, found = load(allow(ipVersion=version))
    assert found == problems
    assert (rule.ip_version if rule else None) == expected


# --- nets and notNets (h 19, 20, 21, 22) -----------------------------------------------------

NETS_OK = [
    ("IPv4 network", {"nets": ["10.0.0.0/8"]}, EntityRule(nets=(net("10.0.0.0/8"),))),
    ("plain address", {"nets": ["10.0.0.1"]}, EntityRule(nets=(net("10.0.0.1/32"),))),
    ("/32", {"nets": ["10.0.0.1/32"]}, EntityRule(nets=(net("10.0.0.1/32"),))),
    ("IPv6 network", {"nets": ["2001:db8::/32"]}, EntityRule(nets=(net("2001:db8::/32"),))),
    ("IPv6 address", {"notNets": ["2001:db8::1"]}, EntityRule(not_nets=(net("2001:db8::1/128"),))),
    ("0/0 in nets is fine", {"nets": ["0.0.0.0/0"]}, EntityRule(nets=(net("0.0.0.0/0"),))),
    ("surrounding spaces", {"nets": [" 10.0.0.0/8 "]}, EntityRule(nets=(net("10.0.0.0/8"),))),
    ("snake_case not_nets", {"not_nets": ["10.0.0.0/8"]}, EntityRule(not_nets=(net("10.0.0.0/8"),))),
]


@pytest.mark.parametrize(("source", "expected"), params(NETS_OK))
def test_nets_load(source, expected):
    assert load(allow(source=source)) == (Rule("Allow", source=expected), [])


NETS_ERRORS = [
    (
        "host bits set",
        {"nets": ["10.0.0.1/24"]},
        ["rule: source.nets[0]: invalid IP network '10.0.0.1/24': host bits are set; did you mean 10.0.0.0/24?"],
    ),
    (
        "IPv6 host bits set",
        {"notNets": ["2001:db8::1/32"]},
        ["rule: source.notNets[0]: invalid IP network '2001:db8::1/32': host bits are set; did you mean 2001:db8::/32?"],
    ),
    (
        "not an address",
        {"nets": ["10.0.0.256/32"]},
        ["rule: source.nets[0]: invalid IP network '10.0.0.256/32': expected an address or CIDR such as 198.51.100.0/24 or 2001:db8::/32"],
    ),
    (
        "prefix too long",
        {"nets": ["10.0.0.0/33"]},
        ["rule: source.nets[0]: invalid IP network '10.0.0.0/33': expected an address or CIDR such as 198.51.100.0/24 or 2001:db8::/32"],
    ),
    (
        "a name",
        {"nets": ["example.com"]},
        ["rule: source.nets[0]: invalid IP network 'example.com': expected an address or CIDR such as 198.51.100.0/24 or 2001:db8::/32"],
    ),
    ("not a string", {"nets": [10]}, ["rule: source.nets[0]: expected an IP network in CIDR notation, got an integer 10"]),
    ("not a list", {"nets": "10.0.0.0/8"}, ["rule: source.nets: expected a list, got a string"]),
    (
        "257 nets",
        {"nets": [f"10.0.{i // 256}.{i % 256}" for i in range(257)]},
        ["rule: source.nets: 257 entries; the limit is 256 (use a network set for more)"],
    ),
    (
        "catch-all IPv4 notNets",
        {"notNets": ["0.0.0.0/0"]},
        ["rule: source.notNets[0]: 0.0.0.0/0 matches every address, so the rule would match no traffic"],
    ),
    (
        "catch-all IPv6 notNets",
        {"notNets": ["::/0"]},
        ["rule: source.notNets[0]: ::/0 matches every address, so the rule would match no traffic"],
    ),
    (
        "catch-all in another spelling",
        {"notNets": ["::0/0"]},
        ["rule: source.notNets[0]: ::/0 matches every address, so the rule would match no traffic"],
    ),
    (
        "every bad net, in order",
        {"notNets": ["0.0.0.0/0", "10.0.0.1/24"]},
        [
            "rule: source.notNets[0]: 0.0.0.0/0 matches every address, so the rule would match no traffic",
            "rule: source.notNets[1]: invalid IP network '10.0.0.1/24': host bits are set; did you mean 10.0.0.0/24?",
        ],
    ),
]


@pytest.mark.parametrize(("source", "expected"), params(NETS_ERRORS))
def test_nets_errors(source, expected):
    assert problems_of(allow(source=source)) == expected


def test_256_nets_are_fine():
    assert problems_of(allow(source={"nets": [f"10.0.{i // 256}.{i % 256}" for i in range(256)]})) == []


MIXED = "rule: the rule mixes IPv4 and IPv6 networks; write one rule per IP version"
NET_FAMILIES = [
    ("v4 source, v6 destination", allow(source={"nets": ["10.0.0.0/8"]}, destination={"nets": ["2001:db8::/32"]}), [MIXED]),
    ("within one field", allow(source={"nets": ["10.0.0.0/8", "2001:db8::/32"]}), [MIXED]),
    ("nets and notNets", allow(source={"nets": ["10.0.0.0/8"], "notNets": ["2001:db8::/48"]}), [MIXED]),
    ("notNets of both sides", allow(source={"notNets": ["2001:db8::/48"]}, destination={"notNets": ["10.0.0.0/8"]}), [MIXED]),
    (
        "ipVersion 6 with IPv4 nets",
        allow(ipVersion=6, source={"nets": ["10.0.0.0/8"]}),
        ["rule: ipVersion: ipVersion 6 does not match the rule's IPv4 networks"],
    ),
    (
        "ipVersion 4 with IPv6 notNets",
        allow(ipVersion=4, destination={"notNets": ["2001:db8::/32"]}),
        ["rule: ipVersion: ipVersion 4 does not match the rule's IPv6 networks"],
    ),
]


@pytest.mark.parametrize(("rule", "expected"), params(NET_FAMILIES))
def test_net_families(rule, expected):
    assert problems_of(rule) == expected


def test_one_family_with_matching_ip_version_is_fine():
    rule = allow(ipVersion=6, source={"nets": ["2001:db8::/32"]}, destination={"notNets": ["2001:db8:1::/48"]})
    assert problems_of(rule) == []


# --- selectors (h 1, 2, 3, 10, 25) -----------------------------------------------------------

SELECTOR_ERRORS = [
    ("does not parse", {"selector": "role =="}, ['rule: source.selector: selector "role ==" column 8: expected a quoted string']),
    (
        "notSelector does not parse",
        {"notSelector": "has(a) &&"},
        ['rule: source.notSelector: selector "has(a) &&" column 10: expected a label, "has(", "all()", "!" or "("'],
    ),
    (
        "global() in a selector",
        {"selector": "global()"},
        ["rule: source.selector: global() can only be used in a rule's namespaceSelector"],
    ),
    (
        "global() inside an expression",
        {"notSelector": "a == 'b' || global()"},
        ["rule: source.notSelector: global() can only be used in a rule's namespaceSelector"],
    ),
    ("not a string", {"selector": 5}, ["rule: source.selector: expected a selector string, got an integer"]),
    ("too long", {"selector": "a == '" + "x" * 1020 + "'"}, ["rule: source.selector: selector is 1027 characters long; the limit is 1024"]),
    (
        "namespaceSelector",
        {"namespaceSelector": "all()"},
        [
            "rule: source.namespaceSelector: selects Kubernetes namespaces, which host endpoints and network sets never have; "
            "only global() (meaning no namespace) is accepted"
        ],
    ),
    (
        "global() combined with more",
        {"namespaceSelector": "global() && a == 'b'"},
        [
            "rule: source.namespaceSelector: selects Kubernetes namespaces, which host endpoints and network sets never have; "
            "only global() (meaning no namespace) is accepted"
        ],
    ),
    (
        "serviceAccounts",
        {"serviceAccounts": {"names": ["x"]}},
        ["rule: source.serviceAccounts: serviceAccounts matches Kubernetes workloads only and can never match a host"],
    ),
    (
        "services",
        {"services": {"name": "x", "namespace": "y"}},
        ["rule: source.services: services matches Kubernetes workloads only and can never match a host"],
    ),
]


@pytest.mark.parametrize(("source", "expected"), params(SELECTOR_ERRORS))
def test_selector_errors(source, expected):
    assert problems_of(allow(source=source)) == expected


SELECTOR_OK = [
    ("selector", {"selector": "role == 'db'"}, EntityRule(selector=parse_selector("role == 'db'"))),
    ("notSelector", {"notSelector": "has(x)"}, EntityRule(not_selector=parse_selector("has(x)"))),
    ("snake_case not_selector", {"not_selector": "has(x)"}, EntityRule(not_selector=parse_selector("has(x)"))),
    ("empty selector is no condition", {"selector": ""}, EntityRule()),
    ("namespaceSelector global()", {"namespaceSelector": "global()"}, EntityRule()),
    ("empty namespaceSelector", {"namespaceSelector": ""}, EntityRule()),
    ("1024 characters", {"selector": "a == '" + "x" * 1017 + "'"}, EntityRule(selector=parse_selector("a == '" + "x" * 1017 + "'"))),
]


@pytest.mark.parametrize(("source", "expected"), params(SELECTOR_OK))
def test_selectors_load(source, expected):
    assert load(allow(source=source)) == (Rule("Allow", source=expected), [])


def test_load_selector_on_its_own():
    problems = Problems()
    assert load_selector("all()", Where("x", problems)) == parse_selector("all()")
    assert load_selector("global()", Where("x", problems)) is None
    assert [str(p) for p in problems.items] == ["x: global() can only be used in a rule's namespaceSelector"]


# --- fields: unknown, misplaced, aliases, refusals (h 24) ------------------------------------

FIELD_ERRORS = [
    ("typo destinaton", allow(destinaton={"ports": [22]}), [f"rule: destinaton: unknown field; did you mean 'destination'? {RULE_FIELDS}"]),
    (
        "typo in a side",
        tcp(destination={"prots": [22]}),
        [f"rule: destination.prots: unknown field; did you mean 'ports'? {ENTITY_FIELDS}"],
    ),
    ("typo notnets", allow(source={"notnets": []}), [f"rule: source.notnets: unknown field; did you mean 'notNets'? {ENTITY_FIELDS}"]),
    ("typo protcol", allow(protcol="TCP"), [f"rule: protcol: unknown field; did you mean 'protocol'? {RULE_FIELDS}"]),
    ("ports in the rule", tcp(ports=[22]), ["rule: ports: belongs in source or destination, not in the rule itself"]),
    (
        "snake not_nets in the rule",
        allow(not_nets=["10.0.0.0/8"]),
        ["rule: not_nets: belongs in source or destination, not in the rule itself"],
    ),
    (
        "protocol in destination",
        allow(destination={"protocol": "TCP", "ports": [22]}),
        ["rule: destination.protocol: belongs to the rule itself, not to destination"],
    ),
    ("ipVersion in source", allow(source={"ipVersion": 4}), ["rule: source.ipVersion: belongs to the rule itself, not to source"]),
    ("both spellings in a rule", allow(ipVersion=4, ip_version=4), ["rule: ip_version: given twice, as 'ipVersion' and 'ip_version'"]),
    (
        "both spellings in a side",
        allow(source={"notNets": [], "not_nets": []}),
        ["rule: source.not_nets: given twice, as 'notNets' and 'not_nets'"],
    ),
    (
        "source not a mapping",
        allow(source=["10.0.0.0/8"]),
        ["rule: source: expected a mapping (nets, notNets, selector, notSelector, ports, notPorts), got a list"],
    ),
    (
        "http",
        tcp(http={"methods": ["GET"]}),
        ["rule: http: HTTP matches need Calico's application layer policy, which host firewalls cannot enforce"],
    ),
    ("metadata unknown field", allow(metadata={"labels": {}}), ["rule: metadata.labels: unknown field (expected one of: annotations)"]),
    ("metadata not a mapping", allow(metadata="x"), ["rule: metadata: expected a mapping, got a string"]),
    (
        "annotation not a string",
        allow(metadata={"annotations": {"ticket": 42}}),
        ["rule: metadata.annotations.ticket: expected a string, got an integer; quote it in YAML"],
    ),
]


@pytest.mark.parametrize(("rule", "expected"), params(FIELD_ERRORS))
def test_field_errors(rule, expected):
    assert problems_of(rule) == expected


SNAKE_ALIASES = [
    ("not_protocol", {"action": "Allow", "not_protocol": "UDP"}, Rule("Allow", not_protocol=Protocol(17, "UDP"))),
    ("ip_version", {"action": "Allow", "ip_version": 6}, Rule("Allow", ip_version=6)),
    (
        "not_icmp",
        {"action": "Allow", "protocol": "ICMP", "not_icmp": {"type": 8}},
        Rule("Allow", Protocol(1, "ICMP"), not_icmp=IcmpMatch(8)),
    ),
    (
        "not_nets and not_ports",
        {"action": "Deny", "protocol": "TCP", "source": {"not_nets": ["10.0.0.0/8"], "not_ports": [22]}},
        Rule("Deny", Protocol(6, "TCP"), source=EntityRule(not_nets=(net("10.0.0.0/8"),), not_ports=(PortRange(22, 22),))),
    ),
]


@pytest.mark.parametrize(("rule", "expected"), params(SNAKE_ALIASES))
def test_snake_case_aliases(rule, expected):
    assert load(rule) == (expected, [])


def test_annotations_are_accepted_and_dropped():
    assert load(allow(metadata={"annotations": {"ticket": "NET-42"}})) == (Rule("Allow"), [])


def test_every_problem_of_a_rule_is_reported():
    rule = {
        "action": "allow",
        "protocol": "tcp",
        "icmp": {"type": 300},
        "ipVersion": 5,
        "source": {"nets": ["10.0.0.1/8"], "selector": "a =="},
        "destination": {"ports": ["80-90"], "notNets": ["0.0.0.0/0"]},
    }
    assert problems_of(rule) == [
        "rule: action: invalid action 'allow': expected one of Allow, Deny, Pass, Log; did you mean 'Allow'?",
        f"rule: protocol: invalid protocol 'tcp': {PROTOCOLS}; did you mean 'TCP'?",
        "rule: icmp.type: ICMP type 300 is out of range 0-254",
        "rule: ipVersion: expected 4 or 6, got 5",
        "rule: source.nets[0]: invalid IP network '10.0.0.1/8': host bits are set; did you mean 10.0.0.0/8?",
        'rule: source.selector: selector "a ==" column 5: expected a quoted string',
        "rule: destination.notNets[0]: 0.0.0.0/0 matches every address, so the rule would match no traffic",
        "rule: destination.ports[0]: invalid port '80-90': port ranges use ':'; did you mean '80:90'?",
    ]


def test_a_rule_with_a_problem_is_not_returned():
    assert load(to_ports(0)) == (None, ["rule: destination.ports[0]: port 0 is out of range 1-65535"])


def test_a_full_rule_loads_to_the_model():
    rule = {
        "action": "Allow",
        "protocol": "TCP",
        "ipVersion": 4,
        "source": {"nets": ["198.51.100.0/24"], "notSelector": "role == 'untrusted'", "ports": ["1024:65535"]},
        "destination": {"selector": "role == 'db'", "ports": [5432, "metrics"], "notPorts": [5433]},
    }
    assert load(rule) == (
        Rule(
            action="Allow",
            protocol=Protocol(6, "TCP"),
            ip_version=4,
            source=EntityRule(
                nets=(net("198.51.100.0/24"),),
                not_selector=parse_selector("role == 'untrusted'"),
                ports=(PortRange(1024, 65535),),
            ),
            destination=EntityRule(
                selector=parse_selector("role == 'db'"),
                ports=(PortRange(5432, 5432), NamedPort("metrics")),
                not_ports=(PortRange(5433, 5433),),
            ),
        ),
        [],
    )
