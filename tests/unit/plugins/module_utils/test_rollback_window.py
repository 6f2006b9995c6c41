# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback window starts when the apply has finished, never before.

An apply that waits (for the xtables lock, say) must not be overtaken by its own watchdog: the
watchdog would restore a half-applied state and release the lock while the apply goes on. The
tools are faked (restores take a second each); the watchdog is a real forked process.
"""

from __future__ import annotations

import json
import time

import palisade_fakes

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import rollback
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.rollback import arm, wait_for_result
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted

WINDOW = 0.3


def slow_restores(runner, argv, stdin):
    if argv[0].endswith("restore") and "--test" not in argv:
        time.sleep(1.0)


def test_the_window_starts_after_a_slow_apply(tmp_path):
    inputs = palisade_fakes.golden_inputs("inventory-web-features")
    wanted = parse_wanted(inputs["ipv4_rules"], inputs["ipv6_rules"], inputs["ipsets"], inputs["hooks"])
    runner = palisade_fakes.FakeRunner(on_write=slow_restores)
    started = time.monotonic()
    result = arm(wanted, "run-slow-apply", WINDOW, str(tmp_path), 5, {"enabled": False}, runner=runner)
    applied = time.monotonic()
    assert applied - started >= 2.0, "both families' restores ran in arm"
    assert result.extra["armed"] is True and result.extra["window_left"] == WINDOW
    directory = tmp_path / "runs" / "run-slow-apply"
    assert rollback._read_result(str(directory)) is None, "the watchdog must not act before the window has run"
    assert (directory / "result.json").stat().st_size == rollback.RESULT_SIZE  # reserved before arming
    outcome = wait_for_result(str(directory), 10)
    assert outcome["outcome"] == "rolled_back" and WINDOW <= outcome["waited"] < WINDOW + 0.5, outcome
    assert json.loads((directory / "armed.json").read_text())["window"] == WINDOW
