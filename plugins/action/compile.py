# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action: validate the fleet and compile the rulesets of hosts.

Thin on purpose: read the inventory, call the engine, translate errors. No host is contacted.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiled_output import compiled_host_to_dict
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import CompileError, Compiler
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError, ValidationError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet import load_fleet, settle
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet_index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.inventory import fleet_inputs_from_task_vars

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
            unknown = sorted(set(wanted) - set(fleet.hosts))
            if unknown:
                return {**result, "failed": True, "msg": f"not inventory hosts: {', '.join(unknown)}"}
            compiler = Compiler(FleetIndex(fleet))
            compiled = {host: compiled_host_to_dict(compiler.compile(host)) for host in wanted}
        except ValidationError as err:
            return {**result, "failed": True, "msg": str(err), "problems": [str(p) for p in err.problems]}
        except (CompileError, PalisadeError) as err:
            return {**result, "failed": True, "msg": str(err)}
        warnings = [str(w) for w in fleet.warnings] + [w for host in compiled.values() for w in host["warnings"]]
        result.update(changed=False, hosts=compiled)
        if warnings:
            result["warnings"] = list(dict.fromkeys(warnings))
        return result
