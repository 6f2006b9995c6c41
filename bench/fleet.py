# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a large inventory costs a user: ``site.yml --limit <one lab host>`` against a no-op playbook.

Run as root from the repository root, after ``make setup``::

    .venv/bin/python bench/fleet.py [--sizes 1000 5000 20000] [--runs 3] [--policies 100]

For each size N it writes a real project into a temporary directory: ``inventory/hosts.yml``
(N synthetic hosts in their role, environment, datacenter and feature groups, plus one real
lab host), ``inventory/group_vars/all.yml`` with the fleet-wide ``palisade_policies`` and
``palisade_network_sets``, and one ``inventory/host_vars/<host>.yml`` per host with its
``palisade_labels`` and ``palisade_host_endpoints``. The fleet comes from the generator of
``bench/fleet_index.py`` (same seed, same selectors), with every address moved into
2001:db8::/32. The synthetic hosts are never contacted: ``--limit`` keeps every play on the
lab host, and their ``ansible_host`` is 127.0.0.1 port 9 so that a mistake fails on loopback.

Then, alternating, ``--runs`` times each:

- ``site.yml --limit h1`` after a first, converging run (so nothing changes: the run every
  scheduled job makes);
- the floor: a playbook over ``hosts: all`` with one ``ansible.builtin.ping`` task, with the
  same ``--limit``: what Ansible itself needs to load this inventory and reach the host once.

Printed per size: median wall time of each and their ratio, and the peak memory of the
``ansible-playbook`` process tree (PSS summed over the process and its forked workers, sampled
every 50 ms, so shared pages count once), then the growth per 1,000 hosts between the smallest
and the largest size. Every site run must end with ``changed=0 failed=0`` on the lab host, and
the host must hold the compiled rules.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_network
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".build" / "collections"
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "lab"), str(COLLECTIONS)]

from fleet_index import VOCABULARY, make_hosts, make_network_sets, make_policies  # noqa: E402
from palisade_lab import Lab  # noqa: E402
from project import ansible_env, connect_inventory, write_site_files  # noqa: E402

