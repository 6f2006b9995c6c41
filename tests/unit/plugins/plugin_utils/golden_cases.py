# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The golden-file cases: a name -> the files a host gets (tests/unit/golden/<name>/).

Two kinds of case share one registry:

- ``IR_CASES``: hand-built IR, so every IR feature is rendered (and checked by the kernel
  tools in tests/kernel) independently of the compiler;
- ``INVENTORY_CASES``: ``(case name, inventory builder)`` pairs; a builder returns
  ``{"host": <the host to render>, "hosts": {name: {"groups": [...], "vars": {...}}}}`` and the
  case goes inventory -> fleet -> ``compile_host`` -> render, like a real run.

Add a case by appending to either list, then run the golden test with
``PALISADE_UPDATE_GOLDEN=1`` and review the new files (tests/unit/golden/README.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import render_files

from golden_inventories import INVENTORIES

RulesetPair = tuple[ir.Ruleset, ir.Ruleset]
Inventory = Mapping[str, Any]

# Felix-like mark bits (calico-semantics.md g.2).
ACCEPT_MARK = 0x10000
PASS_MARK = 0x20000
BOTH_MARKS = ACCEPT_MARK | PASS_MARK


# -- small constructors --------------------------------------------------------------------


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def rule(comment: str, verdict: ir.Verdict, **match: Any) -> ir.Rule:
    return ir.Rule(ir.Match(**match), verdict, comment)


def ports(*spans: int | tuple[int, int], negate: bool = False) -> ir.Ports:
    return ir.Ports(tuple(ir.PortSpan(*s) if isinstance(s, tuple) else ir.PortSpan(s, s) for s in spans), negate)


def chain(name: str, *rules: ir.Rule) -> ir.Chain:
    return ir.Chain(name, tuple(rules))


def mark_is(bits: int, value: int | None = None, negate: bool = False) -> tuple[ir.MarkTest, ...]:
    return (ir.MarkTest(bits if value is None else value, bits, negate),)


ACCEPT = ir.Verdict("accept")
DROP = ir.Verdict("drop")
RETURN = ir.Verdict("return")
SET_ACCEPT = ir.Verdict("mark", mark_value=ACCEPT_MARK, mark_mask=ACCEPT_MARK)
CLEAR_MARKS = ir.Verdict("mark", mark_value=0, mark_mask=BOTH_MARKS)


def jump(target: str) -> ir.Verdict:
    return ir.Verdict("jump", target=target)


def goto(target: str) -> ir.Verdict:
    return ir.Verdict("goto", target=target)


# -- empty: a host without endpoints owns nothing -------------------------------------------


def empty_case() -> RulesetPair:
    return ir.Ruleset(4, (), (), ()), ir.Ruleset(6, (), (), ())


# -- matches: every match kind, one rule each ----------------------------------------------


def matches_case() -> RulesetPair:
    return _matches(4), _matches(6)


def _matches(family: int) -> ir.Ruleset:
    v4 = family == 4
    icmp = 1 if v4 else 58
    lan, host, other = (
        ("198.51.100.0/24", "198.51.100.10/32", "198.51.100.128/25")
        if v4
        else ("2001:db8:1::/64", "2001:db8:1::10/128", "2001:db8:1:0:8000::/65")
    )
    sets, named = f"pal-s{family}-mgmt", f"pal-n{family}-http"
    rules = (
        rule("in interface", ACCEPT, in_interface=ir.Interface("eth0")),
        rule("not in interface", ACCEPT, in_interface=ir.Interface("eth0", negate=True)),
        rule("in workload prefix, out interface", ACCEPT, in_interface=ir.Interface("cali", prefix=True), out_interface=ir.Interface("eth1")),
        rule("not out prefix", ACCEPT, out_interface=ir.Interface("tap", prefix=True, negate=True)),
        rule("tcp", ACCEPT, protocol=6),
        rule("udp", ACCEPT, protocol=17),
        rule("icmp of the family", ACCEPT, protocol=icmp),
        rule("sctp", ACCEPT, protocol=132),
        rule("udplite", ACCEPT, protocol=136),
        rule("not tcp", ACCEPT, protocol=6, protocol_negate=True),
        rule("src net", ACCEPT, nets=(ir.NetMatch(net(lan), "src"),)),
        rule("dst host", ACCEPT, nets=(ir.NetMatch(net(host), "dst"),)),
        rule("not src, not dst", ACCEPT, nets=(ir.NetMatch(net(lan), "src", negate=True), ir.NetMatch(net(host), "dst", negate=True))),
        rule("src net but not its upper half", ACCEPT, nets=(ir.NetMatch(net(lan), "src"), ir.NetMatch(net(other), "src", negate=True))),
        rule("src in selector set", ACCEPT, sets=(ir.SetRef(sets, "src"),)),
        rule("dst not in selector set", ACCEPT, sets=(ir.SetRef(sets, "dst", negate=True),)),
        rule("named port, dst", ACCEPT, protocol=6, sets=(ir.SetRef(named, "dst"),)),
        rule("not named port, src", ACCEPT, protocol=6, sets=(ir.SetRef(named, "src", negate=True),)),
        rule("tcp dport 22", ACCEPT, protocol=6, dst_ports=(ports(22),)),
        rule("udp not sport 53", ACCEPT, protocol=17, src_ports=(ports(53, negate=True),)),
        rule("sctp sport and dport", ACCEPT, protocol=132, src_ports=(ports(9),), dst_ports=(ports(10),)),
        rule("multiport dports", ACCEPT, protocol=6, dst_ports=(ports(80, 443, (8000, 8099)),)),
        rule("multiport not sports", ACCEPT, protocol=17, src_ports=(ports((1, 1023), negate=True),)),
        rule("two port tests on one side", ACCEPT, protocol=6, dst_ports=(ports((1, 1000)), ports(22, negate=True))),
        rule("udplite port", ACCEPT, protocol=136, dst_ports=(ports(5000),)),
        rule("icmp type", ACCEPT, protocol=icmp, icmp=ir.IcmpTest(8 if v4 else 128)),
        rule("icmp type and code", ACCEPT, protocol=icmp, icmp=ir.IcmpTest(3 if v4 else 1, 4)),
        rule("not icmp type", ACCEPT, protocol=icmp, icmp=ir.IcmpTest(5 if v4 else 137, negate=True)),
        rule("icmp type but not this code", ACCEPT, protocol=icmp,
             icmp=ir.IcmpTest(3 if v4 else 1), not_icmp=ir.IcmpTest(3 if v4 else 1, 4, negate=True)),
        rule("catch-all net is left out", ACCEPT, nets=(ir.NetMatch(net("0.0.0.0/0" if v4 else "::/0"), "src"),)),
        rule("established", ACCEPT, ct_states=("ESTABLISHED", "RELATED")),
        rule("not invalid", ACCEPT, ct_states=("INVALID",), ct_negate=True),
        rule("not DNAT", ACCEPT, not_dnat=True),
        rule("tcp, not a first SYN", ACCEPT, protocol=6, not_syn=True),
        rule("tcp sport 22, not a first SYN", ACCEPT, protocol=6, src_ports=(ports(22),), not_syn=True),
        rule("tcp multiport sports, not a first SYN", ACCEPT, protocol=6, src_ports=(ports(22, 2379),), not_syn=True),
        rule("accept bit set", ACCEPT, marks=mark_is(ACCEPT_MARK)),
        rule("no bit set", ACCEPT, marks=mark_is(BOTH_MARKS, 0)),
        rule("not pass bit", ACCEPT, marks=mark_is(PASS_MARK, negate=True)),
        rule("whole mark", ACCEPT, marks=(ir.MarkTest(0x1, 0xFFFFFFFF),)),
        rule("""policy "edge" selector role == 'lb' \\ quoted""", ACCEPT),
        rule("x" * 300, ACCEPT),
        rule("", ACCEPT),
        rule(
            "policy web ingress rule 0",
            SET_ACCEPT,
            in_interface=ir.Interface("eth0"),
            protocol=6,
            nets=(ir.NetMatch(net(lan), "src"),),
            sets=(ir.SetRef(sets, "src"),),
            dst_ports=(ports(443),),
            ct_states=("NEW",),
            marks=mark_is(ACCEPT_MARK, 0),
        ),
    )
    ipsets = (
        ir.IpSet(sets, "hash:net", family, (ir.NetMember(net(lan)), ir.NetMember(net(host))), "role == 'mgmt'"),
        ir.IpSet(
            named,
            "hash:ip,port",
            family,
            (ir.IpPortMember(net(host), 6, 80), ir.IpPortMember(net(host), 6, 8080)),
            "named port http of role == 'web'",
        ),
    )
    table = ir.Table("filter", (chain("pal-matches", *rules),))
    return ir.Ruleset(family, (table,), (ir.Hook("filter", "INPUT", "pal-matches"),), ipsets)


# -- verdicts and hooks: every verdict kind in the table it belongs to, every hook point ------


def verdicts_case() -> RulesetPair:
    return _verdicts(4), _verdicts(6)


def _verdicts(family: int) -> ir.Ruleset:
    raw = ir.Table(
        "raw",
        (
            chain(
                "pal-PREROUTING",
                rule("clear palisade mark bits", CLEAR_MARKS),
                rule("untracked policy", jump("pal-untracked"), in_interface=ir.Interface("eth0")),
                rule("allowed untracked", ACCEPT, marks=mark_is(ACCEPT_MARK)),
            ),
            chain("pal-OUTPUT", rule("untracked egress", goto("pal-untracked"), out_interface=ir.Interface("eth0"))),
            chain(
                "pal-untracked",
                rule("allow untracked", SET_ACCEPT, protocol=17, dst_ports=(ports(53),)),
                rule("do not track", ir.Verdict("notrack"), marks=mark_is(ACCEPT_MARK)),
                rule("back", RETURN, marks=mark_is(ACCEPT_MARK)),
                rule("untracked deny", DROP, protocol=17, dst_ports=(ports(69),)),
            ),
        ),
    )
    mangle = ir.Table(
        "mangle",
        (
            chain(
                "pal-PREROUTING",
                rule("established", ACCEPT, ct_states=("RELATED", "ESTABLISHED")),
                rule("log pre-DNAT", ir.Verdict("log", log_prefix="palisade pre-dnat ", log_rate="10/minute")),
                rule("pre-DNAT policy", jump("pal-pre-dnat"), in_interface=ir.Interface("eth0")),
                rule("allowed pre-DNAT", ACCEPT, marks=mark_is(ACCEPT_MARK)),
            ),
            chain("pal-pre-dnat", rule("deny pre-DNAT", DROP, protocol=6, dst_ports=(ports(8080),))),
        ),
    )
    filter_ = ir.Table(
        "filter",
        (
            chain(
                "pal-INPUT",
                rule("log everything", ir.Verdict("log", log_prefix="palisade")),
                rule("log without prefix", ir.Verdict("log", log_rate="1/second")),
                rule("reject", ir.Verdict("reject"), protocol=6, dst_ports=(ports(23),)),
                rule("drop", DROP, protocol=6, dst_ports=(ports(25),)),
                rule("mark", SET_ACCEPT, protocol=6, dst_ports=(ports(22),)),
                rule("accept marked", ACCEPT, marks=mark_is(ACCEPT_MARK)),
                rule("goto", goto("pal-fh-eth0"), in_interface=ir.Interface("eth0")),
                rule("goto the * endpoint", goto("pal-fh:any")),
                rule("return", RETURN),
            ),
            chain("pal-fh-eth0", rule("jump", jump("pal-failsafe-in")), rule("end of tier", DROP)),
            chain("pal-fh:any", rule("jump", jump("pal-failsafe-in"))),
            chain("pal-failsafe-in", rule("failsafe tcp 22", ACCEPT, protocol=6, dst_ports=(ports(22),))),
            chain("pal-OUTPUT", rule("host to workload is not policed", RETURN, out_interface=ir.Interface("cali", prefix=True))),
            chain("pal-FORWARD", rule("forward default", SET_ACCEPT)),
        ),
    )
    hooks = (
        ir.Hook("raw", "PREROUTING", "pal-PREROUTING", "insert"),
        ir.Hook("raw", "OUTPUT", "pal-OUTPUT", "append"),
        ir.Hook("mangle", "PREROUTING", "pal-PREROUTING", "insert"),
        ir.Hook("filter", "INPUT", "pal-INPUT", "insert"),
        ir.Hook("filter", "OUTPUT", "pal-OUTPUT", "append"),
        ir.Hook("filter", "FORWARD", "pal-FORWARD", "insert"),
    )
    return ir.Ruleset(family, (raw, mangle, filter_), hooks, ())


# -- host layout: a realistic web host (calico-semantics.md g.3, shortened) ----------------


def host_layout_case() -> RulesetPair:
    return _host_layout(4), _host_layout(6)


def _host_layout(family: int) -> ir.Ruleset:
    v4 = family == 4
    lb_set, http_set = f"pal-s{family}-role-lb", f"pal-n{family}-web-http"
    lbs = ("198.51.100.20/32", "198.51.100.21/32", "203.0.113.0/28") if v4 else ("2001:db8:1::20/128", "2001:db8:1::21/128", "2001:db8:2::/64")
    me = "198.51.100.10/32" if v4 else "2001:db8:1::10/128"
    resolvers = "203.0.113.53/32" if v4 else "2001:db8:53::53/128"
    icmp = 1 if v4 else 58
    nd = tuple(
        rule(f"IPv6 neighbour discovery type {t}", ACCEPT, protocol=58, icmp=ir.IcmpTest(t)) for t in (133, 134, 135, 136)
    ) if not v4 else ()

    def endpoint_chain(name: str, failsafe: str, policy_chain: str, extra: tuple[ir.Rule, ...]) -> ir.Chain:
        return chain(
            name,
            rule("established flows", ACCEPT, ct_states=("RELATED", "ESTABLISHED")),
            rule("invalid flows", DROP, ct_states=("INVALID",)),
            *extra,
            rule("failsafe ports", jump(failsafe)),
            rule("start of tier default", CLEAR_MARKS),
            rule("policy web", jump(policy_chain), marks=mark_is(PASS_MARK, 0)),
            rule("return if policy accepted", RETURN, marks=mark_is(ACCEPT_MARK)),
            rule("end of tier default deny", DROP, marks=mark_is(PASS_MARK, 0)),
            rule("no profile matched", DROP),
        )

    filter_ = ir.Table(
        "filter",
        (
            chain(
                "pal-INPUT",
                rule("accepted in raw or mangle", ACCEPT, marks=mark_is(ACCEPT_MARK)),
                rule("clear palisade mark bits", CLEAR_MARKS),
                rule("host endpoints", jump("pal-from-host-endpoint")),
                rule("accepted by policy", ACCEPT, marks=mark_is(ACCEPT_MARK)),
            ),
            chain(
                "pal-OUTPUT",
                rule("accepted in raw or mangle", ACCEPT, marks=mark_is(ACCEPT_MARK)),
                rule("host to local workload is never policed", RETURN, out_interface=ir.Interface("cali", prefix=True)),
                rule("clear palisade mark bits", CLEAR_MARKS),
                rule("host endpoints", jump("pal-to-host-endpoint"), not_dnat=True),
                rule("accepted by policy", ACCEPT, marks=mark_is(ACCEPT_MARK)),
            ),
            chain("pal-from-host-endpoint", rule("endpoint web1-eth0", goto("pal-fh-eth0"), in_interface=ir.Interface("eth0"))),
            chain("pal-to-host-endpoint", rule("endpoint web1-eth0", goto("pal-th-eth0"), out_interface=ir.Interface("eth0"))),
            endpoint_chain("pal-fh-eth0", "pal-failsafe-in", "pal-pi-web", nd),
            endpoint_chain("pal-th-eth0", "pal-failsafe-out", "pal-po-web", nd),
            chain(
                "pal-failsafe-in",
                *(
                    rule(f"failsafe {name} {port}", ACCEPT, protocol=proto, dst_ports=(ports(port),))
                    for name, proto, port in (
                        ("tcp", 6, 22),
                        ("udp", 17, 68),
                        ("tcp", 6, 179),
                        ("tcp", 6, 2379),
                        ("tcp", 6, 2380),
                        ("tcp", 6, 6666),
                        ("tcp", 6, 6667),
                    )
                ),
            ),
            chain(
                "pal-failsafe-out",
                *(
                    rule(f"failsafe {name} {port}", ACCEPT, protocol=proto, dst_ports=(ports(port),))
                    for name, proto, port in (
                        ("udp", 17, 53),
                        ("udp", 17, 67),
                        ("tcp", 6, 179),
                        ("tcp", 6, 2379),
                        ("tcp", 6, 2380),
                        ("tcp", 6, 6666),
                        ("tcp", 6, 6667),
                    )
                ),
            ),
            chain(
                "pal-pi-web",
                rule(
                    "policy web ingress rule 0: from role == 'lb' to 80,443",
                    SET_ACCEPT,
                    protocol=6,
                    sets=(ir.SetRef(lb_set, "src"),),
                    dst_ports=(ports(80, 443),),
                ),
                rule("return if accepted", RETURN, marks=mark_is(ACCEPT_MARK)),
                rule("policy web ingress rule 1: to named port http", SET_ACCEPT, protocol=6, sets=(ir.SetRef(http_set, "dst"),)),
                rule("return if accepted", RETURN, marks=mark_is(ACCEPT_MARK)),
                rule("policy web ingress rule 2: echo", SET_ACCEPT, protocol=icmp, icmp=ir.IcmpTest(8 if v4 else 128)),
                rule("return if accepted", RETURN, marks=mark_is(ACCEPT_MARK)),
                rule("policy web ingress rule 3: log", ir.Verdict("log", log_prefix="palisade web ", log_rate="10/minute")),
                rule("policy web ingress rule 4: deny telnet", DROP, protocol=6, dst_ports=(ports(23),)),
            ),
            chain(
                "pal-po-web",
                rule("policy web egress rule 0: DNS", SET_ACCEPT, protocol=17, nets=(ir.NetMatch(net(resolvers), "dst"),), dst_ports=(ports(53),)),
                rule("return if accepted", RETURN, marks=mark_is(ACCEPT_MARK)),
                rule(
                    "policy web egress rule 1: not to myself",
                    SET_ACCEPT,
                    protocol=6,
                    nets=(ir.NetMatch(net(me), "dst", negate=True),),
                    dst_ports=(ports((1024, 65535)),),
                ),
                rule("return if accepted", RETURN, marks=mark_is(ACCEPT_MARK)),
            ),
        ),
    )
    hooks = (ir.Hook("filter", "INPUT", "pal-INPUT"), ir.Hook("filter", "OUTPUT", "pal-OUTPUT"))
    ipsets = (
        ir.IpSet(lb_set, "hash:net", family, tuple(ir.NetMember(net(n)) for n in reversed(lbs)), "role == 'lb'"),
        ir.IpSet(http_set, "hash:ip,port", family, (ir.IpPortMember(net(me), 6, 8080),), "named port http of role == 'web'"),
    )
    return ir.Ruleset(family, (filter_,), hooks, ipsets)


# -- the registry --------------------------------------------------------------------------

# (case name, host name in the file headers, IR builder)
IR_CASES: list[tuple[str, str, Callable[[], RulesetPair]]] = [
    ("ir-empty", "bare1", empty_case),
    ("ir-matches", "match1", matches_case),
    ("ir-verdicts-hooks", "verdict1", verdicts_case),
    ("ir-host-layout", "web1", host_layout_case),
]

# (case name, inventory builder): inventory -> compiler -> renderer, like a real run.
INVENTORY_CASES: list[tuple[str, Callable[[], Inventory]]] = list(INVENTORIES)


def case_names() -> list[str]:
    names = [name for name, _host, _build in IR_CASES] + [name for name, _build in INVENTORY_CASES]
    if len(names) != len(set(names)):
        raise ValueError(f"golden case names must be unique: {names}")
    return names


def render_case(name: str) -> dict[str, str]:
    """The files (name -> text) of one case."""
    for case_name, host, build in IR_CASES:
        if case_name == name:
            return render_files(build(), host=host)
    for case_name, build in INVENTORY_CASES:
        if case_name == name:
            host, rulesets = compile_inventory(build())
            return render_files(rulesets, host=host)
    raise KeyError(f"no golden case {name!r}")


def compile_inventory(inventory: Inventory, compile_host: Callable[..., Any] | None = None) -> tuple[str, RulesetPair]:
    """Inventory -> fleet -> index -> the host's compiled rulesets, as a real run does it.

    ``compile_host`` defaults to the compiler's; it is a parameter so the plumbing can be
    tested before the compiler exists.
    """
    from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
    from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex

    if compile_host is None:
        from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import compile_host
    hosts = [
        HostInput(name, tuple(entry.get("groups", ())), dict(entry.get("vars", {})))
        for name, entry in sorted(inventory["hosts"].items())
    ]
    compiled = compile_host(FleetIndex(load_fleet(hosts)), inventory["host"])
    return inventory["host"], tuple(compiled.rulesets)  # type: ignore[return-value]
