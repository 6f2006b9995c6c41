# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""(host, fleet index) -> the host's rulesets: Calico's host-endpoint pipeline as neutral IR.

Private to the collection: the engine's API may change at any time.

Layout (per family; tables appear only when something needs them):

- filter ``pal-INPUT`` / ``pal-OUTPUT`` / ``pal-FORWARD``, hooked from the built-in chains,
  dispatch by interface (``pal-from-host-endpoint`` etc., ``goto`` per interface, the ``*``
  endpoint last) to per-endpoint chains ``pal-fh-<if>`` (ingress), ``pal-th-<if>`` (egress),
  ``pal-fhfw-<if>`` / ``pal-thfw-<if>`` (forwarded). ``lo`` is never policed; packets from
  workload interfaces go to ``pal-wl-to-host``; packets to them are never policed.
- an endpoint chain: conntrack (established/related accept, invalid drop), IPv6 neighbour
  discovery accept, the failsafe chain, then each selecting policy's chain in evaluation order.
- policy chains ``pal-pi-<name>`` / ``pal-po-<name>`` never accept by themselves: Allow sets
  the accept mark (via ``pal-allow``), Pass sets the pass mark (via ``pal-pass``), Deny drops,
  Log logs. The endpoint chain returns once the accept mark is set, and the top-level chain
  turns the mark into ACCEPT. Marks also carry an allow from raw (doNotTrack) and mangle
  (preDNAT) to filter, as in Calico.
