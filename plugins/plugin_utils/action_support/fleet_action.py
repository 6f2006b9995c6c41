# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared shape of the controller-side actions: check the inventory is whole, read and validate it,
hand the fleet to the action's own work, and turn engine errors into task failures.

Private to the collection: its API may change at any time. Unlike the engine, this module
imports Ansible (it is the thin layer between the two).
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.palisade.firewall.plugins.plugin_utils.action_support.partial_inventory import check_whole_inventory
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError, ValidationError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import Fleet, load_fleet, settle
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.inventory import fleet_inputs_from_task_vars


class FleetAction(ActionBase):
    """Subclasses set ``ARGUMENT_SPEC`` and implement ``work``; no host is contacted."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    ARGUMENT_SPEC: dict[str, Any] = {}
    MUTUALLY_EXCLUSIVE: list[list[str]] = []

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC, mutually_exclusive=self.MUTUALLY_EXCLUSIVE)
        try:
            inventory_warnings = check_whole_inventory(task_vars)
            fleet = settle(load_fleet(fleet_inputs_from_task_vars(task_vars)))
            output, warnings = self.work(fleet, args, task_vars)
            warnings = [*inventory_warnings, *warnings]
        except ValidationError as err:
            return {**result, "failed": True, "msg": str(err), "problems": [str(p) for p in err.problems]}
        except PalisadeError as err:
            return {**result, "failed": True, "msg": str(err)}
        result.update(changed=False, **output)
        if warnings:
            result["warnings"] = list(dict.fromkeys(warnings))
        return result

    def work(self, fleet: Fleet, args: dict[str, Any], task_vars: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The action's result fields and its warnings; raise a ``PalisadeError`` to fail."""
        raise NotImplementedError


def requested_hosts(fleet: Fleet, args: dict[str, Any], task_vars: dict[str, Any]) -> list[str]:
    """The ``hosts`` option, or the host the task runs for; each must be an inventory host."""
    wanted = args["hosts"] if args["hosts"] is not None else [task_vars["inventory_hostname"]]
    unknown = sorted(set(wanted) - set(fleet.hosts))
    if unknown:
        raise PalisadeError(f"not inventory hosts: {', '.join(unknown)}")
    return wanted
