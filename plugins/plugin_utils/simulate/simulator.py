# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a host's compiled ruleset does to one packet, and why: a walk of the neutral IR.

Private to the collection: the engine's API may change at any time.

The simulator reads only ``ir.Ruleset`` (never the policy model), so that its verdicts check
the compiler instead of repeating it. ``explain`` and the lockout check both use it.

Traversal model
---------------

The path through the kernel's tables is fixed by the packet's interfaces:

- arriving and delivered to the host (``in_interface`` set, ``out_interface`` None):
  raw PREROUTING -> mangle PREROUTING -> filter INPUT;
- arriving and forwarded (both set): raw PREROUTING -> mangle PREROUTING -> filter FORWARD;
- sent by the host (``in_interface`` None): raw OUTPUT -> filter OUTPUT.

Nat, mangle POSTROUTING and routing are not modelled: ``dst`` is the destination every table
sees, and ``dnat`` only feeds ``not_dnat`` matches.

In each built-in chain on the path the only rules the simulator knows are the ruleset's hooks
for that chain: insert-mode hooks first, in the order given, then append-mode hooks. Each hook
is an unconditional jump to an owned chain. The built-in chain's other rules belong to someone
else, and its policy is taken as ACCEPT, so a packet that comes back from every hook continues:
that table did not decide.

- ``drop`` or ``reject`` in any table is final: the verdict is ``deny``.
- ``accept`` in raw or mangle ends that table only; later tables still run, and the marks set
  so far stay on the packet (which is how an early allow reaches filter).
- ``accept`` in filter is final: ``allow``.
- Filter is the table that decides delivery: if it ends without a verdict (or has no hooks)
  the verdict is ``untouched`` whatever raw or mangle did; their steps stay in the trace.

Packet state: the mark starts at 0 and ``mark`` verdicts change the bits under their mask.
The conntrack state is the caller's ``ct_state`` until a ``notrack`` verdict (raw only) makes it
``UNTRACKED`` for the rest of the walk.

Chains: ``jump`` pushes a return point and ``goto`` does not, so falling off (or ``return``
from) a chain entered by goto goes back to the caller of the chain that did the goto. A chain
entered again while it is still on the packet's path is a loop, and a path deeper than
``MAX_DEPTH`` chains is refused too; both raise ``SimulationError``, since iptables-restore
would reject such a ruleset anyway.

Matches follow the IR's semantics (every set field must match). Where a packet lacks what a
test looks at, the test cannot be decided and the rule does not match in either polarity,
rather than guessing: a port test on a packet without that port (an ICMP packet, or a TCP
packet whose source port the caller left out), and an ICMP type/code test (``icmp`` or
``not_icmp``, each with its own ``negate``) on a packet that is not ICMP of its family or
lacks the type (or the code, when the test has one). An ipset of ports is a lookup of
(address, protocol, port): it fails for a protocol without ports, so a negated reference
matches; for a port protocol whose port was left out it is undecidable like a port test.
A packet without an in (out) interface has the empty name there, as in the kernel: a
positive interface test fails and a negated one matches.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import IPAddress

ALLOW = "allow"
DENY = "deny"
UNTOUCHED = "untouched"

Verdict = Literal["allow", "deny", "untouched"]

# ``Stage.result`` of a table that did not decide (otherwise: accept, drop or reject).
STAGE_CONTINUE = "continue"

# Step actions that are not verdict kinds.
FELL_OFF = "fell off"
RETURNED = "returned"

KNOWN_VERDICTS = ("accept", "drop", "reject", "return", "jump", "goto", "mark", "log", "notrack")

CT_STATES = ("NEW", "ESTABLISHED", "RELATED", "INVALID")
UNTRACKED = "UNTRACKED"

# Protocols whose header has ports (TCP, DCCP, UDP, SCTP, UDPLite), as iptables' multiport.
PORT_PROTOCOLS = {6: "TCP", 17: "UDP", 33: "DCCP", 132: "SCTP", 136: "UDPLite"}
ICMP_PROTOCOL = {4: 1, 6: 58}
ICMP_NAME = {4: "ICMP", 6: "ICMPv6"}

