# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs one step of the rollback protocol inside a network namespace, for test_rollback.py.

``ip netns exec NS python rollback_driver.py < request.json`` with a request
``{"op": "arm" | "confirm" | "status" | "apply", "inputs", "run_id", "window", "state_dir",
"lock_timeout", "persist": {...}, "probes": [...]}``; prints one JSON object: the result or the
error. ``arm`` returns while the watchdog it started keeps running in the namespace.
"""

from __future__ import annotations

import json
import sys

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.apply import apply
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.probes import parse_probes
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.rollback import arm, confirm, status
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted


def main() -> None:
    request = json.load(sys.stdin)
    state_dir = request["state_dir"]
    output = {}
    try:
        if request["op"] == "confirm":
            output = confirm(state_dir, request["run_id"], parse_probes(request.get("probes", [])))
        elif request["op"] == "status":
            output = status(state_dir, request["run_id"])
        else:
            inputs = request["inputs"]
            wanted = parse_wanted(inputs["ipv4_rules"], inputs["ipv6_rules"], inputs["ipsets"], inputs["hooks"])
            if request["op"] == "arm":
                result = arm(wanted, request["run_id"], request["window"], state_dir, request.get("lock_timeout", 10), request["persist"])
            else:
                result = apply(wanted, state_dir=state_dir, lock_timeout=request.get("lock_timeout", 10), record=False)
            output = result.as_dict()
    except PalisadeError as error:
        output = {"error": {"type": type(error).__name__, "message": str(error)}}
    json.dump(output, sys.stdout)


if __name__ == "__main__":
    main()
