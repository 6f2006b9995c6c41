# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A play that sees only part of the inventory (an AWX/AAP slice) stops before any host is touched."""

from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.action_support.partial_inventory import check_whole_inventory
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError


def task_vars(hosts: int, **variables) -> dict:
    return {"groups": {"all": [f"h{index}" for index in range(hosts)], "ungrouped": []}, **variables}


SLICED = (
    "palisade_expected_hosts: this play's inventory holds 3 hosts, fewer than the 2,000 expected: it is only part of the inventory"
    " (a sliced AWX/AAP job template, or an inventory source that failed), so selectors would match only those hosts. Run the job"
    " template without slicing (forks and palisade_serial make a run faster), or fix the inventory. Nothing was changed."
)
UNSTATED = (
    "palisade_expected_hosts is not set, and this run comes from AWX/AAP ({job}): a sliced job template gives each slice only its"
    " own hosts, so selectors would match only them. Set palisade_expected_hosts to the number of hosts in the whole inventory"
    " (in group_vars/all or the job template's extra variables), or to 0 if this job template is never sliced. Nothing was changed."
)
BAD = "palisade_expected_hosts: expected the number of hosts of the whole inventory (a whole number, 0 or more), got {shown}"


@pytest.mark.parametrize(
    ("variables", "hosts", "warnings"),
    [
        ({}, 3, []),
        ({"palisade_expected_hosts": 3}, 3, []),
        ({"palisade_expected_hosts": "3"}, 3, []),  # -e name=3 gives text
        ({"palisade_expected_hosts": 0, "awx_job_id": 12}, 3, []),
        ({"palisade_expected_hosts": 3, "tower_job_id": 12}, 3, []),
        ({"palisade_expected_hosts": 2, "awx_job_id": 12}, 3, [
            "palisade_expected_hosts is 2 but the inventory holds 3 hosts: raise it, or a later partial inventory may go unnoticed"
        ]),
    ],
    ids=["unset", "equal", "text", "awx-never-sliced", "tower-equal", "more-than-stated"],
)
def test_a_whole_inventory_passes(variables, hosts, warnings):
    assert check_whole_inventory(task_vars(hosts, **variables)) == warnings


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"palisade_expected_hosts": 2000}, SLICED),
        ({"palisade_expected_hosts": 2000, "awx_job_id": 7}, SLICED),
        ({"awx_job_id": 7}, UNSTATED.format(job="awx_job_id 7")),
        ({"tower_job_id": 8}, UNSTATED.format(job="tower_job_id 8")),
        ({"palisade_expected_hosts": True}, BAD.format(shown="True")),
        ({"palisade_expected_hosts": -1}, BAD.format(shown="-1")),
        ({"palisade_expected_hosts": 2.5}, BAD.format(shown="2.5")),
        ({"palisade_expected_hosts": "many"}, BAD.format(shown="'many'")),
        ({"palisade_expected_hosts": "9" * 80 + "x"}, BAD.format(shown="'" + "9" * 56 + "...")),
    ],
    ids=["fewer", "fewer-in-awx", "awx-unstated", "tower-unstated", "bool", "negative", "float", "text", "long-text"],
)
def test_a_partial_or_unstated_inventory_stops_the_run(variables, message):
    with pytest.raises(PalisadeError) as raised:
        check_whole_inventory(task_vars(3, **variables))
    assert str(raised.value) == message