# Deepest chain path (jumps and gotos both count) before the walk is called a loop. The
# compiler's layout is about five deep; iptables itself refuses real loops at load time.
MAX_DEPTH = 64

_PATHS: dict[str, tuple[tuple[str, str], ...]] = {
    "input": (("raw", "PREROUTING"), ("mangle", "PREROUTING"), ("filter", "INPUT")),
    "forward": (("raw", "PREROUTING"), ("mangle", "PREROUTING"), ("filter", "FORWARD")),
    "output": (("raw", "OUTPUT"), ("filter", "OUTPUT")),
}


class SimulationError(PalisadeError):
    """The ruleset cannot be walked: a missing chain or ipset, a loop, a misplaced verdict.

    These are compiler bugs, not user mistakes, so the message names the table, chain and rule.
    """


@dataclass(frozen=True)
class Packet:
    """One packet as the host sees it.

    ``in_interface`` None means the host itself sent it; ``out_interface`` None means it is
    delivered to the host itself. ``ct_state`` is the conntrack state the packet arrives with.
    ``dnat`` says whether nat rewrote its destination (the simulator does not model nat).
    ``syn`` (TCP only) says whether it opens a connection; see ``first_syn``.
    """

    src: IPAddress
    dst: IPAddress
    protocol: int
    src_port: int | None = None
    dst_port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    in_interface: str | None = None
    out_interface: str | None = None
    ct_state: str = "NEW"
    dnat: bool = False
    syn: bool | None = None

    def __post_init__(self) -> None:
        self.validate()

    @property
    def first_syn(self) -> bool:
        """A TCP connection's first segment (SYN without ACK, RST, FIN): by default a NEW TCP
        packet is one; ``syn=False`` is a segment of a connection conntrack has not seen yet
        (a session that predates the ruleset), ``syn=True`` a SYN whatever the state."""
        if self.protocol != 6:
            return False
        return self.ct_state == "NEW" if self.syn is None else self.syn

    @property
    def family(self) -> int:
        return self.src.version

    @property
    def direction(self) -> str:
        """``input``, ``forward`` or ``output``: which built-in chains the packet goes through."""
        if self.in_interface is None:
            return "output"
        return "input" if self.out_interface is None else "forward"

    def validate(self) -> None:
        """Raise ValueError for a packet no host could see, so explain never answers nonsense.

        Construction calls it, so every ``Packet`` in existence is a possible one.
        """
        _check_addresses(self)
        _check_interfaces(self)
        _check_protocol(self)
        _check_ports(self)
        _check_icmp(self)
        if self.ct_state not in CT_STATES:
            raise ValueError(f"packet ct_state must be one of {', '.join(CT_STATES)}, got {self.ct_state!r}")
        if not isinstance(self.dnat, bool):
            raise ValueError(f"packet dnat must be true or false, got {self.dnat!r}")
        if self.syn is not None and (not isinstance(self.syn, bool) or self.protocol != 6):
            raise ValueError(f"packet syn must be true or false, and only for TCP (protocol 6), got {self.syn!r} with protocol {self.protocol}")


def _check_addresses(packet: Packet) -> None:
    for side in ("src", "dst"):
        value = getattr(packet, side)
        if not isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            raise ValueError(f"packet {side} must be an IPv4 or IPv6 address, got {value!r}")
    if packet.src.version != packet.dst.version:
        raise ValueError(
            f"packet mixes IP families: src {packet.src} is IPv{packet.src.version}, dst {packet.dst} is IPv{packet.dst.version}"
        )


def _check_interfaces(packet: Packet) -> None:
    if packet.in_interface is None and packet.out_interface is None:
        raise ValueError(
            "packet has neither in_interface nor out_interface: give in_interface for a packet the host receives, "
            "out_interface for one it sends, or both for one it forwards"
        )
    for side in ("in_interface", "out_interface"):
        value = getattr(packet, side)
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"packet {side} must be an interface name, got {value!r}")


