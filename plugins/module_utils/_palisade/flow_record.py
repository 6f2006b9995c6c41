# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The flow record: the compiled rulesets of the last confirmed apply, for check mode's flow changes.

Private to the collection: the engine's API may change at any time.

The controller sends it (``flow_record``, JSON it wrote) with the rules; it is written to
``<state_dir>/applied/flows.json`` with the other applied inputs, so only after confirmation.
An apply without one removes the file: a record of older rules would describe the wrong state.

Check mode reads it back with the members of the recorded sets that the wanted sets do not
have (the record itself leaves members out; see ``plugin_utils/compiler/ir_json``). Standard library
only, Python 3.6.
"""

import os

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import statedir
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.statedir import StateDirError

FLOWS_FILE = "flows.json"
NEVER_APPLIED = "none"  # nothing was ever applied here: the host runs no firewall of ours
NO_FLOW_RECORD = "missing"  # applied without a flow record (an earlier version, or rule texts given)
FOUND = "found"


def flows_path(state_dir: str) -> str:
    return os.path.join(state_dir, "applied", FLOWS_FILE)


def read(state_dir: str, wanted_ipsets: str) -> dict:
    """``flow_record_state`` (one of the constants above), ``flow_record`` and ``recorded_sets``."""
    directory = os.path.join(state_dir, "applied")
    if not os.path.isdir(directory):
        return {"flow_record_state": NEVER_APPLIED, "flow_record": None, "recorded_sets": {}}
    try:
        text = statedir.read_text(flows_path(state_dir))
        recorded = set_members(statedir.read_text(os.path.join(directory, "ipsets.restore")))
    except (OSError, ValueError, StateDirError):
        return {"flow_record_state": NO_FLOW_RECORD, "flow_record": None, "recorded_sets": {}}
    wanted = set_members(wanted_ipsets or "")
    differing = {name: members for name, members in recorded.items() if wanted.get(name) != members}
    return {"flow_record_state": FOUND, "flow_record": text, "recorded_sets": differing}


def set_members(text: str) -> dict:
    """Each set of an ``ipset restore`` text, by name: its members' texts, sorted."""
    found = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "create":
            found.setdefault(words[1], [])
        elif len(words) >= 3 and words[0] == "add":
            found.setdefault(words[1], []).append(words[2])
    return {name: sorted(members) for name, members in found.items()}


def write(state_dir: str, flow_record) -> None:
    """Record ``flow_record``, or remove an older one when there is none."""
    path = flows_path(state_dir)
    if flow_record is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    statedir.write_if_different(path, flow_record)
