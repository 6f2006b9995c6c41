# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action: validate the fleet and resolve policies for hosts.

Thin on purpose: read the inventory, call the engine, translate errors. No host is contacted.
"""

from __future__ import annotations

from ansible_collections.palisade.firewall.plugins.modules.resolve import ARGUMENT_SPEC
from ansible_collections.palisade.firewall.plugins.plugin_utils.action_support.fleet_action import FleetAction, requested_hosts
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.resolution import Resolver, resolution_to_dict


class ActionModule(FleetAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, fleet, args, task_vars):
        wanted = requested_hosts(fleet, args, task_vars)
        resolver = Resolver(FleetIndex(fleet))
        resolved = {}
        warnings = [str(problem) for problem in fleet.warnings]
        for host in wanted:
            resolution = resolver.resolve(host)
            resolved[host] = resolution_to_dict(resolution)
            warnings.extend(str(problem) for problem in resolution.warnings)
        return {"hosts": resolved}, warnings
