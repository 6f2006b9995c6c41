# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply settings of the hosts of a run, checked on the controller before any is touched.

Private to the collection: its API may change at any time.

Why: the role reads ``palisade_rollback_timeout``, ``palisade_confirm_probes``,
``palisade_state_dir`` and the others when a host's canary batch comes. A bad probe on a host of
the last batch would then stop the run after the earlier batches were changed. site.yml's first
play compiles every host of the run, so ``palisade.firewall.compile`` checks them all there, by
the rules the apply action and the module use later (the same minimum timeout, probe parser,
state-directory spelling and boot-restore methods), and values Ansible's argument specs convert
(``"30"``, ``"yes"``) are accepted as they are there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.arguments import MIN_ROLLBACK_TIMEOUT
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.boot import METHODS
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import InputError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.probes import parse_probes
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.statedir import path_problem
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problem
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import type_name


def problems(hosts: Iterable[str], hostvars: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """``host H: palisade_X: what is wrong`` for every apply setting of ``hosts`` that the
    apply would refuse; a variable left unset takes the role's default, which is valid."""
    found = []
    for host in hosts:
        variables = hostvars[host]
        for variable, check in CHECKS.items():
            value = variables.get(variable)
            if value is not None:
                found += [Problem(f"host {host}", "", message) for message in check(variable, value)]
    return found


def _integer(value: Any) -> int | None:
    """An integer as Ansible's ``type: int`` takes it (digit strings too), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,18}\s*", value):
        return int(value)
    return None


def _at_least(low: int, unit: str) -> Callable[[str, Any], list[str]]:
    def check(variable: str, value: Any) -> list[str]:
        number = _integer(value)
        if number is None:
            return [f"{variable}: expected an integer ({unit}, at least {low}), got {type_name(value)} {value!r}"]
        if number < low:
            return [f"{variable}: must be at least {low} {unit}, got {number}"]
        return []
    return check


def _boolean(variable: str, value: Any) -> list[str]:
    accepted = value.lower() if isinstance(value, str) else value
    try:
        if accepted in BOOLEANS_TRUE | BOOLEANS_FALSE:
            return []
    except TypeError:  # a list or a mapping: not hashable, not a boolean either
        pass
    return [f"{variable}: expected true or false, got {type_name(value)} {value!r}"]


def _probes(variable: str, value: Any) -> list[str]:
    try:
        parse_probes(value, variable)
    except InputError as error:
        return list(error.problems)
    return []


def _state_dir(variable: str, value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f"{variable}: expected an absolute path, got {type_name(value)} {value!r}"]
    problem = path_problem(value)
    return [f"{variable}: {value!r}: {problem}"] if problem else []


def _boot_restore(variable: str, value: Any) -> list[str]:
    if value in METHODS:
        return []
    return [f"{variable}: expected one of {', '.join(METHODS)}, got {type_name(value)} {value!r}"]


CHECKS: dict[str, Callable[[str, Any], list[str]]] = {
    "palisade_rollback_timeout": _at_least(MIN_ROLLBACK_TIMEOUT, "seconds"),
    "palisade_lock_timeout": _at_least(0, "seconds"),
    "palisade_confirm_probes": _probes,
    "palisade_state_dir": _state_dir,
    "palisade_boot_restore": _boot_restore,
    "palisade_persist": _boolean,
    "palisade_allow_lockout": _boolean,
    "palisade_allow_unsafe_apply": _boolean,
    "palisade_install_packages": _boolean,
}
