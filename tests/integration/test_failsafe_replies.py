# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failsafe "reply" rules keep the applying SSH session alive and open no other way out.

Two real lab hosts: h1 gets a deny-everything egress policy through ``site.yml`` over SSH, h2
listens (TCP and UDP 8080, both families) and has no firewall. An SSH session to h1 opened
before the first ruleset (so conntrack first sees it mid-stream, as NEW) must keep working
after the apply; a process on h1 that binds an inbound failsafe port as its source port
(2379 and 6666 need no privilege) must not get past the egress policy, nor may UDP from the
failsafe port 68.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))

from palisade_lab import Lab  # noqa: E402
from project import ansible_playbook, connect_inventory, write_site_files  # noqa: E402
from traffic import start_listeners  # noqa: E402

COLLECTIONS = ROOT / ".build" / "collections"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
# Connects (TCP) or sends and waits for the echo (UDP) from a fixed source port.
FROM_PORT = r"""
import json, socket, sys
spec = json.loads(sys.argv[1])
family = socket.AF_INET6 if ":" in spec["dst"] else socket.AF_INET
kind = socket.SOCK_STREAM if spec["protocol"] == "tcp" else socket.SOCK_DGRAM
s = socket.socket(family, kind)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", spec["sport"]))
s.settimeout(2)
try:
    if kind == socket.SOCK_STREAM:
        s.connect((spec["dst"], 8080))
        ok = True
    else:
        s.sendto(b"ping", (spec["dst"], 8080))
        ok = s.recvfrom(64)[0] == b"ping"
except OSError:
    ok = False
print("open" if ok else "closed")
"""
LOCK_DOWN = {
    "palisade_policies": [
        {"name": "lock-down", "selector": "role == 'locked'", "types": ["Ingress", "Egress"], "egress": [{"action": "Deny"}]},
    ],
}


@pytest.fixture(scope="module")
def lab():
    with Lab("palfr", hosts=2, subnet4="203.0.113.128/25", subnet6="2001:db8:20e::/64") as instance:
        start_listeners(instance, "h2", tcp=[8080], udp=[8080])
        yield instance


def write_project(root: Path, lab: Lab) -> Path:
    inventory = root / "inventory"
    (inventory / "host_vars").mkdir(parents=True)
    (inventory / "group_vars").mkdir()
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"h1": {"ansible_host": lab.address("h1")}}}}))
    (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(LOCK_DOWN))
    endpoint = {"interfaceName": "eth0", "expectedIPs": [lab.address("h1"), lab.address("h1", 6)]}
    (inventory / "host_vars" / "h1.yml").write_text(yaml.safe_dump({"palisade_labels": {"role": "locked"}, "palisade_host_endpoints": [endpoint]}))
    connect_inventory(inventory, lab)
    write_site_files(root)
    return root


def from_port(lab: Lab, protocol: str, sport: int, family: int, as_nobody: bool) -> str:
    spec = json.dumps({"protocol": protocol, "sport": sport, "dst": lab.address("h2", family)})
    argv = (NOBODY if as_nobody else []) + ["python3", "-c", FROM_PORT, spec]
    result = lab.exec("h1", argv, check=False)
    assert result.returncode == 0 and result.stdout.strip() in ("open", "closed"), result.stderr
    return result.stdout.strip()


class Session:
    """A shell on h1 over one SSH connection, kept open across the apply."""

    def __init__(self, lab: Lab) -> None:
        loop = ["sh", "-c", 'while read line; do echo "got $line"; done']
        self.process = subprocess.Popen(lab.ssh_argv("h1", loop), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def echo(self, word: str, timeout: float = 10.0) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()
        ready, _unused, _unused2 = select.select([self.process.stdout], [], [], timeout)
        return self.process.stdout.readline().strip() if ready else f"no answer within {timeout} s"

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)


CASES = [
    # (id, protocol, source port, as nobody)
    ("tcp from 2379, unprivileged", "tcp", 2379, True),
    ("tcp from 6666, unprivileged", "tcp", 6666, True),
    ("tcp from 179", "tcp", 179, False),
    ("udp from 68", "udp", 68, False),
    ("tcp from an ordinary port", "tcp", 40123, True),
]


def test_the_open_session_survives_and_failsafe_source_ports_open_nothing(lab, tmp_path):
    session = Session(lab)
    try:
        assert session.echo("before") == "got before"
        before = {(case[0], family): from_port(lab, *case[1:3], family, case[3]) for case in CASES for family in (4, 6)}
        assert set(before.values()) == {"open"}, before  # without a firewall every probe gets through

        result = ansible_playbook(write_project(tmp_path, lab), lab, COLLECTIONS, "site.yml")
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        assert session.echo("after") == "got after"
        after = {(case[0], family): from_port(lab, *case[1:3], family, case[3]) for case in CASES for family in (4, 6)}
        assert set(after.values()) == {"closed"}, after
        assert session.echo("still") == "got still"
        saved = lab.exec("h1", ["iptables-save", "-t", "filter"]).stdout
        assert "--sport 2379 ! --tcp-flags FIN,SYN,RST,ACK SYN" in saved
        assert "reply of failsafe inbound udp 68" not in saved
    finally:
        session.close()
