# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply settings of the hosts of a run, checked on the controller before any is touched.

Private to the collection: its API may change at any time.

Why: the role reads ``palisade_rollback_timeout``, ``palisade_confirm_probes``,
``palisade_state_dir`` and the others when a host's canary batch comes. A bad probe on a host of
the last batch would then stop the run after the earlier batches were changed. site.yml's first
play compiles every host of the run, so ``palisade.firewall.compile`` checks them all there, by
the rules the apply action and the module use later (the same minimum timeout, probe parser,
state-directory spelling and boot-restore methods), after the conversions of Ansible's argument
specs (``"30"``, ``30.0``, ``" yes "``, ``~/state``), so that what the apply takes passes here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible.module_utils.common.validation import check_type_bool, check_type_int, check_type_path

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
            if variable in variables:
                found += [Problem(f"host {host}", "", message) for message in check(variable, variables[variable])]
    return found


def _got(value: Any) -> str:
    if value is None:  # null overrides the role's default, it does not select it
        return "got null (leave the variable unset for the default)"
    return f"got {type_name(value)} {value!r}"


def _integer(low: int | None, what: str) -> Callable[[str, Any], list[str]]:
    """An integer as Ansible's ``type: int`` converts it (``"30"``, ``30.0``), at least ``low``."""
    def check(variable: str, value: Any) -> list[str]:
        expected = [f"{variable}: expected an integer ({what}), {_got(value)}"]
        if isinstance(value, bool) and low is not None:  # true would be 1 second: surely not meant
            return expected
        try:
            number = check_type_int(value)
        except TypeError:
            return expected
        if low is not None and number < low:
            return [f"{variable}: must be at least {low} seconds, got {number}"]
        return []
    return check


def _boolean(variable: str, value: Any) -> list[str]:
    try:
        check_type_bool(value)
    except TypeError:
        return [f"{variable}: expected true or false, {_got(value)}"]
    return []


def _probes(variable: str, value: Any) -> list[str]:
    try:
        parse_probes(value, variable)  # null is no probes, as the default
    except InputError as error:
        return list(error.problems)
    return []


def _state_dir(variable: str, value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f"{variable}: expected an absolute path, {_got(value)}"]
    path = check_type_path(value)  # as the apply's type: path, ~ and $VARIABLES expanded
    problem = path_problem(path)
    return [f"{variable}: {path!r}: {problem}"] if problem else []


def _boot_restore(variable: str, value: Any) -> list[str]:
    if value in METHODS:
        return []
    return [f"{variable}: expected one of {', '.join(METHODS)}, {_got(value)}"]


CHECKS: dict[str, Callable[[str, Any], list[str]]] = {
    "palisade_rollback_timeout": _integer(MIN_ROLLBACK_TIMEOUT, f"seconds, at least {MIN_ROLLBACK_TIMEOUT}"),
    "palisade_lock_timeout": _integer(None, "seconds"),
    "palisade_confirm_probes": _probes,
    "palisade_state_dir": _state_dir,
    "palisade_boot_restore": _boot_restore,
    "palisade_persist": _boolean,
    "palisade_allow_lockout": _boolean,
    "palisade_allow_unsafe_apply": _boolean,
    "palisade_install_packages": _boolean,
}