def _check_protocol(packet: Packet) -> None:
    if not _is_int(packet.protocol) or not 1 <= packet.protocol <= 255:
        raise ValueError(f"packet protocol must be a number from 1 to 255, got {packet.protocol!r}")
    other = 6 if packet.family == 4 else 4
    if packet.protocol == ICMP_PROTOCOL[other]:
        raise ValueError(
            f"packet protocol {packet.protocol} is {ICMP_NAME[other]}, which IPv{packet.family} does not carry: "
            f"use {ICMP_NAME[packet.family]} ({ICMP_PROTOCOL[packet.family]})"
        )


def _check_ports(packet: Packet) -> None:
    for side in ("src_port", "dst_port"):
        value = getattr(packet, side)
        if value is None:
            continue
        if packet.protocol not in PORT_PROTOCOLS:
            raise ValueError(
                f"packet has {side} but protocol {packet.protocol} has no ports (only TCP, UDP, DCCP, SCTP and UDPLite do)"
            )
        if not _is_int(value) or not 0 <= value <= 65535:
            raise ValueError(f"packet {side} must be a number from 0 to 65535, got {value!r}")


def _check_icmp(packet: Packet) -> None:
    present = [name for name in ("icmp_type", "icmp_code") if getattr(packet, name) is not None]
    if not present:
        return
    icmp = ICMP_PROTOCOL[packet.family]
    if packet.protocol != icmp:
        raise ValueError(
            f"packet has {present[0]} but protocol {packet.protocol} is not {ICMP_NAME[packet.family]} ({icmp})"
        )
    if packet.icmp_type is None:
        raise ValueError("packet has icmp_code but no icmp_type")
    for name in present:
        value = getattr(packet, name)
        if not _is_int(value) or not 0 <= value <= 255:
            raise ValueError(f"packet {name} must be a number from 0 to 255, got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Step:
    """One thing that happened to the packet.

    ``rule`` is the rule's index in ``chain`` (in a built-in chain: the hook's index among the
    collection's hooks there), or None when the packet fell off the end of ``chain``.
    ``action`` is the verdict kind of the rule that matched, ``fell off``, or ``returned`` (back
    in the built-in chain from a hook). ``target`` is the chain of a jump or goto; ``detail``
    says what a mark, log or notrack did.
    """

    table: str
    chain: str
    rule: int | None
    comment: str
    action: str
    target: str | None = None
    detail: str | None = None

    def __str__(self) -> str:
        where = f"{self.table} {self.chain}" + ("" if self.rule is None else f" #{self.rule}")
        what = self.action + (f" {self.target}" if self.target else "") + (f" ({self.detail})" if self.detail else "")
        return f"{where}: {what}" + (f" -- {self.comment}" if self.comment else "")


@dataclass(frozen=True)
class Stage:
    """What one table did: ``accept``, ``drop``, ``reject`` or ``continue`` (no decision)."""

    table: str
    chain: str
    result: str
    decided_by: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The packet's fate: ``allow``, ``deny`` or ``untouched`` (the host's other rules decide)."""

    verdict: Verdict
    decided_by: str | None
    decided_at: Step | None
    trace: tuple[Step, ...]
    stages: tuple[Stage, ...]
    note: str | None = None  # why nothing was walked, for a family the collection leaves alone


UNMANAGED_NOTE = "IPv{family} is not managed on this host: ipv6Support is false, so the kernel's other rules decide"


@dataclass
class _State:
    """The packet's mutable state along the walk, shared by every table."""

    packet: Packet
    ruleset: ir.Ruleset
    mark: int = 0
    ct_state: str = "NEW"
    trace: list[Step] = field(default_factory=list)
    mark_causes: dict[int, Step] = field(default_factory=dict)  # mark bit -> the step that set it


@dataclass
class _Frame:
    """A chain being walked: where to resume, and its chain plus those entered from it by goto.

    The path is what a return or a fall off the end leaves in one go, and what loop detection
    looks at.
    """

    chain: ir.Chain
    index: int
    path: tuple[str, ...]
    entered_by: Step | None = None


@dataclass(frozen=True)
class _Exit:
    """How a hook's walk ended: ``returned``, or the deciding verdict and its step."""

    kind: str
    step: Step | None = None


