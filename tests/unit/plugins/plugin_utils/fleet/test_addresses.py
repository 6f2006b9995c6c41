# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.addresses import endpoint_addresses
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import HostEndpoint

FACTS = {
    "eth0": {
        "ipv4": {"address": "198.51.100.11"},
        "ipv4_secondaries": [{"address": "198.51.100.12"}],
        "ipv6": [{"address": "2001:db8::11", "scope": "global"}, {"address": "fe80::1", "scope": "link"}],
    },
    "br_lan": {"ipv4": {"address": "203.0.113.1"}},
    "eth0_100": {"ipv4": {"address": "203.0.113.9"}},
    "all_ipv4_addresses": ["198.51.100.11", "198.51.100.12", "203.0.113.1", "127.0.0.1"],
    "all_ipv6_addresses": ["2001:db8::11", "fe80::1%eth0", "::1"],
}


def endpoint(interface="eth0", expected=()):
    return HostEndpoint(
        name="e", node="h", interface_name=interface, expected_ips=tuple(ipaddress.ip_address(a) for a in expected)
    )


CASES = [
    ("expectedIPs win over facts", endpoint(expected=["203.0.113.5"]), {"ansible_facts": FACTS}, ["203.0.113.5"], "expectedIPs"),
    (
        "facts of the interface, without link-local",
        endpoint(),
        {"ansible_facts": FACTS, "ansible_host": "203.0.113.50"},
        ["198.51.100.11", "198.51.100.12", "2001:db8::11"],
        "facts",
    ),
    ("dash in interface name", endpoint("br-lan"), {"ansible_facts": FACTS}, ["203.0.113.1"], "facts"),
    ("dot in interface name", endpoint("eth0.100"), {"ansible_facts": FACTS}, ["203.0.113.9"], "facts"),
    (
        "wildcard uses every address but loopback and link-local",
        endpoint("*"),
        {"ansible_facts": FACTS},
        ["198.51.100.11", "198.51.100.12", "203.0.113.1", "2001:db8::11"],
        "facts",
    ),
    ("no facts for the interface: ansible_host", endpoint("eth9"), {"ansible_facts": FACTS, "ansible_host": "203.0.113.50"}, ["203.0.113.50"], "ansible_host"),
    ("no facts at all: ansible_host", endpoint(), {"ansible_host": "2001:db8::50"}, ["2001:db8::50"], "ansible_host"),
    ("ansible_host is a DNS name: unknown", endpoint(), {"ansible_host": "web1.example.com"}, [], "unknown"),
    ("nothing known", endpoint(), {}, [], "unknown"),
    ("facts not a mapping are ignored", endpoint(), {"ansible_facts": "junk", "ansible_host": "198.51.100.7"}, ["198.51.100.7"], "ansible_host"),
    # facts of the wrong shape (hand-written or stale cache) give no addresses instead of a crash
    ("ipv4_secondaries not a list", endpoint(), {"ansible_facts": {"eth0": {"ipv4": {"address": "198.51.100.11"}, "ipv4_secondaries": 5}}},
     ["198.51.100.11"], "facts"),
    ("ipv6 not a list", endpoint(), {"ansible_facts": {"eth0": {"ipv6": True}}, "ansible_host": "198.51.100.7"}, ["198.51.100.7"], "ansible_host"),
    ("ipv6 a string", endpoint(), {"ansible_facts": {"eth0": {"ipv6": "2001:db8::11"}}}, [], "unknown"),
    ("all_ipv4_addresses not a list", endpoint("*"), {"ansible_facts": {"all_ipv4_addresses": 7, "all_ipv6_addresses": ["2001:db8::11"]}},
     ["2001:db8::11"], "facts"),
    ("all_ipv6_addresses a mapping", endpoint("*"), {"ansible_facts": {"all_ipv6_addresses": {"2001:db8::11": 1}}}, [], "unknown"),
    (
        "expectedIPs sorted v4 first, deduplicated",
        endpoint(expected=["2001:db8::2", "198.51.100.9", "198.51.100.3", "198.51.100.9"]),
        {},
        ["198.51.100.3", "198.51.100.9", "2001:db8::2"],
        "expectedIPs",
    ),
]


@pytest.mark.parametrize("hep, variables, addresses, source", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_endpoint_addresses(hep, variables, addresses, source):
    found, found_source = endpoint_addresses(hep, variables)
    assert [str(a) for a in found] == addresses
    assert found_source == source
