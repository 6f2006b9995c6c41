# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The simulator against the kernel, on generated fleets: what ``explain`` predicts is what passes.

For each seed a fleet is generated (``fleet_generator``), applied to four lab hosts with
``site.yml`` over SSH, and every probe of ``fleet_generator.probes`` is sent from inside its
host, all hosts at once. ``h4`` routes between the bridge and a link to ``h3``'s second
interface, so probes to and from ``h3``'s ``eth1`` address from ``h1`` and ``h2`` are
forwarded traffic there.

The prediction for a probe comes from ``palisade.firewall.explain`` (one task with every
packet, run through ``ansible-playbook`` like a user would): every firewall the packet
crosses (the sender's egress, the router's forwarding, the receiver's ingress), then every
firewall its reply crosses, the other way. A reply is ``ESTABLISHED`` (and not a SYN) on a
host where the packet was tracked; where a doNotTrack rule left the packet ``UNTRACKED``,
that host's conntrack has no entry, so the reply is what conntrack makes of a first packet:
``NEW`` for UDP, ``INVALID`` for a TCP SYN-ACK or reset and an ICMP echo reply. A TCP probe
is predicted ``open`` (or ``refused`` for a closed port) when every crossing allows,
``filtered`` otherwise; UDP and ICMP ``open`` or ``filtered``.

A mismatch fails with the seed, the fleet, the probe, both answers, the four explain verdicts
and the hosts' ``pal-`` rules, after a shrinker has removed every policy and rule it could
while the mismatch stayed. ``PALISADE_DIFFERENTIAL_SEEDS`` (comma-separated) replaces the fixed
seeds; one random seed is always added and printed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT / "lab")]

from fleet_generator import TCP_LISTEN, UDP_LISTEN, Fleet, LabHost, Probe, generate, probes  # noqa: E402
from palisade_lab import Lab  # noqa: E402
from prober import run_prober  # noqa: E402
from router_link import ETH1, ROUTER, build_topology  # noqa: E402
from project import ansible_playbook, connect_inventory, write_site_files  # noqa: E402
from traffic import start_listeners  # noqa: E402

COLLECTIONS = ROOT / ".build" / "collections"
FIXED_SEEDS = tuple(range(1, 11))
RANDOM_SEED = random.SystemRandom().randrange(1_000, 1_000_000)
ONE_BATCH = json.dumps({"palisade_serial": ["100%"]})
PREDICT = """- name: Predict every probe with explain
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Explain the packets
      palisade.firewall.explain:
        packets: "{{ lookup('ansible.builtin.file', 'packets.json') | from_json }}"
        details: true
      register: predicted
    - name: Write the verdicts
      ansible.builtin.copy:
        content: "{{ predicted.results | to_json }}"
        dest: "{{ playbook_dir }}/predicted.json"
        mode: "0600"
"""


def seeds() -> list[int]:
    given = os.environ.get("PALISADE_DIFFERENTIAL_SEEDS")
    chosen = [int(s) for s in given.split(",")] if given else list(FIXED_SEEDS)
    return chosen + [RANDOM_SEED]


@pytest.fixture(scope="module")
def lab():
    with Lab("paldf", hosts=4, subnet4="198.51.100.0/25", subnet6="2001:db8:210::/64") as instance:
        build_topology(instance)
        for host in instance.hosts:
            start_listeners(instance, host, tcp=list(TCP_LISTEN), udp=list(UDP_LISTEN))
        yield instance


