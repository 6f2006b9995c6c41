# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action: validate the fleet and compile the rulesets of hosts.

Thin on purpose: read the inventory, call the engine, translate errors. No host is contacted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible import constants

from ansible_collections.palisade.firewall.plugins.modules.compile import ARGUMENT_SPEC
from ansible_collections.palisade.firewall.plugins.plugin_utils.action_support import apply_settings, compiled_store
from ansible_collections.palisade.firewall.plugins.plugin_utils.action_support.fleet_action import FleetAction, requested_hosts
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import CompiledHost, Compiler
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import ValidationError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.role_data import compiled_host_to_dict
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.lockout import check_lockout, connection_from_facts

# What the role registers from the module palisade.firewall.management_connection.
MANAGEMENT_VAR = "palisade_management"


class ActionModule(FleetAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, fleet, args, task_vars):
        hosts = requested_hosts(fleet, args, task_vars)
        problems = apply_settings.problems(hosts, task_vars["hostvars"])
        if problems:  # before anything is compiled or kept: no host of the run is touched
            raise ValidationError(problems)
        compiler = Compiler(FleetIndex(fleet))
        compiled = {}
        kept = compiled_store.new_store(constants.DEFAULT_LOCAL_TMP) if args["keep_for_apply"] else None
        for host in hosts:
            result = compiler.compile(host)
            compiled[host] = compiled_host_to_dict(result)
            if kept:
                compiled_store.keep(kept, result, compiled[host])
                compiled[host]["files"] = {name: len(text.encode("utf-8")) for name, text in compiled[host]["files"].items()}
            if args["lockout_check"]:
                compiled[host]["lockout"] = _lockout(result, task_vars["hostvars"][host])
        warnings = [str(w) for w in fleet.warnings] + [w for host in compiled.values() for w in host["warnings"]]
        return ({"hosts": compiled, "kept": kept} if kept else {"hosts": compiled}), warnings


def _lockout(compiled: CompiledHost, host_vars: Mapping[str, Any]) -> dict[str, Any]:
    """The host's report when it made one (a skipped or failed task has no ``connection``)."""
    registered = host_vars.get(MANAGEMENT_VAR) or {}
    facts = registered.get("connection") if isinstance(registered, Mapping) else None
    return check_lockout(compiled, connection_from_facts(compiled.host, facts, host_vars)).to_dict()
