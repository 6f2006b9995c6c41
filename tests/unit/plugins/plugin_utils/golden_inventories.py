# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventories whose compiled and rendered rulesets are golden files.

Together they exercise every compiler feature in both families: the seed example, rule
matches of every kind, forwarding with applyOnForward, preDNAT and doNotTrack, the '*'
endpoint with appended hooks, and a host with nothing to police.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _fleet(host: str, hosts: dict[str, dict[str, Any]], shared: dict[str, Any]) -> dict[str, Any]:
    return {
        "host": host,
        "hosts": {name: {"groups": entry.get("groups", []), "vars": {**shared, **entry.get("vars", {})}} for name, entry in hosts.items()},
    }


def seed_protect_hosts() -> dict[str, Any]:
    manifests = list(yaml.safe_load_all((FIXTURES / "protect_hosts.yaml").read_text()))
    return _fleet("my-host", {"my-host": {"groups": ["k8s_workers"]}, "etcd-1": {"groups": ["etcd"]}}, {"palisade_resources": manifests})


NETWORK_SETS = [
    {"name": "office", "labels": {"zone": "office"}, "nets": ["203.0.113.0/25", "203.0.113.128/25", "2001:db8:0:f::/64"]},
]

WEB_POLICIES = [
    {
        "name": "web-ingress",
        "selector": "role == 'web'",
        "order": 10,
        "ingress": [
            {"action": "Log", "protocol": "TCP", "destination": {"ports": [8080]}},
            {"action": "Deny", "source": {"nets": ["198.51.100.128/25", "198.51.100.64/26"]}},
            {"action": "Allow", "protocol": "TCP", "destination": {"ports": [80, 443, "8000:8100"]}},
            {"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'admin'"}, "destination": {"ports": ["admin-ui", 9443]}},
            {"action": "Allow", "protocol": "UDP", "source": {"selector": "zone == 'office'", "notNets": ["203.0.113.7/32"]}},
            {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8}, "notICMP": {"type": 8, "code": 1}},
            {"action": "Allow", "protocol": "ICMPv6", "icmp": {"type": 128, "code": 0}},
            {"action": "Pass", "source": {"notSelector": "has(trusted)"}, "notProtocol": "UDP"},
            {"action": "Allow", "protocol": "TCP", "destination": {"ports": list(range(3000, 3016))}},
            {"action": "Deny", "protocol": "SCTP", "destination": {"notPorts": [7, 9, "100:200"]}, "ipVersion": 6},
            {"action": "Allow", "protocol": 47},
        ],
        "egress": [
            {"action": "Allow", "protocol": "TCP", "destination": {"selector": "role == 'db'", "ports": ["postgres"]}},
            {"action": "Deny", "destination": {"nets": ["2001:db8:dead::/48"]}},
        ],
    },
    {"name": "zz-last", "selector": "all()", "ingress": [{"action": "Allow", "source": {"selector": "has(trusted)"}}]},
]


def web_features() -> dict[str, Any]:
    shared = {"palisade_policies": WEB_POLICIES, "palisade_network_sets": NETWORK_SETS}
    web_vars = {
        "palisade_labels": {"role": "web"},
        "palisade_host_endpoints": [
            {"interfaceName": "eth0", "expectedIPs": ["198.51.100.10", "2001:db8::10"], "ports": [{"name": "admin-ui", "protocol": "TCP", "port": 8443}]}
        ],
        "palisade_failsafe_inbound_host_ports": [
            {"protocol": "tcp", "port": 22, "net": "198.51.100.0/24"},
            {"protocol": "tcp", "port": 22, "net": "2001:db8::/64"},
            {"protocol": "udp", "port": 68},
        ],
        "palisade_failsafe_outbound_host_ports": [{"protocol": "udp", "port": 53}],
        "palisade_interface_prefixes": ["cali", "tap"],
        "palisade_default_endpoint_to_host_action": "Accept",
        "palisade_log_prefix": "web-fw",
    }
    hosts = {
        "web-1": {"vars": web_vars},
        "admin-1": {
            "vars": {
                "palisade_labels": {"role": "admin"},
                "palisade_host_endpoints": [
                    {
                        "interfaceName": "eth0",
                        "expectedIPs": ["198.51.100.30", "2001:db8::30"],
                        "ports": [{"name": "admin-ui", "protocol": "TCP", "port": 8444}],
                    }
                ],
            }
        },
        "db-1": {
            "vars": {
                "palisade_labels": {"role": "db", "trusted": "yes"},
                "palisade_host_endpoints": [
                    {
                        "interfaceName": "eth0",
                        "expectedIPs": ["198.51.100.20", "2001:db8::20"],
                        "ports": [{"name": "postgres", "protocol": "TCP", "port": 5432}],
                    }
                ],
            }
        },
    }
    return _fleet("web-1", hosts, shared)


