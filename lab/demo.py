# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``make demo``: the example project applied to three real lab hosts, then real traffic.

Brings up the lab ``pal`` (198.51.100.0/25, 2001:db8:100::/64), runs ``ansible-playbook
site.yml`` from ``examples/``, starts listeners, sends TCP, UDP and ICMP over IPv4 and IPv6
between the hosts, and prints what was allowed and denied next to what the policy says
(answered by the same simulator as ``palisade.firewall.explain``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from expectations import PolicyOracle
from palisade_lab import Lab
from project import ansible_playbook, connect_inventory
from traffic import Probe, missing_tools, probe, start_listeners, table

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
COLLECTIONS = ROOT / ".build" / "collections"
HOSTS = {"my-host": "h1", "etcd-1": "h2", "admin-1": "h3"}
LISTEN = {"my-host": ([10250, 8080], [9999]), "etcd-1": ([2379, 443], [53]), "admin-1": ([8443], [])}

# (source host, destination host, protocol, port), each over IPv4 and IPv6.
FLOWS = [
    ("admin-1", "my-host", "tcp", 22),
    ("admin-1", "my-host", "tcp", 10250),
    ("admin-1", "my-host", "tcp", 8080),
    ("admin-1", "my-host", "icmp", None),
    ("etcd-1", "my-host", "udp", 9999),
    ("my-host", "etcd-1", "tcp", 2379),
    ("my-host", "etcd-1", "tcp", 443),
    ("my-host", "etcd-1", "udp", 53),
    ("my-host", "admin-1", "tcp", 8443),
    ("my-host", "admin-1", "icmp", None),
    ("admin-1", "etcd-1", "tcp", 443),
    ("etcd-1", "admin-1", "tcp", 8443),
]


def probes(lab: Lab, oracle: PolicyOracle) -> list[tuple[Probe, str]]:
    items = []
    for src, dst, protocol, port in FLOWS:
        for family in (4, 6):
            src_ip, dst_ip = lab.address(HOSTS[src], family), lab.address(HOSTS[dst], family)
            expected = oracle.expect(src, src_ip, dst, dst_ip, protocol, port)
            name = f"{src} -> {dst} {protocol}{'/' + str(port) if port else ''} IPv{family}"
            items.append((Probe(name, HOSTS[src], dst_ip, protocol, port, expected.allowed), expected.reason))
    return items


def main() -> int:
    missing = missing_tools()
    if missing:
        print(f"make demo cannot send its traffic: missing {', '.join(missing)}. "
              "Run `make setup` as root, which installs them.", file=sys.stderr)
        return 2
    lab = Lab("pal", hosts=3, subnet4="198.51.100.0/25", subnet6="2001:db8:100::/64")
    print(f"Bringing up lab {lab.name}: hosts {', '.join(f'{n}={h}' for n, h in HOSTS.items())}")
    lab.up(replace=True)
    connect_inventory(EXAMPLES / "inventory", lab)
    print("ansible-playbook site.yml (from examples/)", flush=True)
    run = ansible_playbook(EXAMPLES, lab, COLLECTIONS, "site.yml", capture=False)
    if run.returncode != 0:
        print(f"site.yml failed ({run.returncode}); the lab is still up: make lab-down", file=sys.stderr)
        return run.returncode
    for name, (tcp, udp) in LISTEN.items():
        start_listeners(lab, HOSTS[name], tcp, udp)
    oracle = PolicyOracle(EXAMPLES / "inventory")
    results = []
    reasons = {}
    for item, reason in probes(lab, oracle):
        results.append((item, probe(lab, item)))
        reasons[item.name] = reason
    print()
    print(table(results, reasons))
    mismatches = [item.name for item, seen in results if seen != item.allowed]
    print()
    print(f"{len(results) - len(mismatches)} of {len(results)} flows behave as the policy says.")
    print("Explain any of them: cd examples && ansible-playbook palisade.firewall.explain -e host=my-host "
          "-e in_interface=eth0 -e src=admin-1 -e dst=my-host -e protocol=TCP -e dst_port=8080")
    print("The lab stays up for you to explore (python3 lab/palisade_lab.py exec h1 -- iptables-save). "
          "Tear it down with: make lab-down")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
