# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A compiled host as plain data for the role: the rendered files, the hooks, and why.

Private to the collection: the engine's API may change at any time.

The apply module on the host receives exactly this: the ``--noflush`` rule files without hook
rules (it reconciles hooks itself, so that a re-run never adds a second one), the ipset file,
and the hooks as data.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import CompiledHost
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import render_files


def compiled_host_to_dict(compiled: CompiledHost) -> dict[str, Any]:
    files = render_files(compiled.rulesets, host=compiled.host, include_hooks=False)
    return {
        "files": files,
        "hooks": [
            {"family": ruleset.family, "table": hook.table, "chain": hook.builtin, "target": hook.target, "position": hook.position}
            for ruleset in compiled.rulesets
            for hook in ruleset.hooks
        ],
        "policies": {
            item.endpoint.name: {
                "ingress": [policy.name for policy in item.ingress],
                "egress": [policy.name for policy in item.egress],
            }
            for item in compiled.resolution.endpoints
        },
        "warnings": list(compiled.warnings),
    }
