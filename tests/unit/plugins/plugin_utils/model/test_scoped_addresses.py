# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv6 scope IDs (``fe80::1%eth0``), which Python's ipaddress reads but iptables and ipset do not,
are refused with the field that holds them, wherever an address or a network is read."""

from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problems, ValidationError, Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.catalog import load_catalog
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.networks import ip_or_none, parse_ip, parse_net
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.settings_loader import load_settings_variables

SCOPE = "IPv6 scope IDs ('%eth0') cannot be matched by the firewall"


def params(table):
    return [pytest.param(*values, id=case_id) for case_id, *values in table]


def errors(load, value):
    problems = Problems()
    assert load(value, Where("src", problems)) is None
    return [str(p) for p in problems.items]


PARSERS = [
    ("address", parse_ip, "fe80::1%eth0", [f"src: invalid IP address 'fe80::1%eth0': {SCOPE}; did you mean fe80::1?"]),
    (
        "address, bad after removing the scope",
        parse_ip,
        "fe80::zz%eth0",
        ["src: invalid IP address 'fe80::zz%eth0': expected an IPv4 or IPv6 address such as 198.51.100.0/24 or 2001:db8::/32"],
    ),
    (
        "network",
        lambda value, where: parse_net(value, where, strict=True),
        "fe80::%eth0/64",
        [f"src: invalid IP network 'fe80::%eth0/64': {SCOPE}; did you mean fe80::/64?"],
    ),
    (
        "host network",
        lambda value, where: parse_net(value, where, strict=False),
        "fe80::1%eth0",
        [f"src: invalid IP network 'fe80::1%eth0': {SCOPE}; did you mean fe80::1?"],
    ),
    (
        "a '%' that is no scope",
        lambda value, where: parse_net(value, where, strict=False),
        "10.0.0.0%/8",
        ["src: invalid IP network '10.0.0.0%/8': expected an address or CIDR such as 198.51.100.0/24 or 2001:db8::/32"],
    ),
]


@pytest.mark.parametrize(("load", "value", "expected"), params(PARSERS))
def test_parsers_refuse_scopes(load, value, expected):
    assert errors(load, value) == expected


def test_ip_or_none_is_never_scoped():
    assert ip_or_none("fe80::1%eth0") is None
    assert str(ip_or_none("fe80::1")) == "fe80::1"


RULE = {"action": "Allow", "protocol": "TCP"}
RESOURCES = [
    (
        "rule source nets",
        [{"name": "web", "ingress": [{**RULE, "source": {"nets": ["fe80::%eth0/64"]}}]}],
        None,
        f"palisade_policies[0] (web): ingress[0].source.nets[0]: invalid IP network 'fe80::%eth0/64': {SCOPE}; did you mean fe80::/64?",
    ),
    (
        "rule destination notNets",
        [{"name": "web", "egress": [{**RULE, "destination": {"notNets": ["fe80::1%eth0/128"]}}]}],
        None,
        f"palisade_policies[0] (web): egress[0].destination.notNets[0]: invalid IP network 'fe80::1%eth0/128': {SCOPE}; did you mean fe80::1/128?",
    ),
    (
        "network set nets",
        None,
        [{"name": "lan", "nets": ["fe80::1%eth0"]}],
        f"palisade_network_sets[0] (lan): nets[0]: invalid IP network 'fe80::1%eth0': {SCOPE}; did you mean fe80::1?",
    ),
]


@pytest.mark.parametrize(("policies", "network_sets", "expected"), params(RESOURCES))
def test_resources_refuse_scopes(policies, network_sets, expected):
    problems = Problems()
    catalog = load_catalog(policies, network_sets, None, problems)
    assert (catalog.policies, catalog.network_sets) == ((), ())
    assert [str(p) for p in problems.items] == [expected]


def test_failsafe_net_refuses_scopes():
    problems = Problems()
    ports = [{"protocol": "tcp", "port": 22, "net": "fe80::%eth0/64"}]
    assert load_settings_variables({"palisade_failsafe_inbound_host_ports": ports}, Where("host h1", problems)) == {}
    assert [str(p) for p in problems.items] == [
        f"host h1: palisade_failsafe_inbound_host_ports[0].net: invalid IP network 'fe80::%eth0/64': {SCOPE}; did you mean fe80::/64?"
    ]


HOSTS = [
    (
        "expectedIPs",
        {"palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["fe80::1%eth0"]}]},
        f"host h1: palisade_host_endpoints[0].expectedIPs[0]: invalid IP address 'fe80::1%eth0': {SCOPE}; did you mean fe80::1?",
    ),
    (
        "ansible_host",
        {"ansible_host": "fe80::1%eth0", "palisade_auto_host_endpoint": True},
        "host h1: ansible_host: 'fe80::1%eth0' has an IPv6 scope ID, which firewall rules cannot match; "
        "use a global address or a DNS name (and expectedIPs for the endpoints)",
    ),
]


@pytest.mark.parametrize(("variables", "expected"), params(HOSTS))
def test_host_variables_refuse_scopes(variables, expected):
    with pytest.raises(ValidationError) as info:
        load_fleet([HostInput("h1", (), variables)])
    assert [str(p) for p in info.value.problems] == [expected]


def test_ansible_host_dns_name_is_fine():
    fleet = load_fleet([HostInput("h1", (), {"ansible_host": "web1.example.com"})])
    assert fleet.hosts["h1"].ansible_host is None
