# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the fleet engine on synthetic inventories: load, index, selectors, resolution.

Run from the repository root::

    PYTHONPATH=.build/collections .venv/bin/python bench/fleet_index.py            # all sizes
    PYTHONPATH=.build/collections .venv/bin/python bench/fleet_index.py --sizes 5000 --profile

Every size runs in its own child process so that its peak RSS and the selector parse cache
(``parse_selector`` is memoised) start from scratch. Times are the best of ``--repeat`` runs,
measured without tracemalloc; memory is measured in a separate tracemalloc pass.

The inventories are deterministic (seeded) and synthetic: the addresses are drawn from
10.0.0.0/8 and 2001:db8::/32 and are never used on a network.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import io
import json
import pstats
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any, Callable

from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet import index as fleet_index_module
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import Fleet, HostInput, load_fleet, settle
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.resolution import Resolver, resolution_to_dict
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import Selector, parse_selector

DEFAULT_SIZES = (1000, 5000, 20000)
TARGET_SIZE = 5000
TARGET_SECONDS = 2.0
TARGET_RATIO = 5.0

# --- label vocabulary -------------------------------------------------------------------------

ROLES = (
    "web", "api", "db", "cache", "queue", "worker", "etcd", "k8s-master", "k8s-worker", "lb",
    "proxy", "dns", "ntp", "ldap", "mail", "monitoring", "logging", "metrics", "backup", "storage",
    "ci", "registry", "vault", "bastion", "vpn", "search", "analytics", "ml", "batch", "management",
)  # 30
# Skewed like a real fleet: many workers and web/api hosts, few bastions.
ROLE_WEIGHTS = tuple(max(1, 40 - 3 * i) if i < 12 else 3 for i in range(len(ROLES)))
ENVIRONMENTS = ("production", "staging", "dev")
ENVIRONMENT_WEIGHTS = (60, 25, 15)
DATACENTERS = tuple(f"dc{n:02d}" for n in range(1, 11))  # 10; zone = dc + a/b/c (30)
TEAMS = (
    "core", "payments", "search", "platform", "data", "ml", "infra", "sre", "security", "identity",
    "billing", "growth", "mobile", "frontend", "ads", "media", "messaging", "storage", "network", "ops",
)  # 20
OSES = ("debian", "rhel")
RACK_SIZE = 40  # hosts per rack: rack cardinality = hosts / 40
# Inventory groups besides the role/environment/datacenter ones, with membership probability.
FEATURE_GROUPS = {
    "monitored": 0.8, "backup_clients": 0.4, "pci": 0.08, "legacy": 0.1, "canary": 0.03,
    "k8s": 0.2, "internet_facing": 0.1, "gpu": 0.03, "ipv6": 0.3,
}
PATCH_WAVES = tuple(f"patch_wave_{n}" for n in range(1, 5))  # exactly one per host
NETWORK_SET_KINDS = (
    "partner", "external", "monitoring", "vpn", "office", "cloud", "saas", "scanner", "cdn", "backup-target",
)
PORTS = (22, 53, 80, 443, 2379, 3306, 5432, 6379, 8080, 8443, 9090, 9100, 10250, "8000:8100", "30000:32767")

GROUP = "group.palisade.io/"


def role_group(role: str) -> str:
    return role.replace("-", "_")


# --- inventory generation ---------------------------------------------------------------------


SELECTED_RACKS = 25  # rack selectors name the first racks, which every size from 1,000 hosts has


@dataclass
class Vocabulary:
    """What selectors may name. It does not depend on the fleet size, so that every size gets
    the same policies and network sets and the ratios between sizes measure the engine only."""

    racks: list[str]
    groups: list[str]


def rack_of(rack_number: int) -> tuple[str, str, str]:
    """(datacenter, zone, rack) of a rack: racks are spread over the datacenters in turn."""
    dc = DATACENTERS[rack_number % len(DATACENTERS)]
    zone = f"{dc}-{'abc'[(rack_number // len(DATACENTERS)) % 3]}"
    return dc, zone, f"{dc}-r{rack_number:04d}"


VOCABULARY = Vocabulary(
    racks=[rack_of(n)[2] for n in range(SELECTED_RACKS)],
    groups=sorted({role_group(role) for role in ROLES} | set(ENVIRONMENTS) | set(DATACENTERS) | set(FEATURE_GROUPS) | set(PATCH_WAVES)),
)


