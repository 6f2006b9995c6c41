# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What check mode's flow changes cost the controller per host, on a large fleet.

Run from the repository root, after ``make setup``::

    PYTHONPATH=.build/collections .venv/bin/python bench/flow_changes.py [--size 1000] [--policies 150] [--hosts 20]

The fleet is the generator of ``bench/fleet_index.py`` (same seed, same selectors). Two versions
of it are compiled: as generated, and with a change a user makes in one commit (one port added
to the first rule of every tenth policy, one policy's source selector narrowed). For
``--hosts`` hosts spread over the fleet (those of them with endpoints; ``--hosts 1000`` takes
all), the "before" rulesets are written as the flow record and read back the way check mode does (``ir_json`` without set
members; the members of the sets that differ, parsed from the rendered ``ipsets.restore``), and
``flow_report.report`` compares them with the "after" rulesets: the work the apply action does
per host in check mode, after the module returned. Printed: the number of flow classes and of
flow changes per host, the median and maximum time per host, and the hosts over the budget,
each measured three more times on a fresh compile (best of 3), since one measurement on a
shared machine can be far off.

This is the controller-side part only (the issue's budget: 0.5 s per host); the check run's
other costs are those of ``bench/fleet.py``.
"""

from __future__ import annotations

import argparse
import copy
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet_index import make_inventory  # noqa: E402

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.flow_record import set_members  # noqa: E402
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir_json  # noqa: E402
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import Compiler  # noqa: E402
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet  # noqa: E402
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex  # noqa: E402
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import render_files  # noqa: E402
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import flow_changes, flow_report  # noqa: E402

SEED = 7
BUDGET = 0.5  # seconds per host, the target


def changed(inputs: list[HostInput]) -> list[HostInput]:
    """The same fleet after one commit: a port more in every tenth policy, one selector narrowed."""
    policies = copy.deepcopy(inputs[0].variables["palisade_policies"])
    for index, policy in enumerate(policies):
        rules = policy.get("ingress") or policy.get("egress") or []
        if index % 10 == 0 and rules and "destination" in rules[0] and "ports" in rules[0]["destination"]:
            rules[0]["destination"]["ports"] = [*rules[0]["destination"]["ports"], 65000]
    for policy in policies:
        for rule in policy.get("ingress", []):
            if "selector" in rule.get("source", {}):
                rule["source"]["selector"] = f"({rule['source']['selector']}) && env == 'prod'"
                break
        else:
            continue
        break
    return [HostInput(h.name, h.groups, {**h.variables, "palisade_policies": policies}) for h in inputs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--policies", type=int, default=150)
    parser.add_argument("--network-sets", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=20)
    args = parser.parse_args()
    inputs, _shapes = make_inventory(args.size, policies=args.policies, network_sets=args.network_sets, seed=SEED, copy_fleet_wide=False)
    before_compiler = Compiler(FleetIndex(load_fleet(inputs)))
    after_compiler = Compiler(FleetIndex(load_fleet(changed(inputs))))
    names = [h.name for h in inputs]
    # spread over the whole fleet; a host without endpoints has no flows to compare
    picked = [n for n in names[:: max(1, len(names) // args.hosts)] if before_compiler.compile(n).resolution.endpoints]
    # the two compiled fleets are the bench's own heap, far larger than what a worker of a real
    # run holds: kept out of the garbage collector's passes, so one host's time is its own work
    gc.freeze()
    timings, classes, counts = [], [], []
    again: dict[str, float] = {}
    for name in picked:
        before, after = before_compiler.compile(name), after_compiler.compile(name)
        old_sets = set_members(render_files(before.rulesets, host=name)["ipsets.restore"])
        new_sets = set_members(render_files(after.rulesets, host=name)["ipsets.restore"])
        record = ir_json.dumps(before.rulesets)
        differing = {set_name: members for set_name, members in old_sets.items() if new_sets.get(set_name) != members}
        started = time.perf_counter()
        result = flow_report.report(after, flow_report.FOUND, record, differing)
        timings.append(time.perf_counter() - started)
        if timings[-1] > BUDGET:  # three times more, each on a fresh compile (no set index built before)
            again[name] = min(_timed(Compiler(after_compiler.index).compile(name), record, differing) for _run in range(3))
        counts.append(len(result["flow_changes"]))
        local = flow_changes.local_endpoints(item.endpoint for item in after.resolution.endpoints)
        peers = flow_report.resolution_peers(after)
        classes.append(sum(len(flow_changes.flow_classes([b, a], a.family, local, peers)) for b, a in zip(before.rulesets, after.rulesets)))
    print(f"fleet: {args.size} hosts, {args.policies} policies, {args.network_sets} network sets; {len(picked)} hosts measured")
    print(f"flow classes per host: median {statistics.median(classes):.0f}, max {max(classes)}")
    print(f"flow changes per host: median {statistics.median(counts):.0f}, max {max(counts)}, hosts with changes {sum(1 for c in counts if c)}")
    print(f"controller time per host (record read back + classes + simulation): median {statistics.median(timings):.3f} s, "
          f"max {max(timings):.3f} s")
    slowest = max(range(len(picked)), key=lambda i: timings[i])
    print(f"hosts over the {BUDGET} s budget: {len(again)} of {len(picked)}; the slowest, {picked[slowest]}, "
          f"has {classes[slowest]} flow classes and {counts[slowest]} flow changes")
    if again:
        print(f"those hosts measured again (best of 3): {', '.join(f'{name} {seconds:.3f} s' for name, seconds in again.items())}; "
              f"still over: {sum(1 for seconds in again.values() if seconds > BUDGET)}")


def _timed(compiled, record: str, differing: dict) -> float:
    started = time.perf_counter()
    flow_report.report(compiled, flow_report.FOUND, record, differing)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