ROUTER_POLICIES = [
    {
        "name": "fwd-web",
        "selector": "role == 'router'",
        "applyOnForward": True,
        "order": 1,
        "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}],
    },
    {
        "name": "nodeports",
        "selector": "role == 'router'",
        "applyOnForward": True,
        "preDNAT": True,
        "ingress": [{"action": "Deny", "protocol": "TCP", "source": {"notNets": ["198.51.100.0/24"]}, "destination": {"ports": ["30000:32767"]}}],
    },
    {
        "name": "untracked-dns",
        "selector": "role == 'router'",
        "applyOnForward": True,
        "doNotTrack": True,
        "ingress": [{"action": "Allow", "protocol": "UDP", "destination": {"ports": [53]}}],
        "egress": [{"action": "Allow", "protocol": "UDP", "source": {"ports": [53]}}],
    },
    {"name": "router-local", "selector": "role == 'router'", "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [179]}}]},
]


def router_forwarding() -> dict[str, Any]:
    endpoints = [
        {"interfaceName": "eth0", "expectedIPs": ["198.51.100.1", "2001:db8::1"]},
        {"interfaceName": "eth1", "expectedIPs": ["203.0.113.1", "2001:db8:1::1"], "labels": {"side": "inside"}},
    ]
    return _fleet(
        "router-1",
        {"router-1": {"groups": ["routers"], "vars": {"palisade_labels": {"role": "router"}, "palisade_host_endpoints": endpoints}}},
        {"palisade_policies": ROUTER_POLICIES},
    )


def wildcard_append() -> dict[str, Any]:
    host_vars = {
        "palisade_auto_host_endpoint": True,
        "ansible_host": "198.51.100.40",
        "palisade_chain_insert_mode": "append",
        "palisade_default_endpoint_to_host_action": "Return",
        "palisade_labels": {"role": "edge"},
    }
    policies = [{"name": "edge", "selector": "role == 'edge'", "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [443]}}]}]
    return _fleet("edge-1", {"edge-1": {"vars": host_vars}}, {"palisade_policies": policies})


def no_endpoints() -> dict[str, Any]:
    return _fleet("plain-1", {"plain-1": {"vars": {"ansible_host": "198.51.100.50"}}}, {"palisade_policies": WEB_POLICIES})


def named_ports_any_protocol() -> dict[str, Any]:
    """Named ports in rules without a protocol: each set member carries its endpoint port's protocol."""
    policies = [
        {
            "name": "dns-clients",
            "selector": "role == 'client'",
            "egress": [{"action": "Allow", "destination": {"selector": "role == 'dns'", "ports": ["dns"]}}],
            "ingress": [{"action": "Deny", "source": {"notPorts": ["dns"]}, "destination": {"nets": ["198.51.100.0/24"]}}],
        }
    ]
    dns_port = [{"name": "dns", "protocol": "UDP", "port": 53}, {"name": "dns", "protocol": "TCP", "port": 53}]
    hosts = {
        "client-1": {
            "vars": {
                "palisade_labels": {"role": "client"},
                "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.60", "2001:db8::60"]}],
            }
        },
        "dns-1": {
            "vars": {
                "palisade_labels": {"role": "dns"},
                "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.53", "2001:db8::53"], "ports": dns_port}],
            }
        },
    }
    return _fleet("client-1", hosts, {"palisade_policies": policies})


def ipv6_disabled() -> dict[str, Any]:
    """ipv6Support false: the IPv6 file owns nothing, the IPv4 one is as usual."""
    felix = {"apiVersion": "projectcalico.org/v3", "kind": "FelixConfiguration", "metadata": {"name": "default"}, "spec": {"ipv6Support": False}}
    policies = [{"name": "v4-web", "selector": "role == 'web'", "ingress": [{"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'web'"}}]}]
    endpoints = [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.70", "2001:db8::70"]}]
    host = {"vars": {"palisade_labels": {"role": "web"}, "palisade_host_endpoints": endpoints}}
    return _fleet("v4only-1", {"v4only-1": host}, {"palisade_policies": policies, "palisade_resources": [felix]})


INVENTORIES = [
    ("seed-protect-hosts", seed_protect_hosts),
    ("inventory-web-features", web_features),
    ("inventory-router-forwarding", router_forwarding),
    ("inventory-wildcard-append", wildcard_append),
    ("inventory-no-endpoints", no_endpoints),
    ("inventory-named-ports-any-protocol", named_ports_any_protocol),
    ("inventory-ipv6-disabled", ipv6_disabled),
]
