# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action: what happens to a packet on a host, and why. No host is contacted.

Thin on purpose: read the inventory, compile the host with the engine, simulate, translate.
"""

from __future__ import annotations

from ansible_collections.palisade.firewall.plugins.modules.explain import ARGUMENT_SPEC
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.explain_request import build_packet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet_action import FleetAction
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet_index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulator import explain, outcome_to_dict


class ActionModule(FleetAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, fleet, args, task_vars):
        if args["host"] not in fleet.hosts:
            raise PalisadeError(f"host: {args['host']!r} is not an inventory host")
        compiled = compile_host(FleetIndex(fleet), args["host"])
        outcome = explain(compiled.rulesets, build_packet(fleet, args))
        return outcome_to_dict(outcome), list(compiled.warnings)
