# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import ValidationError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.resolution import Resolver, resolution_to_dict

ALLOW_SSH = [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [22]}}]
POLICIES = [
    {"name": "zz-unordered", "selector": "role == 'web'", "ingress": ALLOW_SSH},
    {"name": "b-ten", "selector": "role == 'web'", "order": 10, "ingress": ALLOW_SSH},
    {"name": "a-ten", "selector": "has(role)", "order": 10, "ingress": ALLOW_SSH},
    {"name": "a-unordered", "selector": "all()", "ingress": ALLOW_SSH},
    {"name": "first", "selector": "role == 'web'", "order": -5.5, "egress": ALLOW_SSH},
    {"name": "both", "selector": "role == 'web'", "order": 1, "types": ["Ingress", "Egress"]},
    {"name": "db-only", "selector": "role == 'db'", "order": 0, "ingress": ALLOW_SSH},
    {
        "name": "talks-to-db",
        "selector": "role == 'web'",
        "order": 2,
        "egress": [
            {"action": "Allow", "protocol": "TCP", "destination": {"selector": "role == 'db'", "ports": [5432]}},
            {"action": "Deny", "destination": {"notSelector": "has(trusted)"}},
        ],
    },
]


def fleet(strict=False, db_address=True):
    shared = {"palisade_policies": POLICIES}
    web = {**shared, "palisade_labels": {"role": "web"}, "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.10"]}]}
    if strict:
        web["palisade_strict_addresses"] = True
    db = {**shared, "palisade_labels": {"role": "db"}, "palisade_host_endpoints": [{"interfaceName": "eth1"}]}
    if db_address:
        db["ansible_host"] = "198.51.100.20"
    trusted = {**shared, "palisade_labels": {"trusted": "yes"}, "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["2001:db8::7"]}]}
    return load_fleet([HostInput("web1", (), web), HostInput("db1", (), db), HostInput("ops", (), trusted)])


def names(policies):
    return [p.name for p in policies]


def test_policies_in_evaluation_order_per_direction():
    (web,) = Resolver(FleetIndex(fleet())).resolve("web1").endpoints
    assert names(web.ingress) == ["both", "a-ten", "b-ten", "a-unordered", "zz-unordered"]
    assert names(web.egress) == ["first", "both", "talks-to-db"]


def test_only_policies_selecting_the_endpoint():
    (db,) = Resolver(FleetIndex(fleet())).resolve("db1").endpoints
    assert names(db.ingress) == ["db-only", "a-ten", "a-unordered"]
    assert names(db.egress) == []


def test_rule_selectors_resolve_to_addresses():
    resolved = resolution_to_dict(Resolver(FleetIndex(fleet())).resolve("web1"))
    assert resolved["rule_selectors"] == {
        'has(trusted)': {"ipv4": [], "ipv6": ["2001:db8::7/128"], "endpoints": ["ops-eth0"], "network_sets": []},
        'role == "db"': {"ipv4": ["198.51.100.20/32"], "ipv6": [], "endpoints": ["db1-eth1"], "network_sets": []},
    }
    assert resolved["warnings"] == []


UNKNOWN_DB = (
    "palisade_policies[7] (talks-to-db): egress[0].destination.selector: selector \"role == 'db'\" matches endpoint "
    "'db1-eth1' of host 'db1', whose addresses are unknown (no expectedIPs, no facts for its interface, and "
    "ansible_host is not an IP address), so this rule cannot match its traffic; give the endpoint expectedIPs"
)


def test_unknown_addresses_warn_naming_host_and_policy():
    resolved = Resolver(FleetIndex(fleet(db_address=False))).resolve("web1")
    assert [str(w) for w in resolved.warnings] == [UNKNOWN_DB]


def test_unknown_addresses_are_errors_when_strict():
    with pytest.raises(ValidationError) as info:
        Resolver(FleetIndex(fleet(strict=True, db_address=False))).resolve("web1")
    assert str(info.value) == UNKNOWN_DB


def test_hosts_without_the_policy_do_not_warn():
    resolved = Resolver(FleetIndex(fleet(db_address=False))).resolve("ops")
    assert resolved.warnings == ()
