# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode's flow changes for traffic a router forwards, checked with real traffic.

A four-host lab where ``h4`` routes between the bridge and ``h3``'s second interface
(``lab/router_link.py``). The first set lets everything through; the second adds an
``applyOnForward`` policy on the router that lets only app-1 reach the database's port 5432 and
ping it. ``site.yml --check --diff`` must report the forwarded flows it stops, and each probe
(TCP, UDP, ICMP; IPv4 and IPv6) from app-1 and web-1 to db-1's ``eth1`` address, which only the
router can carry, gets what the report says: through before the real apply and, after it,
through exactly when the report does not list it as stopped.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))

from palisade_lab import Lab  # noqa: E402
from project import ansible_playbook, connect_inventory, write_site_files  # noqa: E402
from router_link import ETH1, ROUTER, build_topology  # noqa: E402
from traffic import Probe, probe, start_listeners  # noqa: E402

COLLECTIONS = ROOT / ".build" / "collections"
HOSTS = {"app-1": "h1", "web-1": "h2", "db-1": "h3", "router-1": ROUTER}
ROLES = {"app-1": "app", "web-1": "web", "db-1": "db", "router-1": "router"}
OPEN = {"name": "open", "selector": "all()", "order": 900, "ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]}
FORWARD = {"name": "forward", "selector": "role == 'router'", "order": 10, "applyOnForward": True, "types": ["Ingress"], "ingress": [
    {"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'app'"}, "destination": {"selector": "role == 'db'", "ports": [5432]}},
    {"action": "Allow", "protocol": "ICMP", "source": {"selector": "role == 'app'"}},
    {"action": "Allow", "protocol": "ICMPv6", "source": {"selector": "role == 'app'"}},
    # the router's own traffic stays open: this policy selects it for input too
    {"action": "Allow", "destination": {"selector": "role == 'router'"}},
]}
# (sender, protocol, port): sent from h1/h2 to db-1's eth1 address, through the router
PROBES = [(sender, kind, port) for sender in ("app-1", "web-1") for kind, port in (("tcp", 5432), ("tcp", 80), ("udp", 53), ("icmp", None))]
LINE = re.compile(r"^IPv(?P<family>[46]) forward (?P<into>\S+) -> (?P<out>\S+) from (?P<source>.+?) to (?P<target>.+?) "
                  r"(?P<service>(?:TCP|UDP) (?P<first>\d+)(?:-(?P<last>\d+))?|ICMP(?:v6)?(?: type \d+(?: code \d+)?| other types)?|other protocols): "
                  r"(?P<before>\w+) -> (?P<after>\w+) \(")


@pytest.fixture(scope="module")
def lab():
    with Lab("palfw", hosts=4, subnet4="198.51.100.0/25", subnet6="2001:db8:214::/64") as instance:
        build_topology(instance)
        start_listeners(instance, "h3", [5432, 80], [53])
        yield instance


def project(root: Path, lab: Lab, policies: list) -> Path:
    inventory = root / "inventory"
    (inventory / "host_vars").mkdir(parents=True, exist_ok=True)
    (inventory / "group_vars").mkdir(exist_ok=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {name: {"ansible_host": lab.address(h)} for name, h in HOSTS.items()}}}))
    (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump({"palisade_policies": policies}))
    for name, h in HOSTS.items():
        endpoints = [{"interfaceName": "eth0", "expectedIPs": [lab.address(h), lab.address(h, 6)]}]
        if h in ETH1:
            endpoints.append({"interfaceName": "eth1", "expectedIPs": list(ETH1[h])})
        (inventory / "host_vars" / f"{name}.yml").write_text(yaml.safe_dump({"palisade_labels": {"role": ROLES[name]}, "palisade_host_endpoints": endpoints}))
    connect_inventory(inventory, lab)
    write_site_files(root)
    return root


def run(root: Path, lab: Lab, *args: str) -> str:
    done = ansible_playbook(root, lab, COLLECTIONS, "site.yml", *args)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return done.stdout


def forwarded_changes(output: str) -> list[dict]:
    """The router's forwarded flow changes in a ``--check --diff`` run."""
    found, inside = [], False
    for line in output.splitlines():
        if line.startswith("# flow changes on "):
            inside = line.startswith("# flow changes on router-1: ")
        elif inside and " forward " in line:
            match = LINE.match(line)
            assert match, line
            found.append(match.groupdict())
    return found


def members(peer: str) -> set[str]:
    """The names a peer class holds; ``anything else`` stands for every host the rules do not name."""
    if peer.startswith("anything else"):
        return {"anything else", *peer[len("anything else (also "):-1].split(", ")} if "(also " in peer else {"anything else"}
    return set(peer.split(", "))


def reported(changes: list[dict], family: int, sender: str, kind: str, port: int | None) -> dict | None:
    """The change line that covers this probe (in on eth0, out on eth1), if any. A host no line
    names (no rule of the router names it) is in ``anything else``."""
    named = set().union(*(members(change["source"]) | members(change["target"]) for change in changes))
    source = f"host {sender}" if f"host {sender}" in named else "anything else"
    for change in changes:
        if (int(change["family"]), change["into"], change["out"]) != (family, "eth0", "eth1"):
            continue
        if source not in members(change["source"]) or "host db-1" not in members(change["target"]):
            continue
        service = change["service"]
        if kind == "icmp" and service.startswith("ICMP") and (service in ("ICMP", "ICMPv6") or " type 8" in service or " type 128" in service):
            return change
        if kind in ("tcp", "udp") and service.startswith(kind.upper() + " "):
            first, last = int(change["first"]), int(change["last"] or change["first"])
            if first <= port <= last:
                return change
    return None


def send(lab: Lab, family: int, sender: str, kind: str, port: int | None) -> bool:
    dst = ETH1["h3"][0 if family == 4 else 1]
    return probe(lab, Probe(f"{sender} -> db-1 eth1 {kind} {port} IPv{family}", HOSTS[sender], dst, kind, port, True))


def test_check_mode_reports_the_forwarded_flows_it_stops_and_the_kernel_agrees(lab, tmp_path):
    root = project(tmp_path, lab, [OPEN])
    run(root, lab)
    probes = [(family, *item) for family in (4, 6) for item in PROBES]
    assert all(send(lab, *item) for item in probes), "the first set lets every probe through the router"
    project(tmp_path, lab, [OPEN, FORWARD])
    checked = run(root, lab, "--check", "--diff")
    changes = forwarded_changes(checked)
    assert changes, checked[-4000:]
    assert all(change["after"] == "deny" and change["before"] == "allow" for change in changes)
    expected = {item: reported(changes, *item) is None for item in probes}  # True: still through after the apply
    assert [item for item, through in expected.items() if through] == [
        (family, "app-1", kind, port) for family in (4, 6) for kind, port in (("tcp", 5432), ("icmp", None))
    ], changes
    assert all(send(lab, *item) for item in probes), "check mode changed nothing"
    run(root, lab)
    seen = {item: send(lab, *item) for item in probes}
    assert seen == expected
