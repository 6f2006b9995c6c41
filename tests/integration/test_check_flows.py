# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode's flow changes on lab hosts, checked with real traffic before and after the apply.

A first policy set is applied with ``site.yml``; ``site.yml --check --diff`` of a second set
must list exactly the flows that change (TCP, UDP, ICMP, IPv4 and IPv6), and every listed flow
that a lab host can send is sent twice: with the first set in place (the kernel must give the
old verdict) and after the real apply of the second (the new one). A host that never applied
anything lists the flows its first apply will cut.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))

from palisade_lab import Lab  # noqa: E402
from project import ansible_playbook, connect_inventory, write_site_files  # noqa: E402
from traffic import Probe, probe, start_listeners  # noqa: E402

COLLECTIONS = ROOT / ".build" / "collections"
HOSTS = {"web-1": "h1", "db-1": "h2", "app-1": "h3"}
ROLES = {"web-1": "web", "db-1": "db", "app-1": "app"}
EGRESS_OPEN = {"name": "egress-open", "selector": "all()", "order": 900, "egress": [{"action": "Allow"}]}


def first_set() -> list:
    return [
        {"name": "db", "selector": "role == 'db'", "order": 10, "ingress": [
            {"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'web'"}, "destination": {"ports": [5432]}},
            {"action": "Allow", "protocol": "UDP", "source": {"selector": "role == 'web'"}, "destination": {"ports": [5353]}},
            {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8}},
            {"action": "Allow", "protocol": "ICMPv6", "icmp": {"type": 128}},
        ]},
        {"name": "web", "selector": "role == 'web'", "order": 10, "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}]},
        EGRESS_OPEN,
    ]


def second_set() -> list:
    return [
        {"name": "db", "selector": "role == 'db'", "order": 10, "ingress": [
            {"action": "Allow", "protocol": "TCP", "source": {"selector": "role in {'web', 'app'}"}, "destination": {"ports": [5432]}},
            {"action": "Allow", "protocol": "ICMP", "source": {"selector": "role == 'web'"}, "icmp": {"type": 8}},
            {"action": "Allow", "protocol": "ICMPv6", "source": {"selector": "role == 'web'"}, "icmp": {"type": 128}},
        ]},
        {"name": "web", "selector": "role == 'web'", "order": 10, "ingress": [
            {"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'app'"}, "destination": {"ports": [80]}},
        ]},
        EGRESS_OPEN,
    ]


END = "end of tier: no policy allowed ingress on {host}-eth0 (default deny)"
# (host, family, peer, service, before, after): every flow the second set changes, from the first.
EXPECTED = {
    ("db-1", 4, "host app-1", "TCP 5432", "deny", "allow"),
    ("db-1", 6, "host app-1", "TCP 5432", "deny", "allow"),
    ("db-1", 4, "host web-1", "UDP 5353", "allow", "deny"),
    ("db-1", 6, "host web-1", "UDP 5353", "allow", "deny"),
    ("db-1", 4, "host app-1", "ICMP type 8", "allow", "deny"),
    ("db-1", 4, "anything else", "ICMP type 8", "allow", "deny"),
    ("db-1", 6, "host app-1", "ICMPv6 type 128", "allow", "deny"),
    ("db-1", 6, "anything else", "ICMPv6 type 128", "allow", "deny"),
    ("web-1", 4, "anything else", "TCP 80", "allow", "deny"),
    ("web-1", 6, "anything else", "TCP 80", "allow", "deny"),
}
# Who can send a flow of each peer class from inside the lab: from web-1's view, db-1 is in
# "anything else" (no selector of web-1's rules names it).
SENDERS = {("db-1", "host app-1"): "app-1", ("db-1", "host web-1"): "web-1", ("web-1", "anything else"): "db-1"}


@pytest.fixture(scope="module")
def lab():
    with Lab("palck", hosts=3, subnet4="203.0.113.0/26", subnet6="2001:db8:212::/64") as instance:
        start_listeners(instance, "h1", [80], [])
        start_listeners(instance, "h2", [5432], [5353])
        yield instance


