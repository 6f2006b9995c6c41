# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-host compile + render time and ruleset size, on the synthetic fleets of fleet_index.py.

For each fleet size the index is built once (as a play does), then a sample of hosts is
compiled and rendered one by one. Printed per size: time per host (mean, p95, max), rules per
host, ipsets and set members per host, and how rules per host relate to the policies
selecting the host. The rule count should follow the policies, not the fleet size; set members
do grow with the fleet (a selector resolves to more addresses), which is why they are sets.

    PYTHONPATH=.build/collections .venv/bin/python bench/compile.py [--sizes 5000] [--sample 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fleet_index import make_inventory  # noqa: E402

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import Compiler  # noqa: E402
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import load_fleet  # noqa: E402
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex  # noqa: E402
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import render_files  # noqa: E402


def measure_host(compiler: Compiler, host: str) -> dict[str, float]:
    start = time.perf_counter()
    compiled = compiler.compile(host)
    compiled_at = time.perf_counter()
    render_files(compiled.rulesets, host=host)
    done = time.perf_counter()
    rules = sum(len(chain.rules) for ruleset in compiled.rulesets for table in ruleset.tables for chain in table.chains)
    ipsets = sum(len(ruleset.ipsets) for ruleset in compiled.rulesets)
    members = sum(len(s.members) for ruleset in compiled.rulesets for s in ruleset.ipsets)
    policies = len({p.name for e in compiled.resolution.endpoints for d in ("Ingress", "Egress") for p in e.policies(d)})
    return {
        "compile": compiled_at - start,
        "render": done - compiled_at,
        "total": done - start,
        "rules": rules,
        "ipsets": ipsets,
        "members": members,
        "policies": policies,
    }


def resolve_every_selector(index: FleetIndex) -> None:
    for policy in index.fleet.catalog.policies:
        index.endpoints(policy.selector)
        for rule in (*policy.ingress, *policy.egress):
            for side in (rule.source, rule.destination):
                for selector in side.selectors:
                    index.addresses(selector)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(size: int, args: argparse.Namespace) -> dict[str, float]:
    inputs, _counts = make_inventory(size, policies=args.policies, network_sets=args.network_sets, seed=args.seed, copy_fleet_wide=False)
    start = time.perf_counter()
    fleet = load_fleet(inputs)
    index = FleetIndex(fleet)
    resolve_every_selector(index)  # "once the index exists": what bench/fleet_index.py times
    compiler = Compiler(index)
    setup = time.perf_counter() - start
    hosts = sorted(fleet.hosts)
    sample = random.Random(args.seed).sample(hosts, min(args.sample, len(hosts)))
    results = [measure_host(compiler, host) for host in sample]
    column = {key: [r[key] for r in results] for key in results[0]}
    by_policies: dict[int, list[float]] = {}
    for r in results:
        by_policies.setdefault(int(r["policies"]), []).append(r["rules"])
    print(f"\n{size:,} hosts, {args.policies} policies: load + index + every selector + resolver {setup:.2f} s; {len(sample)} hosts compiled and rendered")
    for key, unit, scale in (("compile", "ms", 1000), ("render", "ms", 1000), ("total", "ms", 1000)):
        values = column[key]
        print(
            f"  {key:8} mean {statistics.mean(values) * scale:7.2f} {unit}"
            f"   p95 {percentile(values, 0.95) * scale:7.2f} {unit}   max {max(values) * scale:7.2f} {unit}"
        )
    for key in ("policies", "rules", "ipsets", "members"):
        values = column[key]
        print(f"  {key:8} per host: mean {statistics.mean(values):8.1f}   min {min(values):6.0f}   max {max(values):6.0f}")
    print("  rules per host by number of selecting policies:", ", ".join(f"{p}: {statistics.mean(v):.0f}" for p, v in sorted(by_policies.items())))
    return {
        "size": size,
        "total_mean_ms": statistics.mean(column["total"]) * 1000,
        "rules_mean": statistics.mean(column["rules"]),
        "members_mean": statistics.mean(column["members"]),
        "policies_mean": statistics.mean(column["policies"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--policies", type=int, default=200)
    parser.add_argument("--network-sets", type=int, default=50)
    parser.add_argument("--sample", type=int, default=300, help="hosts compiled per size")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    summary = [run(size, args) for size in args.sizes]
    print("\nsize      compile+render/host  rules/host  policies/host  set members/host")
    for row in summary:
        print(f"{row['size']:>7,}   {row['total_mean_ms']:14.2f} ms  {row['rules_mean']:10.1f}  {row['policies_mean']:13.1f}  {row['members_mean']:16.1f}")


if __name__ == "__main__":
    main()