def simulate(ruleset: ir.Ruleset, packet: Packet) -> Outcome:
    """Walk ``packet`` through the tables on its path and return its fate with a trace."""
    if packet.family != ruleset.family:
        raise ValueError(f"an IPv{packet.family} packet cannot be simulated on the IPv{ruleset.family} ruleset")
    if not ruleset.managed:
        return Outcome(UNTOUCHED, None, None, (), (), note=UNMANAGED_NOTE.format(family=ruleset.family))
    state = _State(packet=packet, ruleset=ruleset, ct_state=packet.ct_state)
    stages: list[Stage] = []
    for table_name, builtin in _PATHS[packet.direction]:
        exit_ = _run_builtin(state, table_name, builtin)
        if exit_.step is None:
            stages.append(Stage(table_name, builtin, STAGE_CONTINUE))
            continue
        decided_by = exit_.step.comment
        stages.append(Stage(table_name, builtin, exit_.kind, decided_by))
        if exit_.kind in ("drop", "reject"):
            return Outcome(DENY, decided_by, exit_.step, tuple(state.trace), tuple(stages))
        if table_name == "filter":
            return Outcome(ALLOW, decided_by, exit_.step, tuple(state.trace), tuple(stages))
    return Outcome(UNTOUCHED, None, None, tuple(state.trace), tuple(stages))


def explain(compiled_rulesets: tuple[ir.Ruleset, ir.Ruleset], packet: Packet) -> Outcome:
    """Simulate ``packet`` on whichever of a host's two rulesets has the packet's family."""
    for ruleset in compiled_rulesets:
        if ruleset.family == packet.family:
            return simulate(ruleset, packet)
    raise ValueError(f"no IPv{packet.family} ruleset to simulate the packet on")


def outcome_to_dict(outcome: Outcome) -> dict[str, Any]:
    """Plain data for Ansible results: every value a str, int, bool, None, list or dict."""
    return {
        "verdict": outcome.verdict,
        "decided_by": outcome.decided_by,
        "decided_at": None if outcome.decided_at is None else _step_to_dict(outcome.decided_at),
        "stages": [
            {"table": s.table, "chain": s.chain, "result": s.result, "decided_by": s.decided_by} for s in outcome.stages
        ],
        "trace": [_step_to_dict(step) for step in outcome.trace],
        "note": outcome.note,
        "report": [_headline(outcome)] + [str(step) for step in outcome.trace],
    }


def packet_summary(packet: Packet) -> str:
    """One line naming the packet: ``198.51.100.7 -> 198.51.100.11 TCP 40000->22 in eth0``."""
    if packet.protocol in PORT_PROTOCOLS:
        what = f"{PORT_PROTOCOLS[packet.protocol]} {'' if packet.src_port is None else packet.src_port}->{packet.dst_port}"
    elif packet.protocol == ICMP_PROTOCOL[packet.family]:
        code = "" if packet.icmp_code is None else f"/{packet.icmp_code}"
        what = f"{ICMP_NAME[packet.family]} {'' if packet.icmp_type is None else packet.icmp_type}{code}".rstrip()
    else:
        what = f"protocol {packet.protocol}"
    ways = [f"{word} {name}" for word, name in (("in", packet.in_interface), ("out", packet.out_interface)) if name]
    state = "" if packet.ct_state == "NEW" else f" {packet.ct_state}"
    syn = "" if packet.syn is None else (" SYN" if packet.syn else " not SYN")
    return f"{packet.src} -> {packet.dst} {what} {' '.join(ways)}{state}{syn}"


def _headline(outcome: Outcome) -> str:
    if outcome.note is not None:
        return f"verdict: {outcome.verdict} ({outcome.note})"
    if outcome.decided_by is None:
        return f"verdict: {outcome.verdict} (no owned rule decided; the kernel's other rules do)"
    return f"verdict: {outcome.verdict}, decided by: {outcome.decided_by}"


def _step_to_dict(step: Step) -> dict[str, Any]:
    return {
        "table": step.table,
        "chain": step.chain,
        "rule": step.rule,
        "comment": step.comment,
        "action": step.action,
        "target": step.target,
        "detail": step.detail,
    }


