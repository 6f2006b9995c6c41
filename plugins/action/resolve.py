# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action: validate the fleet and resolve policies for hosts.

Thin on purpose: read the inventory, call the engine, translate errors. No host is contacted.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import ValidationError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet import load_fleet, settle
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet_index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.inventory import fleet_inputs_from_task_vars
from ansible_collections.palisade.firewall.plugins.plugin_utils.resolution import Resolver, resolution_to_dict

ARGUMENT_SPEC = {
    "hosts": {"type": "list", "elements": "str"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        wanted = args["hosts"] if args["hosts"] is not None else [task_vars["inventory_hostname"]]
        try:
            fleet = settle(load_fleet(fleet_inputs_from_task_vars(task_vars)))
        except ValidationError as err:
            return {**result, "failed": True, "msg": str(err), "problems": [str(p) for p in err.problems]}
        unknown = sorted(set(wanted) - set(fleet.hosts))
        if unknown:
            return {**result, "failed": True, "msg": f"not inventory hosts: {', '.join(unknown)}"}
        resolver = Resolver(FleetIndex(fleet))
        resolved = {}
        warnings = [str(problem) for problem in fleet.warnings]
        try:
            for host in wanted:
                resolution = resolver.resolve(host)
                resolved[host] = resolution_to_dict(resolution)
                warnings.extend(str(problem) for problem in resolution.warnings)
        except ValidationError as err:
            return {**result, "failed": True, "msg": str(err), "problems": [str(p) for p in err.problems]}
        result.update(changed=False, hosts=resolved)
        if warnings:
            result["warnings"] = list(dict.fromkeys(warnings))
        return result
