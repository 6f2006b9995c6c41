# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action: what happens to a packet (or many) on a host, and why. No host is contacted.

Thin on purpose: read the inventory, compile each host named once with the engine, simulate,
translate.
"""

from __future__ import annotations

from collections import Counter

from ansible_collections.palisade.firewall.plugins.modules.explain import ARGUMENT_SPEC, MUTUALLY_EXCLUSIVE, SINGLE_PACKET_REQUIRED
from ansible_collections.palisade.firewall.plugins.plugin_utils.action_support.fleet_action import FleetAction
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.explain_request import build_packet, build_packets, packet_requests
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.simulator import explain, outcome_to_dict, packet_summary


class ActionModule(FleetAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    MUTUALLY_EXCLUSIVE = MUTUALLY_EXCLUSIVE

    def work(self, fleet, args, task_vars):
        if args.get("packets") is not None:
            return self._many(fleet, args)
        missing = [name for name in SINGLE_PACKET_REQUIRED if args.get(name) is None]
        if missing:
            raise PalisadeError(f"missing required option(s) {', '.join(missing)} (or give packets)")
        if args["host"] not in fleet.hosts:
            raise PalisadeError(f"host: {args['host']!r} is not an inventory host")
        compiled = compile_host(FleetIndex(fleet), args["host"])
        outcome = explain(compiled.rulesets, build_packet(fleet, args))
        return outcome_to_dict(outcome), list(compiled.warnings)

    def _many(self, fleet, args):
        """One result per packet, in order; each host is compiled once however many packets it has."""
        requests = packet_requests(args["packets"], args.get("host"))
        packets = build_packets(fleet, requests)
        index = FleetIndex(fleet)
        compiled = {}
        results, warnings = [], []
        for request, packet in zip(requests, packets):
            host = request["host"]
            if host not in compiled:
                compiled[host] = compile_host(index, host)
                warnings += compiled[host].warnings
            full = outcome_to_dict(explain(compiled[host].rulesets, packet))
            result = {"host": host, "verdict": full["verdict"], "decided_by": full["decided_by"], "note": full["note"]}
            if args["details"]:
                result.update(trace=full["trace"], report=full["report"])
            result["line"] = f"{host}: {packet_summary(packet)}: {full['report'][0].removeprefix('verdict: ')}"
            results.append(result)
        counts = Counter(result["verdict"] for result in results)
        summary = ", ".join(f"{counts[verdict]} {verdict}" for verdict in ("allow", "deny", "untouched") if counts[verdict])
        output = {"results": results, "report": [r["line"] for r in results], "summary": f"{len(results)} packets: {summary or 'none'}"}
        return output, warnings