def make_hosts(size: int, rng: random.Random) -> list[dict[str, Any]]:
    hosts = []
    for i in range(size):
        rack_number = i // RACK_SIZE
        slot = i % RACK_SIZE
        dc, zone, rack = rack_of(rack_number)
        role = rng.choices(ROLES, ROLE_WEIGHTS)[0]
        environment = rng.choices(ENVIRONMENTS, ENVIRONMENT_WEIGHTS)[0]
        labels = {
            "role": role,
            "environment": environment,
            "datacenter": dc,
            "zone": zone,
            "rack": rack,
            "team": rng.choice(TEAMS),
            "os": rng.choice(OSES),
        }
        groups = ["all", role_group(role), environment, dc, rng.choice(PATCH_WAVES)]
        groups += [g for g, p in FEATURE_GROUPS.items() if rng.random() < p]
        # Addresses follow the rack, as they would with one subnet per rack.
        ipv4 = IPv4Address(0x0A000000 + rack_number * 64 + slot + 1)  # 10.0.0.0/9
        endpoints: list[dict[str, Any]] = [{"interfaceName": "eth0", "expectedIPs": [str(ipv4)]}]
        if "ipv6" in groups:
            endpoints[0]["expectedIPs"].append(str(IPv6Address((0x20010DB8 << 96) + (rack_number << 64) + slot + 1)))
        if rng.random() < 0.3:  # a second, storage/backend network
            storage = IPv4Address(0x0A800000 + rack_number * 64 + slot + 1)  # 10.128.0.0/9
            endpoints.append({
                "interfaceName": "eth1",
                "expectedIPs": [str(storage)],
                "labels": {"network": rng.choice(("storage", "backend"))},
            })
        hosts.append({
            "name": f"host-{i:05d}",
            "groups": tuple(sorted(groups)),
            "labels": labels,
            "endpoints": endpoints,
            "ansible_host": str(ipv4),
        })
    return hosts


def make_network_sets(count: int, rng: random.Random) -> list[dict[str, Any]]:
    sets = []
    for n in range(count):
        labels = {"kind": rng.choice(NETWORK_SET_KINDS)}
        if rng.random() < 0.3:
            labels["role"] = rng.choice(ROLES)  # so that role selectors also match some sets
        if rng.random() < 0.5:
            labels["environment"] = rng.choice(ENVIRONMENTS)
        nets = []
        for k in range(rng.randint(1, 6)):
            if rng.random() < 0.2:
                nets.append(f"2001:db8:ff{n:02x}:{k:x}00::/56")
            else:
                base = 0x0AF00000 + (n * 16 + k) * 256  # 10.240.0.0/12
                nets.append(f"{IPv4Address(base)}/{rng.choice((24, 25, 26, 28, 32))}")
        sets.append({"name": f"netset-{n:03d}", "labels": labels, "nets": nets})
    return sets


def _q(value: str) -> str:
    return f'"{value}"'


def _role(rng: random.Random) -> str:
    return _q(rng.choices(ROLES, ROLE_WEIGHTS)[0])


def _roles(rng: random.Random, low: int = 2, high: int = 4) -> str:
    return "{" + ", ".join(_q(r) for r in rng.sample(ROLES, rng.randint(low, high))) + "}"


def _env(rng: random.Random) -> str:
    return _q(rng.choice(ENVIRONMENTS))