# --- walking -------------------------------------------------------------------------------


def rules_on_path(ruleset: ir.Ruleset, direction: str, in_interface: str | None = None,
                  out_interface: str | None = None) -> list[tuple[str, ir.Rule]]:
    """Every rule a packet of ``direction`` through these interfaces may meet, with its table
    and chain: the chains its hooks reach, through rules whose interface tests it passes (every
    other test is taken to pass), each chain once, in a fixed order. A rule not listed never
    sees such a packet, so it cannot tell two of them apart."""
    found: list[tuple[str, ir.Rule]] = []
    for table_name, builtin in _PATHS[direction]:
        table = ruleset.table(table_name)
        if table is None:
            continue
        waiting = [hook.target for hook in reversed(_hooks(ruleset, table_name, builtin))]
        seen: set[str] = set()
        while waiting:
            name = waiting.pop()
            if name in seen:
                continue
            seen.add(name)
            try:
                chain = table.chain(name)
            except KeyError:
                continue  # simulate() names the missing chain
            targets = []
            for rule in chain.rules:
                if _interface_matches(rule.match.in_interface, in_interface) and _interface_matches(rule.match.out_interface, out_interface):
                    found.append((f"{table_name} {name}", rule))
                    if rule.verdict.kind in ("jump", "goto") and rule.verdict.target:
                        targets.append(rule.verdict.target)
            waiting += reversed(targets)
    return found


def hooks_on_path(ruleset: ir.Ruleset, direction: str) -> tuple[tuple[str, str, str], ...]:
    """The hooks a packet of ``direction`` passes, in order: (table, built-in chain, target)."""
    return tuple((table, builtin, hook.target) for table, builtin in _PATHS[direction] for hook in _hooks(ruleset, table, builtin))


def _hooks(ruleset: ir.Ruleset, table: str, builtin: str) -> list[ir.Hook]:
    """The owned rules of a built-in chain, in the order the kernel sees them."""
    mine = [h for h in ruleset.hooks if h.table == table and h.builtin == builtin]
    return [h for h in mine if h.position == "insert"] + [h for h in mine if h.position == "append"]


def _run_builtin(state: _State, table_name: str, builtin: str) -> _Exit:
    """Run every hook of one built-in chain until one decides; otherwise the packet continues."""
    for index, hook in enumerate(_hooks(state.ruleset, table_name, builtin)):
        table = state.ruleset.table(table_name)
        if table is None:
            raise SimulationError(f"hook {table_name} {builtin} -> {hook.target}: the ruleset has no {table_name} table")
        comment = f"hook {builtin} -> {hook.target} ({hook.position})"
        state.trace.append(Step(table_name, builtin, index, comment, "jump", target=hook.target))
        start = _chain(table, hook.target, f"hook {table_name} {builtin}")
        exit_ = _walk(state, table, start)
        if exit_.kind != RETURNED:
            return exit_
        state.trace.append(Step(table_name, builtin, index, comment, RETURNED, target=hook.target))
    return _Exit(RETURNED)


def _chain(table: ir.Table, name: str | None, referrer: str) -> ir.Chain:
    try:
        return table.chain(name or "")
    except KeyError:
        raise SimulationError(f"{referrer} targets chain {name!r}, which the {table.name} table does not have") from None


def _walk(state: _State, table: ir.Table, start: ir.Chain) -> _Exit:
    """Walk owned chains from ``start`` until a final verdict or a return to the built-in chain."""
    stack: list[_Frame] = []
    frame = _Frame(start, 0, (start.name,))
    while True:
        if frame.index >= len(frame.chain.rules):
            state.trace.append(Step(table.name, frame.chain.name, None, "", FELL_OFF))
            if not stack:
                return _Exit(RETURNED)
            frame = stack.pop()
            continue
        index = frame.index
        rule = frame.chain.rules[index]
        frame.index += 1
        if not _matches(state, rule.match, f"{table.name} {frame.chain.name} rule {index}"):
            continue
        step = _apply(state, table, frame.chain.name, index, rule)
        state.trace.append(step)
        kind = rule.verdict.kind
        if kind == "mark":
            _record_mark_cause(state, rule, step, frame)
        if kind == "accept":
            return _Exit(kind, _cause(state, rule, step))
        if kind in ("drop", "reject"):
            return _Exit(kind, step)
        if kind == "return":
            if not stack:
                return _Exit(RETURNED)
            frame = stack.pop()
        elif kind in ("jump", "goto"):
            frame = _enter(table, stack, frame, rule.verdict, f"{table.name} {frame.chain.name} rule {index}")
            frame.entered_by = step


