# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import ValidationError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import FailsafePort


def hep_manifest(name, node, interface="eth0", **spec):
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "HostEndpoint",
        "metadata": {"name": name, "labels": spec.pop("labels", {})},
        "spec": {"node": node, "interfaceName": interface, **spec},
    }


def felix(name, **spec):
    return {"apiVersion": "projectcalico.org/v3", "kind": "FelixConfiguration", "metadata": {"name": name}, "spec": spec}


def fleet_of(*hosts, resources=None, policies=None):
    shared = {"palisade_resources": resources or [], "palisade_policies": policies or []}
    return [HostInput(name, tuple(groups), {**shared, **variables}) for name, groups, variables in hosts]


def errors_of(hosts):
    with pytest.raises(ValidationError) as info:
        load_fleet(hosts)
    return [str(p) for p in info.value.problems]


def test_compact_endpoint_defaults():
    fleet = load_fleet(
        fleet_of(
            (
                "h1",
                ["web"],
                {
                    "palisade_labels": {"role": "web"},
                    "palisade_host_endpoints": [{"interfaceName": "eth0", "labels": {"tier": "front"}}],
                    "ansible_host": "198.51.100.1",
                },
            )
        )
    )
    (endpoint,) = fleet.hosts["h1"].endpoints
    assert endpoint.name == "h1-eth0"
    assert endpoint.host == "h1"
    assert dict(endpoint.labels) == {"palisade.io/hostname": "h1", "group.palisade.io/web": "", "role": "web", "tier": "front"}
    assert [str(a) for a in endpoint.addresses] == ["198.51.100.1"]
    assert endpoint.address_source == "ansible_host"


def test_endpoint_labels_override_host_labels():
    fleet = load_fleet(
        fleet_of(("h1", [], {"palisade_labels": {"role": "web"}, "palisade_host_endpoints": [{"interface_name": "eth0", "labels": {"role": "edge"}}]}))
    )
    assert fleet.hosts["h1"].endpoints[0].labels["role"] == "edge"


def test_manifest_endpoint_lands_on_its_node_with_host_labels():
    fleet = load_fleet(
        fleet_of(("h1", ["g"], {}), ("h2", [], {}), resources=[hep_manifest("h2-eth1", "h2", "eth1", labels={"role": "db"}, expectedIPs=["203.0.113.2"])])
    )
    assert fleet.hosts["h1"].endpoints == ()
    (endpoint,) = fleet.hosts["h2"].endpoints
    assert (endpoint.name, endpoint.interface_name, endpoint.address_source) == ("h2-eth1", "eth1", "expectedIPs")
    assert dict(endpoint.labels) == {"palisade.io/hostname": "h2", "role": "db"}


def test_auto_host_endpoint():
    fleet = load_fleet(fleet_of(("h1", [], {"palisade_auto_host_endpoint": True, "ansible_host": "198.51.100.1"})))
    (endpoint,) = fleet.hosts["h1"].endpoints
    assert (endpoint.name, endpoint.interface_name) == ("h1-auto-hep", "*")


def test_an_endpoint_on_lo_is_said_to_do_nothing():
    fleet = load_fleet(fleet_of(("h1", [], {"palisade_host_endpoints": [{"interfaceName": "lo", "expectedIPs": ["127.0.0.1"]}]})))
    assert [str(w) for w in fleet.warnings] == [
        "host h1: endpoint 'h1-lo' (host h1: palisade_host_endpoints[0] (h1-lo)) names 'lo': loopback traffic is never policed, "
        "so no policy applies on it (its addresses still count for other hosts' selectors)"
    ]
    assert load_fleet(fleet_of(("h1", [], {"palisade_host_endpoints": [{"interfaceName": "eth0"}]}))).warnings == ()


def test_wildcard_compact_endpoint_name():
    fleet = load_fleet(fleet_of(("h1", [], {"palisade_host_endpoints": [{"interfaceName": "*"}]})))
    assert fleet.hosts["h1"].endpoints[0].name == "h1-all"


