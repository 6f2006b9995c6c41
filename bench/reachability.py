# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the fleet reachability report costs a user: ``ansible-playbook palisade.firewall.reachability``.

Run from the repository root, after ``make setup`` (no lab is needed: the report contacts no host)::

    .venv/bin/python bench/reachability.py [--sizes 40 100 200] [--policies 150] [--network-sets 10]

For each size N it writes a real project into a temporary directory, as ``bench/fleet.py`` does:
``inventory/hosts.yml`` (N synthetic hosts in their role, environment, datacenter and feature
groups), ``inventory/group_vars/all.yml`` with the fleet-wide ``palisade_policies`` and
``palisade_network_sets``, and one ``inventory/host_vars/<host>.yml`` per host with its labels and
endpoints (the generator of ``bench/fleet_index.py``, every address in 2001:db8::/32). Then, once
each:

- the floor: a playbook on localhost that reads every host's ``palisade_labels`` (what Ansible
  itself needs to load this inventory and build every host's variables, which the report needs);
- the audit question "who can reach the databases?": ``-e "to=role=='db'" -e output=report.html``;
- the whole matrix, unnarrowed, with ``output``; refused (and printed so) above the report's
  limit of verdicts.

Printed per run: wall time, the report's summary line (pairs, verdicts, packets simulated), and
the size of the written page and JSON. No other tool computes such a report, so there is no
peer to run beside it; the floor is the comparison.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".build" / "collections"
sys.path[:0] = [str(ROOT / "bench"), str(COLLECTIONS)]

from fleet import documentation_address, fleet_wide  # noqa: E402
from fleet_index import make_hosts  # noqa: E402

SEED = 7
FLOOR_PLAYBOOK = """- name: Read every host's variables (the floor)
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Count the labelled hosts
      ansible.builtin.debug:
        msg: "{{ groups['all'] | map('extract', hostvars, 'palisade_labels') | select('defined') | list | length }} labelled hosts"
"""
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def write_project(root: Path, size: int, policies: int, network_sets: int) -> None:
    inventory = root / "inventory"
    host_vars = inventory / "host_vars"
    host_vars.mkdir(parents=True)
    (inventory / "group_vars").mkdir()
    groups: dict[str, dict[str, Any]] = {}
    for host in make_hosts(size, random.Random(f"{SEED}-hosts-{size}")):
        for endpoint in host["endpoints"]:
            endpoint["expectedIPs"] = [documentation_address(address) for address in endpoint["expectedIPs"]]
        for group in host["groups"]:
            if group != "all":
                groups.setdefault(group, {"hosts": {}})["hosts"][host["name"]] = None
        data = {"palisade_labels": host["labels"], "palisade_host_endpoints": host["endpoints"]}
        (host_vars / f"{host['name']}.yml").write_text(yaml.dump(data, Dumper=Dumper))
    (inventory / "hosts.yml").write_text(yaml.dump({"all": {"children": groups}}, Dumper=Dumper))
    (inventory / "group_vars" / "all.yml").write_text(yaml.dump(fleet_wide(policies, network_sets), Dumper=Dumper))
    (root / "floor.yml").write_text(FLOOR_PLAYBOOK)


def run(project: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS), "ANSIBLE_NOCOLOR": "1",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventory", *args]
    started = time.monotonic()
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=3600, check=False)
    return {"wall": time.monotonic() - started, "rc": done.returncode, "output": done.stdout + done.stderr}


def report_line(project: Path, label: str, *args: str) -> str:
    for name in ("report.html", "report.json"):
        (project / name).unlink(missing_ok=True)
    result = run(project, "palisade.firewall.reachability", *args, "-e", f"output={project / 'report.html'}")
    refused = re.search(r"reachability: (\d+) sources x (\d+) destinations .*? would (?:need|simulate) (\d+) (?:verdicts|packets),"
                        r" more than the (\d+)", result["output"])
    if refused:
        return f"  {label}: refused after {result['wall']:.1f} s: {refused[1]} x {refused[2]} would need {refused[3]} verdicts (limit {refused[4]})"
    summary = re.search(r'"(reachability: [^"]*)"', result["output"])
    if result["rc"] != 0 or summary is None:
        raise SystemExit(f"{label}: ansible-playbook failed (rc {result['rc']}):\n{result['output'][-3000:]}")
    sizes = ", ".join(f"{name} {(project / name).stat().st_size / 1e6:.1f} MB" for name in ("report.html", "report.json"))
    return f"  {label}: {result['wall']:.1f} s; {summary[1].removeprefix('reachability: ')}; {sizes}"


def revision() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    return done.stdout.strip() + ("+changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 100, 200])
    parser.add_argument("--policies", type=int, default=150)
    parser.add_argument("--network-sets", type=int, default=10)
    args = parser.parse_args()
    print(f"palisade.firewall {revision()}: reachability report, {args.policies} policies, {args.network_sets} network sets")
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="palisade-reach-") as directory:
            project = Path(directory)
            write_project(project, size, args.policies, args.network_sets)
            floor = run(project, "floor.yml")
            if floor["rc"] != 0:
                raise SystemExit(f"floor playbook failed:\n{floor['output'][-3000:]}")
            print(f"{size} hosts: floor (every host's variables read) {floor['wall']:.1f} s")
            print(report_line(project, "to=role=='db'", "-e", "to=role=='db'"))
            print(report_line(project, "every pair"), flush=True)


if __name__ == "__main__":
    main()
