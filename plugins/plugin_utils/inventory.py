# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the whole inventory out of Ansible's ``hostvars`` for the engine.

Private to the collection: the engine's API may change at any time.

Only this module knows how Ansible exposes variables; the engine gets plain ``HostInput``s.
Only the variables the engine reads are templated (``palisade_*``, ``ansible_host``,
``ansible_facts``), because templating every variable of every host would dominate the cost on
large inventories.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet import HostInput
from ansible_collections.palisade.firewall.plugins.plugin_utils.labels import LABELS_VAR_PREFIX
from ansible_collections.palisade.firewall.plugins.plugin_utils.variables import KNOWN_VARIABLES

VARIABLE_PREFIX = "palisade_"
EXTRA_VARIABLES = ("ansible_host", "ansible_facts")


def inventory_hosts(groups: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """Every inventory host (not just the play's: ``groups`` ignores ``--limit``) and its groups."""
    memberships: dict[str, list[str]] = {host: [] for host in groups.get("all", [])}
    for group, members in groups.items():
        for host in members:
            memberships.setdefault(host, []).append(group)
    return {host: tuple(sorted(names)) for host, names in sorted(memberships.items())}


def host_inputs(
    groups: Mapping[str, list[str]],
    variables_of: Callable[[str], Mapping[str, Any]],
) -> list[HostInput]:
    """``variables_of(host)`` returns a mapping whose items are templated when read."""
    inputs = []
    for host, host_groups in inventory_hosts(groups).items():
        variables = variables_of(host)
        names = list(variables)
        wanted = {name: variables[name] for name in names if _wanted(name)}
        others = tuple(name for name in names if name.startswith(VARIABLE_PREFIX) and name not in wanted)
        inputs.append(HostInput(host, host_groups, wanted, others))
    return inputs


def _wanted(name: str) -> bool:
    """Variables the engine reads. Other ``palisade_*`` names (results registered by the role,
    say) are passed by name only, for the typo check: templating them would cost time."""
    return name in KNOWN_VARIABLES or name.startswith(LABELS_VAR_PREFIX) or name in EXTRA_VARIABLES


def fleet_inputs_from_task_vars(task_vars: Mapping[str, Any]) -> list[HostInput]:
    """The whole inventory as seen by an action plugin (``groups`` and ``hostvars``)."""
    hostvars = task_vars["hostvars"]
    return host_inputs(task_vars["groups"], lambda host: hostvars[host])