def project(tmp_path: Path, lab: Lab, policies: list, hosts: dict[str, str] | None = None) -> Path:
    hosts = HOSTS if hosts is None else hosts
    inventory = tmp_path / "inventory"
    (inventory / "host_vars").mkdir(parents=True, exist_ok=True)
    (inventory / "group_vars").mkdir(exist_ok=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {name: {"ansible_host": lab.address(h)} for name, h in hosts.items()}}}))
    (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump({"palisade_policies": policies}))
    for name, h in hosts.items():
        endpoint = {"interfaceName": "eth0", "expectedIPs": [lab.address(h), lab.address(h, 6)]}
        (inventory / "host_vars" / f"{name}.yml").write_text(yaml.safe_dump({"palisade_labels": {"role": ROLES[name]}, "palisade_host_endpoints": [endpoint]}))
    connect_inventory(inventory, lab)
    write_site_files(tmp_path)
    return tmp_path


def run(root: Path, lab: Lab, *args: str):
    done = ansible_playbook(root, lab, COLLECTIONS, "site.yml", *args)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return done.stdout


LINE = re.compile(r"^IPv(?P<family>[46]) (?P<direction>ingress|egress) (?P<interface>\S+) (?:from|to) (?P<peer>.+?) "
                  r"(?P<service>(?:TCP|UDP|SCTP) [\d-]+|ICMP(?:v6)?(?: type \d+(?: code \d+)?| other types)?|protocol \d+|other protocols): "
                  r"(?P<before>\w+) -> (?P<after>\w+) \(was (?P<why_before>.*); now (?P<why_after>.*)\)$")


def flow_changes(output: str) -> dict[str, list[dict]]:
    """The flow-change sections of a ``--check --diff`` run, by host."""
    found: dict[str, list[dict]] = {}
    host = None
    for line in output.splitlines():
        header = re.match(r"^# flow changes on (\S+): ", line)
        if header:
            host = header.group(1)
            found.setdefault(host, [])
        elif host and line.startswith("IPv"):
            match = LINE.match(line)
            assert match, line
            found[host].append(match.groupdict())
        elif not line.strip():
            host = None
    return found


def as_expected(found: dict[str, list[dict]]) -> set:
    return {(host, int(c["family"]), c["peer"], c["service"], c["before"], c["after"]) for host, changes in found.items() for c in changes}


def send(lab: Lab, host: str, family: int, peer: str, service: str) -> bool:
    sender = SENDERS[(host, peer)]
    protocol, _space, port = service.partition(" ")
    kind = {"TCP": "tcp", "UDP": "udp"}.get(protocol, "icmp")
    item = Probe(f"{sender} -> {host} {service} IPv{family}", HOSTS[sender], lab.address(HOSTS[host], family), kind,
                 int(port) if kind != "icmp" else None, True)
    return probe(lab, item)


def test_check_mode_lists_the_flows_that_change_and_the_kernel_agrees(lab, tmp_path):
    root = project(tmp_path, lab, first_set())
    run(root, lab)
    root = project(tmp_path, lab, second_set())
    checked = run(root, lab, "--check", "--diff")
    found = flow_changes(checked)
    assert sorted(found) == ["db-1", "web-1"], checked[-4000:]  # app-1's rules stay the same: no diff
    assert as_expected(found) == EXPECTED
    assert re.search(r'ok: \[db-1\] => \{\n    "msg": "8 flows change: 6 allow -> deny, 2 deny -> allow"', checked), checked[-3000:]
    assert re.search(r'ok: \[web-1\] => \{\n    "msg": "2 flows change: 2 allow -> deny"', checked)
    assert re.search(r'ok: \[app-1\] => \{\n    "msg": "no flow changes"', checked)
    db_rule = {c["service"]: c for c in found["db-1"] if c["family"] == "4" and c["peer"] != "anything else"}
    assert db_rule["TCP 5432"]["why_before"] == "deny (" + END.format(host="db-1") + ")"
    assert db_rule["TCP 5432"]["why_after"] == "allow (policy db ingress rule 0)"
    assert db_rule["UDP 5353"]["why_before"] == "allow (policy db ingress rule 1)"
    sendable = [flow for flow in sorted(EXPECTED) if (flow[0], flow[2]) in SENDERS]
    assert len(sendable) == 8
    before = {flow: send(lab, flow[0], flow[1], flow[2], flow[3]) for flow in sendable}
    run(root, lab)
    after = {flow: send(lab, flow[0], flow[1], flow[2], flow[3]) for flow in sendable}
    report = json.dumps({str(flow): [before[flow], after[flow]] for flow in sendable}, indent=1)
    assert all(before[flow] == (flow[4] == "allow") for flow in sendable), report
    assert all(after[flow] == (flow[5] == "allow") for flow in sendable), report
    again = run(root, lab, "--check", "--diff")
    assert flow_changes(again) == {}
    assert len(re.findall(r'"msg": "no flow changes"', again)) == 3


