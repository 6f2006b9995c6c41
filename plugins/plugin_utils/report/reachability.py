# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet reachability report: for every pair of inventory hosts (and every network set),
which services get through, in each direction, and which rule of each end decides.

Private to the collection: the engine's API may change at any time.

A flow from host A to host B (per family, per pair of their endpoint addresses) gets through
when A's compiled ruleset lets it out (egress: from A's address, out A's interface holding it,
to B's address) and B's lets it in (ingress: in on B's interface holding the address). Either
end ``untouched`` (not policed by the collection there) lets it through too, but the flow is
``unpoliced``, never an allow by policy. A network set as a source is only checked against the
destination's ingress; as a destination, only against the source's egress.

Services are the classes check mode derives from both rulesets
(``flow_changes.derive_services``), each with the verdict of one representative packet (NEW,
from an ephemeral source port no rule names) at each end; adjacent port ranges with the same
outcome are one range. An end walks a packet once per class of packets it tells apart
(``_Ends``), so most verdicts of a large report are lookups. See docs/reachability.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import CompiledHost, compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import Fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex, LabelIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import IPAddress
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import flow_changes as flows
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import parse_selector
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.simulator import ALLOW, DENY, simulate

HOST = "host"
NETWORK_SET = "network set"
UNPOLICED = "unpoliced"
RESULTS = (ALLOW, UNPOLICED)  # what gets through, by policy or because an end is not policed
# Verdicts per report at most (each class of each address pair, once per end that applies):
# beyond it the report refuses, since its page and JSON (100 to 170 bytes a verdict each) grow
# too large to open; see docs/reachability.md.
VERDICT_LIMIT = 200000
# A host without an endpoint is not policed anywhere; its packets are simulated on this interface.
NO_ENDPOINT = flows.OTHER_INTERFACE
ALL_PORTS = ((1, 65535),)
FAMILIES = (4, 6)


@dataclass(frozen=True)
class Place:
    """Where one end of a flow is: an address, and the host interface holding it (None for a network set)."""

    address: IPAddress
    interface: str | None


@dataclass(frozen=True)
class Party:
    """A row or column of the matrix: an inventory host or a network set."""

    kind: str
    name: str
    labels: Mapping[str, str]
    places: tuple[Place, ...]
    policed: bool = True  # a host with at least one endpoint

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class EndVerdict:
    verdict: str  # allow, deny or untouched
    rule: str | None

    def as_data(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "rule": self.rule}


NOT_CHECKED = None  # the end a network set stands for: no ruleset of ours


@dataclass(frozen=True)
class Flow:
    """One class of service on one address pair, with each end's verdict (None: that end is a network set)."""

    family: int
    service: flows.Service
    egress: EndVerdict | None
    ingress: EndVerdict | None

    @property
    def result(self) -> str:
        ends = [end for end in (self.egress, self.ingress) if end is not None]
        if any(end.verdict == DENY for end in ends):
            return DENY
        return ALLOW if all(end.verdict == ALLOW for end in ends) else UNPOLICED

    @property
    def denied_at(self) -> str | None:
        found = [name for name, end in (("egress", self.egress), ("ingress", self.ingress)) if end is not None and end.verdict == DENY]
        return " and ".join(found) or None


@dataclass(frozen=True)
class Path:
    """One address pair of a cell, and every flow class between them (adjacent ranges merged)."""

    family: int
    source: Place
    target: Place
    flows: tuple[Flow, ...]


@dataclass(frozen=True)
class Cell:
    source: Party
    target: Party
    paths: tuple[Path, ...]

    def allowed(self) -> dict[str, dict[tuple[int, str], tuple]]:
        return service_sets(self.paths)


@dataclass(frozen=True)
class Report:
    sources: tuple[Party, ...]
    targets: tuple[Party, ...]
    cells: tuple[Cell, ...]
    group_by: str | None
    verdicts: int  # one per flow class of each address pair, at each end the collection polices
    simulations: int  # the packets actually walked: a verdict is simulated once per class of packets an end tells apart
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# selecting the rows and columns


def select_parties(index: FleetIndex, selector_text: str | None, option: str, allow_empty: bool = False) -> list[Party]:
    """The hosts and network sets ``selector_text`` picks by their labels (all when None), sorted by name."""
    fleet = index.fleet
    text = "all()" if selector_text is None else selector_text
    selector = parse_selector_option(text, option)
    hosts = {host.name for host in LabelIndex(fleet.hosts.values()).select(selector)}  # type: ignore[attr-defined]
    sets = {item.name for item in index.network_sets(selector)}
    if not hosts and not sets and not allow_empty:
        known = sorted({key for host in fleet.hosts.values() for key in host.labels} | {key for s in fleet.catalog.network_sets for key in s.labels})
        raise PalisadeError(f"{option}: selector {text!r} matches no inventory host or network set (labels in the inventory: {', '.join(known)})")
    found = [host_party(fleet, name) for name in sorted(hosts)]
    found += [network_set_party(item) for item in sorted(fleet.catalog.network_sets, key=lambda s: s.name) if item.name in sets]
    return found


def parse_selector_option(text: Any, option: str):
    if not isinstance(text, str):
        raise PalisadeError(f"{option}: expected a selector (a string such as \"role == 'db'\"), got {type(text).__name__}")
    try:
        return parse_selector(text)
    except PalisadeError as error:
        raise PalisadeError(f"{option}: {error}") from error


def host_party(fleet: Fleet, name: str) -> Party:
    host = fleet.hosts[name]
    places = [Place(address, endpoint.interface) for endpoint in flows.local_endpoints(host.endpoints) for address in endpoint.addresses]
    policed = bool(places)
    if not places and host.ansible_host is not None:
        places = [Place(host.ansible_host, NO_ENDPOINT)]
    return Party(HOST, name, dict(host.labels), tuple(sorted(set(places), key=_place_order)), policed)


def network_set_party(item: Any) -> Party:
    places = {Place(flows.inside(net), None) for net in item.nets}
    return Party(NETWORK_SET, item.name, dict(item.labels), tuple(sorted(places, key=_place_order)))


def _place_order(place: Place) -> tuple:
    return (place.address.version, int(place.address), place.interface or "")


def check_group_by(fleet: Fleet, label: str | None) -> None:
    if label is None:
        return
    if not isinstance(label, str) or not any(label in host.labels for host in fleet.hosts.values()):
        known = sorted({key for host in fleet.hosts.values() for key in host.labels})
        raise PalisadeError(f"group_by: expected a label some inventory host has, got {label!r} (host labels: {', '.join(known)})")


def ordered(parties: Iterable[Party], group_by: str | None) -> tuple[Party, ...]:
    """Hosts first (by the ``group_by`` label's value, then name), then network sets by name."""
    def key(party: Party) -> tuple:
        group = party.labels.get(group_by, "") if group_by else ""
        return (party.kind != HOST, group_by is not None and group_by not in party.labels, group, party.name)
    return tuple(sorted(parties, key=key))


# ---------------------------------------------------------------------------------------------
# computing the matrix


def reachability(fleet: Fleet, sources: str | None = None, targets: str | None = None, group_by: str | None = None,
                 limit: int = VERDICT_LIMIT, baseline: bool = False) -> Report:
    """The report for ``fleet``: ``sources`` and ``targets`` are selectors (None: everything).

    ``baseline``: the older inventory of a comparison, where the selectors and the label may
    match nothing (the hosts they pick may be new)."""
    if not baseline:
        check_group_by(fleet, group_by)
    index = FleetIndex(fleet)
    rows = ordered(select_parties(index, sources, "from", baseline), group_by)
    columns = ordered(select_parties(index, targets, "to", baseline), group_by)
    compiled: dict[str, CompiledHost] = {}
    warnings: list[str] = []
    for party in (*rows, *columns):
        if party.kind == HOST and party.name not in compiled:
            compiled[party.name] = compile_host(index, party.name)
            warnings += compiled[party.name].warnings
    services = _Services(compiled)
    plans = [(row, column, plan_cell(row, column, services)) for row in rows for column in columns]
    count = sum(len(path[3]) * path[4] for _row, _column, plan in plans for path in plan)
    pairs = sum(1 for _row, _column, plan in plans if plan)
    if count > limit:
        raise PalisadeError(
            f"reachability: {len(rows)} sources x {len(columns)} destinations ({pairs} pairs with addresses) would need {count} verdicts,"
            f" more than the {limit} a report works out; select fewer hosts with -e from=SELECTOR and -e to=SELECTOR"
            " (for example -e \"to=role=='db'\")")
    ends = _Ends(compiled)
    cells = tuple(Cell(row, column, tuple(run_path(ends, row, column, *path) for path in plan)) for row, column, plan in plans)
    return Report(rows, columns, cells, group_by, count, ends.simulated, tuple(dict.fromkeys(warnings)))


class _Services:
    """What a pair of ends tells apart: the service classes of both ends' rules (the union of
    each end's cuts) and the ephemeral source port no rule of either names. Hosts of one role
    have the same cuts and source ports, so a report of thousands of pairs works both out once
    per pair of kinds of host; each host's are numbered, so a pair is looked up by two numbers."""

    def __init__(self, compiled: Mapping[str, CompiledHost]) -> None:
        self.compiled = compiled
        self._hosts: dict[tuple[str, int], tuple[int, flows.Cuts, int, tuple[tuple[int, int], ...]]] = {}
        self._numbers: dict[tuple, int] = {}
        self._classes: dict[tuple, list[flows.Service]] = {}
        self._ports: dict[tuple, int] = {}

    def between(self, parties: Sequence[Party], family: int) -> tuple[list[flows.Service], int]:
        """The pair's service classes and ephemeral source port."""
        ends = [self._host(party.name, family) for party in parties if party.kind == HOST]
        classes_key = (family, *(end[0] for end in ends))
        if classes_key not in self._classes:
            cuts = flows.Cuts()
            for end in ends:
                cuts.update(end[1])
            self._classes[classes_key] = cuts.services(family)
        ports_key = tuple(end[2] for end in ends)
        if ports_key not in self._ports:
            self._ports[ports_key] = flows.free_port([end[3] for end in ends])
        return self._classes[classes_key], self._ports[ports_key]

    def _host(self, host: str, family: int) -> tuple[int, flows.Cuts, int, tuple[tuple[int, int], ...]]:
        if (host, family) not in self._hosts:
            ruleset = self.compiled[host].ruleset(family)
            cuts, spans = flows.ruleset_cuts(ruleset), flows.source_spans(ruleset)
            self._hosts[(host, family)] = (self._number(("cuts", cuts.fingerprint())), cuts, self._number(("spans", spans)), spans)
        return self._hosts[(host, family)]

    def _number(self, value: tuple) -> int:
        return self._numbers.setdefault(value, len(self._numbers))


class _Ends:
    """Each host's verdict at its end of a flow (egress at the source, ingress at the
    destination), simulated once per class of packets the host cannot tell apart.

    Two address pairs with the same ``flow_changes.Scope`` key meet the same rules of the
    host's path, and two packets of the same ``PacketClasses`` class of those rules meet the
    same tests, so they get the same verdict (the premise of check mode's flow classes): most
    flows of a large report cost a lookup, not a walk. (Two hosts never share verdicts: the
    deciding rule's comment names the host's endpoint.)"""

    def __init__(self, compiled: Mapping[str, CompiledHost]) -> None:
        self.compiled = compiled
        self.simulated = 0
        self._scopes: dict[tuple[str, int, str, str], flows.Scope] = {}
        self._rules: dict[tuple, tuple[int, flows.PacketClasses]] = {}  # (where, key) -> its number and classes
        self._known: dict[tuple, EndVerdict] = {}

    def at(self, host: str, direction: str, interface: str, local: IPAddress, peer: IPAddress) -> tuple[int, flows.PacketClasses, ir.Ruleset]:
        """What tells packets apart at this end of one address pair: the rules they may meet
        (numbered, so each verdict is looked up by small values), the classes of those, and
        the ruleset that decides."""
        family = local.version
        where = (host, family, direction, interface)
        scope = self._scopes.get(where)
        if scope is None:
            scope = self._scopes[where] = flows.Scope([self.compiled[host].ruleset(family)], family, direction, interface)
        rules = (where, scope.key(peer, local) if direction == flows.INGRESS else scope.key(local, peer))
        if rules not in self._rules:
            self._rules[rules] = (len(self._rules), flows.PacketClasses(scope.cuts(rules[1]), family))
        number, classes = self._rules[rules]
        return number, classes, scope.rulesets[0]

    def verdict(self, at: tuple[int, flows.PacketClasses, ir.Ruleset], flow: flows.FlowClass, src_port: int) -> EndVerdict:
        """The verdict on ``flow`` at the end ``at`` gave."""
        rules, classes, ruleset = at
        known = (rules, classes.of(flow.service, src_port))
        if known not in self._known:
            outcome = simulate(ruleset, flow.packet(src_port))
            self.simulated += 1
            self._known[known] = EndVerdict(outcome.verdict, outcome.decided_by)
        return self._known[known]


def plan_cell(source: Party, target: Party, services: _Services) -> list[tuple]:
    """(family, source place, target place, services, ends, source port) for every address pair of the cell."""
    if source.kind == NETWORK_SET and target.kind == NETWORK_SET or source.key == target.key:
        return []  # nothing of ours between two network sets; a host to itself goes over lo, never policed
    found = []
    for family in FAMILIES:
        classes, src_port = services.between((source, target), family)
        ends = sum(1 for party in (source, target) if party.kind == HOST)
        for left in (p for p in source.places if p.address.version == family):
            for right in (p for p in target.places if p.address.version == family):
                if left.address != right.address:
                    found.append((family, left, right, classes, ends, src_port))
    return found


def run_path(ends: _Ends, source: Party, target: Party, family: int, left: Place, right: Place,
             services: Sequence[flows.Service], _ends: int, src_port: int) -> Path:
    out_interface, in_interface = left.interface or "", right.interface or ""
    out = ends.at(source.name, flows.EGRESS, out_interface, left.address, right.address) if source.kind == HOST else None
    into = ends.at(target.name, flows.INGRESS, in_interface, right.address, left.address) if target.kind == HOST else None
    found = []
    for service in services:
        egress = ingress = NOT_CHECKED
        if out is not None:
            flow = flows.FlowClass(flows.EGRESS, out_interface, left.address, flows.Peer(target.name, right.address), service)
            egress = ends.verdict(out, flow, src_port)
        if into is not None:
            flow = flows.FlowClass(flows.INGRESS, in_interface, right.address, flows.Peer(source.name, left.address), service)
            ingress = ends.verdict(into, flow, src_port)
        found.append(Flow(family, service, egress, ingress))
    return Path(family, left, right, tuple(merge_ranges(found)))


def merge_ranges(found: Sequence[Flow]) -> list[Flow]:
    """Adjacent port ranges of one protocol with the same verdicts and rules at both ends, as one range."""
    runs: list[list[Flow]] = []  # each run is its first flow and the last it absorbs
    for flow in found:
        last = runs[-1][-1] if runs else None
        if (last is not None and flow.service.protocol in flows.PORT_PROTOCOLS and last.service.protocol == flow.service.protocol
                and last.service.src_first == flow.service.src_first
                and last.service.last is not None and flow.service.first == last.service.last + 1
                and (last.egress, last.ingress) == (flow.egress, flow.ingress)):
            runs[-1][1:] = [flow]
        else:
            runs.append([flow])
    return [run[0] if len(run) == 1 else replace(run[0], service=replace(run[0].service, last=run[-1].service.last)) for run in runs]


# ---------------------------------------------------------------------------------------------
# what gets through, as sets of services that can be shown and compared


def protocol_name(service: flows.Service, family: int) -> str:
    if service.protocol in flows.PORT_PROTOCOLS:
        return flows.PORT_PROTOCOLS[service.protocol]
    if service.protocol == flows.ICMP[family][0]:
        return flows.ICMP[family][1]
    return "other protocols" if service.other else f"protocol {service.protocol}"


def service_sets(paths: Iterable[Path]) -> dict[str, dict[tuple[int, str], tuple]]:
    """result (allow, unpoliced) -> (family, protocol name) -> port ranges (TCP, UDP, SCTP) or
    ICMP class labels (``("all",)`` when every class of the protocol gets through)."""
    ranges: dict[str, dict[tuple[int, str], list[tuple[int, int]]]] = {result: {} for result in RESULTS}
    labels: dict[str, dict[tuple[int, str], set[str]]] = {result: {} for result in RESULTS}
    for path in paths:
        icmp_total: dict[str, int] = {}
        icmp_through: dict[tuple[str, str], set[str]] = {}
        for flow in path.flows:
            name = protocol_name(flow.service, path.family)
            if flow.service.protocol not in flows.PORT_PROTOCOLS:
                icmp_total[name] = icmp_total.get(name, 0) + 1
            if flow.result not in RESULTS:
                continue
            if flow.service.protocol in flows.PORT_PROTOCOLS:
                ranges[flow.result].setdefault((path.family, name), []).append((flow.service.first or 1, flow.service.last or 65535))
            else:
                icmp_through.setdefault((flow.result, name), set()).add(_class_label(flow.service, path.family))
        for (result, name), through in icmp_through.items():
            whole = len(through) == icmp_total[name] and all(
                f.result == result for f in path.flows if protocol_name(f.service, path.family) == name)
            labels[result].setdefault((path.family, name), set()).update({"all"} if whole else through)
    found: dict[str, dict[tuple[int, str], tuple]] = {}
    for result in RESULTS:
        entries: dict[tuple[int, str], tuple] = {key: tuple(union(spans)) for key, spans in ranges[result].items()}
        for key, names in labels[result].items():
            entries[key] = ("all",) if "all" in names else tuple(sorted(names, key=_label_order))
        found[result] = dict(sorted(entries.items(), key=lambda item: (_protocol_order(item[0][1]), item[0][0])))
    return found


def _class_label(service: flows.Service, family: int) -> str:
    """An ICMP or other-protocol class without its protocol name: ``8``, ``3 code 4``, ``other types``."""
    text = service.label(family)
    name = protocol_name(service, family)
    if name in ("other protocols",) or name.startswith("protocol "):
        return "all"
    return text[len(name):].strip().removeprefix("type ") or "all"


def _label_order(label: str) -> tuple:
    head = label.split(" ")[0]
    return (not head.isdigit(), int(head) if head.isdigit() else 0, label)


PROTOCOL_ORDER = ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6")


def _protocol_order(name: str) -> tuple:
    if name in PROTOCOL_ORDER:
        return (PROTOCOL_ORDER.index(name), 0)
    if name.startswith("protocol "):
        return (len(PROTOCOL_ORDER), int(name.split(" ")[1]))
    return (len(PROTOCOL_ORDER) + 1, 0)


def union(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def subtract(spans: Sequence[tuple[int, int]], minus: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ports of ``spans`` that are not in ``minus`` (both sorted and merged)."""
    found = []
    for first, last in spans:
        start = first
        for cut_first, cut_last in minus:
            if cut_last < start or cut_first > last:
                continue
            if cut_first > start:
                found.append((start, cut_first - 1))
            start = max(start, cut_last + 1)
        if start <= last:
            found.append((start, last))
    return found


def describe(entries: Mapping[tuple[int, str], tuple], families: Iterable[int]) -> str:
    """``TCP 22, 5432; ICMP`` — a family named only where the two families differ."""
    shown = sorted(set(families))
    by_name: dict[str, dict[int, tuple]] = {}
    for (family, name), value in entries.items():
        by_name.setdefault(name, {})[family] = value
    parts = []
    for name in sorted(by_name, key=_protocol_order):
        values = by_name[name]
        if len(shown) > 1 and name not in ("ICMP", "ICMPv6") and (len(values) < len(shown) or len(set(values.values())) > 1):
            parts += [f"{_entry(name, values[family])} (IPv{family})" for family in sorted(values)]
        else:
            parts.append(_entry(name, next(iter(values.values()))))
    return "; ".join(parts)


def _entry(name: str, value: tuple) -> str:
    if value == ("all",):
        return name
    if value and isinstance(value[0], tuple):
        if tuple(value) == ALL_PORTS:
            return f"{name} any"
        return f"{name} " + ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in value)
    return f"{name} type " + ", ".join(value)


def cell_summary(cell: Cell) -> dict[str, str]:
    families = {path.family for path in cell.paths}
    sets = cell.allowed()
    return {result: describe(sets[result], families) for result in RESULTS}


# ---------------------------------------------------------------------------------------------
# plain data (the JSON of the page and of FILE.json), and the text table


def party_data(party: Party, group_by: str | None) -> dict[str, Any]:
    return {"kind": party.kind, "name": party.name, "key": party.key, "labels": dict(sorted(party.labels.items())),
            "group": party.labels.get(group_by) if group_by else None, "policed": party.policed,
            "addresses": [{"address": str(p.address), "interface": p.interface} for p in party.places]}


def flow_data(flow: Flow) -> dict[str, Any]:
    service = flow.service
    return {"service": service.label(flow.family), "protocol": service.protocol,
            "ports": None if service.first is None else [service.first, service.last],
            "icmp_type": service.icmp_type, "icmp_code": service.icmp_code, "result": flow.result, "denied_at": flow.denied_at,
            "egress": None if flow.egress is None else flow.egress.as_data(),
            "ingress": None if flow.ingress is None else flow.ingress.as_data()}


def cell_data(cell: Cell) -> dict[str, Any]:
    summary = cell_summary(cell)
    return {"from": cell.source.key, "to": cell.target.key, "allow": summary[ALLOW], "unpoliced": summary[UNPOLICED],
            "paths": [{"family": path.family, "from_address": str(path.source.address), "from_interface": path.source.interface,
                       "to_address": str(path.target.address), "to_interface": path.target.interface,
                       "flows": [flow_data(flow) for flow in path.flows]} for path in cell.paths]}


def report_data(report: Report) -> dict[str, Any]:
    return {"kind": "reachability", "group_by": report.group_by, "verdicts": report.verdicts, "simulations": report.simulations,
            "rows": [party_data(p, report.group_by) for p in report.sources],
            "columns": [party_data(p, report.group_by) for p in report.targets],
            "cells": [cell_data(cell) for cell in report.cells if cell.paths], "warnings": list(report.warnings)}


def to_json(data: Mapping[str, Any]) -> str:
    """Sorted keys, no floats, ``<``, ``>`` and ``&`` as ``\\u003c`` etc. (safe inside a script block)."""
    text = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e") + "\n"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(str(value).ljust(width) for value, width in zip(row, widths)).rstrip() for row in [header, *rows]]


def _end_text(end: EndVerdict | None) -> str:
    if end is None:
        return "-"
    return end.verdict + (f": {end.rule}" if end.rule else "")


def text_report(report: Report) -> str:
    """The report as lines: a heading, one summary line per cell, then every flow that gets through."""
    hosts = {p.key for p in (*report.sources, *report.targets) if p.kind == HOST}
    sets = {p.key for p in (*report.sources, *report.targets) if p.kind == NETWORK_SET}
    cells = [cell for cell in report.cells if cell.paths]
    lines = [f"reachability: {_count(len(report.sources), 'source')}, {_count(len(report.targets), 'destination')}"
             f" ({_count(len(hosts), 'host')}, {_count(len(sets), 'network set')}), {_count(len(cells), 'pair')},"
             f" {_count(report.verdicts, 'verdict')} from {_count(report.simulations, 'packet')} simulated",
             "unpoliced: an end the collection does not police (no host endpoint there) lets the flow through; not an allow by policy",
             "", "summary (from -> to: what gets through)"]
    for cell in cells:
        summary = cell_summary(cell)
        parts = [summary[ALLOW] or "nothing allowed"] + ([f"unpoliced: {summary[UNPOLICED]}"] if summary[UNPOLICED] else [])
        lines.append(f"{_name(cell.source)} -> {_name(cell.target)}: {' | '.join(parts)}")
    rows = []
    for cell in cells:
        for path in cell.paths:
            for flow in path.flows:
                if flow.result in RESULTS:
                    rows.append([_name(cell.source), _name(cell.target), f"IPv{path.family}", f"{path.source.address} -> {path.target.address}",
                                 flow.service.label(path.family), flow.result, _end_text(flow.egress), _end_text(flow.ingress)])
    lines += ["", "flows that get through"]
    lines += table(["from", "to", "family", "addresses", "service", "result", "from's egress", "to's ingress"], rows) if rows else ["none"]
    lines += [f"warning: {warning}" for warning in report.warnings]
    return "\n".join(lines) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _name(party: Party) -> str:
    return party.name if party.kind == HOST else f"[{party.name}]"


# ---------------------------------------------------------------------------------------------
# comparing two reports


@dataclass(frozen=True)
class CellChange:
    source: str  # party key
    target: str
    gained: dict[str, dict[tuple[int, str], tuple]]
    lost: dict[str, dict[tuple[int, str], tuple]]
    families: tuple[int, ...]


def compare(old: Report, new: Report) -> list[CellChange]:
    """The cells whose services differ: per result (allow, unpoliced), what the new report gains and loses."""
    before = {(c.source.key, c.target.key): c for c in old.cells}
    after = {(c.source.key, c.target.key): c for c in new.cells}
    order = [(c.source.key, c.target.key) for c in new.cells] + sorted(set(before) - set(after))
    found = []
    for key in order:
        old_sets = before[key].allowed() if key in before else {result: {} for result in RESULTS}
        new_sets = after[key].allowed() if key in after else {result: {} for result in RESULTS}
        gained = {result: difference(new_sets[result], old_sets[result]) for result in RESULTS}
        lost = {result: difference(old_sets[result], new_sets[result]) for result in RESULTS}
        if any(gained.values()) or any(lost.values()):
            families = {p.family for cell in (before.get(key), after.get(key)) if cell is not None for p in cell.paths}
            found.append(CellChange(key[0], key[1], gained, lost, tuple(sorted(families))))
    return found


def difference(left: Mapping[tuple[int, str], tuple], right: Mapping[tuple[int, str], tuple]) -> dict[tuple[int, str], tuple]:
    found: dict[tuple[int, str], tuple] = {}
    for key, value in left.items():
        other = right.get(key, ())
        if value and isinstance(value[0], tuple):
            rest = tuple(subtract(value, other))
        elif value == ("all",):
            rest = () if other == ("all",) else value
        else:
            rest = () if other == ("all",) else tuple(label for label in value if label not in other)
        if rest:
            found[key] = rest
    return found


def change_summary(change: CellChange) -> dict[str, str]:
    """``gained``/``lost`` text, each ``TCP 5432; unpoliced: UDP any`` (empty when nothing)."""
    found = {}
    for side, sets in (("gained", change.gained), ("lost", change.lost)):
        parts = [describe(sets[ALLOW], change.families)] if sets[ALLOW] else []
        parts += [f"unpoliced: {describe(sets[UNPOLICED], change.families)}"] if sets[UNPOLICED] else []
        found[side] = " | ".join(parts)
    return found


def comparison_data(old: Report, new: Report, changes: Sequence[CellChange]) -> dict[str, Any]:
    parties: dict[str, Party] = {}
    for party in (*new.sources, *new.targets, *old.sources, *old.targets):
        parties.setdefault(party.key, party)
    rows = ordered([parties[key] for key in dict.fromkeys(c.source for c in changes)], new.group_by)
    columns = ordered([parties[key] for key in dict.fromkeys(c.target for c in changes)], new.group_by)
    return {"kind": "reachability comparison", "group_by": new.group_by, "verdicts": old.verdicts + new.verdicts,
            "simulations": old.simulations + new.simulations,
            "rows": [party_data(p, new.group_by) for p in rows], "columns": [party_data(p, new.group_by) for p in columns],
            "cells": [{"from": c.source, "to": c.target, **change_summary(c)} for c in changes],
            "warnings": list(dict.fromkeys([*old.warnings, *new.warnings]))}


def text_comparison(old: Report, new: Report, changes: Sequence[CellChange]) -> str:
    lines = [f"reachability changes: {len(changes)} pair{'' if len(changes) == 1 else 's'} change"
             f" ({old.verdicts} verdicts on the old inventory, {new.verdicts} on the new)"]
    rows = []
    for change in changes:
        summary = change_summary(change)
        for side in ("gained", "lost"):
            if summary[side]:
                rows.append([_key_name(change.source), _key_name(change.target), side, summary[side]])
    lines += ["", *table(["from", "to", "change", "services"], rows)] if rows else ["no reachability changes"]
    return "\n".join(lines) + "\n"


def _key_name(key: str) -> str:
    kind, name = key.split(":", 1)
    return name if kind == HOST else f"[{name}]"
