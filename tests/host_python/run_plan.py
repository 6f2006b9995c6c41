# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host-side plan on the Python running this script, as JSON.

    PYTHON run_plan.py < case.json

``case.json`` holds the module's inputs (``ipv4_rules``, ``ipv6_rules``, ``ipsets``, ``hooks``),
the live state as the save tools print it (``live_ipv4``, ``live_ipv6``, ``live_ipsets``) and
``rules``, rule texts to split and put in canonical form. The output is what apply_ruleset
derives from them: the plan's changes, transactions and diff texts, and the rule words.
``ansible_collections`` must be importable (``PYTHONPATH``). Nothing newer than Python 3.6.
"""

import json
import sys

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import rules
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.plan import make_plan
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.saved_state import LiveState, parse_ipset_save, parse_iptables_save
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted


def summary(case):
    prefix = case.get("prefix", "pal-")
    wanted = parse_wanted(case["ipv4_rules"], case["ipv6_rules"], case["ipsets"], case["hooks"], prefix=prefix)
    owned_sets, set_names = parse_ipset_save(case["live_ipsets"], prefix)
    families = {4: parse_iptables_save(case["live_ipv4"], 4, prefix), 6: parse_iptables_save(case["live_ipv6"], 6, prefix)}
    plan = make_plan(wanted, LiveState(prefix, families, owned_sets, set_names))
    return {
        "python": "{0}.{1}".format(*sys.version_info[:2]),
        "changed": plan.changed,
        "changes": plan.changes(),
        "transactions": plan.transactions(),
        "before": plan.before,
        "after": plan.after,
        "rules": [{"words": rules.split_arguments(text), "canonical": rules.canonical_rule(text)} for text in case["rules"]],
    }


if __name__ == "__main__":
    print(json.dumps(summary(json.load(sys.stdin)), sort_keys=True))