def _record_mark_cause(state: _State, rule: ir.Rule, step: Step, frame: _Frame) -> None:
    """Remember why each mark bit was set, so a later accept on the mark names its reason.

    An unconditional mark rule in a chain reached by jump or goto (a helper such as "allow")
    is there because of the rule that sent the packet in, so that rule is the cause.
    """
    cause = frame.entered_by if rule.match == ir.Match() and frame.entered_by is not None else step
    for bit in range(32):
        flag = 1 << bit
        if rule.verdict.mark_mask & flag:
            if rule.verdict.mark_value & flag:
                state.mark_causes[flag] = cause
            else:
                state.mark_causes.pop(flag, None)


def _cause(state: _State, rule: ir.Rule, step: Step) -> Step:
    """The step to credit for an accept: the rule itself, or, when it accepts on a mark, the
    step that set that mark (the policy rule that allowed, not the generic accept)."""
    for test in rule.match.marks:
        if not test.negate and test.value:
            lowest = test.value & -test.value
            if lowest in state.mark_causes:
                return state.mark_causes[lowest]
    return step


def _enter(table: ir.Table, stack: list[_Frame], frame: _Frame, verdict: ir.Verdict, where: str) -> _Frame:
    """The frame for a jump (the caller is kept) or a goto (the current chain is left for good)."""
    target = _chain(table, verdict.target, where)
    path = [name for f in stack for name in f.path] + list(frame.path)
    if target.name in path:
        loop = path[path.index(target.name):] + [target.name]
        raise SimulationError(f"chain loop in the {table.name} table: {' -> '.join(loop)}")
    if len(path) >= MAX_DEPTH:
        raise SimulationError(
            f"the walk of the {table.name} table went deeper than {MAX_DEPTH} chains at {where} -> {target.name}"
        )
    if verdict.kind == "jump":
        stack.append(frame)
        return _Frame(target, 0, (target.name,))
    return _Frame(target, 0, frame.path + (target.name,))


def _apply(state: _State, table: ir.Table, chain: str, index: int, rule: ir.Rule) -> Step:
    """Apply the side effects of a matched rule (mark, notrack) and describe them."""
    verdict = rule.verdict
    detail = None
    if verdict.kind not in KNOWN_VERDICTS:
        raise SimulationError(f"{table.name} {chain} rule {index}: unknown verdict {verdict.kind!r}")
    if verdict.kind == "mark":
        detail = _set_mark(state, verdict, f"{table.name} {chain} rule {index}")
    elif verdict.kind == "notrack":
        if table.name != "raw":
            raise SimulationError(f"{table.name} {chain} rule {index}: notrack is only possible in the raw table")
        state.ct_state = UNTRACKED
        detail = "conntrack state is now UNTRACKED"
    elif verdict.kind == "log":
        detail = f"prefix {verdict.log_prefix!r}" if verdict.log_prefix else None
    target = verdict.target if verdict.kind in ("jump", "goto") else None
    return Step(table.name, chain, index, rule.comment, verdict.kind, target=target, detail=detail)


def _set_mark(state: _State, verdict: ir.Verdict, where: str) -> str:
    """Set the bits under the mask; a value outside its mask is ambiguous, so it is refused."""
    if verdict.mark_value & ~verdict.mark_mask:
        raise SimulationError(
            f"{where}: mark value {verdict.mark_value:#x} has bits outside its mask {verdict.mark_mask:#x}"
        )
    state.mark = (state.mark & ~verdict.mark_mask) | verdict.mark_value
    return f"set {verdict.mark_value:#x}/{verdict.mark_mask:#x}, mark is now {state.mark:#x}"