LAB_NAME = "palf"
SUBNET4 = "198.51.100.32/27"
SUBNET6 = "2001:db8:20c::/64"
SEED = 7
# 10.0.0.0/8 of the generator maps onto 2001:db8:a00::/40 (the low 24 bits kept), so that no
# address outside the documentation ranges appears in any rule.
MAPPED_BASE = int(IPv6Address("2001:db8:a00::"))
FLOOR_PLAYBOOK = """- name: Reach each host once (the floor)
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""
SAMPLE_SECONDS = 0.05
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def documentation_address(text: str) -> str:
    """An address or network of the generator, with IPv4 (10.0.0.0/8) moved into 2001:db8::/32."""
    network = ip_network(text, strict=False)
    if isinstance(network, IPv6Network):
        return text
    assert isinstance(network, IPv4Network) and network.subnet_of(IPv4Network("10.0.0.0/8")), text
    mapped = IPv6Address(MAPPED_BASE + (int(network.network_address) & 0xFFFFFF))
    return str(mapped) if "/" not in text else f"{mapped}/{network.prefixlen + 96}"


def fleet_wide(policies: int, network_sets: int) -> dict[str, Any]:
    rng = random.Random(f"{SEED}-fleet-wide")
    sets = make_network_sets(network_sets, rng)
    for network_set in sets:
        network_set["nets"] = sorted({documentation_address(net) for net in network_set["nets"]})
    policy_list, _shapes = make_policies(policies, rng, VOCABULARY)
    return {"palisade_policies": policy_list, "palisade_network_sets": sets}


def write_project(root: Path, lab: Lab, size: int, policies: int, network_sets: int) -> dict[str, Any]:
    """The project as a user keeps it; returns the lab host's labels (those of a synthetic web host)."""
    inventory = root / "inventory"
    host_vars = inventory / "host_vars"
    host_vars.mkdir(parents=True)
    (inventory / "group_vars").mkdir()
    groups: dict[str, dict[str, Any]] = {"synthetic": {"hosts": {}}}
    hosts = make_hosts(size, random.Random(f"{SEED}-hosts-{size}"))
    for host in hosts:
        for endpoint in host["endpoints"]:
            endpoint["expectedIPs"] = [documentation_address(address) for address in endpoint["expectedIPs"]]
        for group in host["groups"]:
            if group != "all":
                groups.setdefault(group, {"hosts": {}})["hosts"][host["name"]] = None
        groups["synthetic"]["hosts"][host["name"]] = None
        data = {"palisade_labels": host["labels"], "palisade_host_endpoints": host["endpoints"]}
        (host_vars / f"{host['name']}.yml").write_text(yaml.dump(data, Dumper=Dumper))
    model = next(host for host in hosts if host["labels"]["role"] == "web")
    lab_host = lab.hosts[0]
    for group in model["groups"]:
        if group != "all":
            groups[group]["hosts"][lab_host] = None
    groups.setdefault("lab", {"hosts": {}})["hosts"][lab_host] = {"ansible_host": lab.address(lab_host)}
    labels = dict(model["labels"])
    (host_vars / f"{lab_host}.yml").write_text(yaml.dump({
        "palisade_labels": labels,
        "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": [lab.address(lab_host), lab.address(lab_host, 6)]}],
    }, Dumper=Dumper))
    (inventory / "hosts.yml").write_text(yaml.dump({"all": {"children": groups}}, Dumper=Dumper))
    (inventory / "group_vars" / "all.yml").write_text(yaml.dump(fleet_wide(policies, network_sets), Dumper=Dumper))
    (inventory / "group_vars" / "synthetic.yml").write_text("ansible_host: 127.0.0.1\nansible_port: 9\n")
    connect_inventory(inventory, lab)
    write_site_files(root)
    (root / "floor.yml").write_text(FLOOR_PLAYBOOK)
    return labels


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemory(threading.Thread):
    """Samples the summed PSS of a process tree until the root process ends."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_kib = max(self.peak_kib, sum(pss_kib(pid) for pid in descendants(self.pid)))
            self.done.wait(SAMPLE_SECONDS)


def timed_playbook(project: Path, lab: Lab, playbook: str) -> dict[str, Any]:
    """One ``ansible-playbook <playbook> --limit <lab host>``: wall time, peak tree memory, output."""
    command = [str(Path(sys.executable).parent / "ansible-playbook"), playbook, "--limit", lab.hosts[0], "-v"]
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=project, env=ansible_env(lab, COLLECTIONS), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = TreeMemory(process.pid)
    sampler.start()
    output, _unused = process.communicate(timeout=3600)
    wall = time.monotonic() - start
    sampler.done.set()
    sampler.join()
    return {"wall": wall, "mib": sampler.peak_kib / 1024, "output": output, "rc": process.returncode}


def recap(output: str, host: str) -> dict[str, int]:
    found = re.search(rf"^{re.escape(host)}\s+:\s+(ok=.*)$", output, re.MULTILINE)
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", found[1])} if found else {}


def check(run: dict[str, Any], host: str, label: str, changed: bool | None, before: dict[str, Any] | None = None) -> None:
    counts = recap(run["output"], host)
    problem = ""
    if run["rc"] != 0:
        problem = f"exited {run['rc']}"
    elif not counts or counts.get("failed") or counts.get("unreachable"):
        problem = f"recap for {host}: {counts or 'missing'}"
    elif changed is not None and bool(counts.get("changed")) != changed:
        problem = f"changed={counts.get('changed')}, expected {'some' if changed else 'none'}"
    if problem:
        earlier = f"\n--- the site.yml run before it (end) ---\n{before['output'][-6000:]}" if before else ""
        sys.exit(f"bench/fleet.py: {label}: {problem}{earlier}\n--- ansible-playbook output (end) ---\n{run['output'][-6000:]}")


def measure(size: int, args: argparse.Namespace, lab: Lab) -> dict[str, Any]:
    host = lab.hosts[0]
    with tempfile.TemporaryDirectory(prefix="palisade-bench-fleet-") as tmp:
        started = time.monotonic()
        project = Path(tmp)
        write_project(project, lab, size, args.policies, args.network_sets)
        files = sum(1 for _unused in (project / "inventory" / "host_vars").iterdir())
        print(f"\n{size} hosts: project written in {time.monotonic() - started:.1f} s ({files} host_vars files)", flush=True)
        first = timed_playbook(project, lab, "site.yml")
        check(first, host, f"{size} hosts, first site.yml", None)
        listing = lab.exec(host, ["iptables-save", "-t", "filter"]).stdout
        if ":pal-" not in listing:
            sys.exit(f"bench/fleet.py: {size} hosts: {host} holds no pal- chains after site.yml:\n{listing}")
        print(f"  first site.yml (converges {host}): {first['wall']:.1f} s, {first['mib']:.0f} MiB", flush=True)
        site, floor = [], []
        for _run in range(args.runs):
            floor.append(timed_playbook(project, lab, "floor.yml"))
            check(floor[-1], host, f"{size} hosts, floor", False)
            site.append(timed_playbook(project, lab, "site.yml"))
            check(site[-1], host, f"{size} hosts, site.yml", False, before=site[-2] if len(site) > 1 else first)
        print("  site.yml  " + "  ".join(f"{r['wall']:6.1f} s {r['mib']:5.0f} MiB" for r in site), flush=True)
        print("  floor     " + "  ".join(f"{r['wall']:6.1f} s {r['mib']:5.0f} MiB" for r in floor), flush=True)
    return {
        "size": size,
        "site": statistics.median(r["wall"] for r in site),
        "floor": statistics.median(r["wall"] for r in floor),
        "site_mib": max(r["mib"] for r in site),
        "floor_mib": max(r["mib"] for r in floor),
        "first": first["wall"],
        "first_mib": first["mib"],
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\nhosts   site.yml --limit  floor (ping)  ratio   site peak memory  floor peak memory  first site.yml")
    for row in rows:
        print(f"{row['size']:<6}  {row['site']:14.1f} s  {row['floor']:10.1f} s  {row['site'] / row['floor']:4.2f}x  "
              f"{row['site_mib']:12.0f} MiB  {row['floor_mib']:13.0f} MiB  {row['first']:8.1f} s, {row['first_mib']:.0f} MiB")
    if len(rows) > 1:
        low, high = rows[0], rows[-1]
        per_k = (high["size"] - low["size"]) / 1000
        print(f"\ngrowth per 1,000 hosts from {low['size']} to {high['size']}: "
              f"site.yml {(high['site'] - low['site']) / per_k:.2f} s and {(high['site_mib'] - low['site_mib']) / per_k:.0f} MiB, "
              f"floor {(high['floor'] - low['floor']) / per_k:.2f} s and {(high['floor_mib'] - low['floor_mib']) / per_k:.0f} MiB")


def revision() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "plugins", "roles", "playbooks"], cwd=ROOT,
                           capture_output=True, text=True, check=False).stdout
    return f"git {done.stdout.strip() or '(not a checkout)'}" + (" with uncommitted changes in plugins/, roles/ or playbooks/" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000], help="synthetic hosts, default 1000 5000 20000")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each playbook per size (median), default 3")
    parser.add_argument("--policies", type=int, default=100, help="fleet-wide policies in group_vars/all, default 100")
    parser.add_argument("--network-sets", type=int, default=50, help="fleet-wide network sets, default 50")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/fleet.py: run as root (the lab uses network namespaces)")
    if not (COLLECTIONS / "ansible_collections" / "palisade" / "firewall").exists():
        sys.exit(f"bench/fleet.py: {COLLECTIONS} lacks the collection: run `make setup` first")
    version = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"core ([\d.]+)", version.stdout)
    load = os.getloadavg()
    print(f"collection at {revision()}; ansible-core {found[1] if found else '?'}; {os.cpu_count()} CPUs, load {load[0]:.2f} at the start")
    print(f"{args.policies} policies and {args.network_sets} network sets in group_vars/all; medians of {args.runs} runs")
    started = time.monotonic()
    with Lab(LAB_NAME, hosts=1, subnet4=SUBNET4, subnet6=SUBNET6) as lab:
        rows = [measure(size, args, lab) for size in sorted(args.sizes)]
    print_table(rows)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}; the script took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
