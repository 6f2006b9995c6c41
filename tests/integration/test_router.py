# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A richer fleet on four lab hosts: web, db, a router, and a client outside the fleet.

Several roles, a network set, named ports, and applyOnForward on a host acting as a router:
the client reaches the web host only through the router (host routes on both ends, forwarding
on the router), so its traffic is forwarded traffic there. IPv4 and IPv6.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))

from expectations import PolicyOracle  # noqa: E402
from palisade_lab import Lab  # noqa: E402
from project import ansible_playbook, connect_inventory, write_site_files  # noqa: E402
from traffic import Probe, probe, start_listeners, table  # noqa: E402

COLLECTIONS = ROOT / ".build" / "collections"
HOSTS = {"web-1": "h1", "db-1": "h2", "router-1": "h3", "client-1": "h4"}


def policies(lab: Lab) -> dict:
    client = lab.address("h4")
    return {
        "palisade_network_sets": [
            {"name": "clients", "labels": {"zone": "clients"}, "nets": [f"{client}/32", f"{lab.address('h4', 6)}/128"]},
        ],
        "palisade_policies": [
            {
                "name": "router-forward",
                "selector": "role == 'router'",
                "applyOnForward": True,
                "order": 10,
                "ingress": [
                    {
                        "action": "Allow",
                        "protocol": "TCP",
                        "source": {"selector": "zone == 'clients'"},
                        "destination": {"selector": "role == 'web'", "ports": ["http"]},
                    },
                ],
            },
            {
                "name": "web",
                "selector": "role == 'web'",
                "order": 20,
                "ingress": [
                    {"action": "Allow", "protocol": "TCP", "source": {"selector": "zone == 'clients'"}, "destination": {"ports": ["http", 8443]}},
                    {"action": "Allow", "protocol": "ICMP"},
                    {"action": "Allow", "protocol": "ICMPv6"},
                ],
                "egress": [{"action": "Allow", "protocol": "TCP", "destination": {"selector": "role == 'db'", "ports": ["postgres"]}}],
            },
            {
                "name": "db",
                "selector": "role == 'db'",
                "order": 20,
                "ingress": [{"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'web'"}, "destination": {"ports": ["postgres"]}}],
            },
        ],
    }


def host_vars(lab: Lab) -> dict:
    def endpoint(host, ports=()):
        return [{"interfaceName": "eth0", "expectedIPs": [lab.address(host), lab.address(host, 6)], "ports": list(ports)}]

    return {
        "web-1": {"palisade_labels": {"role": "web"}, "palisade_host_endpoints": endpoint("h1", [{"name": "http", "protocol": "TCP", "port": 80}])},
        "db-1": {"palisade_labels": {"role": "db"}, "palisade_host_endpoints": endpoint("h2", [{"name": "postgres", "protocol": "TCP", "port": 5432}])},
        "router-1": {"palisade_labels": {"role": "router"}, "palisade_host_endpoints": endpoint("h3")},
    }


ROUTING = """
sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with Lab("palrt", hosts=4, subnet4="203.0.113.128/25", subnet6="2001:db8:207::/64") as lab:
        lab.exec("h3", ["sh", "-ec", ROUTING])
        for one, other in (("h1", "h4"), ("h4", "h1")):  # web <-> client only through the router
            lab.exec(one, ["ip", "route", "add", f"{lab.address(other)}/32", "via", lab.address("h3")])
            lab.exec(one, ["ip", "-6", "route", "add", f"{lab.address(other, 6)}/128", "via", lab.address("h3", 6)])
        project = tmp_path_factory.mktemp("router")
        inventory = project / "inventory"
        (inventory / "host_vars").mkdir(parents=True)
        hosts = {"all": {"hosts": {name: {"ansible_host": lab.address(h)} for name, h in HOSTS.items() if name != "client-1"}}}
        (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
        (inventory / "group_vars").mkdir()
        (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(policies(lab)))
        for name, variables in host_vars(lab).items():
            (inventory / "host_vars" / f"{name}.yml").write_text(yaml.safe_dump(variables))
        connect_inventory(inventory, lab)
        write_site_files(project)
        yield lab, project


FLOWS = [  # source, destination, protocol, port, router in between
    ("client-1", "web-1", "tcp", 80, "router-1"),
    ("client-1", "web-1", "tcp", 8443, "router-1"),
    ("client-1", "web-1", "icmp", None, "router-1"),
    ("web-1", "db-1", "tcp", 5432, None),
    ("web-1", "db-1", "tcp", 6379, None),
    ("db-1", "web-1", "tcp", 8443, None),
    ("client-1", "db-1", "tcp", 5432, None),
    ("client-1", "router-1", "tcp", 80, None),
]


def test_router_forwards_only_what_applyonforward_policy_allows(fleet):
    lab, project = fleet
    result = ansible_playbook(project, lab, COLLECTIONS, "site.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "router-1                   : ok=" in result.stdout, result.stdout
    start_listeners(lab, "h1", [80, 8443], [])
    start_listeners(lab, "h2", [5432, 6379], [])
    start_listeners(lab, "h3", [80], [])
    oracle = PolicyOracle(project / "inventory")
    results, reasons = [], {}
    for src, dst, protocol, port, via in FLOWS:
        for family in (4, 6):
            src_ip, dst_ip = lab.address(HOSTS[src], family), lab.address(HOSTS[dst], family)
            sender = None if src == "client-1" else src  # the client is outside the fleet
            expected = oracle.expect(sender, src_ip, dst, dst_ip, protocol, port, via=via)
            name = f"{src} -> {dst} {protocol}/{port}{' via ' + via if via else ''} IPv{family}"
            item = Probe(name, HOSTS[src], dst_ip, protocol, port, expected.allowed)
            results.append((item, probe(lab, item)))
            reasons[name] = expected.reason
    report = table(results, reasons)
    print(report)
    assert all(seen == item.allowed for item, seen in results), report
    allowed = {item.name for item, _outcome in results if item.allowed}
    assert "client-1 -> web-1 tcp/80 via router-1 IPv6" in allowed
    assert "client-1 -> web-1 tcp/8443 via router-1 IPv4" not in allowed
