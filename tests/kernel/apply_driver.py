# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the host-side backend inside a network namespace for tests/kernel/test_apply_ruleset.py.

``ip netns exec NS python apply_driver.py < request.json`` with a request
``{"op": "apply" | "snapshot", "inputs": {ipv4_rules, ipv6_rules, ipsets, hooks}, "prefix",
"state_dir", "lock_timeout", "check_mode"}``; prints one JSON object: the result (or the error)
and every command the runner ran, so the test can assert what did (not) run.
"""

from __future__ import annotations

import json
import sys

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.apply import apply, snapshot
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.commands import Runner
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted


def main() -> None:
    request = json.load(sys.stdin)
    runner = Runner()
    prefix = request.get("prefix", "pal-")
    output = {}
    try:
        if request["op"] == "snapshot":
            output["inputs"] = snapshot(runner, prefix).render_inputs()
        else:
            inputs = request["inputs"]
            wanted = parse_wanted(inputs["ipv4_rules"], inputs["ipv6_rules"], inputs["ipsets"], inputs["hooks"], prefix)
            result = apply(
                wanted,
                runner=runner,
                state_dir=request["state_dir"],
                lock_timeout=request.get("lock_timeout", 10),
                check_mode=request.get("check_mode", False),
            )
            output.update(result.as_dict(), before=result.before, after=result.after, warnings=result.warnings)
    except PalisadeError as error:
        output["error"] = {"type": type(error).__name__, "message": str(error), "changed": error.changed}
    output["calls"] = [{"argv": list(call.argv), "reads_only": call.reads_only, "rc": call.rc} for call in runner.calls]
    json.dump(output, sys.stdout)


if __name__ == "__main__":
    main()