# Selector shapes: (weight as a policy's own selector, weight as a rule selector, builder).
# Shapes marked "scan" cannot be narrowed by the label index (!=, !has, starts with, all()).
SHAPES: list[tuple[str, int, int, Callable[[random.Random, Vocabulary], str]]] = [
    ("eq", 20, 16, lambda r, v: f"role == {_role(r)}"),
    ("has-group", 8, 6, lambda r, v: f"has({GROUP}{r.choice(v.groups)})"),
    ("in", 10, 8, lambda r, v: f"role in {_roles(r)}"),
    ("and", 15, 10, lambda r, v: f"role == {_role(r)} && environment == {_env(r)}"),
    ("and3", 5, 3, lambda r, v: f"role == {_role(r)} && environment == {_env(r)} && datacenter == {_q(r.choice(DATACENTERS))}"),
    ("or", 6, 6, lambda r, v: f"role == {_role(r)} || role == {_role(r)}"),
    ("and-or", 4, 4, lambda r, v: f"environment == {_env(r)} && (role == {_role(r)} || has({GROUP}{r.choice(v.groups)}))"),
    ("eq-team", 5, 4, lambda r, v: f"team == {_q(r.choice(TEAMS))}"),
    ("eq-rack", 2, 2, lambda r, v: f"rack == {_q(r.choice(v.racks))}"),
    ("and-ne", 6, 5, lambda r, v: f"role == {_role(r)} && environment != {_q('dev')}"),
    ("and-not-has", 4, 3, lambda r, v: f"has({GROUP}k8s) && !has({GROUP}{r.choice(('canary', 'legacy', 'gpu'))})"),
    ("and-starts-with", 3, 2, lambda r, v: f"role == {_role(r)} && rack starts with {_q(r.choice(DATACENTERS) + '-')}"),
    ("in-not-in", 2, 2, lambda r, v: f"datacenter in {{{_q(r.choice(DATACENTERS))}, {_q(r.choice(DATACENTERS))}}} && role not in {_roles(r, 1, 3)}"),
    ("scan:ne", 1, 1, lambda r, v: f"environment != {_env(r)}"),
    ("scan:not-has", 1, 1, lambda r, v: f"!has({GROUP}{r.choice(('legacy', 'canary', 'pci'))})"),
    ("scan:starts-with", 2, 2, lambda r, v: f"zone starts with {_q(r.choice(DATACENTERS))}"),
    ("scan:all", 1, 1, lambda r, v: "all()"),
    ("eq-kind", 0, 8, lambda r, v: f"kind == {_q(r.choice(NETWORK_SET_KINDS))}"),
    ("kind-or-role", 0, 3, lambda r, v: f"kind == {_q(r.choice(NETWORK_SET_KINDS))} || role == {_role(r)}"),
]
NOT_SELECTORS = (
    lambda r, v: f"environment == {_q('dev')}",
    lambda r, v: f"has({GROUP}canary)",
    lambda r, v: f"role == {_role(r)}",
    lambda r, v: f"datacenter == {_q(r.choice(DATACENTERS))}",
)
# Real policy sets keep naming the same sources (monitoring, bastions, the management network).
COMMON_RULE_SELECTORS = (
    'role == "monitoring"',
    'role == "bastion"',
    f"has({GROUP}monitored)",
    'kind == "monitoring"',
    'role in {"lb", "proxy"}',
    'role == "management" || kind == "office"',
)


def pick_selector(rng: random.Random, vocabulary: Vocabulary, *, rule: bool) -> tuple[str, str]:
    weights = [shape[2] if rule else shape[1] for shape in SHAPES]
    name, _policy_weight, _rule_weight, build = rng.choices(SHAPES, weights)[0]
    return name, build(rng, vocabulary)


def make_policies(count: int, rng: random.Random, vocabulary: Vocabulary) -> tuple[list[dict[str, Any]], Counter]:
    policies = []
    shapes: Counter = Counter()
    for n in range(count):
        shape, spec_selector = pick_selector(rng, vocabulary, rule=False)
        shapes[shape] += 1
        ingress: list[dict[str, Any]] = []
        egress: list[dict[str, Any]] = []
        remaining = rng.randint(2, 5) - 1  # selectors besides the policy's own
        while remaining > 0:
            if rng.random() < 0.3:
                text, shape = rng.choice(COMMON_RULE_SELECTORS), "common"
            else:
                shape, text = pick_selector(rng, vocabulary, rule=True)
            shapes[shape] += 1
            remaining -= 1
            side: dict[str, Any] = {"selector": text}
            if remaining > 0 and rng.random() < 0.3:
                side["notSelector"] = rng.choice(NOT_SELECTORS)(rng, vocabulary)
                shapes["notSelector"] += 1
                remaining -= 1
            ports = rng.sample(PORTS, rng.randint(1, 3))
            if rng.random() < 0.65:
                ingress.append({"action": "Allow", "protocol": "TCP", "source": side, "destination": {"ports": ports}})
            else:
                egress.append({"action": "Allow", "protocol": rng.choice(("TCP", "UDP")), "destination": {**side, "ports": ports}})
        if rng.random() < 0.2:
            ingress.append({"action": "Allow", "protocol": "ICMP"})
        if rng.random() < 0.1:
            ingress.append({"action": "Deny"})
        policy: dict[str, Any] = {"name": f"policy-{n:03d}", "selector": spec_selector}
        if rng.random() < 0.9:
            policy["order"] = rng.choice((0, 10, 100, 200, 500, 1000, rng.randint(1, 999)))
        if ingress:
            policy["ingress"] = ingress
        if egress:
            policy["egress"] = egress
        policies.append(policy)
    return policies, shapes


