# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refusing to compile from part of the inventory.

Private to the collection: its API may change at any time.

Why: selectors are resolved against every host the play's inventory holds. ``--limit`` and
``serial`` keep the whole inventory (``groups`` and ``hostvars`` ignore them), but AWX/AAP job
slicing does not: each slice job gets an inventory holding only its own hosts. A policy
"allow from role == web" compiled in a slice without the web hosts allows nobody, and the
slice would apply that in silence. Ansible cannot tell a slice from a small fleet, so the
operator states the fleet's size (``palisade_expected_hosts``) and a run that sees fewer hosts
stops before any host is touched. A run from AWX/AAP must state it (0 says "never sliced").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError

EXPECTED_HOSTS = "palisade_expected_hosts"
# Extra variables AWX (awx_*) and Ansible Tower / AAP (tower_*) pass to every job they launch.
CONTROLLER_JOB_VARIABLES = ("awx_job_id", "tower_job_id")
NOTHING_CHANGED = "Nothing was changed."


def check_whole_inventory(task_vars: Mapping[str, Any]) -> list[str]:
    """Raise when the play's inventory is smaller than the fleet it should hold; return warnings."""
    seen = len(task_vars.get("groups", {}).get("all", []))
    expected = expected_hosts(task_vars)
    if expected is None:
        job = controller_job(task_vars)
        if job is not None:
            raise PalisadeError(
                f"{EXPECTED_HOSTS} is not set, and this run comes from AWX/AAP ({job[0]} {job[1]}): a sliced job template gives each"
                " slice only its own hosts, so selectors would match only them. Set palisade_expected_hosts to the number of hosts"
                " in the whole inventory (in group_vars/all or the job template's extra variables), or to 0 if this job template is"
                f" never sliced. {NOTHING_CHANGED}"
            )
        return []
    if seen < expected:
        raise PalisadeError(
            f"{EXPECTED_HOSTS}: this play's inventory holds {seen:,} hosts, fewer than the {expected:,} expected: it is only part of"
            " the inventory (a sliced AWX/AAP job template, or an inventory source that failed), so selectors would match only"
            " those hosts. Run the job template without slicing (forks and palisade_serial make a run faster), or fix the inventory."
            f" {NOTHING_CHANGED}"
        )
    if expected and seen > expected:
        return [f"{EXPECTED_HOSTS} is {expected:,} but the inventory holds {seen:,} hosts: raise it, or a later partial inventory may go unnoticed"]
    return []


def expected_hosts(task_vars: Mapping[str, Any]) -> int | None:
    """The stated fleet size; ``None`` when unset. Bools and text are refused, not converted."""
    value = task_vars.get(EXPECTED_HOSTS)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():  # -e palisade_expected_hosts=2000 passes text
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PalisadeError(f"{EXPECTED_HOSTS}: expected the number of hosts of the whole inventory (a whole number, 0 or more), got {shown(value)}")
    return value


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def controller_job(task_vars: Mapping[str, Any]) -> tuple[str, Any] | None:
    """The AWX/AAP job variable and its value, when the run was launched by one."""
    for name in CONTROLLER_JOB_VARIABLES:
        if task_vars.get(name) is not None:
            return name, task_vars[name]
    return None