# --- matching ------------------------------------------------------------------------------


def _matches(state: _State, match: ir.Match, where: str) -> bool:
    """Every field of ``match`` that is set must match the packet in its current state."""
    return (
        _static_matches(state, match, where)
        and _ct_matches(match, state.ct_state)
        and all(_mark_matches(test, state.mark) for test in match.marks)
    )


def may_match(ruleset: ir.Ruleset, match: ir.Match, packet: Packet) -> bool:
    """Whether ``match`` can match ``packet`` at some point of its walk: every test but those
    of the state the walk changes (conntrack state after a notrack, marks) passes.

    False means no walk of the packet through ``ruleset`` ever matches a rule with this
    match, which is what lets check mode leave a flow unsimulated."""
    return _static_matches(_State(packet=packet, ruleset=ruleset), match, "a rule")


def _static_matches(state: _State, match: ir.Match, where: str) -> bool:
    """The tests the walk does not change; those of the packet's header first (the cheap
    ones), then its addresses against networks and sets."""
    packet = state.packet
    # a test of a field the match leaves unset is skipped before any call: check mode runs
    # this for every rule on the path of thousands of packets
    return (
        (match.in_interface is None or _interface_matches(match.in_interface, packet.in_interface))
        and (match.out_interface is None or _interface_matches(match.out_interface, packet.out_interface))
        and (match.protocol is None or _protocol_matches(match, packet))
        and (not match.src_ports or all(_ports_match(ports, packet.src_port) for ports in match.src_ports))
        and (not match.dst_ports or all(_ports_match(ports, packet.dst_port) for ports in match.dst_ports))
        and (match.icmp is None or _icmp_matches(match.icmp, packet))
        and (match.not_icmp is None or _icmp_matches(match.not_icmp, packet))
        and not (match.not_dnat and packet.dnat)
        and not (match.not_syn and packet.first_syn)
        and (not match.nets or all(_net_matches(state, net, where) for net in match.nets))
        and (not match.sets or all(_set_matches(state, ref, where) for ref in match.sets))
    )


def _interface_matches(test: ir.Interface | None, name: str | None) -> bool:
    """Names compare exactly, or by prefix; no interface is the empty name, as in the kernel."""
    if test is None:
        return True
    actual = name or ""
    found = actual.startswith(test.name) if test.prefix else actual == test.name
    return found != test.negate


def _protocol_matches(match: ir.Match, packet: Packet) -> bool:
    if match.protocol is None:
        return True
    return (packet.protocol == match.protocol) != match.protocol_negate


def _address(packet: Packet, side: str) -> IPAddress:
    return packet.src if side == "src" else packet.dst


def _net_matches(state: _State, test: ir.NetMatch, where: str) -> bool:
    if test.net.version != state.ruleset.family:
        raise SimulationError(f"{where}: network {test.net} in the IPv{state.ruleset.family} ruleset")
    return (_address(state.packet, test.side) in test.net) != test.negate


def _set_matches(state: _State, ref: ir.SetRef, where: str) -> bool:
    sets = set_index(state.ruleset)
    ipset = _ipset(sets, state.ruleset, ref.name, where)
    packet = state.packet
    address = _address(packet, ref.side)
    if ipset.kind == "hash:net":
        return sets.holds(ipset, address) != ref.negate
    port = packet.src_port if ref.side == "src" else packet.dst_port
    if port is None and packet.protocol in PORT_PROTOCOLS:
        return False  # the caller did not say which port: undecidable either way
    return sets.holds_port(ipset, address, packet.protocol, port) != ref.negate


def _ipset(sets: SetIndex, ruleset: ir.Ruleset, name: str, where: str) -> ir.IpSet:
    ipset = sets.by_name.get(name)
    if ipset is None:
        raise SimulationError(f"{where} refers to ipset {name!r}, which the ruleset does not define")
    if ipset.family != ruleset.family:
        raise SimulationError(f"{where} refers to IPv{ipset.family} ipset {name!r} in the IPv{ruleset.family} ruleset")
    return ipset