def make_inventory(size: int, *, policies: int, network_sets: int, seed: int, copy_fleet_wide: bool) -> tuple[list[HostInput], Counter]:
    # Fleet-wide resources depend on the seed only: every size gets the same ones.
    fleet_rng = random.Random(f"{seed}-fleet-wide")
    network_set_list = make_network_sets(network_sets, fleet_rng)
    policy_list, shapes = make_policies(policies, fleet_rng, VOCABULARY)
    hosts = make_hosts(size, random.Random(f"{seed}-hosts-{size}"))
    inputs = []
    for host in hosts:
        # One shared object per fleet-wide variable, as group_vars/all gives every host; with
        # --copy-fleet-wide every host gets an equal copy instead (as templated hostvars may).
        fleet_policies = copy.deepcopy(policy_list) if copy_fleet_wide else policy_list
        fleet_sets = copy.deepcopy(network_set_list) if copy_fleet_wide else network_set_list
        variables = {
            "ansible_host": host["ansible_host"],
            "palisade_labels": host["labels"],
            "palisade_host_endpoints": host["endpoints"],
            "palisade_policies": fleet_policies,
            "palisade_network_sets": fleet_sets,
        }
        inputs.append(HostInput(host["name"], host["groups"], variables))
    return inputs, shapes


# --- measurement ------------------------------------------------------------------------------


def policy_selectors(fleet: Fleet) -> tuple[list[Selector], list[Selector]]:
    """Every policy's own selector, and every selector/notSelector of its rules."""
    specs = [policy.selector for policy in fleet.catalog.policies]
    rules = [
        selector
        for policy in fleet.catalog.policies
        for rule in (*policy.ingress, *policy.egress)
        for side in (rule.source, rule.destination)
        for selector in side.selectors
    ]
    return specs, rules


def resolve_selectors(index: FleetIndex, specs: list[Selector], rules: list[Selector]) -> None:
    for selector in specs:
        index.endpoints(selector)
    for selector in rules:
        index.addresses(selector)


