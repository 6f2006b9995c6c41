# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""site.yml from part of the inventory (one slice of an AWX/AAP job) stops before any host is touched.

``--limit`` and ``serial`` keep the whole inventory (test_resolve.py shows the resolution does
not change); a slice does not, so the run must know the fleet's size. The hosts' ssh is a
recorder (test_apply_refusals.py): it must never be called.
"""

from __future__ import annotations

import json

import pytest
from test_resolve import HERE, resolve_files
from validation_stop import assert_stops_in_validation

INVENTORY = HERE / "inventories" / "slice" / "hosts.yml"
SLICED = (
    "palisade_expected_hosts: this play's inventory holds 2 hosts, fewer than the 40 expected: it is only part of the inventory"
    " (a sliced AWX/AAP job template, or an inventory source that failed), so selectors would match only those hosts. Run the job"
    " template without slicing (forks and palisade_serial make a run faster), or fix the inventory. Nothing was changed."
)
UNSTATED = (
    "palisade_expected_hosts is not set, and this run comes from AWX/AAP (awx_job_id 41): a sliced job template gives each slice"
    " only its own hosts, so selectors would match only them. Set palisade_expected_hosts to the number of hosts in the whole"
    " inventory (in group_vars/all or the job template's extra variables), or to 0 if this job template is never sliced."
    " Nothing was changed."
)


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"palisade_expected_hosts": 40}, SLICED), ({"awx_job_id": 41, "awx_job_template_name": "firewall"}, UNSTATED)],
    ids=["fewer-than-stated", "awx-unstated"],
)
def test_a_slice_stops_in_the_validation_play(sandbox, extra, message):
    assert_stops_in_validation(sandbox, INVENTORY, extra, message, "far-1")


def test_a_stated_whole_inventory_resolves_as_without_the_statement(tmp_path):
    # the example inventory has 3 hosts; AWX's job variable is there too
    stated = resolve_files(tmp_path / "stated", "-e", json.dumps({"palisade_expected_hosts": 3, "awx_job_id": 41}))
    assert stated == resolve_files(tmp_path / "plain")
