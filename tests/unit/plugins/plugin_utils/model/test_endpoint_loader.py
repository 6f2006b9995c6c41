# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HostEndpoint and GlobalNetworkSet validation: semantics (b), (e) and checks 26-34 of (h).

Host endpoints are written as HostEndpoint manifests (``palisade_host_endpoints`` entries are
the fleet's business, see test_fleet.py); network sets both as ``palisade_network_sets``
entries and as manifests. Each table row is (case id, input, every problem expected).
"""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problems, Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.catalog import load_catalog
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.endpoint_loader import (
    HOST_ENDPOINT_SPEC_FIELDS,
    check_name,
    load_host_endpoint,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import canonical_fields
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import EndpointPort, GlobalNetworkSet, HostEndpoint

HEP = "palisade_resources document 1 (HostEndpoint h)"
GNS = "palisade_network_sets[0] (m)"
INVALID_NAME = "expected lower case letters, digits, '-' and '.', starting and ending with a letter or digit"
PORT_NAME = "expected at most 15 lower case letters, digits and '-', with at least one letter"
LABEL_CHARS = "expected letters, digits, '-', '_' and '.', starting and ending with a letter or digit"


def host_endpoint(name="h", labels=None, **spec):
    metadata = {"name": name} if labels is None else {"name": name, "labels": labels}
    return {"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint", "metadata": metadata, "spec": spec}


def eth0(**spec):
    """A valid endpoint spec (node n, interface eth0) with ``spec`` over it."""
    return host_endpoint(**{"node": "n", "interfaceName": "eth0", **spec})


def network_set(**fields):
    return {"name": "m", **fields}


def load(network_sets=None, resources=None):
    problems = Problems()
    catalog = load_catalog(None, network_sets, resources, problems)
    return catalog, [str(problem) for problem in problems.items]


def hep_errors(document):
    return load(resources=[document])[1]


def loaded_hep(document):
    catalog, problems = load(resources=[document])
    assert problems == []
    (endpoint,) = catalog.host_endpoints
    return endpoint


def params(table):
    return [pytest.param(*values, id=case_id) for case_id, *values in table]


# --- node, interfaceName, expectedIPs (h 26, 27, 28, 29) -------------------------------------

HEP_OK = [
    ("interface", {"node": "n", "interfaceName": "eth0"}, ("eth0", ())),
    ("wildcard", {"node": "n", "interfaceName": "*"}, ("*", ())),
    ("15 characters", {"node": "n", "interfaceName": "a" * 15}, ("a" * 15, ())),
    ("Calico's interface characters", {"node": "n", "interfaceName": "bond0.100_x-y"}, ("bond0.100_x-y", ())),
    ("expected IPs only", {"node": "n", "expectedIPs": ["10.0.0.1", "2001:db8::1"]}, (None, ("10.0.0.1", "2001:db8::1"))),
    ("empty interface with IPs", {"node": "n", "interfaceName": "", "expectedIPs": ["10.0.0.1"]}, (None, ("10.0.0.1",))),
    ("snake_case aliases", {"node": "n", "interface_name": "eth1", "expected_ips": ["10.0.0.2"]}, ("eth1", ("10.0.0.2",))),
]


@pytest.mark.parametrize(("spec", "expected"), params(HEP_OK))
def test_host_endpoints_load(spec, expected):
    endpoint = loaded_hep(host_endpoint(**spec))
    assert (endpoint.interface_name, tuple(str(ip) for ip in endpoint.expected_ips)) == expected


HEP_ERRORS = [
    (
        "node missing",
        host_endpoint(interfaceName="eth0"),
        [f"{HEP}: spec.node: is required: the inventory host that enforces this endpoint"],
    ),
    (
        "node empty",
        host_endpoint(node="", interfaceName="eth0"),
        [f"{HEP}: spec.node: is required: the inventory host that enforces this endpoint"],
    ),
    ("node not a string", host_endpoint(node=["n"], interfaceName="eth0"), [f"{HEP}: spec.node: expected a string, got a list"]),
    ("neither interface nor IPs", host_endpoint(node="n"), [f"{HEP}: spec: at least one of interfaceName or expectedIPs must be given"]),
    (
        "empty interface, empty IPs",
        host_endpoint(node="n", interfaceName="", expectedIPs=[]),
        [f"{HEP}: spec: at least one of interfaceName or expectedIPs must be given"],
    ),
    (
        "interface too long",
        eth0(interfaceName="a" * 16),
        [f"{HEP}: spec.interfaceName: invalid interface name '{'a' * 16}': expected '*' or 1-15 of letters, digits, '_', '.', '-'"],
    ),
    (
        "interface with a slash",
        eth0(interfaceName="eth0/1"),
        [f"{HEP}: spec.interfaceName: invalid interface name 'eth0/1': expected '*' or 1-15 of letters, digits, '_', '.', '-'"],
    ),
    (
        "interface glob",
        eth0(interfaceName="eth*"),
        [f"{HEP}: spec.interfaceName: invalid interface name 'eth*': expected '*' or 1-15 of letters, digits, '_', '.', '-'"],
    ),
    ("interface not a string", eth0(interfaceName=0), [f"{HEP}: spec.interfaceName: expected a string, got an integer"]),
    (
        "expected IP with a prefix",
        eth0(expectedIPs=["10.0.0.1/24"]),
        [
            f"{HEP}: spec.expectedIPs[0]: invalid IP address '10.0.0.1/24': expected an address without a prefix length; did you mean 10.0.0.1?"
        ],
    ),
    (
        "expected IP not an address",
        eth0(expectedIPs=["my-host"]),
        [f"{HEP}: spec.expectedIPs[0]: invalid IP address 'my-host': expected an IPv4 or IPv6 address such as 198.51.100.7"],
    ),
    (
        "expected IP not a string",
        eth0(expectedIPs=[167772161]),
        [f"{HEP}: spec.expectedIPs[0]: expected an IP address, got an integer 167772161"],
    ),
    ("expectedIPs not a list", eth0(expectedIPs="10.0.0.1"), [f"{HEP}: spec.expectedIPs: expected a list, got a string"]),
    (
        "profiles",
        eth0(profiles=["projectcalico-default-allow"]),
        [f"{HEP}: spec.profiles: profiles are not supported: express their rules as a GlobalNetworkPolicy"],
    ),
    (
        "typo expectedIP",
        eth0(expectedIP=["10.0.0.1"]),
        [
            f"{HEP}: spec.expectedIP: unknown field; did you mean 'expectedIPs'? (expected one of: expectedIPs, interfaceName, node, ports, profiles)"
        ],
    ),
    ("both spellings", eth0(interface_name="eth0"), [f"{HEP}: spec.interface_name: given twice, as 'interfaceName' and 'interface_name'"]),
]


@pytest.mark.parametrize(("document", "expected"), params(HEP_ERRORS))
def test_host_endpoint_errors(document, expected):
    assert hep_errors(document) == expected


def test_empty_profiles_are_fine():
    assert loaded_hep(eth0(profiles=[])).name == "h"


# --- named ports (h 31) ----------------------------------------------------------------------

PORTS_OK = [
    ("one", [{"name": "http", "protocol": "TCP", "port": 80}], (EndpointPort("http", "TCP", 80),)),
    (
        "same name, two protocols",
        [{"name": "dns", "protocol": "UDP", "port": 53}, {"name": "dns", "protocol": "TCP", "port": 53}],
        (EndpointPort("dns", "UDP", 53), EndpointPort("dns", "TCP", 53)),
    ),
    ("SCTP and a digit string", [{"name": "s1ap", "protocol": "SCTP", "port": "36412"}], (EndpointPort("s1ap", "SCTP", 36412),)),
    ("15 characters", [{"name": "a" * 15, "protocol": "TCP", "port": 1}], (EndpointPort("a" * 15, "TCP", 1),)),
]


@pytest.mark.parametrize(("ports", "expected"), params(PORTS_OK))
def test_named_ports_load(ports, expected):
    assert loaded_hep(eth0(ports=ports)).ports == expected


def port(**fields):
    return eth0(ports=[{"name": "http", "protocol": "TCP", "port": 80, **fields}])


PORT_ERRORS = [
    ("name missing", port(name=None), [f"{HEP}: spec.ports[0].name: is required"]),
    ("upper case name", port(name="HTTP"), [f"{HEP}: spec.ports[0].name: invalid port name 'HTTP': {PORT_NAME}"]),
    ("name without a letter", port(name="8080"), [f"{HEP}: spec.ports[0].name: invalid port name '8080': {PORT_NAME}"]),
    ("name too long", port(name="a" * 16), [f"{HEP}: spec.ports[0].name: invalid port name '{'a' * 16}': {PORT_NAME}"]),
    ("name with underscore", port(name="my_port"), [f"{HEP}: spec.ports[0].name: invalid port name 'my_port': {PORT_NAME}"]),
    ("protocol missing", port(protocol=None), [f"{HEP}: spec.ports[0].protocol: is required"]),
    (
        "lower case protocol",
        port(protocol="tcp"),
        [f"{HEP}: spec.ports[0].protocol: invalid protocol 'tcp': expected TCP, UDP or SCTP; did you mean 'TCP'?"],
    ),
    (
        "protocol without ports",
        port(protocol="ICMP"),
        [f"{HEP}: spec.ports[0].protocol: invalid protocol 'ICMP': expected TCP, UDP or SCTP"],
    ),
    ("UDPLite", port(protocol="UDPLite"), [f"{HEP}: spec.ports[0].protocol: invalid protocol 'UDPLite': expected TCP, UDP or SCTP"]),
    ("port missing", port(port=None), [f"{HEP}: spec.ports[0].port: is required"]),
    ("port 0", port(port=0), [f"{HEP}: spec.ports[0].port: port 0 is out of range 1-65535"]),
    ("port 65536", port(port=65536), [f"{HEP}: spec.ports[0].port: port 65536 is out of range 1-65535"]),
    ("port range", port(port="80:90"), [f"{HEP}: spec.ports[0].port: expected a port (1-65535), got a string '80:90'"]),
    (
        "unknown field",
        port(protocl="TCP"),
        [f"{HEP}: spec.ports[0].protocl: unknown field; did you mean 'protocol'? (expected one of: name, port, protocol)"],
    ),
    ("not a mapping", eth0(ports=["http"]), [f"{HEP}: spec.ports[0]: expected a mapping with name, protocol and port, got a string"]),
    ("ports not a list", eth0(ports={"http": 80}), [f"{HEP}: spec.ports: expected a list, got a mapping"]),
    (
        "declared twice",
        eth0(ports=[{"name": "http", "protocol": "TCP", "port": 80}, {"name": "http", "protocol": "TCP", "port": 8080}]),
        [f"{HEP}: spec.ports[1]: port 'http' is declared twice for TCP"],
    ),
    (
        "every problem of a port, in field order",
        port(name="HTTP", protocol="tcp", port=0),
        [
            f"{HEP}: spec.ports[0].name: invalid port name 'HTTP': {PORT_NAME}",
            f"{HEP}: spec.ports[0].protocol: invalid protocol 'tcp': expected TCP, UDP or SCTP; did you mean 'TCP'?",
            f"{HEP}: spec.ports[0].port: port 0 is out of range 1-65535",
        ],
    ),
]


@pytest.mark.parametrize(("document", "expected"), params(PORT_ERRORS))
def test_named_port_errors(document, expected):
    assert hep_errors(document) == expected


# --- name and labels (h 34) ------------------------------------------------------------------

METADATA_ERRORS = [
    (
        "name missing",
        host_endpoint(name=None, node="n", interfaceName="eth0"),
        ["palisade_resources document 1 (HostEndpoint): metadata.name: is required"],
    ),
    (
        "name upper case",
        host_endpoint(name="H", node="n", interfaceName="eth0"),
        [f"palisade_resources document 1 (HostEndpoint H): metadata.name: invalid name 'H': {INVALID_NAME}"],
    ),
    (
        "name not a string",
        host_endpoint(name=1, node="n", interfaceName="eth0"),
        ["palisade_resources document 1 (HostEndpoint): metadata.name: expected a string, got an integer"],
    ),
    ("bad label key", eth0(labels={"Bad Key": "v"}), [f"{HEP}: metadata.labels.Bad Key: invalid label key 'Bad Key': {LABEL_CHARS}"]),
    (
        "bad label key prefix",
        eth0(labels={"Example.COM/role": "v"}),
        [
            f"{HEP}: metadata.labels.Example.COM/role: invalid label key 'Example.COM/role': "
            "the prefix 'Example.COM' must be a DNS subdomain (lower case, <= 253 characters)"
        ],
    ),
    (
        "label key name too long",
        eth0(labels={"k" * 64: "v"}),
        [f"{HEP}: metadata.labels.{'k' * 64}: invalid label key '{'k' * 64}': the name part is 64 characters long; the limit is 63"],
    ),
    (
        "bad label value",
        eth0(labels={"role": "web server"}),
        [f"{HEP}: metadata.labels.role: invalid label value 'web server': {LABEL_CHARS}"],
    ),
    (
        "label value too long",
        eth0(labels={"role": "v" * 64}),
        [f"{HEP}: metadata.labels.role: invalid label value '{'v' * 64}': 64 characters long; the limit is 63"],
    ),
    (
        "label value a number",
        eth0(labels={"tier": 1}),
        [f"{HEP}: metadata.labels.tier: label values must be strings, got an integer 1; quote it in YAML"],
    ),
    (
        "automatic label",
        eth0(labels={"palisade.io/hostname": "x"}),
        [
            f"{HEP}: metadata.labels.palisade.io/hostname: label 'palisade.io/hostname' is set automatically from the inventory and cannot be set by hand"
        ],
    ),
    (
        "labels not a mapping",
        eth0(labels=["role=web"]),
        [f"{HEP}: metadata.labels: expected a mapping of label keys to values, got a list"],
    ),
]


@pytest.mark.parametrize(("document", "expected"), params(METADATA_ERRORS))
def test_host_endpoint_metadata_errors(document, expected):
    assert hep_errors(document) == expected


def test_every_problem_of_a_host_endpoint_is_reported():
    document = host_endpoint(
        name="My_Host",
        labels={"role": "web server"},
        interfaceName="eth0:1",
        expectedIPs=["10.0.0.300"],
        profiles=["default"],
        ports=[{"name": "http", "protocol": "tcp", "port": 80}],
    )
    source = "palisade_resources document 1 (HostEndpoint My_Host)"
    assert hep_errors(document) == [
        f"{source}: metadata.name: invalid name 'My_Host': {INVALID_NAME}",
        f"{source}: metadata.labels.role: invalid label value 'web server': {LABEL_CHARS}",
        f"{source}: spec.node: is required: the inventory host that enforces this endpoint",
        f"{source}: spec.interfaceName: invalid interface name 'eth0:1': expected '*' or 1-15 of letters, digits, '_', '.', '-'",
        f"{source}: spec.expectedIPs[0]: invalid IP address '10.0.0.300': expected an IPv4 or IPv6 address such as 198.51.100.7",
        f"{source}: spec.profiles: profiles are not supported: express their rules as a GlobalNetworkPolicy",
        f"{source}: spec.ports[0].protocol: invalid protocol 'tcp': expected TCP, UDP or SCTP; did you mean 'TCP'?",
    ]


def test_load_host_endpoint_directly():
    problems = Problems()
    where = Where("host h1: palisade_host_endpoints[0]", problems)
    fields = canonical_fields({"node": "h1", "interface_name": "eth0", "expected_ips": ["10.0.0.1"]}, HOST_ENDPOINT_SPEC_FIELDS, where)
    endpoint = load_host_endpoint("h1-eth0", {"role": "web"}, fields, where, "origin")
    assert not problems
    assert endpoint == HostEndpoint(
        name="h1-eth0",
        node="h1",
        interface_name="eth0",
        expected_ips=(ipaddress.ip_address("10.0.0.1"),),
        labels={"role": "web"},
        origin="origin",
    )


CHECK_NAME = [
    ("fine", "my-host.eth0", True, []),
    ("missing", None, False, ["x: name: is required"]),
    ("upper case", "Eth0", False, [f"x: name: invalid name 'Eth0': {INVALID_NAME}"]),
    ("254 characters", "a" * 254, False, ["x: name: is 254 characters long; the limit is 253"]),
]


@pytest.mark.parametrize(("name", "ok", "expected"), params(CHECK_NAME))
def test_check_name(name, ok, expected):
    problems = Problems()
    assert check_name(name, Where("x", problems).at("name")) is ok
    assert [str(p) for p in problems.items] == expected


# --- GlobalNetworkSet (e; h 32, 33) ----------------------------------------------------------

NETWORK_SETS_OK = [
    (
        "networks and addresses",
        network_set(nets=["198.51.100.0/24", "10.0.0.1", "2001:db8::/32"]),
        ("198.51.100.0/24", "10.0.0.1/32", "2001:db8::/32"),
    ),
    # Calico's cidr validator does not demand masking for network sets (unlike rule nets).
    ("host bits are masked", network_set(nets=["10.0.0.1/24"]), ("10.0.0.0/24",)),
    ("no nets", network_set(), ()),
    ("catch-all is a member like any other", network_set(nets=["0.0.0.0/0"]), ("0.0.0.0/0",)),
]


@pytest.mark.parametrize(("entry", "expected"), params(NETWORK_SETS_OK))
def test_network_sets_load(entry, expected):
    catalog, problems = load(network_sets=[entry])
    assert problems == []
    assert tuple(str(n) for n in catalog.network_sets[0].nets) == expected


NETWORK_SET_ERRORS = [
    ("name missing", {"nets": []}, ["palisade_network_sets[0]: name: is required"]),
    ("name not a string", {"name": 5}, ["palisade_network_sets[0]: name: expected a string, got an integer"]),
    ("name upper case", {"name": "Mgmt"}, [f"palisade_network_sets[0] (Mgmt): name: invalid name 'Mgmt': {INVALID_NAME}"]),
    (
        "not a network",
        network_set(nets=["x"]),
        [f"{GNS}: nets[0]: invalid IP network 'x': expected an address or CIDR such as 198.51.100.0/24 or 2001:db8::/32"],
    ),
    ("not a string", network_set(nets=[5]), [f"{GNS}: nets[0]: expected an IP network in CIDR notation, got an integer 5"]),
    ("nets not a list", network_set(nets="10.0.0.0/8"), [f"{GNS}: nets: expected a list, got a string"]),
    (
        "reserved label",
        network_set(labels={"projectcalico.org/namespace": "prod"}),
        [f"{GNS}: labels.projectcalico.org/namespace: is reserved for Kubernetes namespaces; a network set cannot have it"],
    ),
    ("bad label", network_set(labels={"-role": "x"}), [f"{GNS}: labels.-role: invalid label key '-role': {LABEL_CHARS}"]),
    (
        "typo net",
        network_set(net=["10.0.0.0/8"]),
        [f"{GNS}: net: unknown field; did you mean 'nets'? (expected one of: labels, name, nets)"],
    ),
    (
        "entry not a mapping",
        "10.0.0.0/8",
        ["palisade_network_sets[0]: expected a network set (a mapping with name, labels and nets), got a string"],
    ),
    (
        "every problem",
        {"name": "M", "labels": {"projectcalico.org/namespace": "a"}, "nets": ["10.0.0.0/33", "10.0.0.0/8"]},
        [
            f"palisade_network_sets[0] (M): name: invalid name 'M': {INVALID_NAME}",
            "palisade_network_sets[0] (M): labels.projectcalico.org/namespace: is reserved for Kubernetes namespaces; a network set cannot have it",
            "palisade_network_sets[0] (M): nets[0]: invalid IP network '10.0.0.0/33': expected an address or CIDR such as 198.51.100.0/24 or 2001:db8::/32",
        ],
    ),
]


@pytest.mark.parametrize(("entry", "expected"), params(NETWORK_SET_ERRORS))
def test_network_set_errors(entry, expected):
    assert load(network_sets=[entry])[1] == expected


def test_network_set_manifest_loads_to_the_model():
    document = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkSet",
        "metadata": {"name": "management", "labels": {"role": "management"}},
        "spec": {"nets": ["198.51.100.0/24"]},
    }
    catalog, problems = load(resources=[document])
    assert problems == []
    assert catalog.network_sets == (
        GlobalNetworkSet(
            "management",
            (ipaddress.ip_network("198.51.100.0/24"),),
            {"role": "management"},
            "palisade_resources document 1 (GlobalNetworkSet management)",
        ),
    )


def test_network_set_manifest_reserved_label():
    document = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkSet",
        "metadata": {"name": "m", "labels": {"projectcalico.org/namespace": "a"}},
        "spec": {"nets": ["10.0.0.0/8"]},
    }
    assert load(resources=[document])[1] == [
        "palisade_resources document 1 (GlobalNetworkSet m): metadata.labels.projectcalico.org/namespace: "
        "is reserved for Kubernetes namespaces; a network set cannot have it"
    ]


def test_network_sets_are_sorted_by_name():
    catalog, problems = load(network_sets=[network_set(name="b"), network_set(name="a")])
    assert problems == []
    assert [s.name for s in catalog.network_sets] == ["a", "b"]