def resolve_each(resolver: Resolver, names: list[str]) -> None:
    for name in names:
        resolver.resolve(name)  # results dropped, as the action plugin drops each after use


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def clock(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def sample_hosts(fleet: Fleet, count: int) -> list[str]:
    names = list(fleet.hosts)
    step = max(1, len(names) // max(1, count))
    return names[::step][:count]


def run_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Everything measured for one size (meant to run in a fresh process).

    The fleet phases (load, index, selectors) run ``--repeat`` times and keep the best; the
    per-host phases run once, on the first run's warm index, because at 20,000 hosts they take
    minutes.
    """
    generate_s, (inputs, shapes) = clock(lambda: make_inventory(
        size, policies=args.policies, network_sets=args.network_sets, seed=args.seed, copy_fleet_wide=args.copy_fleet_wide
    ))
    gc.collect()
    rss_before = maxrss_mib()
    best: dict[str, float] = {}
    once: dict[str, Any] = {}
    rss_phases = 0.0
    for attempt in range(args.repeat):
        parse_selector.cache_clear()
        gc.collect()
        load_s, fleet = clock(lambda: load_fleet(inputs))
        fleet = settle(fleet)  # as the actions do: the fleet's objects leave the collector's scans
        index_s, index = clock(lambda: FleetIndex(fleet))
        specs, rules = policy_selectors(fleet)
        selectors_s, _value = clock(lambda: resolve_selectors(index, specs, rules))
        for key, value in (("load", load_s), ("index", index_s), ("selectors", selectors_s)):
            best[key] = min(best.get(key, float("inf")), value)
        if attempt == 0:
            rss_phases = maxrss_mib() - rss_before
            once["resolver_init"], resolver = clock(lambda: Resolver(index))
            resolved = list(fleet.hosts) if not args.resolve_sample else sample_hosts(fleet, args.resolve_sample)
            resolve_s, _value = clock(lambda: resolve_each(resolver, resolved))
            once["resolve_all"] = resolve_s * len(fleet.hosts) / len(resolved)
            once["resolve_sample"] = len(resolved)
            sample = sample_hosts(fleet, args.to_dict_sample)
            resolutions = [resolver.resolve(name) for name in sample]
            to_dict_s, _value = clock(lambda: [len(resolution_to_dict(r)) for r in resolutions])
            once["to_dict_per_host"] = to_dict_s / len(sample)
            once["to_dict_json_kib"] = len(json.dumps(resolution_to_dict(resolutions[0]))) / 1024
            once["to_dict_sample"] = len(sample)
            once.update(fleet_stats(fleet, index, specs, rules, resolutions))
            del resolver, resolutions
        del fleet, index
        gc.unfreeze()
    rss_all = maxrss_mib() - rss_before

    traced_peak = traced_retained = None
    if not args.no_tracemalloc:
        parse_selector.cache_clear()
        gc.collect()
        tracemalloc.start()
        fleet = load_fleet(inputs)
        index = FleetIndex(fleet)
        resolve_selectors(index, *policy_selectors(fleet))
        traced_retained, traced_peak = (v / 2**20 for v in tracemalloc.get_traced_memory())
        tracemalloc.stop()
        del fleet, index

    return {
        "size": size,
        "generate": generate_s,
        **best,
        **once,
        "target_metric": best["index"] + best["selectors"],
        "total": best["load"] + best["index"] + best["selectors"],
        "rss_phases_mib": rss_phases,
        "rss_all_mib": rss_all,
        "traced_peak_mib": traced_peak,
        "traced_retained_mib": traced_retained,
        "shapes": dict(shapes),
    }


def cidr_count(address_set: Any) -> int:
    """CIDRs of an AddressSet, without building ipaddress objects when it keeps integer blocks."""
    v4 = getattr(address_set, "ipv4_blocks", None)
    v6 = getattr(address_set, "ipv6_blocks", None)
    if v4 is None or v6 is None:
        v4, v6 = address_set.ipv4, address_set.ipv6
    return len(v4) + len(v6)


def fleet_stats(fleet: Fleet, index: FleetIndex, specs: list[Selector], rules: list[Selector], resolutions: list[Any]) -> dict[str, Any]:
    """Shape of the workload: counts, distinct selectors, matches, how many the index narrows."""
    distinct = {s.canonical: s for s in (*specs, *rules)}
    narrowable = None
    labels_index = getattr(index, "_endpoints", None)
    if labels_index is not None and hasattr(labels_index, "_candidates"):  # private; stats only
        narrowable = sum(labels_index._candidates(s.root) is not None for s in distinct.values())
    endpoint_matches = [len(index.endpoints(s)) for s in distinct.values()]
    address_sets = [index.addresses(s) for s in rules]
    per_host_selectors = [len(r.rule_selectors) for r in resolutions]
    return {
        "hosts": len(fleet.hosts),
        "endpoints": len(fleet.endpoints),
        "policies": len(fleet.catalog.policies),
        "network_sets": len(fleet.catalog.network_sets),
        "spec_selectors": len(specs),
        "rule_selectors": len(rules),
        "distinct_selectors": len(distinct),
        "narrowable": narrowable,
        "mean_matches": sum(endpoint_matches) / len(endpoint_matches),
        "mean_cidrs": sum(cidr_count(a) for a in address_sets) / max(1, len(address_sets)),
        "mean_host_rule_selectors": sum(per_host_selectors) / max(1, len(per_host_selectors)),
    }


def profile_size(size: int, args: argparse.Namespace) -> None:
    inputs, _counts = make_inventory(size, policies=args.policies, network_sets=args.network_sets, seed=args.seed, copy_fleet_wide=args.copy_fleet_wide)
    parse_selector.cache_clear()
    gc.collect()
    fleet = load_fleet(inputs)
    index = FleetIndex(fleet)  # warm, for the per-host profile
    resolve_selectors(index, *policy_selectors(fleet))

    def index_and_selectors() -> None:
        fresh = FleetIndex(fleet)
        resolve_selectors(fresh, *policy_selectors(fleet))

    def resolve_all() -> None:
        resolver = Resolver(index)
        for name in fleet.hosts:
            resolver.resolve(name)

    profiles = [
        ("load_fleet", lambda: load_fleet(inputs)),
        ("FleetIndex + every policy selector", index_and_selectors),
        ("Resolver + resolve every host (warm index)", resolve_all),
    ]
    for title, function in profiles:
        profiler = cProfile.Profile()
        profiler.runcall(function)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats(args.profile_sort).print_stats(args.profile_lines)
        print(f"\n=== cProfile, {size} hosts: {title} (sorted by {args.profile_sort}) ===")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


# --- output -----------------------------------------------------------------------------------


def engine_revision() -> str:
    """The commit measured, and whether the engine had uncommitted changes (it is often in flux)."""
    root = Path(fleet_index_module.__file__).resolve().parent.parent.parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "plugins"], cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return f"engine at {root}, not a git checkout"
    return f"{head}{' + uncommitted changes in plugins/' if dirty.strip() else ''}"


def print_report(results: list[dict[str, Any]], args: argparse.Namespace, revision: str) -> None:
    print(f"palisade.firewall fleet benchmark ({revision}): {args.policies} policies, {args.network_sets} network sets, "
          f"seed {args.seed}, best of {args.repeat} run(s), Python {sys.version.split()[0]}"
          + (", fleet-wide variables COPIED per host" if args.copy_fleet_wide else ", fleet-wide variables shared"))
    print()
    print("Workload")
    print(f"{'hosts':>7} {'endpts':>7} {'sets':>5} {'spec sel':>8} {'rule sel':>8} {'distinct':>8} {'narrowed':>8} "
          f"{'matches/sel':>11} {'CIDRs/rule sel':>14} {'sel/host':>8}")
    for r in results:
        narrowed = "?" if r["narrowable"] is None else f"{r['narrowable']}"
        print(f"{r['hosts']:>7} {r['endpoints']:>7} {r['network_sets']:>5} {r['spec_selectors']:>8} {r['rule_selectors']:>8} "
              f"{r['distinct_selectors']:>8} {narrowed:>8} {r['mean_matches']:>11.1f} {r['mean_cidrs']:>14.1f} "
              f"{r['mean_host_rule_selectors']:>8.1f}")
    print("  narrowed: distinct selectors the label index can narrow (the rest scan every endpoint)")
    print("  matches/sel: mean endpoints per distinct selector; sel/host: mean rule selectors in one host's resolution")
    if results:
        shapes = sorted(results[0]["shapes"].items(), key=lambda item: (-item[1], item[0]))
        print("  selector shapes (same at every size): " + ", ".join(f"{name} {count}" for name, count in shapes))
    print()
    print("Fleet phases (seconds; 'index+sel' is the issue's target metric)")
    print(f"{'hosts':>7} {'load_fleet':>10} {'FleetIndex':>10} {'selectors':>10} {'index+sel':>10} {'total':>8} "
          f"{'tracemalloc peak':>16} {'retained':>9} {'maxrss delta':>12}")
    for r in results:
        peak = "-" if r["traced_peak_mib"] is None else f"{r['traced_peak_mib']:.1f} MiB"
        kept = "-" if r["traced_retained_mib"] is None else f"{r['traced_retained_mib']:.1f} MiB"
        print(f"{r['size']:>7} {r['load']:>10.3f} {r['index']:>10.3f} {r['selectors']:>10.3f} {r['target_metric']:>10.3f} "
              f"{r['total']:>8.3f} {peak:>16} {kept:>9} {r['rss_phases_mib']:>8.1f} MiB")
    print("  tracemalloc peak/retained: Python allocations of load_fleet + FleetIndex + selectors (synthetic inputs excluded)")
    print("  maxrss delta: growth of the process's peak RSS (ru_maxrss) over the same phases, first run")
    print()
    print("Per-host work (warm index: every policy selector already resolved; one run)")
    print(f"{'hosts':>7} {'Resolver()':>10} {'resolve all':>11} {'per host':>10} {'to_dict/host':>12} {'to_dict all (est.)':>18} "
          f"{'JSON/host':>10} {'maxrss delta':>12}")
    for r in results:
        n = r["hosts"]
        print(f"{r['size']:>7} {r['resolver_init']:>10.3f} {r['resolve_all']:>11.3f} {r['resolve_all'] / n * 1e6:>8.0f}us "
              f"{r['to_dict_per_host'] * 1e3:>10.2f}ms {r['to_dict_per_host'] * n:>16.1f} s {r['to_dict_json_kib']:>6.0f} KiB "
              f"{r['rss_all_mib']:>8.1f} MiB")
    sampled = [r for r in results if r["resolve_sample"] < r["hosts"]]
    print("  resolve all: Resolver(index).resolve(host) for every host, timed once"
          + (f" (estimated from {sampled[0]['resolve_sample']} evenly spread hosts)" if sampled else ""))
    print(f"  to_dict: resolution_to_dict (the action's output) timed on {results[0]['to_dict_sample'] if results else 0} evenly spread hosts, "
          "times the host count for 'all'; JSON/host: size of the first host's result as JSON")
    print("  maxrss delta here: all timed runs of the size (every phase and repeat; not the tracemalloc pass)")
    print()
    by_size = {r["size"]: r for r in results}
    base = by_size.get(TARGET_SIZE)
    if base is not None:
        verdict = "met" if base["target_metric"] <= TARGET_SECONDS else "MISSED"
        print(f"Target: {TARGET_SIZE} hosts, index+sel <= {TARGET_SECONDS:.1f} s: {base['target_metric']:.3f} s -> {verdict}")
        if verdict != "met":
            print(f"  hotspots: {sys.argv[0]} --sizes {TARGET_SIZE} --profile")
    for big in sorted(by_size):
        if base is None or big <= TARGET_SIZE:
            continue
        r = by_size[big]
        ratio = r["target_metric"] / base["target_metric"]
        verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
        print(f"Ratio {big}/{TARGET_SIZE}: index+sel {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x -> {verdict}); "
              f"total {r['total'] / base['total']:.2f}x; load_fleet {r['load'] / base['load']:.2f}x; "
              f"resolve all {r['resolve_all'] / base['resolve_all']:.2f}x; "
              f"per host {(r['resolve_all'] / r['hosts']) / (base['resolve_all'] / base['hosts']):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="host counts (default: %(default)s)")
    parser.add_argument("--policies", type=int, default=200, help="policies (default: %(default)s)")
    parser.add_argument("--network-sets", type=int, default=50, help="network sets (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size, best kept (default: %(default)s)")
    parser.add_argument("--resolve-sample", type=int, default=0,
                        help="time resolve() on this many evenly spread hosts and extrapolate (default: every host)")
    parser.add_argument("--to-dict-sample", type=int, default=200, help="hosts whose resolution_to_dict is timed (default: %(default)s)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument("--copy-fleet-wide", action="store_true",
                        help="give every host its own equal copy of palisade_policies/palisade_network_sets")
    parser.add_argument("--in-process", action="store_true", help="run every size in this process (memory figures then mix)")
    parser.add_argument("--profile", action="store_true", help="instead of timing, print cProfile hotspots per phase")
    parser.add_argument("--profile-sort", default="tottime", help="pstats sort key (default: %(default)s)")
    parser.add_argument("--profile-lines", type=int, default=20, help="rows per profile (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()

    if args.profile:
        for size in args.sizes:
            profile_size(size, args)
        return
    if args.json:
        print(json.dumps([run_size(size, args) for size in args.sizes]))
        return
    revision = engine_revision()
    results = []
    for size in args.sizes:
        if args.in_process:
            results.append(run_size(size, args))
            continue
        child = [sys.executable, __file__, "--json", "--sizes", str(size), "--policies", str(args.policies),
                 "--network-sets", str(args.network_sets), "--seed", str(args.seed), "--repeat", str(args.repeat),
                 "--to-dict-sample", str(args.to_dict_sample), "--resolve-sample", str(args.resolve_sample)]
        child += ["--no-tracemalloc"] * args.no_tracemalloc + ["--copy-fleet-wide"] * args.copy_fleet_wide
        done = subprocess.run(child, check=True, stdout=subprocess.PIPE, text=True)
        results.extend(json.loads(done.stdout.strip().splitlines()[-1]))
    print_report(results, args, revision)


if __name__ == "__main__":
    main()
