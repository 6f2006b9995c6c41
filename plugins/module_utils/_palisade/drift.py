# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift: the host's live owned state against its record of the last confirmed apply.

Private to the collection: this API may change at any time.

Why: the plan compares the wanted state with the live one, so a hand edit of a ``pal-`` chain
or set is undone by the next apply without anyone being told; and check mode's flow changes
start from the record, which is not what the host runs once someone edited it. ``find`` names
what differs, so check mode can say so before its flow changes and a real run can report what
it repaired.

The record is ``<state_dir>/applied/`` (``apply.write_record``): the rule and ipset texts and
the hooks. When they are the wanted texts (a run without policy changes, the usual case) the
plan from live to wanted is the drift itself and nothing more is read or parsed. Standard
library only, Python 3.6.
"""

import json
import os

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import statedir
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import InputError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.plan import make_plan
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.statedir import StateDirError

NOTHING_RECORDED = "none"  # nothing was ever applied here: there is nothing to drift from
UNREADABLE = "unreadable"  # the record is missing a file or does not parse: drift unknown
CHECKED = "checked"

RECORD_TEXTS = (("ipv4.rules", "ipv4_rules"), ("ipv6.rules", "ipv6_rules"), ("ipsets.restore", "ipsets"))

# (plan change key, how it reads from the record's side)
KINDS = (
    ("chains_changed", "chain {0}: its rules differ from the record"),
    ("chains_added", "chain {0}: missing (the record has it)"),
    ("chains_removed", "chain {0}: not in the record"),
    ("hooks_added", "hook {0}: missing"),
    ("hooks_moved", "hook {0}: not where the record puts it"),
    ("hooks_removed", "hook {0}: not in the record"),
    ("references_removed", "rule {0}: jumps into an owned chain, not in the record"),
    ("sets_changed", "ipset {0}: its members or options differ from the record"),
    ("sets_added", "ipset {0}: missing (the record has it)"),
    ("sets_removed", "ipset {0}: not in the record"),
)


def find(state_dir: str, wanted, live, plan) -> dict:
    """``record`` (one of the constants above), ``found`` and ``differences`` (one line each).

    ``plan`` is ``make_plan(wanted, live)``, reused when the record holds the wanted texts."""
    recorded = _read_record(state_dir)
    if recorded is None:
        return _result(NOTHING_RECORDED, [])
    if recorded == UNREADABLE:
        return _result(UNREADABLE, [])
    if recorded == wanted.inputs():
        drift_plan = plan
    else:
        try:
            state = parse_wanted(recorded["ipv4_rules"], recorded["ipv6_rules"], recorded["ipsets"], recorded["hooks"], wanted.prefix)
        except (InputError, ValueError):
            return _result(UNREADABLE, [])
        drift_plan = make_plan(state, live)
    return _result(CHECKED, describe(drift_plan.changes()))


def describe(changes: dict) -> list:
    """One line per chain, hook, rule or set that differs, in a fixed order."""
    lines = []
    for key, text in KINDS:
        lines += [text.format(name) for name in changes.get(key, [])]
    return lines


def _result(record: str, differences: list) -> dict:
    return {"record": record, "found": bool(differences), "differences": differences}


def _read_record(state_dir: str):
    """The recorded inputs, None when nothing was recorded, ``UNREADABLE`` when they cannot be read."""
    directory = os.path.join(state_dir, "applied")
    if not os.path.isdir(directory):
        return None
    try:
        recorded = {key: statedir.read_text(os.path.join(directory, name)) for name, key in RECORD_TEXTS}
        recorded["hooks"] = json.loads(statedir.read_text(os.path.join(directory, "hooks.json")))
    except (OSError, ValueError, StateDirError):
        return UNREADABLE
    if not isinstance(recorded["hooks"], list):
        return UNREADABLE
    return recorded
