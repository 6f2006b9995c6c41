# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's compiled rulesets as JSON: the flow record kept on the host next to the applied rules.

Private to the collection: the engine's API may change at any time.

Why: check mode compares what a host runs now with what it would run after the change, flow by
flow, and only the simulator can tell; it walks the IR, not iptables text. So the apply records
the IR it confirmed (``<state_dir>/applied/flows.json``), and the next check reads it back.

Set members are left out: they are already recorded in ``ipsets.restore``, and most sets are
the same in both runs. ``loads`` takes the members from a callback, so the caller fills a set
from the host's recorded members when it differs, else from the new ruleset's set of that name.
The format is versioned; a record of another version reads as no record.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir

VERSION = 1


class RecordError(ValueError):
    """The flow record cannot be read back."""


def dumps(rulesets: tuple[ir.Ruleset, ...]) -> str:
    """Compact, deterministic JSON of ``rulesets`` without set members."""
    data = {"version": VERSION, "rulesets": [_ruleset(r) for r in rulesets]}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def loads(text: str, members: Callable[[int, str, str], tuple[ir.SetMember, ...]]) -> tuple[ir.Ruleset, ...]:
    """The rulesets of a record; ``members(family, set name, set kind)`` gives each set's members."""
    try:
        data = json.loads(text)
        if data.get("version") != VERSION:
            raise RecordError(f"flow record version {data.get('version')!r}, this collection reads {VERSION}")
        return tuple(_read_ruleset(item, members) for item in data["rulesets"])
    except RecordError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise RecordError(f"the flow record cannot be read: {error}") from error


def _ruleset(ruleset: ir.Ruleset) -> dict[str, Any]:
    return {
        "family": ruleset.family,
        "managed": ruleset.managed,
        "tables": [{"name": t.name, "chains": [{"name": c.name, "rules": [_rule(r) for r in c.rules]} for c in t.chains]}
                   for t in ruleset.tables],
        "hooks": [asdict(h) for h in ruleset.hooks],
        "ipsets": [{"name": s.name, "kind": s.kind, "family": s.family, "comment": s.comment, "digest": s.digest} for s in ruleset.ipsets],
    }


def _rule(rule: ir.Rule) -> dict[str, Any]:
    match = {key: value for key, value in asdict(rule.match).items() if value not in (None, False, (), [])}
    for test in match.get("nets", ()):
        test["net"] = str(test["net"])
    verdict = {key: value for key, value in asdict(rule.verdict).items() if value not in (None, 0)}
    return {"match": match, "verdict": verdict, "comment": rule.comment}


def _read_ruleset(data: dict[str, Any], members: Callable[[int, str, str], tuple[ir.SetMember, ...]]) -> ir.Ruleset:
    family = data["family"]
    tables = tuple(
        ir.Table(t["name"], tuple(ir.Chain(c["name"], tuple(_read_rule(r) for r in c["rules"])) for c in t["chains"]))
        for t in data["tables"]
    )
    hooks = tuple(ir.Hook(**h) for h in data["hooks"])
    ipsets = tuple(ir.IpSet(s["name"], s["kind"], s["family"], members(family, s["name"], s["kind"]), s["comment"], s["digest"])
                   for s in data["ipsets"])
    return ir.Ruleset(family, tables, hooks, ipsets, managed=data["managed"])


def _read_rule(data: dict[str, Any]) -> ir.Rule:
    match = dict(data["match"])
    for key, kind in (("in_interface", ir.Interface), ("out_interface", ir.Interface), ("icmp", ir.IcmpTest), ("not_icmp", ir.IcmpTest)):
        if key in match:
            match[key] = kind(**match[key])
    match["nets"] = tuple(ir.NetMatch(ipaddress.ip_network(n["net"]), n["side"], n["negate"]) for n in match.get("nets", ()))
    match["sets"] = tuple(ir.SetRef(**s) for s in match.get("sets", ()))
    for key in ("src_ports", "dst_ports"):
        match[key] = tuple(ir.Ports(tuple(ir.PortSpan(**span) for span in p["spans"]), p["negate"]) for p in match.get(key, ()))
    match["ct_states"] = tuple(match.get("ct_states", ()))
    match["marks"] = tuple(ir.MarkTest(**m) for m in match.get("marks", ()))
    return ir.Rule(ir.Match(**match), ir.Verdict(**data["verdict"]), data["comment"])


def parse_member(kind: str, text: str) -> ir.SetMember:
    """One member as ``ipset save`` writes it: ``198.51.100.0/24``, ``2001:db8::1``, ``198.51.100.7,tcp:80``."""
    if kind == "hash:ip,port":
        address, _sep, rest = text.rpartition(",")
        protocol, _sep, port = rest.partition(":")
        return ir.IpPortMember(ipaddress.ip_network(address), PROTOCOL_NUMBERS[protocol], int(port))
    return ir.NetMember(ipaddress.ip_network(text))


PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "sctp": 132}
