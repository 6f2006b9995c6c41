# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action: what happens to a packet on a host, and why. No host is contacted.

Thin on purpose: read the inventory, compile the host with the engine, simulate, translate.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import CompileError, compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import ValidationError
from ansible_collections.palisade.firewall.plugins.plugin_utils.explain_request import RequestError, build_packet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet import load_fleet, settle
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet_index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.inventory import fleet_inputs_from_task_vars
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulator import explain, outcome_to_dict

ARGUMENT_SPEC = {
    "host": {"type": "str", "required": True},
    "in_interface": {"type": "str"},
    "out_interface": {"type": "str"},
    "src": {"type": "str", "required": True},
    "dst": {"type": "str", "required": True},
    "protocol": {"type": "str", "required": True},
    "src_port": {"type": "int"},
    "dst_port": {"type": "int"},
    "icmp_type": {"type": "int"},
    "icmp_code": {"type": "int"},
    "ct_state": {"type": "str", "default": "NEW", "choices": ["NEW", "ESTABLISHED", "RELATED", "INVALID"]},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            fleet = settle(load_fleet(fleet_inputs_from_task_vars(task_vars or {})))
            if args["host"] not in fleet.hosts:
                return {**result, "failed": True, "msg": f"host: {args['host']!r} is not an inventory host"}
            compiled = compile_host(FleetIndex(fleet), args["host"])
            packet = build_packet(fleet, args)
            outcome = explain(compiled.rulesets, packet)
        except ValidationError as err:
            return {**result, "failed": True, "msg": str(err), "problems": [str(p) for p in err.problems]}
        except (CompileError, RequestError) as err:
            return {**result, "failed": True, "msg": str(err)}
        result.update(changed=False, **outcome_to_dict(outcome))
        if compiled.warnings:
            result["warnings"] = list(compiled.warnings)
        return result
