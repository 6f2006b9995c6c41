# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action: validate the fleet and compile the rulesets of hosts.

Thin on purpose: read the inventory, call the engine, translate errors. No host is contacted.
"""

from __future__ import annotations

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiled_output import compiled_host_to_dict
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import Compiler
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet_action import FleetAction, requested_hosts
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet_index import FleetIndex


class ActionModule(FleetAction):
    ARGUMENT_SPEC = {"hosts": {"type": "list", "elements": "str"}}

    def work(self, fleet, args, task_vars):
        compiler = Compiler(FleetIndex(fleet))
        compiled = {host: compiled_host_to_dict(compiler.compile(host)) for host in requested_hosts(fleet, args, task_vars)}
        warnings = [str(w) for w in fleet.warnings] + [w for host in compiled.values() for w in host["warnings"]]
        return {"hosts": compiled}, warnings