- raw (doNotTrack policies, named endpoints only) and mangle (preDNAT policies, ingress only)
  have the same shape, without an end-of-tier deny.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir, naming
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.rules import (
    RuleContext,
    SetRegistry,
    compile_rule,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import Endpoint
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.resolution import (
    EndpointPolicies,
    HostResolution,
    Resolver,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import (
    EGRESS,
    INGRESS,
    FailsafePort,
    GlobalNetworkPolicy,
    Settings,
)

MARK_ACCEPT = 0x1000000
MARK_PASS = 0x2000000
MARK_MASK = MARK_ACCEPT | MARK_PASS
LOG_RATE = "5/second"
PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132}  # failsafe protocols
NEIGHBOUR_DISCOVERY = (133, 134, 135, 136)

NORMAL, FORWARD, PRE_DNAT, UNTRACKED = "normal", "forward", "preDNAT", "untracked"
STAGE_TABLE = {NORMAL: "filter", FORWARD: "filter", PRE_DNAT: "mangle", UNTRACKED: "raw"}


class CompileError(PalisadeError):
    """A host whose policies cannot be expressed as a ruleset; names the host and the reason."""


@dataclass(frozen=True)
class CompiledHost:
    host: str
    resolution: HostResolution
    rulesets: tuple[ir.Ruleset, ir.Ruleset]  # IPv4, IPv6
    warnings: tuple[str, ...]

    def ruleset(self, family: int) -> ir.Ruleset:
        return self.rulesets[0] if family == 4 else self.rulesets[1]


class Compiler:
    """Compiles hosts of one fleet; the resolver (policy -> endpoints map) is built once."""

    def __init__(self, index: FleetIndex) -> None:
        self.index = index
        self.resolver = Resolver(index)
        self._sets: dict[int, dict[str, ir.IpSet]] = {4: {}, 6: {}}

    def compile(self, host: str) -> CompiledHost:
        resolution = self.resolver.resolve(host)
        _check_endpoints(resolution)
        warnings: list[str] = [str(w) for w in resolution.warnings]
        rulesets = tuple(
            _FamilyCompiler(self.index, resolution, family, warnings, SetRegistry(family, self._sets[family])).build()
            for family in (4, 6)
        )
        return CompiledHost(host, resolution, rulesets, tuple(dict.fromkeys(warnings)))  # type: ignore[arg-type]


def compile_host(index: FleetIndex, host: str) -> CompiledHost:
    return Compiler(index).compile(host)


def _check_endpoints(resolution: HostResolution) -> None:
    for item in resolution.endpoints:
        if item.endpoint.interface_name is None:
            raise CompileError(
                f"host {resolution.host.name}: endpoint {item.endpoint.name!r} ({item.endpoint.origin}) has no "
                "interfaceName; endpoints found by expectedIPs alone are not supported: give its interfaceName"
            )


def _mark_is(bit: int) -> ir.Match:
    return ir.Match(marks=(ir.MarkTest(bit, bit),))


def _set_mark(bit: int) -> ir.Verdict:
    return ir.Verdict("mark", mark_value=bit, mark_mask=bit)


CLEAR_MARKS = ir.Rule(ir.Match(), ir.Verdict("mark", mark_value=0, mark_mask=MARK_MASK), "clear palisade marks")
ESTABLISHED = ir.Rule(ir.Match(ct_states=("RELATED", "ESTABLISHED")), ir.Verdict("accept"), "conntrack: established or related flow")
INVALID = ir.Rule(ir.Match(ct_states=("INVALID",)), ir.Verdict("drop"), "conntrack: invalid packet")


def _stage_policies(item: EndpointPolicies, direction: str, stage: str) -> tuple[GlobalNetworkPolicy, ...]:
    policies = item.policies(direction)
    if stage == UNTRACKED:
        return tuple(p for p in policies if p.do_not_track)
    if stage == PRE_DNAT:
        return tuple(p for p in policies if p.pre_dnat) if direction == INGRESS else ()
    normal = tuple(p for p in policies if not p.do_not_track and not p.pre_dnat)
    if stage == FORWARD:
        return tuple(p for p in normal if p.apply_on_forward)
    return normal


@dataclass
class _FamilyCompiler:
    index: FleetIndex
    resolution: HostResolution
    family: int
    warnings: list[str]
    sets: SetRegistry
    chains: dict[str, dict[str, list[ir.Rule]]] = field(default_factory=dict)  # table -> chain -> rules
    hooks: list[ir.Hook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.settings: Settings = self.resolution.host.settings

    # -- assembling ---------------------------------------------------------------------

    def build(self) -> ir.Ruleset:
        if self.family == 6 and not self.settings.ipv6_support:
            # ipv6Support false, as in Felix: the host's IPv6 traffic is not the collection's. An
            # empty owned ruleset (no chains, hooks or sets) removes what an earlier run applied.
            return ir.Ruleset(6, (), (), (), tuple(self.warnings), managed=False)
        endpoints = self.resolution.endpoints
        if endpoints:
            self._filter_table(endpoints)
            self._stage_table(endpoints, UNTRACKED)
            self._stage_table(endpoints, PRE_DNAT)
        tables = tuple(
            ir.Table(name, tuple(ir.Chain(chain, tuple(rules)) for chain, rules in sorted(chains.items())))  # type: ignore[arg-type]
            for name, chains in sorted(self.chains.items(), key=lambda item: ("raw", "mangle", "filter").index(item[0]))
        )
        ipsets = tuple(sorted(self.sets.sets.values(), key=lambda s: s.name))
        return ir.Ruleset(self.family, tables, tuple(self.hooks), ipsets, tuple(self.warnings))  # type: ignore[arg-type]

    def _chain(self, table: str, name: str) -> list[ir.Rule]:
        return self.chains.setdefault(table, {}).setdefault(name, [])

    def _hook(self, table: str, builtin: str, target: str) -> None:
        self.hooks.append(ir.Hook(table, builtin, target, self.settings.chain_insert_mode))  # type: ignore[arg-type]

    # -- filter -------------------------------------------------------------------------

    def _filter_table(self, endpoints: Sequence[EndpointPolicies]) -> None:
        table = "filter"
        for builtin, chain in (("INPUT", naming.INPUT), ("FORWARD", naming.FORWARD), ("OUTPUT", naming.OUTPUT)):
            self._hook(table, builtin, chain)
        self._input_chain()
        self._output_chain()
        self._forward_chain(endpoints)
        self._helper_chains(table)
        self._failsafe_chains(table, raw=False)
        self._dispatch(table, naming.FROM_ENDPOINT, "in", "fh", endpoints)
        self._dispatch(table, naming.TO_ENDPOINT, "out", "th", endpoints)
        for item in endpoints:
            self._endpoint_chain(table, item, INGRESS, NORMAL)
            self._endpoint_chain(table, item, EGRESS, NORMAL)
            self._forward_endpoint_chain(item, INGRESS)
            self._forward_endpoint_chain(item, EGRESS)

    def _input_chain(self) -> None:
        rules = self._chain("filter", naming.INPUT)
        for prefix in self.settings.interface_prefixes:
            rules.append(
                ir.Rule(
                    ir.Match(in_interface=ir.Interface(prefix, prefix=True)), ir.Verdict("goto", naming.WORKLOAD_TO_HOST), f"from workload interfaces {prefix}*"
                )
            )
        rules.append(ir.Rule(_mark_is(MARK_ACCEPT), ir.Verdict("accept"), "allowed by an earlier stage (doNotTrack or preDNAT policy)"))
        rules.append(ir.Rule(ir.Match(in_interface=ir.Interface("lo")), ir.Verdict("return"), "loopback is never policed"))
        rules.append(CLEAR_MARKS)
        rules.append(ir.Rule(ir.Match(), ir.Verdict("jump", naming.FROM_ENDPOINT), "ingress through host endpoints"))
        rules.append(ir.Rule(_mark_is(MARK_ACCEPT), ir.Verdict("accept"), "allowed by policy"))
        action = {"Drop": "drop", "Accept": "accept", "Return": "return"}[self.settings.default_endpoint_to_host_action]
        # Replies to connections the host opened to a workload (never policed) must get back.
        self._chain("filter", naming.WORKLOAD_TO_HOST).extend(
            [
                ESTABLISHED,
                ir.Rule(
                    ir.Match(),
                    ir.Verdict(action),  # type: ignore[arg-type]
                    f"workload to host: default_endpoint_to_host_action {self.settings.default_endpoint_to_host_action}",
                ),
            ]
        )

    def _output_chain(self) -> None:
        rules = self._chain("filter", naming.OUTPUT)
        rules.append(ir.Rule(_mark_is(MARK_ACCEPT), ir.Verdict("accept"), "allowed by an earlier stage (doNotTrack policy)"))
        for prefix in self.settings.interface_prefixes:
            rules.append(
                ir.Rule(ir.Match(out_interface=ir.Interface(prefix, prefix=True)), ir.Verdict("return"), f"host to local workload ({prefix}*) is never policed")
            )
        rules.append(ir.Rule(ir.Match(out_interface=ir.Interface("lo")), ir.Verdict("return"), "loopback is never policed"))
        rules.append(CLEAR_MARKS)
        rules.append(ir.Rule(ir.Match(), ir.Verdict("jump", naming.TO_ENDPOINT), "egress through host endpoints"))
        rules.append(ir.Rule(_mark_is(MARK_ACCEPT), ir.Verdict("accept"), "allowed by policy"))

    def _forward_chain(self, endpoints: Sequence[EndpointPolicies]) -> None:
        rules = self._chain("filter", naming.FORWARD)
        rules.append(ir.Rule(ir.Match(), ir.Verdict("mark", mark_value=0, mark_mask=MARK_PASS), "clear the pass mark"))
        skip_if_allowed = ir.Match(marks=(ir.MarkTest(MARK_ACCEPT, MARK_ACCEPT, negate=True),))
        rules.append(
            ir.Rule(skip_if_allowed, ir.Verdict("jump", naming.FROM_ENDPOINT_FORWARD), "forwarded: ingress endpoint (skipped if a preDNAT policy allowed)")
        )
        rules.append(ir.Rule(ir.Match(), ir.Verdict("jump", naming.TO_ENDPOINT_FORWARD), "forwarded: egress endpoint"))
        rules.append(ir.Rule(_mark_is(MARK_ACCEPT), ir.Verdict("accept"), "forwarded traffic allowed"))
        self._dispatch("filter", naming.FROM_ENDPOINT_FORWARD, "in", "fhfw", endpoints)
        self._dispatch("filter", naming.TO_ENDPOINT_FORWARD, "out", "thfw", endpoints)

    def _helper_chains(self, table: str) -> None:
        self._chain(table, naming.ALLOW)[:] = [ir.Rule(ir.Match(), _set_mark(MARK_ACCEPT), "policy rule allows")]
        self._chain(table, naming.PASS)[:] = [ir.Rule(ir.Match(), _set_mark(MARK_PASS), "policy rule passes")]

    def _failsafe_chains(self, table: str, *, raw: bool) -> None:
        inbound, outbound = self.settings.failsafe_inbound_host_ports, self.settings.failsafe_outbound_host_ports
        rules_in = [self._failsafe_rule(entry, "in", "dst", "src") for entry in inbound]
        rules_out = [self._failsafe_rule(entry, "out", "dst", "dst") for entry in outbound]
        # Replies of inbound failsafe TCP services get out even when conntrack does not know
        # their connection: the controller's SSH session predates the first ruleset, and the
        # first packet conntrack sees of it after the apply is NEW, not ESTABLISHED. Only
        # non-SYN segments: a connection a local process opens from such a port (2379 and 6666
        # are unprivileged) is egress policy's to decide. UDP and SCTP have no such mark, so
        # their replies rely on conntrack, which sees the request failsafe let in.
        # In raw (untracked policies), ACCEPT only keeps a packet tracked and filter decides,
        # as in Felix, so there replies of every protocol, both ways, skip untracked policy.
        rules_out += [self._failsafe_rule(entry, "in", "src", "dst", reply=True) for entry in inbound if raw or entry.protocol == "tcp"]
        if raw:
            rules_in += [self._failsafe_rule(entry, "out", "src", "src", reply=True) for entry in outbound]
        self._chain(table, naming.FAILSAFE_IN)[:] = [r for r in rules_in if r is not None]
        self._chain(table, naming.FAILSAFE_OUT)[:] = [r for r in rules_out if r is not None]

    def _failsafe_rule(self, entry: FailsafePort, direction: str, port_side: str, net_side: str, reply: bool = False) -> ir.Rule | None:
        if entry.net is not None and entry.net.version != self.family:
            return None
        ports = (ir.Ports((ir.PortSpan(entry.port, entry.port),)),)
        match = ir.Match(
            protocol=PROTOCOLS[entry.protocol],
            nets=(ir.NetMatch(entry.net, net_side),) if entry.net is not None else (),  # type: ignore[arg-type]
            src_ports=ports if port_side == "src" else (),
            dst_ports=ports if port_side == "dst" else (),
            not_syn=reply and entry.protocol == "tcp",
        )
        net = f" {net_side} {entry.net}" if entry.net is not None else ""
        what = "reply of failsafe" if reply else "failsafe"
        return ir.Rule(match, ir.Verdict("accept"), f"{what} {'inbound' if direction == 'in' else 'outbound'} {entry.protocol} {entry.port}{net}")

    def _dispatch(self, table: str, chain: str, way: str, kind: str, endpoints: Sequence[EndpointPolicies]) -> None:
        rules = self._chain(table, chain)
        wildcard = None
        for item in sorted(endpoints, key=lambda e: e.endpoint.interface_name or ""):
            interface = item.endpoint.interface_name or ""
            if interface == "*":
                wildcard = item
                continue
            match = ir.Match(in_interface=ir.Interface(interface)) if way == "in" else ir.Match(out_interface=ir.Interface(interface))
            rules.append(ir.Rule(match, ir.Verdict("goto", naming.endpoint_chain(kind, interface)), f"endpoint {item.endpoint.name}"))
        if wildcard is not None:
            rules.append(
                ir.Rule(ir.Match(), ir.Verdict("goto", naming.endpoint_chain(kind, "*")), f"endpoint {wildcard.endpoint.name} (every other interface)")
            )

    # -- per-endpoint chains --------------------------------------------------------------

    def _endpoint_chain(self, table: str, item: EndpointPolicies, direction: str, stage: str) -> None:
        kind = "fh" if direction == INGRESS else "th"
        name = naming.endpoint_chain(kind, item.endpoint.interface_name or "")
        rules = self._chain(table, name)
        if stage != UNTRACKED:
            rules += [ESTABLISHED, INVALID]
        rules += self._neighbour_discovery()
        failsafe = naming.FAILSAFE_IN if direction == INGRESS else naming.FAILSAFE_OUT
        rules.append(ir.Rule(ir.Match(), ir.Verdict("jump", failsafe), "failsafe ports"))
        rules.append(CLEAR_MARKS)
        policies = _stage_policies(item, direction, stage)
        rules += self._policy_jumps(table, policies, direction, stage)
        rules += self._end_of_endpoint(item.endpoint, direction, stage, bool(policies))

    def _neighbour_discovery(self) -> list[ir.Rule]:
        if self.family != 6:
            return []
        return [
            ir.Rule(ir.Match(protocol=58, icmp=ir.IcmpTest(icmp_type)), ir.Verdict("accept"), f"IPv6 neighbour discovery (ICMPv6 type {icmp_type})")
            for icmp_type in NEIGHBOUR_DISCOVERY
        ]

    def _policy_jumps(self, table: str, policies: Sequence[GlobalNetworkPolicy], direction: str, stage: str) -> list[ir.Rule]:
        rules = []
        for policy in policies:
            chain = naming.policy_chain(direction, policy.name)
            self._policy_chain(table, chain, policy, direction)
            rules.append(ir.Rule(ir.Match(), ir.Verdict("jump", chain), f"policy {policy.name}"))
            if stage == UNTRACKED:
                rules.append(ir.Rule(_mark_is(MARK_ACCEPT), ir.Verdict("notrack"), f"policy {policy.name} allowed: untracked"))
            rules.append(ir.Rule(_mark_is(MARK_ACCEPT), ir.Verdict("return"), f"policy {policy.name} allowed"))
            if any(rule.action == "Pass" for rule in policy.rules(direction)):
                rules.append(self._after_pass(policy, stage))
        return rules

    def _after_pass(self, policy: GlobalNetworkPolicy, stage: str) -> ir.Rule:
        """Pass leaves the (only) tier: normal stage has no profile left, so it denies;
        doNotTrack and preDNAT have no opinion; forwarded traffic left undecided is allowed."""
        passed = _mark_is(MARK_PASS)
        if stage == NORMAL:
            return ir.Rule(passed, ir.Verdict("drop"), f"policy {policy.name} passed: no later tier or profile, default deny")
        if stage == FORWARD:
            return ir.Rule(passed, ir.Verdict("goto", naming.ALLOW), f"policy {policy.name} passed: forwarded traffic left undecided is allowed")
        return ir.Rule(passed, ir.Verdict("return"), f"policy {policy.name} passed: no opinion at this stage")

    def _end_of_endpoint(self, endpoint: Endpoint, direction: str, stage: str, has_policies: bool) -> list[ir.Rule]:
        if stage != NORMAL:
            return []
        if has_policies:
            return [ir.Rule(ir.Match(), ir.Verdict("drop"), f"end of tier: no policy allowed {direction.lower()} on {endpoint.name} (default deny)")]
        return [ir.Rule(ir.Match(), ir.Verdict("drop"), f"no policy selects {endpoint.name} for {direction.lower()} (default deny)")]

    def _forward_endpoint_chain(self, item: EndpointPolicies, direction: str) -> None:
        kind = "fhfw" if direction == INGRESS else "thfw"
        rules = self._chain("filter", naming.endpoint_chain(kind, item.endpoint.interface_name or ""))
        rules += [ESTABLISHED, INVALID, CLEAR_MARKS]
        if not (_stage_policies(item, INGRESS, FORWARD) or _stage_policies(item, EGRESS, FORWARD)):
            rules.append(
                ir.Rule(ir.Match(), ir.Verdict("goto", naming.ALLOW), f"forwarded traffic is allowed: no applyOnForward policy selects {item.endpoint.name}")
            )
            return
        policies = _stage_policies(item, direction, FORWARD)
        rules += self._policy_jumps("filter", policies, direction, FORWARD)
        if policies:
            rules.append(
                ir.Rule(ir.Match(), ir.Verdict("drop"), f"end of tier: no applyOnForward policy allowed forwarded {direction.lower()} on {item.endpoint.name}")
            )
        else:
            rules.append(
                ir.Rule(ir.Match(), ir.Verdict("goto", naming.ALLOW), f"forwarded {direction.lower()} on {item.endpoint.name} left undecided: allowed")
            )

    # -- policy chains -------------------------------------------------------------------

    def _policy_chain(self, table: str, chain: str, policy: GlobalNetworkPolicy, direction: str) -> None:
        if chain in self.chains.get(table, {}):
            return
        rules = self._chain(table, chain)
        for index, rule in enumerate(policy.rules(direction)):
            context = RuleContext(policy.name, direction, index, self.index, self.sets, self.warnings)
            rules += compile_rule(rule, self._verdict(rule.action, table), context)

    def _verdict(self, action: str, table: str) -> ir.Verdict:
        if action == "Allow":
            return ir.Verdict("goto", naming.ALLOW)
        if action == "Pass":
            return ir.Verdict("goto", naming.PASS)
        if action == "Log":
            return ir.Verdict("log", log_prefix=f"{self.settings.log_prefix}: ", log_rate=LOG_RATE)
        return ir.Verdict("drop")

    # -- raw and mangle ------------------------------------------------------------------

    def _stage_table(self, endpoints: Sequence[EndpointPolicies], stage: str) -> None:
        table = STAGE_TABLE[stage]
        involved = [item for item in endpoints if self._in_stage(item, stage)]
        if not involved:
            return
        directions = (INGRESS, EGRESS) if stage == UNTRACKED else (INGRESS,)
        self._stage_entry_chains(table, stage, directions)
        self._helper_chains(table)
        self._failsafe_chains(table, raw=stage == UNTRACKED)
        self._dispatch(table, naming.FROM_ENDPOINT, "in", "fh", involved)
        if EGRESS in directions:
            self._dispatch(table, naming.TO_ENDPOINT, "out", "th", involved)
        for item in involved:
            for direction in directions:
                self._endpoint_chain(table, item, direction, stage)
        if not self._chain(table, naming.FAILSAFE_OUT) and EGRESS not in directions:
            del self.chains[table][naming.FAILSAFE_OUT]

    def _in_stage(self, item: EndpointPolicies, stage: str) -> bool:
        policies = _stage_policies(item, INGRESS, stage) + _stage_policies(item, EGRESS, stage)
        if stage == UNTRACKED and policies and item.endpoint.interface_name == "*":
            for policy in policies:
                self.warnings.append(
                    f"policy {policy.name}: doNotTrack policies do not apply to the '*' endpoint {item.endpoint.name}; ignored there"
                )
            return False
        return bool(policies)

    def _stage_entry_chains(self, table: str, stage: str, directions: tuple[str, ...]) -> None:
        self._hook(table, "PREROUTING", naming.PREROUTING)
        rules = self._chain(table, naming.PREROUTING)
        if stage == PRE_DNAT:
            rules.append(ESTABLISHED)
            rules.append(ir.Rule(_mark_is(MARK_ACCEPT), ir.Verdict("accept"), "allowed by an earlier stage (doNotTrack policy)"))
        rules.append(ir.Rule(ir.Match(in_interface=ir.Interface("lo")), ir.Verdict("return"), "loopback is never policed"))
        rules.append(CLEAR_MARKS)
        rules.append(ir.Rule(ir.Match(), ir.Verdict("jump", naming.FROM_ENDPOINT), "ingress through host endpoints"))
        rules.append(ir.Rule(_mark_is(MARK_ACCEPT), ir.Verdict("accept"), f"allowed by {stage} policy"))
        if EGRESS in directions:
            self._hook(table, "OUTPUT", naming.OUTPUT)
            out = self._chain(table, naming.OUTPUT)
            out.append(ir.Rule(ir.Match(out_interface=ir.Interface("lo")), ir.Verdict("return"), "loopback is never policed"))
            out.append(CLEAR_MARKS)
            out.append(ir.Rule(ir.Match(), ir.Verdict("jump", naming.TO_ENDPOINT), "egress through host endpoints"))
            out.append(ir.Rule(_mark_is(MARK_ACCEPT), ir.Verdict("accept"), f"allowed by {stage} policy"))
