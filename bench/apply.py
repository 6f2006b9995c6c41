# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall time of ``ansible-playbook site.yml`` on real lab hosts against the hand-written peer, and what the rollback confirm costs.

The peer (template + ``iptables-restore --noflush``, ``PEER_TEMPLATE``) runs on a second lab
of the same size; every kind of run alternates the two and the table prints their ratio.

Run as root from the repository root, after ``make setup`` (it needs ``.venv`` and
``.build/collections``)::

    .venv/bin/python bench/apply.py [--sizes 3 10] [--runs 3] [--forks 10]

For each size N it brings up a lab of N hosts (``palb``, 198.51.100.128/25 and
2001:db8:209::/64; torn down afterwards), writes a small project into a temporary directory
(every host labelled and with an ``eth0`` host endpoint, three policies,
``palisade_rollback_timeout: 30``) and runs ``site.yml`` with ``-e '{"palisade_serial":
["100%"]}'``, so all hosts form one batch (an extra var, because the play's ``serial`` is
templated without host variables: set in ``group_vars`` it would be ignored):

- once to converge ("first apply": reported, not part of the medians);
- ``--runs`` times with nothing to change (the apply module arms no rollback then);
- ``--runs`` times changing one policy on every host: the policy ``base`` selects every host
  and alternates between two variants (its ingress rule from the management hosts allows TCP
  9100, or 9100 and 9101), so each run rewrites one policy chain per host and goes through the whole rollback
  protocol (arm + apply, reset the SSH connection, confirm over a new one);
- ``--runs`` times ``--check --diff`` of the other variant (every host would change): the
  plan, the diff and the flow changes per host (the peer: its template's ``--check --diff``).

Times are wall clock around the ``ansible-playbook`` process (Python and Ansible start-up
included), medians of ``--runs``. ``-f`` is passed (``--forks``, default 10, Ansible's own
default being 5), so up to 10 hosts run in parallel.

The confirm overhead is read from the task results, not from the screen. ``rollback`` can not
be switched off with an ssh connection (``palisade_allow_unsafe_apply`` only matters for
connections that cannot confirm), so there is no "without rollback" run to compare with;
instead the action plugin reports, per host, ``rollback.timings`` = {apply: arm + apply,
confirm: from the apply to the confirmation, attempts}. The script writes a tiny callback
plugin into the temporary project (``callback_plugins/palisade_bench_results.py``, enabled by
the project's ``ansible.cfg``) that appends, for every host result of the task
``palisade.firewall.apply_ruleset``, one JSON line (host, changed, failed, rollback) to
``results.jsonl``. This does not depend on the stdout callback, its format or the verbosity,
and it adds nothing to the screen output or to the run. Printed per size: the per-host
``confirm`` (median and max over every host of every change run) and the confirm's share of
the change run: per run, the slowest host's ``confirm`` (the hosts confirm in parallel, so the
play waits for the slowest) divided by that run's wall time, median over the runs. With fewer
forks than hosts the confirms run in waves and that share is a lower bound.

Sanity checks (the script stops naming what went wrong): every run exits 0, applies in one
batch, and every host reports an apply result; no-change runs change no host, change runs
change and confirm every host.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lab"))

from palisade_lab import Lab  # noqa: E402
from project import ansible_playbook, connect_inventory  # noqa: E402

COLLECTIONS = ROOT / ".build" / "collections"
LAB_NAME = "palb"
SUBNET4 = "198.51.100.128/25"
SUBNET6 = "2001:db8:209::/64"
MODULE = "palisade.firewall.apply_ruleset"
BATCH_TASK = "TASK [palisade.firewall.host_firewall : Compile the hosts of this batch that this run has not compiled yet (once)]"  # one per batch
PEER_LAB = "palq"
PEER_SUBNET4 = "198.51.100.64/26"
PEER_SUBNET6 = "2001:db8:20a::/64"
RESULTS = "results.jsonl"
# The play's `serial` is templated before any host is picked, so it sees extra vars but not
# group_vars: `palisade_serial` in the inventory would leave the default batches [1, 25%, 100%].
ONE_BATCH = json.dumps({"palisade_serial": ["100%"]})
CHECK = ("--check", "--diff")

CALLBACK = '''
"""Appends each host's result of palisade.firewall.apply_ruleset to {path} (written by bench/apply.py)."""
import json

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "palisade_bench_results"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, failed):
        if {MODULE!r} not in (result.task.action, getattr(result.task, "resolved_action", None)):
            return
        data = result.result
        line = {{"host": result.host.get_name(), "changed": bool(data.get("changed")), "failed": failed,
                "rollback": data.get("rollback"), "msg": data.get("msg")}}
        with open({path!r}, "a") as out:
            out.write(json.dumps(line, default=str) + "\\n")

    def v2_runner_on_ok(self, result):
        self._record(result, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, True)
'''


def labels(index: int) -> dict:
    """h1 manages the others; the rest alternate between web and db."""
    if index == 1:
        return {"role": "management"}
    return {"role": "web" if index % 2 == 0 else "db"}


def policies(lab: Lab, variant: int) -> dict:
    """Three policies; only ``base`` (every host) differs between variant 0 and 1."""
    exporter_ports = [9100] if variant == 0 else [9100, 9101]
    return {
        "palisade_policies": [
            {
                "name": "base",
                "selector": "all()",
                "order": 100,
                "ingress": [
                    {"action": "Allow", "protocol": "ICMP"},
                    {"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'management'"}, "destination": {"ports": exporter_ports}},
                ],
                "egress": [{"action": "Allow", "protocol": "UDP", "destination": {"ports": [53, 123]}}],
            },
            {
                "name": "web",
                "selector": "role == 'web'",
                "order": 10,
                "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [80, 443]}}],
                "egress": [{"action": "Allow", "protocol": "TCP", "destination": {"selector": "role == 'db'", "ports": [5432]}}],
            },
            {
                "name": "db",
                "selector": "role == 'db'",
                "order": 10,
                "ingress": [{"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'web'"}, "destination": {"ports": [5432]}}],
            },
        ],
        "palisade_network_sets": [
            {
                "name": "controller",
                "labels": {"role": "management"},
                "nets": [f"{lab.address('controller')}/32", f"{lab.address('controller', 6)}/128"],
            }
        ],
        "palisade_rollback_timeout": 30,
    }