ERRORS = [
    (
        "fleet-wide variable differs between hosts",
        fleet_of(("h1", [], {}), ("h2", [], {"palisade_policies": [{"name": "p"}]})),
        [
            "palisade_policies: hosts 'h1' and 'h2' see different values; this variable is fleet-wide and must be "
            "the same for every inventory host (define it in group_vars/all)"
        ],
    ),
    (
        "manifest endpoint on an unknown node",
        fleet_of(("h1", [], {}), resources=[hep_manifest("x-eth0", "x")]),
        ["palisade_resources document 1 (HostEndpoint x-eth0): spec.node: 'x' is not an inventory host"],
    ),
    (
        "felix configuration for an unknown node",
        fleet_of(("h1", [], {}), resources=[felix("node.h9"), felix("custom")]),
        [
            "palisade_resources (FelixConfiguration node.h9): metadata.name: expected 'default' or 'node.<inventory host>'; 'h9' is not an inventory host",
            "palisade_resources (FelixConfiguration custom): metadata.name: expected 'default' or 'node.<inventory host>'",
        ],
    ),
    (
        "two endpoints on one interface",
        fleet_of(("h1", [], {"palisade_host_endpoints": [{"interfaceName": "eth0"}]}), resources=[hep_manifest("other", "h1")]),
        [
            "host h1: interface 'eth0' has two endpoints: host h1: palisade_host_endpoints[0] (h1-eth0) and "
            "palisade_resources document 1 (HostEndpoint other)"
        ],
    ),
    (
        "workload interface",
        fleet_of(("h1", [], {"palisade_host_endpoints": [{"interfaceName": "cali12"}]})),
        [
            "host h1: endpoint 'h1-cali12' (host h1: palisade_host_endpoints[0] (h1-cali12)) names 'cali12', a workload "
            "interface (palisade_interface_prefixes: ['cali']); workload interfaces are never host endpoints"
        ],
    ),
    (
        "endpoint names unique across the fleet",
        fleet_of(
            ("h1", [], {"palisade_host_endpoints": [{"name": "edge", "interfaceName": "eth0"}]}),
            ("h2", [], {"palisade_host_endpoints": [{"name": "edge", "interfaceName": "eth0"}]}),
        ),
        ["host h2: palisade_host_endpoints[0] (edge): name: endpoint name 'edge' is also used by host h1: palisade_host_endpoints[0] (edge)"],
    ),
    (
        "node of a compact endpoint must be the host",
        fleet_of(("h1", [], {"palisade_host_endpoints": [{"interfaceName": "eth0", "node": "h2"}]})),
        ["host h1: palisade_host_endpoints[0].node: must be this host ('h1') or left out, got 'h2'"],
    ),
    (
        "compact endpoint without interface needs a name",
        fleet_of(("h1", [], {"palisade_host_endpoints": [{"expectedIPs": ["198.51.100.1"]}]})),
        ["host h1: palisade_host_endpoints[0].name: is required when interfaceName is not given"],
    ),
    (
        "endpoint list not a list",
        fleet_of(("h1", [], {"palisade_host_endpoints": {"interfaceName": "eth0"}})),
        ["host h1: palisade_host_endpoints: expected a list of endpoints"],
    ),
    (
        "auto endpoint beside a wildcard endpoint",
        fleet_of(("h1", [], {"palisade_auto_host_endpoint": True, "palisade_host_endpoints": [{"interfaceName": "*"}]})),
        ["host h1: palisade_auto_host_endpoint: the host already has a '*' endpoint (host h1: palisade_host_endpoints[0] (h1-all)); use one or the other"],
    ),
    (
        "auto endpoint not a boolean",
        fleet_of(("h1", [], {"palisade_auto_host_endpoint": "yes"})),
        ["host h1: palisade_auto_host_endpoint: expected true or false, got 'yes'"],
    ),
    (
        "every problem of every host at once",
        fleet_of(
            ("h1", [], {"palisade_labels": {"role": 1}, "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["nope"]}]}),
            ("h2", [], {"palisade_default_endpoint_to_host_action": "Reject"}),
        ),
        [
            "host h1: palisade_labels.role: label values must be strings, got an integer 1; quote it in YAML",
            "host h1: palisade_host_endpoints[0].expectedIPs[0]: invalid IP address 'nope': expected an IPv4 or IPv6 address such as 198.51.100.7",
            "host h2: palisade_default_endpoint_to_host_action: expected one of Drop, Accept, Return, got 'Reject'",
        ],
    ),
]


@pytest.mark.parametrize("hosts, expected", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_fleet_errors(hosts, expected):
    assert errors_of(hosts) == expected


def test_settings_precedence():
    resources = [
        felix("default", defaultEndpointToHostAction="ACCEPT", logPrefix="from-default", chainInsertMode="Append"),
        felix("node.h2", defaultEndpointToHostAction="RETURN", failsafeInboundHostPorts=[{"protocol": "TCP", "port": 2222}]),
    ]
    fleet = load_fleet(fleet_of(("h1", [], {"palisade_log_prefix": "mine"}), ("h2", [], {}), resources=resources))
    h1, h2 = fleet.hosts["h1"].settings, fleet.hosts["h2"].settings
    assert (h1.default_endpoint_to_host_action, h1.log_prefix, h1.chain_insert_mode) == ("Accept", "mine", "append")
    assert (h2.default_endpoint_to_host_action, h2.log_prefix) == ("Return", "from-default")
    assert h2.failsafe_inbound_host_ports == (FailsafePort("tcp", 2222),)
    assert FailsafePort("tcp", 22) in h1.failsafe_inbound_host_ports


def test_fleet_is_independent_of_input_order():
    hosts = fleet_of(("b", ["g"], {"palisade_host_endpoints": [{"interfaceName": "eth0"}]}), ("a", [], {"palisade_auto_host_endpoint": True}))
    assert load_fleet(hosts) == load_fleet(list(reversed(hosts)))


TYPOS = [
    ("palisade_label", {"palisade_label": {"role": "web"}}, ["host h1: palisade_label: unknown variable; did you mean 'palisade_labels'?"]),
    (
        "palisade_failsafe_inbound_ports",
        {"palisade_failsafe_inbound_ports": []},
        ["host h1: palisade_failsafe_inbound_ports: unknown variable; did you mean 'palisade_failsafe_inbound_host_ports'?"],
    ),
    ("palisade_host_endpoint", {"palisade_host_endpoint": []}, ["host h1: palisade_host_endpoint: unknown variable; did you mean 'palisade_host_endpoints'?"]),
    ("single underscore label part", {"palisade_labels_web": {}}, ["host h1: palisade_labels_web: unknown variable; did you mean 'palisade_labels'?"]),
]


@pytest.mark.parametrize("variables, expected", [c[1:] for c in TYPOS], ids=[c[0] for c in TYPOS])
def test_misspelled_variables(variables, expected):
    assert errors_of(fleet_of(("h1", [], variables))) == expected


NON_STRING_NAMES = [
    ("an integer", 1),
    ("None", None),
    ("a boolean", True),
    ("a tuple", ("palisade_labels", "x")),
]


@pytest.mark.parametrize("name", [c[1] for c in NON_STRING_NAMES], ids=[c[0] for c in NON_STRING_NAMES])
def test_variable_names_that_are_not_strings_are_left_out(name):
    variables = {name: {"role": "db"}, "palisade_labels": {"role": "web"}, "palisade_label": {}}
    assert errors_of(fleet_of(("h1", [], variables))) == ["host h1: palisade_label: unknown variable; did you mean 'palisade_labels'?"]
    assert load_fleet(fleet_of(("h1", [], {name: 1, "palisade_labels": {"role": "web"}}))).hosts["h1"].labels["role"] == "web"


def test_unrelated_palisade_variables_are_left_alone():
    fleet = load_fleet(fleet_of(("h1", [], {"palisade_resolution": {"hosts": {}}, "palisade_labels__web": {"role": "web"}})))
    assert fleet.hosts["h1"].labels["role"] == "web"


def test_endpoint_with_an_unknown_field_is_not_kept():
    errors = errors_of(fleet_of(("h1", [], {"palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIP": ["198.51.100.1"]}]})))
    assert errors == [
        "host h1: palisade_host_endpoints[0].expectedIP: unknown field; did you mean 'expectedIPs'? "
        "(expected one of: expectedIPs, interfaceName, labels, name, node, ports, profiles)"
    ]
