# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""site.yml stops in its validation play when any host of the run has an apply setting the apply
would refuse: a host of a later canary batch must not find out after earlier batches changed.

The hosts' ssh is a recorder (test_apply_refusals.py): it must never be called.
"""

from __future__ import annotations

from test_resolve import HERE
from validation_stop import assert_stops_in_validation

INVENTORY = HERE / "inventories" / "apply_settings" / "hosts.yml"
MESSAGE = "\n".join([
    "4 problems in the firewall configuration:",
    "- host far-2: palisade_rollback_timeout: must be at least 5 seconds, got 2",
    "- host far-2: palisade_confirm_probes[1]: missing field 'port' (tcp probes need a port from 1 to 65535)",
    "- host far-2: palisade_state_dir: '/tmp/my dir': it contains ' '; allowed are only the characters A-Z a-z 0-9 / . _ -",
    "- host far-2: palisade_boot_restore: expected one of auto, systemd, none, got a string 'bogus'",
])


def test_bad_apply_settings_stop_the_run_before_the_first_batch(sandbox):
    assert_stops_in_validation(sandbox, INVENTORY, {"palisade_serial": [1, "100%"]}, MESSAGE, "far-1")
