# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import random

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex, LabelIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import parse_selector

NETWORK_SETS = [
    {"name": "mgmt", "labels": {"role": "mgmt"}, "nets": ["198.51.100.0/25", "198.51.100.128/25", "2001:db8:1::/64"]},
    {"name": "partners", "labels": {"role": "partner", "zone": "a"}, "nets": ["203.0.113.0/28"]},
]


def host(name, role, zone, address, groups=()):
    variables = {
        "palisade_network_sets": NETWORK_SETS,
        "palisade_labels": {"role": role, "zone": zone},
        "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": [address]}],
    }
    return HostInput(name, tuple(groups), variables)


@pytest.fixture(scope="module")
def index():
    hosts = [
        host("web1", "web", "a", "198.51.100.10", ["web"]),
        host("web2", "web", "b", "198.51.100.11", ["web"]),
        host("db1", "db", "a", "2001:db8::5", ["db"]),
        host("mgmt1", "mgmt", "b", "198.51.100.200"),
        HostInput("bare", (), {"palisade_network_sets": NETWORK_SETS, "palisade_host_endpoints": [{"interfaceName": "eth0"}]}),
    ]
    return FleetIndex(load_fleet(hosts))


SELECTS = [
    ("role == 'web'", ["web1-eth0", "web2-eth0"], []),
    ("role in {'web', 'db'} && zone == 'a'", ["db1-eth0", "web1-eth0"], []),
    ("has(group.palisade.io/db)", ["db1-eth0"], []),
    ("role == 'mgmt'", ["mgmt1-eth0"], ["mgmt"]),
    ("zone == 'a'", ["db1-eth0", "web1-eth0"], ["partners"]),
    ("!has(role)", ["bare-eth0"], []),
    ("role != 'web'", ["bare-eth0", "db1-eth0", "mgmt1-eth0"], ["mgmt", "partners"]),
    ("all()", ["bare-eth0", "db1-eth0", "mgmt1-eth0", "web1-eth0", "web2-eth0"], ["mgmt", "partners"]),
    ("role == 'web' || zone == 'b'", ["mgmt1-eth0", "web1-eth0", "web2-eth0"], []),
    ("role starts with 'w' && zone == 'b'", ["web2-eth0"], []),
    ("role in {}", [], []),
    ("role == 'nothing'", [], []),
]


@pytest.mark.parametrize("text, endpoints, network_sets", SELECTS)
def test_select(index, text, endpoints, network_sets):
    selector = parse_selector(text)
    assert sorted(e.name for e in index.endpoints(selector)) == endpoints
    assert [s.name for s in index.network_sets(selector)] == network_sets


def test_addresses_merge_cidrs_per_family(index):
    resolved = index.addresses(parse_selector("role in {'mgmt', 'web'}"))
    assert [str(n) for n in resolved.ipv4] == ["198.51.100.0/24"]
    assert [str(n) for n in resolved.ipv6] == ["2001:db8:1::/64"]
    assert resolved.endpoints_without_addresses == ()


def test_addresses_report_unknown_endpoints(index):
    resolved = index.addresses(parse_selector("!has(role)"))
    assert (resolved.ipv4, resolved.ipv6) == ((), ())
    assert [e.name for e in resolved.endpoints_without_addresses] == ["bare-eth0"]


def test_index_agrees_with_a_full_scan():
    """Random labels and random selectors: the index only narrows, it never changes an answer."""
    rng = random.Random(7)
    keys, values = ["a", "b", "c", "d"], ["x", "y", "z", ""]

    class Member:
        def __init__(self, labels):
            self.labels = labels

    members = [Member({k: rng.choice(values) for k in keys if rng.random() < 0.6}) for _member in range(300)]
    label_index = LabelIndex(members)
    terms = [
        lambda: f"{rng.choice(keys)} == '{rng.choice(values)}'",
        lambda: f"{rng.choice(keys)} != '{rng.choice(values)}'",
        lambda: f"has({rng.choice(keys)})",
        lambda: f"!has({rng.choice(keys)})",
        lambda: f"{rng.choice(keys)} in {{'{rng.choice(values)}', '{rng.choice(values)}'}}",
        lambda: f"{rng.choice(keys)} not in {{'{rng.choice(values)}'}}",
        lambda: "all()",
    ]
    for _case in range(400):
        parts = [rng.choice(terms)() for _term in range(rng.randint(1, 4))]
        text = parts[0]
        for part in parts[1:]:
            text = f"({text}) {rng.choice(['&&', '||'])} {part}"
        selector = parse_selector(text)
        expected = [m for m in members if selector.matches(m.labels)]
        assert list(label_index.select(selector)) == expected, text


@pytest.mark.parametrize("family, bits", [(4, 32), (6, 128)])
def test_merge_blocks_agrees_with_ipaddress(family, bits):
    """The integer merge gives exactly what ipaddress.collapse_addresses gives."""
    import ipaddress

    from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import merge_blocks

    rng = random.Random(family)
    network = ipaddress.IPv4Network if family == 4 else ipaddress.IPv6Network
    base = 0xC6336400 if family == 4 else 0x20010DB8 << 96  # 198.51.100.0, 2001:db8::
    for _host in range(200):
        nets = []
        for _label in range(rng.randint(0, 40)):
            prefix = rng.randint(bits - 10, bits)
            offset = rng.randrange(0, 1 << 10)
            nets.append(network((base + offset, prefix), strict=False))
        ranges = [(int(n.network_address), int(n.broadcast_address)) for n in nets]
        got = [network(block) for block in merge_blocks(ranges, bits)]
        assert got == list(ipaddress.collapse_addresses(nets))


def test_merge_blocks_whole_space_and_edges():
    from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import merge_blocks

    assert merge_blocks([(0, (1 << 32) - 1)], 32) == ((0, 0),)
    assert merge_blocks([(0, 0), (1, 1), (2, 3)], 32) == ((0, 30),)
    assert merge_blocks([((1 << 32) - 1, (1 << 32) - 1)], 32) == (((1 << 32) - 1, 32),)
    assert merge_blocks([], 32) == ()