def write_project(root: Path, lab: Lab, variant: int) -> Path:
    inventory = root / "inventory"
    (inventory / "group_vars").mkdir(parents=True, exist_ok=True)
    (inventory / "host_vars").mkdir(exist_ok=True)
    (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(policies(lab, variant)))
    if (inventory / "hosts.yml").exists():
        return root  # only the policies change between runs
    hosts = {"all": {"hosts": {h: {"ansible_host": lab.address(h)} for h in lab.hosts}}}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    for index, host in enumerate(lab.hosts, start=1):
        host_vars = {
            "palisade_labels": labels(index),
            "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": [lab.address(host), lab.address(host, 6)]}],
        }
        (inventory / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(host_vars))
    connect_inventory(inventory, lab)
    (root / "callback_plugins").mkdir()
    (root / "callback_plugins" / "palisade_bench_results.py").write_text(CALLBACK.format(path=str(root / RESULTS), MODULE=MODULE))
    (root / "site.yml").write_text("- name: Apply\n  ansible.builtin.import_playbook: palisade.firewall.site\n")
    (root / "ansible.cfg").write_text(
        "[defaults]\ninventory = inventory\ninterpreter_python = auto_silent\n"
        "callback_plugins = callback_plugins\ncallbacks_enabled = palisade_bench_results\n"
    )
    return root


# The peer: what a hand-written role does (geerlingguy.firewall, or template + iptables_state):
# a Jinja template per family over the inventory's groups, loaded with iptables-restore
# --noflush when the file changed. The same three policies, the SSH port and ICMP open, the
# rest of the host's traffic dropped both ways; its own chains hooked first in INPUT and OUTPUT.
PEER_TEMPLATE = """# {{ ansible_managed }}
*filter
:peer-in - [0:0]
:peer-out - [0:0]
-F INPUT
-F OUTPUT
-A INPUT -j peer-in
-A OUTPUT -j peer-out
-A peer-in -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A peer-in -i lo -j ACCEPT
-A peer-in -p tcp --dport 22 -j ACCEPT
-A peer-in -p {{ 'icmp' if family == 4 else 'ipv6-icmp' }} -j ACCEPT
{% for host in groups['management'] %}
-A peer-in -p tcp -s {{ hostvars[host]['peer_ipv' ~ family] }} -m multiport --dports {{ exporter_ports | join(',') }} -j ACCEPT
{% endfor %}
-A peer-in -p tcp -s {{ controller['ipv' ~ family] }} -m multiport --dports {{ exporter_ports | join(',') }} -j ACCEPT
{% if 'web' in group_names %}
-A peer-in -p tcp -m multiport --dports 80,443 -j ACCEPT
{% endif %}
{% if 'db' in group_names %}
{% for host in groups['web'] %}
-A peer-in -p tcp -s {{ hostvars[host]['peer_ipv' ~ family] }} --dport 5432 -j ACCEPT
{% endfor %}
{% endif %}
-A peer-in -j DROP
-A peer-out -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A peer-out -o lo -j ACCEPT
-A peer-out -p tcp --sport 22 -j ACCEPT
-A peer-out -p udp -m multiport --dports 53,123 -j ACCEPT
{% if 'web' in group_names %}
{% for host in groups['db'] %}
-A peer-out -p tcp -d {{ hostvars[host]['peer_ipv' ~ family] }} --dport 5432 -j ACCEPT
{% endfor %}
{% endif %}
-A peer-out -j DROP
COMMIT
"""