def test_a_host_with_no_record_lists_what_the_first_apply_cuts(tmp_path):
    policies = [{"name": "app", "selector": "role == 'app'", "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [8080]}}]}]
    with Lab("palcn", hosts=1, subnet4="203.0.113.64/26", subnet6="2001:db8:213::/64") as fresh:
        root = project(tmp_path, fresh, policies, {"app-1": "h1"})
        output = run(root, fresh, "--check", "--diff")
        assert fresh.exec("h1", ["sh", "-c", "iptables-save; ip6tables-save; ipset save"]).stdout.count("pal-") == 0  # check mode changed nothing
    found = flow_changes(output)["app-1"]
    assert re.search(r'ok: \[app-1\] => \{\n    "msg": "\d+ flows change: \d+ untouched -> allow, \d+ untouched -> deny '
                     r'\(nothing applied yet: compared with no firewall\)"', output), output[-3000:]
    by_flow = {(c["family"], c["direction"], c["peer"], c["service"]): c["after"] for c in found}
    for family in ("4", "6"):
        assert by_flow[(family, "ingress", "anything else", "TCP 8080")] == "allow"
        assert by_flow[(family, "ingress", "anything else", "TCP 22")] == "allow"  # failsafe
        assert by_flow[(family, "ingress", "anything else", "TCP 8081-65535")] == "deny"
        assert by_flow[(family, "egress", "anything else", "TCP 1-178")] == "deny"  # no egress policy: default deny


def test_a_hand_edited_chain_is_drift_in_check_mode_and_repaired_by_the_next_run(lab, tmp_path):
    """Someone opens UDP 5353 on db-1 by hand: check mode names the chain, the run puts the
    recorded rules back and says so, and the kernel shows the port open, then closed again."""
    root = project(tmp_path, lab, second_set())
    run(root, lab)
    udp_5353 = ("db-1", 4, "host web-1", "UDP 5353")
    assert not send(lab, *udp_5353)
    lab.exec("h2", ["iptables", "-I", "pal-pi-db", "1", "-p", "udp", "--dport", "5353", "-j", "ACCEPT"])
    lab.exec("h2", ["ipset", "create", "pal-hand-made", "hash:ip"])
    assert send(lab, *udp_5353), "the hand edit is live"
    drift = ("2 difference(s) from the last applied record{}: chain ipv4 filter pal-pi-db: its rules differ from the record; "
             "ipset ipv4 pal-hand-made: not in the record")
    checked = ansible_playbook(root, lab, COLLECTIONS, "site.yml", "--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-4000:]
    said = checked.stdout + checked.stderr
    assert f"db-1: drift: {drift.format(', repaired by the next run')}" in " ".join(said.split()), said[-4000:]
    assert "# drift: 2 difference(s) from the last applied record, repaired by the next run:\n# chain ipv4 filter pal-pi-db:" in checked.stdout
    assert "web-1: drift" not in said and "app-1: drift" not in said
    assert send(lab, *udp_5353), "check mode changed nothing"
    applied = ansible_playbook(root, lab, COLLECTIONS, "site.yml")
    assert applied.returncode == 0, applied.stdout[-4000:]
    said = " ".join((applied.stdout + applied.stderr).split())
    assert f"db-1: drift repaired: {drift.format('')}" in said, said[-4000:]
    assert not send(lab, *udp_5353), "the run closed the port again"
    assert "pal-hand-made" not in lab.exec("h2", ["ipset", "list", "-n"]).stdout
    again = ansible_playbook(root, lab, COLLECTIONS, "site.yml", "--check")
    assert again.returncode == 0 and "drift" not in again.stdout + again.stderr, again.stdout[-3000:]
