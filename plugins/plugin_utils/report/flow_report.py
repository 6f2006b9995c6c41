# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode's flow changes for one host: its flow record read back, compared with the new rules.

Private to the collection: the engine's API may change at any time.

The host sends back its record (what it last confirmed) and the members of the recorded sets
that differ from the wanted ones; every other set is the same on both sides, so its members
come from the new rules. A host that never applied anything is compared with no firewall; one
applied without a flow record (an earlier version of the collection) cannot be compared, and
says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir, ir_json
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import CompiledHost
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import flow_changes as flows

NEVER_APPLIED = "none"
NO_FLOW_RECORD = "missing"
FOUND = "found"
NO_CHANGES = "no flow changes"
# Flow classes simulated per host at most (two simulations each): beyond it the check says so
# instead of running for minutes; see docs/check-mode.md.
CLASS_LIMIT = 20000
UNKNOWN = ("flow changes unknown: the host's last apply left no flow record (an earlier version of the collection); "
           "the next apply records one")


def report(compiled: CompiledHost, record: str, text: str | None, recorded_sets: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """``flow_changes`` (plain data), ``summary``, ``text`` (for the diff) and ``warning``."""
    if record == NO_FLOW_RECORD or (record == FOUND and text is None):
        return _not_compared(compiled, UNKNOWN)
    before: tuple[ir.Ruleset | None, ...] = (None, None)
    if record == FOUND:
        try:
            before = _read(text or "", compiled, recorded_sets)
        except ir_json.RecordError as error:
            return _not_compared(compiled, f"flow changes unknown: {error}")
    local = flows.local_endpoints(item.endpoint for item in compiled.resolution.endpoints)
    peers = resolution_peers(compiled)
    pairs = [(old, new) for old, new in zip(before, compiled.rulesets) if old is None or _comparable(old) != _comparable(new)]
    notes: list[str] = []
    classes = [flows.flow_classes([new] if old is None else [old, new], new.family, local, peers, notes) for old, new in pairs]
    count = sum(len(found) for found in classes)
    if count > CLASS_LIMIT:
        return _not_compared(compiled, f"flow changes not computed: {count} flow classes, more than the {CLASS_LIMIT} a check compares per host")
    changes = []
    for (old, new), found in zip(pairs, classes):
        changes += [(new.family, change) for change in flows.compare(old, new, found)]
    summary = flows.summary(change for _family, change in changes)
    if record == NEVER_APPLIED:
        summary += " (nothing applied yet: compared with no firewall)"
    if notes:
        summary += f" ({'; '.join(notes)})"
    lines = [f"# flow changes on {compiled.host}: {summary}"] + [f"IPv{family} {change.line(family)}" for family, change in changes]
    return {"flow_changes": [_as_data(family, change) for family, change in changes], "summary": summary,
            "text": "\n".join(lines) + "\n", "warning": f"{compiled.host}: {'; '.join(notes)}" if notes else None}


def _not_compared(compiled: CompiledHost, why: str) -> dict[str, Any]:
    return {"flow_changes": [], "summary": why, "text": f"# {why}\n", "warning": f"{compiled.host}: {why}"}


def _comparable(ruleset: ir.Ruleset) -> ir.Ruleset:
    """The ruleset without what simulation ignores (warnings), to tell an unchanged family."""
    return dataclasses.replace(ruleset, warnings=())


def resolution_peers(compiled: CompiledHost) -> list[flows.Peer]:
    """The hosts and network sets the host's rule selectors name, by name."""
    found: list[flows.Peer] = []
    for _selector, addresses in sorted(compiled.resolution.rule_selectors.items()):
        for endpoint in addresses.endpoints:
            if endpoint.host != compiled.host:
                found += [flows.Peer(f"host {endpoint.host}", address) for address in endpoint.addresses]
        for network_set in addresses.network_sets:
            found += [flows.Peer(f"network set {network_set.name} ({net})", flows.inside(net)) for net in network_set.nets]
    return flows.unique(found)


def _read(text: str, compiled: CompiledHost, recorded_sets: Mapping[str, Sequence[str]]) -> tuple[ir.Ruleset, ...]:
    wanted = {(ruleset.family, item.name): item.members for ruleset in compiled.rulesets for item in ruleset.ipsets}

    def members(family: int, name: str, kind: str) -> tuple[ir.SetMember, ...]:
        if name in recorded_sets:
            try:
                return tuple(ir_json.parse_member(kind, member) for member in recorded_sets[name])
            except (KeyError, ValueError) as error:
                raise ir_json.RecordError(f"recorded ipset {name}: {error}") from error
        return wanted.get((family, name), ())

    rulesets = ir_json.loads(text, members)
    if sorted(r.family for r in rulesets) != [4, 6]:
        raise ir_json.RecordError("the flow record does not hold one IPv4 and one IPv6 ruleset")
    return tuple(sorted(rulesets, key=lambda r: r.family))


def _as_data(family: int, change: flows.FlowChange) -> dict[str, Any]:
    flow = change.flow
    return {
        "family": family,
        "direction": flow.direction,
        "interface": flow.interface,
        "out_interface": flow.out_interface,
        "local": str(flow.local),
        "peer": flow.peer.name,
        "peer_address": str(flow.peer.address),
        "target": flow.target.name if flow.target is not None else None,
        "service": flow.service.label(family),
        "protocol": flow.service.protocol,
        "ports": None if flow.service.first is None else [flow.service.first, flow.service.last],
        "source_ports": None if flow.service.src_first is None else [flow.service.src_first, flow.service.src_last],
        "icmp_type": flow.service.icmp_type,
        "icmp_code": flow.service.icmp_code,
        "before": change.before.verdict,
        "before_rule": change.before.decided_by,
        "after": change.after.verdict,
        "after_rule": change.after.decided_by,
        "line": change.line(family),
    }