PEER_PLAYBOOK = """- name: Firewall from a template, loaded with iptables-restore --noflush
  hosts: all
  gather_facts: false
  tasks:
    - name: Render the IPv4 rules
      ansible.builtin.template: {src: rules.j2, dest: /etc/peer-firewall.v4, mode: "0600"}
      vars: {family: 4}
      register: peer_v4
    - name: Render the IPv6 rules
      ansible.builtin.template: {src: rules.j2, dest: /etc/peer-firewall.v6, mode: "0600"}
      vars: {family: 6}
      register: peer_v6
    - name: Load the IPv4 rules
      ansible.builtin.command: iptables-restore --noflush /etc/peer-firewall.v4
      when: peer_v4 is changed
      changed_when: true
    - name: Load the IPv6 rules
      ansible.builtin.command: ip6tables-restore --noflush /etc/peer-firewall.v6
      when: peer_v6 is changed
      changed_when: true
"""


def write_peer_project(root: Path, lab: Lab, variant: int) -> Path:
    """The peer's project on its own lab (same size, same labels as groups, same ports)."""
    inventory = root / "inventory"
    (inventory / "group_vars").mkdir(parents=True, exist_ok=True)
    exporter_ports = [9100] if variant == 0 else [9100, 9101]
    controller = {"ipv4": lab.address("controller"), "ipv6": lab.address("controller", 6)}
    (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump({"exporter_ports": exporter_ports, "controller": controller}))
    if (inventory / "hosts.yml").exists():
        return root
    groups: dict = {}
    for index, host in enumerate(lab.hosts, start=1):
        groups.setdefault(labels(index)["role"], {"hosts": {}})["hosts"][host] = {
            "ansible_host": lab.address(host), "peer_ipv4": lab.address(host), "peer_ipv6": lab.address(host, 6)
        }
    for role in ("management", "web", "db"):
        groups.setdefault(role, {"hosts": {}})
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": groups}}))
    connect_inventory(inventory, lab)
    (root / "rules.j2").write_text(PEER_TEMPLATE)
    (root / "peer.yml").write_text(PEER_PLAYBOOK)
    (root / "ansible.cfg").write_text("[defaults]\ninventory = inventory\ninterpreter_python = auto_silent\n")
    return root


