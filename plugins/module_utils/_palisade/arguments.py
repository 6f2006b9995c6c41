# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply_ruleset task's arguments, shared by the module and its controller-side action.

Private to the collection: this API may change at any time.

The action validates them before contacting the host (so a bad probe or timeout never gets as
far as an apply) and adds the private ``_palisade_phase`` and ``_palisade_run_id`` that drive
one step of the rollback protocol on the host, ``_palisade_verbose`` (the transaction texts in
the result, from verbosity 3) and ``_palisade_expect`` (the management connection the lockout
guard checked: the host arms only when it sees that one), ``_palisade_flow_record`` (the
compiled rulesets as JSON, recorded with the applied rules after confirmation) and
``_palisade_flows`` (check mode: return the recorded one, for the flow changes).

The texts and hooks are optional here because the action may take them from ``compiled``
instead; the module always receives them.
"""

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.boot import METHODS
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import TABLE_ORDER

PHASES = ("apply", "plan", "arm", "confirm", "status")
MIN_ROLLBACK_TIMEOUT = 5

ARGUMENT_SPEC = {
    "compiled": {"type": "dict"},
    "ipv4_rules": {"type": "str"},
    "ipv6_rules": {"type": "str"},
    "ipsets": {"type": "str"},
    "hooks": {
        "type": "list",
        "elements": "dict",
        "options": {
            "family": {"type": "int", "required": True, "choices": [4, 6]},
            "table": {"type": "str", "required": True, "choices": list(TABLE_ORDER)},
            "chain": {"type": "str", "required": True},
            "target": {"type": "str", "required": True},
            "position": {"type": "str", "default": "insert", "choices": ["insert", "append"]},
        },
    },
    "prefix": {"type": "str", "default": "pal-"},
    "state_dir": {"type": "path", "default": "/var/lib/palisade"},
    "lock_timeout": {"type": "int", "default": 60},
    "rollback_timeout": {"type": "int", "default": 30},
    "confirm_probes": {"type": "list", "elements": "raw", "default": []},
    "persist": {"type": "bool", "default": True},
    "boot_restore": {"type": "str", "default": "auto", "choices": list(METHODS)},
    "lockout": {"type": "dict"},
    "allow_lockout": {"type": "bool", "default": False},
    "allow_unsafe_apply": {"type": "bool", "default": False},
    "_palisade_phase": {"type": "str", "default": "apply", "choices": list(PHASES)},
    "_palisade_run_id": {"type": "str"},
    "_palisade_verbose": {"type": "bool", "default": False},
    "_palisade_expect": {"type": "dict"},
    "_palisade_flow_record": {"type": "str"},
    "_palisade_flows": {"type": "bool", "default": False},
}

TEXT_INPUTS = ("ipv4_rules", "ipv6_rules", "ipsets", "hooks")