class Runner:
    """Applies fleets to the lab and compares the kernel with explain; one per test."""

    def __init__(self, lab: Lab, root: Path) -> None:
        self.lab = lab
        self.root = root
        self.next_port = 20000
        self.last_answers: Counter = Counter()
        self.last_untracked = 0  # probes whose reply met a host where the packet was untracked

    def hosts(self) -> list[LabHost]:
        return [LabHost(h, self.lab.address(h), self.lab.address(h, 6), ETH1.get(h), h == ROUTER) for h in self.lab.hosts]

    def source_ports(self, count: int) -> int:
        """A fresh range of source ports, so that no probe meets an earlier probe's conntrack entry."""
        if self.next_port + count > 60000:
            self.next_port = 20000
        base = self.next_port
        self.next_port += count
        return base

    def write(self, fleet: Fleet) -> None:
        inventory = self.root / "inventory"
        (inventory / "host_vars").mkdir(parents=True, exist_ok=True)
        (inventory / "group_vars").mkdir(exist_ok=True)
        hosts = {"all": {"hosts": {h.name: {"ansible_host": h.ipv4} for h in fleet.hosts}}}
        (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
        (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(fleet.fleet_vars, sort_keys=False))
        for host in fleet.hosts:
            data = {"palisade_labels": fleet.labels[host.name], "palisade_host_endpoints": fleet.endpoints[host.name],
                    **fleet.host_extras.get(host.name, {})}
            (inventory / "host_vars" / f"{host.name}.yml").write_text(yaml.safe_dump(data, sort_keys=False))
        connect_inventory(inventory, self.lab)
        write_site_files(self.root)
        (self.root / "predict.yml").write_text(PREDICT)

    def apply(self, fleet: Fleet) -> None:
        self.write(fleet)
        run = ansible_playbook(self.root, self.lab, COLLECTIONS, "site.yml", "-e", ONE_BATCH)
        if run.returncode != 0:
            raise AssertionError(f"seed {fleet.seed}: site.yml failed ({run.returncode})\n{describe(fleet)}\n{run.stdout[-5000:]}{run.stderr[-2000:]}")

    def kernel(self, fleet: Fleet, items: list[Probe]) -> list[str]:
        by_host: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            by_host.setdefault(item.src, []).append(index)

        def send(host: str) -> list[str]:
            specs = [{"src": fleet.host(item.src).address(item.src_if, item.family), "dst": fleet.host(item.dst).address(item.dst_if, item.family),
                      "protocol": item.protocol, "src_port": item.src_port, "dst_port": item.dst_port}
                     for item in (items[i] for i in by_host[host])]
            return run_prober(self.lab, host, specs)

        answers: list[str] = [""] * len(items)
        with ThreadPoolExecutor(len(self.lab.hosts)) as pool:
            # Probes from the failsafe source ports repeat their 5-tuples from fleet to fleet: an
            # entry an earlier fleet left (a SYN nobody answered stays for 120 s) would make a
            # reply ESTABLISHED that this fleet's rules left untracked.
            list(pool.map(lambda host: self.lab.exec(host, ["conntrack", "-F"]), self.lab.hosts))
        with ThreadPoolExecutor(len(by_host)) as pool:
            for host, result in zip(by_host, pool.map(send, by_host)):
                for index, answer in zip(by_host[host], result):
                    answers[index] = answer
        broken = [(items[i].label, a) for i, a in enumerate(answers) if a.startswith("error")]
        if broken:
            raise AssertionError(f"seed {fleet.seed}: probes could not run: {broken[:5]}")
        return answers

    def predict(self, fleet: Fleet, items: list[Probe]) -> list[tuple[str, list[dict[str, Any]]]]:
        """What explain says of each probe; every reply crossing is asked twice (tracked and not)
        in the same run, and the answer that fits the packet's own crossing of that host is used."""
        packets, shapes = [], []
        for item in items:
            there, back = crossings(item, fleet)
            shapes.append(len(there))
            packets += there
            for pair in back:
                packets += pair
        (self.root / "packets.json").write_text(json.dumps(packets))
        run = ansible_playbook(self.root, self.lab, COLLECTIONS, "predict.yml")
        if run.returncode != 0:
            raise AssertionError(f"seed {fleet.seed}: explain failed\n{run.stdout[-5000:]}{run.stderr[-2000:]}")
        results = json.loads((self.root / "predicted.json").read_text())
        predictions, at = [], 0
        self.last_untracked = 0
        for item, count in zip(items, shapes):
            forward = results[at: at + count]
            replies = results[at + count: at + 3 * count]
            at += 3 * count
            # the reply meets the hosts in the reverse order: its i-th crossing is the packet's (count-1-i)-th
            back = [replies[2 * i + (1 if untracked(forward[count - 1 - i]) else 0)] for i in range(count)]
            self.last_untracked += any(untracked(result) for result in forward)
            steps = forward + back
            passes = all(step["verdict"] != "deny" for step in steps)
            listening = item.protocol != "tcp" or item.dst_port in TCP_LISTEN
            predictions.append((("open" if listening else "refused") if passes else "filtered", steps))
        return predictions

    def mismatches(self, fleet: Fleet, items: list[Probe]) -> list[tuple[Probe, str, str, list[dict[str, Any]]]]:
        answers = self.kernel(fleet, items)
        predicted = self.predict(fleet, items)
        self.last_answers = Counter(answers)
        return [(item, answer, want, steps) for item, answer, (want, steps) in zip(items, answers, predicted) if answer != want]


def crossings(item: Probe, fleet: Fleet) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """The firewalls a probe crosses, as explain packets, and for its reply the same firewalls the
    other way, each as a (tracked, untracked) pair: ``ESTABLISHED``, or what conntrack makes of a
    reply it has no entry for."""
    src = fleet.host(item.src).address(item.src_if, item.family)
    dst = fleet.host(item.dst).address(item.dst_if, item.family)
    protocol = {"tcp": "TCP", "udp": "UDP", "icmp": "ICMP" if item.family == 4 else "ICMPv6"}[item.protocol]
    forward: dict[str, Any] = {"protocol": protocol}
    reply: dict[str, Any] = {"protocol": protocol}
    if item.protocol == "icmp":
        forward["icmp_type"], reply["icmp_type"] = (8, 0) if item.family == 4 else (128, 129)
        forward["icmp_code"] = reply["icmp_code"] = 0  # ping's echo request and reply
    else:
        forward.update(src_port=item.src_port, dst_port=item.dst_port)
        reply.update(src_port=item.dst_port, dst_port=item.src_port)
    if item.protocol == "tcp":
        reply["syn"] = False  # a SYN-ACK or a reset
    hops = [(item.src, None, item.src_if)]
    if item.via:
        hops.append((item.via, *(("eth0", "eth1") if item.dst_if == "eth1" else ("eth1", "eth0"))))
    hops.append((item.dst, item.dst_if, None))
    there = [{**forward, "host": host, **_interfaces(way_in, way_out), "src": src, "dst": dst} for host, way_in, way_out in hops]
    first_packet = "NEW" if item.protocol == "udp" else "INVALID"
    back = []
    for host, way_in, way_out in reversed(hops):
        packet = {**reply, "host": host, **_interfaces(arriving=way_out, leaving=way_in), "src": dst, "dst": src}
        back.append(({**packet, "ct_state": "ESTABLISHED"}, {**packet, "ct_state": first_packet}))
    return there, back


def _interfaces(arriving: str | None, leaving: str | None) -> dict[str, str]:
    return {key: name for key, name in (("in_interface", arriving), ("out_interface", leaving)) if name}


def untracked(result: dict[str, Any]) -> bool:
    """Whether a doNotTrack rule took the packet out of conntrack on this host."""
    return any(step["action"] == "notrack" for step in result["trace"])


def describe(fleet: Fleet) -> str:
    return yaml.safe_dump({"seed": fleet.seed, "labels": fleet.labels, "endpoints": fleet.endpoints, "host_extras": fleet.host_extras,
                           **fleet.fleet_vars}, sort_keys=False)


# --- shrinking ---------------------------------------------------------------------------------


def smaller(fleet: Fleet) -> list[Fleet]:
    """Fleets with one policy, one rule or one rule field fewer, largest cuts first."""
    found = []
    policies = fleet.policies
    for index in range(len(policies)):
        found.append(with_policies(fleet, policies[:index] + policies[index + 1:]))
    for index, policy in enumerate(policies):
        for direction in ("ingress", "egress"):
            for rule_index, rule in enumerate(policy.get(direction, [])):
                cut = {**policy, direction: policy[direction][:rule_index] + policy[direction][rule_index + 1:]}
                found.append(with_policies(fleet, policies[:index] + [cut] + policies[index + 1:]))
                for key in [k for k in rule if k not in ("action", "protocol")]:
                    trimmed = {**policy, direction: [*policy[direction][:rule_index], {k: v for k, v in rule.items() if k != key},
                                                     *policy[direction][rule_index + 1:]]}
                    found.append(with_policies(fleet, policies[:index] + [trimmed] + policies[index + 1:]))
    return found


def with_policies(fleet: Fleet, policies: list[dict[str, Any]]) -> Fleet:
    return dataclasses.replace(fleet, fleet_vars={**fleet.fleet_vars, "palisade_policies": policies})


def shrink(runner: Runner, fleet: Fleet, item: Probe) -> Fleet:
    """The smallest fleet found (greedy) on which ``item`` still mismatches."""
    current = fleet
    improved = True
    while improved:
        improved = False
        for candidate in smaller(current):
            try:
                runner.apply(candidate)
            except AssertionError:
                continue  # e.g. a policy left without rules that cannot be applied: not a smaller case
            probe = fresh_port(runner, item)
            if runner.mismatches(candidate, [probe]):
                current, improved = candidate, True
                break
    return current


def fresh_port(runner: Runner, item: Probe) -> Probe:
    if item.protocol == "icmp" or item.src_port in (179, 2379):
        return item
    return dataclasses.replace(item, src_port=runner.source_ports(1))


def report(runner: Runner, fleet: Fleet, found: list[tuple[Probe, str, str, list[dict[str, Any]]]]) -> str:
    item, answer, want, steps = found[0]
    shrunk = shrink(runner, fleet, item)
    runner.apply(shrunk)
    save = "iptables-save" if item.family == 4 else "ip6tables-save"
    on_path = sorted({item.src, item.dst, *([item.via] if item.via else [])})
    rules = {h: [line for line in runner.lab.exec(h, [save]).stdout.splitlines() if "pal-" in line] for h in on_path}
    lines = [f"seed {fleet.seed}: {len(found)} probe(s) disagree; first: {item.label}: kernel {answer}, explain {want}"]
    lines += [f"  explain on {s['host']}: {s['verdict']} ({s['decided_by']})" for s in steps]
    lines += [f"  also: {p.label}: kernel {a}, explain {w}" for p, a, w, _steps in found[1:6]]
    lines += ["--- the fleet ---", describe(fleet), "--- shrunk to ---", describe(shrunk)]
    for host, host_rules in rules.items():
        lines += [f"--- {host} (shrunk fleet) ---", *host_rules]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def runner(lab, tmp_path_factory):
    return Runner(lab, tmp_path_factory.mktemp("differential"))


@pytest.mark.parametrize("seed", seeds())
def test_explain_predicts_what_the_kernel_does(runner, seed):
    fleet = generate(seed, runner.hosts())
    runner.apply(fleet)
    items = probes(fleet, runner.source_ports(1000))
    found = runner.mismatches(fleet, items)
    kernel = ", ".join(f"{count} {answer}" for answer, count in sorted(runner.last_answers.items()))
    forwarded = sum(1 for item in items if item.via)
    print(f"seed {seed}: {len(fleet.policies)} policies, {len(items)} probes ({kernel}; {forwarded} forwarded, "
          f"{runner.last_untracked} untracked on the way), {len(found)} mismatches")
    assert not found, report(runner, fleet, found)