def recaps(output: str) -> dict[str, dict[str, int]]:
    """``PLAY RECAP`` counts per host."""
    found = {}
    for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.MULTILINE):
        found[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
    return found


def run_peer(project: Path, lab: Lab, forks: int, expect_changed: bool, check: bool = False) -> dict:
    """One timed run of the peer (``check``: ``--check --diff``); every host changed (or none), nothing failed."""
    start = time.monotonic()
    completed = ansible_playbook(project, lab, COLLECTIONS, "peer.yml", "-f", str(forks), *(CHECK if check else ()))
    wall = time.monotonic() - start
    output = completed.stdout + completed.stderr
    counts = recaps(completed.stdout)

    def stop(problem: str) -> None:
        sys.exit(f"bench/apply.py: peer, {len(lab.hosts)} hosts: {problem}\n--- ansible-playbook output (end) ---\n{output[-6000:]}")

    if completed.returncode != 0:
        stop(f"ansible-playbook exited {completed.returncode}")
    if sorted(counts) != sorted(lab.hosts):
        stop(f"recap for {sorted(counts)}, expected {lab.hosts}")
    wrong = [host for host, count in counts.items() if bool(count["changed"]) != expect_changed]
    if wrong:
        stop(f"{'unchanged' if expect_changed else 'changed'}: {wrong}")
    return {"wall": wall}


def check_peer_rules(lab: Lab) -> None:
    """The peer's rules are in force: its chains hooked, DROP at the end of both families."""
    for host in lab.hosts:
        for save in ("iptables-save", "ip6tables-save"):
            listing = lab.exec(host, [save, "-t", "filter"]).stdout
            if "-A INPUT -j peer-in" not in listing or "-A peer-out -j DROP" not in listing:
                sys.exit(f"bench/apply.py: the peer's {save} on {host} lacks its rules:\n{listing}")


def run_site(project: Path, lab: Lab, forks: int, expect_changed: bool | None, check: bool = False) -> dict:
    """One timed ``ansible-playbook site.yml`` (``check``: ``--check --diff``): wall time and the per-host apply results."""
    results = project / RESULTS
    results.unlink(missing_ok=True)
    start = time.monotonic()
    completed = ansible_playbook(project, lab, COLLECTIONS, "site.yml", "-f", str(forks), "-e", ONE_BATCH, *(CHECK if check else ()))
    wall = time.monotonic() - start
    output = completed.stdout + completed.stderr
    records = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []

    def stop(problem: str) -> None:
        sys.exit(f"bench/apply.py: {len(lab.hosts)} hosts: {problem}\n--- ansible-playbook output (end) ---\n{output[-6000:]}")

    if completed.returncode != 0:
        stop(f"ansible-playbook exited {completed.returncode}")
    if output.count(BATCH_TASK) != 1:
        stop(f"{output.count(BATCH_TASK)} batches, expected 1 (palisade_serial: ['100%'] not in effect?)")
    if sorted(r["host"] for r in records) != sorted(lab.hosts):
        stop(f"apply results for {sorted(r['host'] for r in records)}, expected one per host {lab.hosts}")
    if expect_changed is False and any(r["changed"] for r in records):
        stop(f"a no-change run changed {[r['host'] for r in records if r['changed']]}")
    if check:
        said = re.findall(r'"msg": "(\d+) flows? changes?: ', output)
        if expect_changed and len(said) != len(lab.hosts):
            stop(f"{len(said)} hosts said how their flows change, expected {len(lab.hosts)}")
        return {"wall": wall, "records": records}
    if expect_changed:
        unconfirmed = [r["host"] for r in records if not r["changed"] or (r["rollback"] or {}).get("outcome") != "confirmed"]
        if unconfirmed:
            stop(f"a change run did not change and confirm {unconfirmed}")
    return {"wall": wall, "records": records}


def walls(runs: list[dict]) -> str:
    return "  ".join(f"{r['wall']:5.1f} s" for r in runs)


def measure(size: int, runs: int, forks: int) -> dict:
    """Both labs up side by side; each kind of run alternates palisade and the peer."""
    print(f"\n{size} hosts: labs {LAB_NAME} (site.yml) and {PEER_LAB} (peer) up", flush=True)
    with Lab(LAB_NAME, hosts=size, subnet4=SUBNET4, subnet6=SUBNET6) as lab, \
            Lab(PEER_LAB, hosts=size, subnet4=PEER_SUBNET4, subnet6=PEER_SUBNET6) as peer_lab, \
            tempfile.TemporaryDirectory(prefix="palisade-bench-apply-") as tmp:
        project = write_project(Path(tmp) / "palisade", lab, variant=0)
        peer = write_peer_project(Path(tmp) / "peer", peer_lab, variant=0)
        first = run_site(project, lab, forks, expect_changed=True)
        peer_first = run_peer(peer, peer_lab, forks, expect_changed=True)
        check_peer_rules(peer_lab)
        print(f"  first apply         site {first['wall']:5.1f} s   peer {peer_first['wall']:5.1f} s", flush=True)
        no_change, peer_no_change = [], []
        for _run in range(runs):
            no_change.append(run_site(project, lab, forks, expect_changed=False))
            peer_no_change.append(run_peer(peer, peer_lab, forks, expect_changed=False))
        print(f"  no-change runs      site {walls(no_change)}   peer {walls(peer_no_change)}", flush=True)
        change, peer_change = [], []
        for run in range(runs):
            variant = (run + 1) % 2  # 1, 0, 1, ...: the policy base changes every time
            write_project(project, lab, variant)
            change.append(run_site(project, lab, forks, expect_changed=True))
            write_peer_project(peer, peer_lab, variant)
            peer_change.append(run_peer(peer, peer_lab, forks, expect_changed=True))
        print(f"  one-policy changes  site {walls(change)}   peer {walls(peer_change)}", flush=True)
        checks, peer_checks = [], []
        variant = (runs + 1) % 2  # the variant the hosts do not run: every host would change
        for _run in range(runs):
            write_project(project, lab, variant)
            checks.append(run_site(project, lab, forks, expect_changed=True, check=True))
            write_peer_project(peer, peer_lab, variant)
            peer_checks.append(run_peer(peer, peer_lab, forks, expect_changed=True, check=True))
        print(f"  --check --diff      site {walls(checks)}   peer {walls(peer_checks)}", flush=True)
    timings = [r["rollback"]["timings"] for c in change for r in c["records"]]
    confirms = [t["confirm"] for t in timings]
    shares = [max(r["rollback"]["timings"]["confirm"] for r in c["records"]) / c["wall"] for c in change]
    return {
        "size": size,
        "first": first["wall"],
        "no_change": statistics.median(r["wall"] for r in no_change),
        "change": statistics.median(c["wall"] for c in change),
        "peer_first": peer_first["wall"],
        "peer_no_change": statistics.median(r["wall"] for r in peer_no_change),
        "peer_change": statistics.median(c["wall"] for c in peer_change),
        "check": statistics.median(c["wall"] for c in checks),
        "peer_check": statistics.median(c["wall"] for c in peer_checks),
        "confirm_median": statistics.median(confirms),
        "confirm_max": max(confirms),
        "apply_median": statistics.median(t["apply"] for t in timings),
        "share": statistics.median(shares),
        "attempts_max": max(t["attempts"] for t in timings),
    }


def print_table(rows: list[dict]) -> None:
    print("\nhosts  run                 site.yml      peer   ratio")
    for row in rows:
        for label, key in (("first apply", "first"), ("no-change run", "no_change"), ("one-policy change", "change"),
                           ("--check --diff", "check")):
            site, peer = row[key], row[f"peer_{key}"]
            print(f"{row['size']:<5}  {label:<17}  {site:6.1f} s  {peer:6.1f} s  {site / peer:5.2f}x")
    print("\nhosts  confirm per host (median / max)  confirm share of change run  arm+apply per host (median)")
    for row in rows:
        confirm = f"{row['confirm_median']:.1f} s / {row['confirm_max']:.1f} s"
        print(f"{row['size']:<5}  {confirm:>31}  {row['share']:27.0%}  {row['apply_median']:27.2f} s")


def revision() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "plugins", "roles", "playbooks"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return f"collection at {ROOT}, not a git checkout"
    return f"collection at git {head}" + (" with uncommitted changes in plugins/, roles/ or playbooks/" if dirty else "")


def ansible_version() -> str:
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--version"], check=False, capture_output=True, text=True)
    found = re.search(r"core ([\d.]+)", done.stdout)
    return f"ansible-core {found[1]}" if found else "ansible-core (version unknown)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 10], help="lab sizes (hosts), default 3 10")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each kind per size (median), default 3")
    parser.add_argument("--forks", type=int, default=10, help="ansible-playbook -f, default 10 (Ansible's default is 5)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/apply.py: run as root (the lab uses network namespaces)")
    if not (COLLECTIONS / "ansible_collections" / "palisade" / "firewall").exists():
        sys.exit(f"bench/apply.py: {COLLECTIONS} lacks the collection: run `make setup` first")
    started = time.monotonic()
    load = os.getloadavg()
    print(f"{revision()}; {ansible_version()}")
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start")
    print(f"ansible-playbook -f {args.forks} (Ansible's default is 5): "
          + ", ".join(f"{size} hosts {'all in parallel' if size <= args.forks else f'in waves of {args.forks}'}" for size in args.sizes))
    print(f"medians of {args.runs} runs; palisade_serial ['100%'] (one batch); palisade_rollback_timeout 30")
    rows = [measure(size, args.runs, args.forks) for size in args.sizes]
    print_table(rows)
    attempts = max(row["attempts_max"] for row in rows)
    print(f"\nconfirm attempts per host: at most {attempts}" + ("" if attempts == 1 else " (a first attempt to reconnect failed somewhere)"))
    print(f"load average at the end {os.getloadavg()[0]:.2f}; the script took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
