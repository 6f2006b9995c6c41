# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the whole inventory out of Ansible's ``hostvars`` for the engine.

Private to the collection: the engine's API may change at any time.

Only this module knows how Ansible exposes variables; the engine gets plain ``HostInput``s.
Only the variables the engine reads are templated (``palisade_*``, ``ansible_host``,
``ansible_facts``), because templating every variable of every host would dominate the cost on
large inventories.

For the same reason a value is templated once, not once per host, when it cannot depend on the
host: the same raw (untemplated) object, holding no template syntax. A fleet-wide list of
policies in ``group_vars/all`` is one such object, seen by every host; templating it for each
of thousands of hosts was nearly all of a run's controller time. A value written as a template
(``"{{ base_policies + extra }}"``) may differ per host, so it is still templated for each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.variables import INPUT_VARIABLES
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.labels import LABELS_VAR_PREFIX

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
    return name in INPUT_VARIABLES or name.startswith(LABELS_VAR_PREFIX) or name in EXTRA_VARIABLES


def fleet_inputs_from_task_vars(task_vars: Mapping[str, Any]) -> list[HostInput]:
    """The whole inventory as seen by an action plugin (``groups`` and ``hostvars``)."""
    hostvars = task_vars["hostvars"]
    shared = SharedValues()
    return host_inputs(task_vars["groups"], lambda host: shared.view(hostvars[host]))


TEMPLATE_MARKERS = ("{{", "{%", "{#")


def has_template(value: Any, depth: int = 0) -> bool:
    """Whether templating ``value`` could change it; unknown types and deep values count as yes."""
    if isinstance(value, str):
        return any(marker in value for marker in TEMPLATE_MARKERS)
    if isinstance(value, (bool, int, float)) or value is None:
        return False
    if depth > MAX_SCAN_DEPTH:
        return True
    if isinstance(value, Mapping):
        return any(has_template(key, depth + 1) or has_template(item, depth + 1) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_template(item, depth + 1) for item in value)
    return True


MAX_SCAN_DEPTH = 64  # deeper values are templated per host (the engine refuses them anyway)


class SharedValues:
    """Raw values without template syntax, used as they are; the others templated per host.

    Templating a value without template syntax returns an equal value, so it is skipped: for a
    fleet-wide list seen by every host that was nearly all of the controller's time. Scans of a
    raw container are remembered by the object's identity; the object is kept alive with its
    entry, so an id is never reused for another object while the cache lives (one action run).
    """

    def __init__(self) -> None:
        self._scanned: dict[int, tuple[Any, bool]] = {}  # id(raw) -> (raw, holds template syntax)

    def view(self, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        """``variables`` (a host's templating view) templating only what may need it."""
        raw = getattr(variables, "_vars", None)  # Ansible's HostVarsVars keeps the raw variables here
        return _HostView(variables, raw, self) if isinstance(raw, Mapping) else variables

    def value(self, raw_value: Any, template: Callable[[], Any]) -> Any:
        return template() if self._templated(raw_value) else raw_value

    def _templated(self, raw_value: Any) -> bool:
        if not isinstance(raw_value, (Mapping, list, tuple)):
            return has_template(raw_value)
        entry = self._scanned.get(id(raw_value))
        if entry is None:
            entry = self._scanned[id(raw_value)] = (raw_value, has_template(raw_value))
        return entry[1]


class _HostView(Mapping):
    """One host's variables: names from the raw variables, values templated (shared when they can be)."""

    def __init__(self, templated: Mapping[str, Any], raw: Mapping[str, Any], shared: SharedValues) -> None:
        self._templated, self._raw, self._shared = templated, raw, shared

    def __getitem__(self, name: str) -> Any:
        return self._shared.value(self._raw[name], lambda: self._templated[name])

    def __iter__(self):
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)