class SetIndex:
    """A ruleset's ipsets by name, looked up by bisection over their merged networks (or in a
    hash of address, protocol and port) rather than by a scan of their members: check mode
    and the reachability report simulate thousands of packets against sets of thousands."""

    def __init__(self, ruleset: ir.Ruleset) -> None:
        self.by_name = {item.name: item for item in ruleset.ipsets}
        self._spans: dict[str, tuple[list[int], list[int]]] = {}
        self._ports: dict[str, dict[int, frozenset[tuple[int, int]]]] = {}

    def holds(self, ipset: ir.IpSet, address: IPAddress) -> bool:
        """Whether a network of the ``hash:net`` set contains ``address``."""
        if ipset.name not in self._spans:
            self._spans[ipset.name] = merged_spans(m.net for m in ipset.members if isinstance(m, ir.NetMember))
        firsts, lasts = self._spans[ipset.name]
        value = int(address)
        index = bisect.bisect_right(firsts, value) - 1
        return index >= 0 and value <= lasts[index]

    def holds_port(self, ipset: ir.IpSet, address: IPAddress, protocol: int, port: int | None) -> bool:
        """Whether the ``hash:ip,port`` set has the member (address, protocol, port)."""
        return (protocol, port) in self.ports_at(ipset, address)

    def ports_at(self, ipset: ir.IpSet, address: IPAddress) -> frozenset[tuple[int, int]]:
        """The (protocol, port) pairs the ``hash:ip,port`` set holds for ``address``."""
        if ipset.name not in self._ports:
            found: dict[int, set[tuple[int, int]]] = {}
            for member in ipset.members:
                if isinstance(member, ir.IpPortMember):
                    found.setdefault(int(member.address.network_address), set()).add((member.protocol, member.port))
            self._ports[ipset.name] = {key: frozenset(pairs) for key, pairs in found.items()}
        return self._ports[ipset.name].get(int(address), frozenset())


def merged_spans(nets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> tuple[list[int], list[int]]:
    """The networks as sorted, disjoint ``(firsts, lasts)`` integer ranges."""
    firsts: list[int] = []
    lasts: list[int] = []
    for first, last in sorted((int(n.network_address), int(n.broadcast_address)) for n in nets):
        if lasts and first <= lasts[-1] + 1:
            lasts[-1] = max(lasts[-1], last)
        else:
            firsts.append(first)
            lasts.append(last)
    return firsts, lasts


_SET_INDEXES: dict[int, tuple[ir.Ruleset, SetIndex]] = {}
SET_INDEXES_KEPT = 16  # rulesets whose set index is kept between simulations


def set_index(ruleset: ir.Ruleset) -> SetIndex:
    """The ruleset's ``SetIndex``, built once for the rulesets simulated lately."""
    kept = _SET_INDEXES.get(id(ruleset))
    if kept is not None and kept[0] is ruleset:
        return kept[1]
    if len(_SET_INDEXES) >= SET_INDEXES_KEPT:
        _SET_INDEXES.clear()
    index = SetIndex(ruleset)
    _SET_INDEXES[id(ruleset)] = (ruleset, index)
    return index


def _ports_match(test: ir.Ports, port: int | None) -> bool:
    """A packet without the port matches neither ``--dport 22`` nor ``! --dport 22``."""
    if port is None:
        return False
    found = any(span.first <= port <= span.last for span in test.spans)
    return found != test.negate


def _icmp_matches(test: ir.IcmpTest | None, packet: Packet) -> bool:
    """Only ICMP of the packet's family has a type; a test the packet cannot answer fails."""
    if test is None:
        return True
    if packet.protocol != ICMP_PROTOCOL[packet.family] or packet.icmp_type is None:
        return False
    if test.code is not None and packet.icmp_code is None:
        return False
    found = packet.icmp_type == test.type and (test.code is None or packet.icmp_code == test.code)
    return found != test.negate


def _ct_matches(match: ir.Match, ct_state: str) -> bool:
    if not match.ct_states:
        return True
    return (ct_state in match.ct_states) != match.ct_negate


def _mark_matches(test: ir.MarkTest, mark: int) -> bool:
    return ((mark & test.mask) == test.value) != test.negate
