# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IR rule -> exact iptables arguments, for every match and verdict kind, IPv4 and IPv6.

The expected strings are what iptables-save / ip6tables-save (1.8.9, nf_tables) print for the
rule; tests/kernel checks the golden files against the real tools.
"""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.iptables_syntax import (
    RenderError,
    address_text,
    comment_text,
    hook_arguments,
    ipset_lines,
    ipset_sizes,
    limit_rate,
    quote,
    rule_arguments,
)

net = ipaddress.ip_network
SETS = {"pal-s4": "hash:net", "pal-p4": "hash:ip,port", "pal-s6": "hash:net", "pal-p6": "hash:ip,port"}


def rule(verdict: ir.Verdict | None = None, comment: str = "", **match) -> ir.Rule:
    return ir.Rule(ir.Match(**match), verdict or ir.Verdict("accept"), comment)


def ports(*spans, negate=False) -> ir.Ports:
    return ir.Ports(tuple(ir.PortSpan(*s) if isinstance(s, tuple) else ir.PortSpan(s, s) for s in spans), negate)


RULES = [
    # -- interfaces
    ("in-interface", 4, rule(in_interface=ir.Interface("eth0")), "-i eth0 -j ACCEPT"),
    ("out-interface", 6, rule(out_interface=ir.Interface("eth1")), "-o eth1 -j ACCEPT"),
    ("interface-prefix", 4, rule(in_interface=ir.Interface("cali", prefix=True)), "-i cali+ -j ACCEPT"),
    (
        "interface-negated-both",
        6,
        rule(in_interface=ir.Interface("lo", negate=True), out_interface=ir.Interface("tap", prefix=True, negate=True)),
        "! -i lo ! -o tap+ -j ACCEPT",
    ),
    # -- protocols
    ("tcp", 4, rule(protocol=6), "-p tcp -j ACCEPT"),
    ("udp", 6, rule(protocol=17), "-p udp -j ACCEPT"),
    ("icmp", 4, rule(protocol=1), "-p icmp -j ACCEPT"),
    ("ipv6-icmp", 6, rule(protocol=58), "-p ipv6-icmp -j ACCEPT"),
    ("sctp", 4, rule(protocol=132), "-p sctp -j ACCEPT"),
    ("udplite", 6, rule(protocol=136), "-p udplite -j ACCEPT"),
    ("protocol-number", 4, rule(protocol=47), "-p 47 -j ACCEPT"),
    ("protocol-255", 6, rule(protocol=255), "-p 255 -j ACCEPT"),
    ("protocol-negated", 4, rule(protocol=6, protocol_negate=True), "! -p tcp -j ACCEPT"),
    # -- nets
    ("src-net", 4, rule(nets=(ir.NetMatch(net("198.51.100.0/24"), "src"),)), "-s 198.51.100.0/24 -j ACCEPT"),
    ("dst-host", 4, rule(nets=(ir.NetMatch(net("203.0.113.5/32"), "dst"),)), "-d 203.0.113.5/32 -j ACCEPT"),
    ("v6-nets", 6, rule(nets=(ir.NetMatch(net("2001:db8::1/128"), "dst"), ir.NetMatch(net("2001:db8::/32"), "src", negate=True))),
     "! -s 2001:db8::/32 -d 2001:db8::1/128 -j ACCEPT"),
    ("v6-mapped", 6, rule(nets=(ir.NetMatch(net("::ffff:198.51.100.7/128"), "src"),)), "-s ::ffff:198.51.100.7/128 -j ACCEPT"),
    (
        "extra-nets-iprange",
        4,
        rule(nets=(
            ir.NetMatch(net("198.51.100.0/24"), "src"),
            ir.NetMatch(net("198.51.100.128/25"), "src", negate=True),
            ir.NetMatch(net("203.0.113.0/24"), "dst", negate=True),
            ir.NetMatch(net("203.0.113.8/29"), "dst"),
        )),
        "-s 198.51.100.0/24 ! -d 203.0.113.0/24 -m iprange ! --src-range 198.51.100.128-198.51.100.255 "
        "-m iprange --dst-range 203.0.113.8-203.0.113.15 -j ACCEPT",
    ),
    (
        "extra-nets-iprange-v6",
        6,
        rule(nets=(ir.NetMatch(net("2001:db8::/32"), "dst"), ir.NetMatch(net("2001:db8:1::/48"), "dst", negate=True))),
        "-d 2001:db8::/32 -m iprange ! --dst-range 2001:db8:1::-2001:db8:1:ffff:ffff:ffff:ffff:ffff -j ACCEPT",
    ),
    ("catch-all-left-out", 4, rule(nets=(ir.NetMatch(net("0.0.0.0/0"), "src"), ir.NetMatch(net("198.51.100.0/24"), "src"))),
     "-s 198.51.100.0/24 -j ACCEPT"),
    ("catch-all-alone-v6", 6, rule(nets=(ir.NetMatch(net("::/0"), "dst"),)), "-j ACCEPT"),
    # -- sets
    ("set-net-src", 4, rule(sets=(ir.SetRef("pal-s4", "src"),)), "-m set --match-set pal-s4 src -j ACCEPT"),
    ("set-net-dst-negated", 6, rule(sets=(ir.SetRef("pal-s6", "dst", negate=True),)), "-m set ! --match-set pal-s6 dst -j ACCEPT"),
    ("set-ip-port-dst", 4, rule(protocol=6, sets=(ir.SetRef("pal-p4", "dst"),)), "-p tcp -m set --match-set pal-p4 dst,dst -j ACCEPT"),
    (
        "set-ip-port-src-negated-and-net",
        6,
        rule(sets=(ir.SetRef("pal-s6", "src"), ir.SetRef("pal-p6", "src", negate=True))),
        "-m set --match-set pal-s6 src -m set ! --match-set pal-p6 src,src -j ACCEPT",
    ),
    # -- ports
    ("dport-plain", 4, rule(protocol=6, dst_ports=(ports(22),)), "-p tcp -m tcp --dport 22 -j ACCEPT"),
    ("sport-plain-negated", 6, rule(protocol=17, src_ports=(ports(53, negate=True),)), "-p udp -m udp ! --sport 53 -j ACCEPT"),
    ("both-plain", 4, rule(protocol=132, src_ports=(ports(1),), dst_ports=(ports(2, negate=True),)), "-p sctp -m sctp --sport 1 ! --dport 2 -j ACCEPT"),
    ("dport-zero", 4, rule(protocol=6, dst_ports=(ports(0),)), "-p tcp -m tcp --dport 0 -j ACCEPT"),
    ("multiport", 4, rule(protocol=6, dst_ports=(ports(22, (80, 90), 443),)), "-p tcp -m multiport --dports 22,80:90,443 -j ACCEPT"),
    ("multiport-range-alone", 6, rule(protocol=6, dst_ports=(ports((1000, 2000)),)), "-p tcp -m multiport --dports 1000:2000 -j ACCEPT"),
    ("multiport-negated", 6, rule(protocol=17, src_ports=(ports(1, 2, negate=True),)), "-p udp -m multiport ! --sports 1,2 -j ACCEPT"),
    (
        "multiport-two-per-side",
        4,
        rule(protocol=6, dst_ports=(ports(22), ports(23, negate=True))),
        "-p tcp -m multiport --dports 22 -m multiport ! --dports 23 -j ACCEPT",
    ),
    (
        "multiport-src-plain-dst",
        4,
        rule(protocol=6, src_ports=(ports((1024, 65535)),), dst_ports=(ports(443),)),
        "-p tcp -m multiport --sports 1024:65535 -m tcp --dport 443 -j ACCEPT",
    ),
    (
        "plain-src-multiport-dst",
        6,
        rule(protocol=6, src_ports=(ports(53),), dst_ports=(ports(1, 2),)),
        "-p tcp -m tcp --sport 53 -m multiport --dports 1,2 -j ACCEPT",
    ),
    ("udplite-single-is-multiport", 4, rule(protocol=136, dst_ports=(ports(5),)), "-p udplite -m multiport --dports 5 -j ACCEPT"),
    ("dccp-number", 4, rule(protocol=33, dst_ports=(ports(5, 6),)), "-p 33 -m multiport --dports 5,6 -j ACCEPT"),
    (
        "fifteen-slots",
        4,
        rule(protocol=6, dst_ports=(ports(*range(1, 14), (100, 200)),)),
        "-p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,100:200 -j ACCEPT",
    ),
    # -- icmp
    ("icmp-type", 4, rule(protocol=1, icmp=ir.IcmpTest(8)), "-p icmp -m icmp --icmp-type 8 -j ACCEPT"),
    ("icmp-type-code", 4, rule(protocol=1, icmp=ir.IcmpTest(3, 4)), "-p icmp -m icmp --icmp-type 3/4 -j ACCEPT"),
    ("icmp-negated", 4, rule(protocol=1, icmp=ir.IcmpTest(0, 0, negate=True)), "-p icmp -m icmp ! --icmp-type 0/0 -j ACCEPT"),
    ("icmp6-type", 6, rule(protocol=58, icmp=ir.IcmpTest(135)), "-p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT"),
    ("icmp6-type-code-negated", 6, rule(protocol=58, icmp=ir.IcmpTest(1, 4, negate=True)), "-p ipv6-icmp -m icmp6 ! --icmpv6-type 1/4 -j ACCEPT"),
    (
        "icmp-and-not-icmp",
        4,
        rule(protocol=1, icmp=ir.IcmpTest(3), not_icmp=ir.IcmpTest(3, 4, negate=True)),
        "-p icmp -m icmp --icmp-type 3 -m icmp ! --icmp-type 3/4 -j ACCEPT",
    ),
    ("not-icmp6-alone", 6, rule(protocol=58, not_icmp=ir.IcmpTest(128, negate=True)), "-p ipv6-icmp -m icmp6 ! --icmpv6-type 128 -j ACCEPT"),
    # -- conntrack
    ("ctstate", 4, rule(ct_states=("ESTABLISHED", "RELATED")), "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
    (
        "ctstate-all-kernel-order",
        6,
        rule(ct_states=("UNTRACKED", "NEW", "ESTABLISHED", "INVALID", "RELATED")),
        "-m conntrack --ctstate INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED -j ACCEPT",
    ),
    ("ctstate-negated", 4, rule(ct_states=("INVALID",), ct_negate=True), "-m conntrack ! --ctstate INVALID -j ACCEPT"),
    ("not-dnat", 4, rule(not_dnat=True, verdict=ir.Verdict("jump", target="pal-to-hep")), "-m conntrack ! --ctstate DNAT -j pal-to-hep"),
    ("ctstate-and-not-dnat", 6, rule(ct_states=("NEW",), not_dnat=True), "-m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT -j ACCEPT"),
    # -- marks
    ("mark", 4, rule(marks=(ir.MarkTest(0x10000, 0x10000),)), "-m mark --mark 0x10000/0x10000 -j ACCEPT"),
    ("mark-negated-zero", 6, rule(marks=(ir.MarkTest(0, 0x30000, negate=True),)), "-m mark ! --mark 0x0/0x30000 -j ACCEPT"),
    ("mark-full-mask", 4, rule(marks=(ir.MarkTest(0x10000, 0xFFFFFFFF),)), "-m mark --mark 0x10000 -j ACCEPT"),
    (
        "two-marks",
        6,
        rule(marks=(ir.MarkTest(0x10000, 0x10000), ir.MarkTest(0, 0x20000))),
        "-m mark --mark 0x10000/0x10000 -m mark --mark 0x0/0x20000 -j ACCEPT",
    ),
    # -- comments
    ("comment-plain", 4, rule(comment="failsafe_tcp-22"), "-m comment --comment failsafe_tcp-22 -j ACCEPT"),
    ("comment-spaces", 6, rule(comment="policy web ingress rule 0"), '-m comment --comment "policy web ingress rule 0" -j ACCEPT'),
    (
        "comment-escapes",
        4,
        rule(comment="""sel "role == 'web'" \\ end"""),
        r'''-m comment --comment "sel \"role == \'web\'\" \\ end" -j ACCEPT''',
    ),
    ("comment-newline", 4, rule(comment="two\nlines\t!"), '-m comment --comment "two<U+000A>lines<U+0009>!" -j ACCEPT'),
    ("comment-u2028", 4, rule(comment="x\u2028-A pal-x -j ACCEPT"), '-m comment --comment "x<U+2028>-A pal-x -j ACCEPT" -j ACCEPT'),
    # -- verdicts
    ("drop", 4, rule(ir.Verdict("drop")), "-j DROP"),
    ("reject-v4", 4, rule(ir.Verdict("reject")), "-j REJECT --reject-with icmp-port-unreachable"),
    ("reject-v6", 6, rule(ir.Verdict("reject")), "-j REJECT --reject-with icmp6-port-unreachable"),
    ("return", 6, rule(ir.Verdict("return")), "-j RETURN"),
    ("jump", 4, rule(ir.Verdict("jump", target="pal-fh-eth0")), "-j pal-fh-eth0"),
    ("goto", 6, rule(ir.Verdict("goto", target="pal-fh-eth0")), "-g pal-fh-eth0"),
    ("mark-set", 4, rule(ir.Verdict("mark", mark_value=0x10000, mark_mask=0x10000)), "-j MARK --set-xmark 0x10000/0x10000"),
    ("mark-clear", 6, rule(ir.Verdict("mark", mark_value=0, mark_mask=0x30000)), "-j MARK --set-xmark 0x0/0x30000"),
    ("mark-full-mask-kept", 4, rule(ir.Verdict("mark", mark_value=1, mark_mask=0xFFFFFFFF)), "-j MARK --set-xmark 0x1/0xffffffff"),
    ("log", 4, rule(ir.Verdict("log", log_prefix="palisade")), "-j LOG --log-prefix palisade --log-level 5"),
    ("log-no-prefix", 6, rule(ir.Verdict("log")), "-j LOG --log-level 5"),
    (
        "log-rate-quoted-prefix",
        6,
        rule(ir.Verdict("log", log_prefix="palisade web ", log_rate="10/minute")),
        '-m limit --limit 10/min -j LOG --log-prefix "palisade web " --log-level 5',
    ),
    (
        "log-prefix-capped",
        4,
        rule(ir.Verdict("log", log_prefix="p" * 40)),
        f"-j LOG --log-prefix {'p' * 29} --log-level 5",
    ),
    ("notrack", 4, rule(ir.Verdict("notrack")), "-j CT --notrack"),
    # -- everything at once: base options first, then comment, conntrack, mark, sets, ports, icmp
    (
        "combined-v4",
        4,
        rule(
            ir.Verdict("log", log_prefix="pal", log_rate="5/second"),
            comment="policy web ingress rule 2",
            in_interface=ir.Interface("eth0"),
            protocol=6,
            nets=(ir.NetMatch(net("198.51.100.0/24"), "src"),),
            sets=(ir.SetRef("pal-p4", "dst"),),
            dst_ports=(ports(22, 2222),),
            ct_states=("NEW",),
            marks=(ir.MarkTest(0, 0x10000),),
        ),
        '-s 198.51.100.0/24 -i eth0 -p tcp -m comment --comment "policy web ingress rule 2" '
        "-m conntrack --ctstate NEW -m mark --mark 0x0/0x10000 -m set --match-set pal-p4 dst,dst "
        "-m multiport --dports 22,2222 -m limit --limit 5/sec -j LOG --log-prefix pal --log-level 5",
    ),
    (
        "combined-v6",
        6,
        rule(
            ir.Verdict("goto", target="pal-fh-eth0"),
            comment="dispatch",
            out_interface=ir.Interface("eth0", negate=True),
            protocol=58,
            nets=(ir.NetMatch(net("2001:db8::/32"), "dst", negate=True),),
            icmp=ir.IcmpTest(128),
            not_dnat=True,
        ),
        "! -d 2001:db8::/32 ! -o eth0 -p ipv6-icmp -m comment --comment dispatch -m conntrack ! --ctstate DNAT "
        "-m icmp6 --icmpv6-type 128 -g pal-fh-eth0",
    ),
]


@pytest.mark.parametrize("family, rule_, expected", [case[1:] for case in RULES], ids=[case[0] for case in RULES])
def test_rule_arguments(family, rule_, expected):
    assert rule_arguments(rule_, family, set_kinds=SETS) == expected


def test_rule_case_names_are_unique():
    names = [case[0] for case in RULES]
    assert len(names) == len(set(names))


BAD_RULES = [
    ("ports without protocol", 4, rule(dst_ports=(ports(22),)), "port matches need a positive protocol"),
    ("ports with negated protocol", 4, rule(protocol=6, protocol_negate=True, dst_ports=(ports(22),)), "positive protocol"),
    ("ports on icmp", 4, rule(protocol=1, dst_ports=(ports(22),)), "positive protocol"),
    ("no spans", 4, rule(protocol=6, dst_ports=(ir.Ports(()),)), "a port match has no ports"),
    ("reversed span", 4, rule(protocol=6, dst_ports=(ports((9, 1)),)), "invalid port range 9-1"),
    ("port too big", 4, rule(protocol=6, dst_ports=(ports(70000),)), "invalid port range 70000-70000"),
    ("sixteen slots", 4, rule(protocol=6, dst_ports=(ports(*range(1, 15), (100, 200)),)), "takes 16 multiport slots"),
    ("icmp without protocol", 4, rule(icmp=ir.IcmpTest(8)), "needs protocol 1"),
    ("icmp with v6 protocol in v4", 4, rule(protocol=58, icmp=ir.IcmpTest(8)), "needs protocol 1"),
    ("icmpv6 with icmp protocol", 6, rule(protocol=1, icmp=ir.IcmpTest(128)), "needs protocol 58"),
    ("icmp type 255 means any", 4, rule(protocol=1, icmp=ir.IcmpTest(255)), "type 0-254"),
    ("icmp code 256", 6, rule(protocol=58, icmp=ir.IcmpTest(1, 256)), "code 0-255"),
    ("protocol 0 means any", 4, rule(protocol=0), "protocol must be 1-255"),
    ("protocol_negate alone", 4, rule(protocol_negate=True), "protocol_negate is set without a protocol"),
    ("ct_negate alone", 4, rule(ct_negate=True), "ct_negate is set without conntrack states"),
    ("SYN test on udp", 4, rule(protocol=17, not_syn=True), "a SYN test needs the protocol tcp"),
    ("SYN test on not tcp", 6, rule(protocol=6, protocol_negate=True, not_syn=True), "a SYN test needs the protocol tcp"),
    ("unknown ct state", 4, rule(ct_states=("SNAT",)), "unknown conntrack state(s) SNAT"),
    ("v6 net in v4", 4, rule(nets=(ir.NetMatch(net("2001:db8::/32"), "src"),)), "IPv6 net 2001:db8::/32 in an IPv4 rule"),
    ("negated catch-all net", 6, rule(nets=(ir.NetMatch(net("::/0"), "dst", negate=True),)), "'not ::/0' matches nothing"),
    ("not_icmp without protocol", 6, rule(not_icmp=ir.IcmpTest(128, negate=True)), "needs protocol 58"),
    ("unknown set", 4, rule(sets=(ir.SetRef("pal-nope", "src"),)), "ipset 'pal-nope', which the ruleset does not define"),
    ("bad interface", 4, rule(in_interface=ir.Interface("eth 0")), "invalid interface name 'eth 0'"),
    ("long interface prefix", 4, rule(in_interface=ir.Interface("a" * 15, prefix=True)), "1-14 for a prefix"),
    ("jump without target", 4, rule(ir.Verdict("jump")), "a jump verdict has no target"),
    ("jump to builtin", 4, rule(ir.Verdict("goto", target="INPUT")), "INPUT is a built-in chain"),
    ("long chain name", 4, rule(ir.Verdict("jump", target="pal-" + "x" * 25)), "expected 1-28 of"),
    ("chain name with space", 4, rule(ir.Verdict("jump", target="pal x")), "invalid chain name 'pal x'"),
    ("chain name like an option", 4, rule(ir.Verdict("jump", target="-pal")), "invalid chain name '-pal'"),
    ("chain named like a target", 4, rule(ir.Verdict("jump", target="ACCEPT")), "ACCEPT is a target name"),
    ("mark too big", 4, rule(ir.Verdict("mark", mark_value=1 << 32, mark_mask=1)), "does not fit in 32 bits"),
    ("bad rate", 4, rule(ir.Verdict("log", log_rate="fast")), "invalid log rate 'fast'"),
    ("unknown verdict", 4, rule(ir.Verdict("teleport")), "unknown verdict kind 'teleport'"),  # type: ignore[arg-type]
    ("bad family", 5, rule(), "IP family must be 4 or 6"),
]


@pytest.mark.parametrize("family, rule_, message", [case[1:] for case in BAD_RULES], ids=[case[0] for case in BAD_RULES])
def test_rule_arguments_refuses(family, rule_, message):
    with pytest.raises(RenderError) as caught:
        rule_arguments(rule_, family, set_kinds=SETS)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("plain_Name-9", "plain_Name-9"),
        ("", '""'),
        ("a b", '"a b"'),
        ("x.y/z:w", '"x.y/z:w"'),
        ('say "hi"', r'"say \"hi\""'),
        ("it's", r'"it\'s"'),
        ("back\\slash", r'"back\\slash"'),
        ("# not a comment", '"# not a comment"'),
    ],
)
def test_quote(text, expected):
    assert quote(text) == expected


def test_comment_capped_at_kernel_limit():
    assert comment_text("a" * 255) == "a" * 255
    assert comment_text("a" * 300) == "a" * 252 + "..."
    # non-ASCII is escaped, and a cut never splits an escape
    capped = comment_text("é" * 200)
    assert capped == "<U+00E9>" * 31 + "..." and len(capped) == 251


@pytest.mark.parametrize(
    "rate, expected",
    [
        ("10/minute", "10/min"),
        ("7/min", "7/min"),
        ("25/m", "25/min"),
        ("60/minute", "1/sec"),
        ("3/second", "3/sec"),
        ("5/s", "5/sec"),
        ("5", "5/sec"),
        ("100/hour", "100/hour"),
        ("1000/hour", "1000/hour"),
        ("1/day", "1/day"),
        ("24/day", "1/hour"),
        ("10000/second", "10000/sec"),
        ("2/HOUR", "2/hour"),
    ],
)
def test_limit_rate_as_iptables_save_prints_it(rate, expected):
    assert limit_rate(rate) == expected


@pytest.mark.parametrize("rate", ["0/second", "10001/second", "10/week", "ten/minute", "1/"])
def test_limit_rate_refuses(rate):
    with pytest.raises(RenderError, match="invalid log rate"):
        limit_rate(rate)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("::ffff:198.51.100.7", "::ffff:198.51.100.7"),
        ("::198.51.100.7", "::198.51.100.7"),
        ("::1", "::1"),
        ("::", "::"),
        ("::ffff:0:c633:6407", "::ffff:0:c633:6407"),
    ],
)
def test_address_text_like_inet_ntop(text, expected):
    assert address_text(ipaddress.ip_address(text)) == expected


@pytest.mark.parametrize(
    "hook, expected",
    [
        (ir.Hook("filter", "INPUT", "pal-INPUT"), "-I INPUT 1 -j pal-INPUT"),
        (ir.Hook("filter", "FORWARD", "pal-FORWARD", "append"), "-A FORWARD -j pal-FORWARD"),
        (ir.Hook("raw", "PREROUTING", "pal-PREROUTING"), "-I PREROUTING 1 -j pal-PREROUTING"),
        (ir.Hook("mangle", "PREROUTING", "pal-PREROUTING", "append"), "-A PREROUTING -j pal-PREROUTING"),
        (ir.Hook("raw", "OUTPUT", "pal-OUTPUT"), "-I OUTPUT 1 -j pal-OUTPUT"),
    ],
)
def test_hook_arguments(hook, expected):
    assert hook_arguments(hook) == expected


@pytest.mark.parametrize(
    "hook, message",
    [
        (ir.Hook("mangle", "INPUT", "pal-x"), "does not hook mangle INPUT (allowed: PREROUTING)"),
        (ir.Hook("nat", "PREROUTING", "pal-x"), "does not hook nat PREROUTING"),  # type: ignore[arg-type]
        (ir.Hook("filter", "INPUT", "OUTPUT"), "OUTPUT is a built-in chain"),
        (ir.Hook("filter", "INPUT", "pal-x", "middle"), "hook position must be"),  # type: ignore[arg-type]
    ],
)
def test_hook_arguments_refuses(hook, message):
    with pytest.raises(RenderError) as caught:
        hook_arguments(hook)
    assert message in str(caught.value)


def test_ipset_lines_hash_net_sorted_deduplicated():
    members = tuple(ir.NetMember(net(n)) for n in ("203.0.113.0/24", "198.51.100.7/32", "198.51.100.0/24", "198.51.100.7/32"))
    assert ipset_lines(ir.IpSet("pal-s4", "hash:net", 4, members, "role == 'web'")) == [
        "create pal-s4 hash:net family inet hashsize 1024 maxelem 65536",
        "add pal-s4 198.51.100.0/24",
        "add pal-s4 198.51.100.7",
        "add pal-s4 203.0.113.0/24",
    ]


def test_ipset_lines_catch_all_is_split():
    members = (ir.NetMember(net("::/0")), ir.NetMember(net("2001:db8::/32")))
    assert ipset_lines(ir.IpSet("pal-s6", "hash:net", 6, members, "all")) == [
        "create pal-s6 hash:net family inet6 hashsize 1024 maxelem 65536",
        "add pal-s6 ::/1",
        "add pal-s6 2001:db8::/32",
        "add pal-s6 8000::/1",
    ]


def test_ipset_lines_hash_ip_port():
    def member(address, protocol, port):
        return ir.IpPortMember(net(address), protocol, port)

    members = (
        member("2001:db8::2/128", 6, 80),
        member("2001:db8::1/128", 17, 53),
        member("2001:db8::1/128", 6, 8080),
        member("2001:db8::1/128", 6, 443),
        member("2001:db8::1/128", 132, 9),
    )
    assert ipset_lines(ir.IpSet("pal-p6", "hash:ip,port", 6, members, "named port http")) == [
        "create pal-p6 hash:ip,port family inet6 hashsize 1024 maxelem 65536",
        "add pal-p6 2001:db8::1,tcp:443",
        "add pal-p6 2001:db8::1,tcp:8080",
        "add pal-p6 2001:db8::1,udp:53",
        "add pal-p6 2001:db8::1,sctp:9",
        "add pal-p6 2001:db8::2,tcp:80",
    ]


@pytest.mark.parametrize("count, sizes", [(0, (1024, 65536)), (1000, (1024, 65536)), (40000, (65536, 131072)), (70000, (131072, 262144))])
def test_ipset_sizes_leave_headroom(count, sizes):
    assert ipset_sizes(count) == sizes


@pytest.mark.parametrize(
    "ipset, message",
    [
        (ir.IpSet("pal-s4", "hash:net", 4, (ir.NetMember(net("2001:db8::/32")),), ""), "(IPv4) has the IPv6 member"),
        (ir.IpSet("pal-p4", "hash:ip,port", 4, (ir.IpPortMember(net("198.51.100.0/24"), 6, 1),), ""), "is not a single address"),
        (ir.IpSet("pal-p4", "hash:ip,port", 4, (ir.IpPortMember(net("198.51.100.1/32"), 1, 1),), ""), "invalid protocol/port 1/1"),
        (ir.IpSet("pal-p4", "hash:ip,port", 4, (ir.NetMember(net("198.51.100.1/32")),), ""), "holds address/port pairs"),
        (ir.IpSet("pal-s4", "hash:net", 4, (ir.IpPortMember(net("198.51.100.1/32"), 6, 1),), ""), "holds nets"),
        (ir.IpSet("pal-x", "list:set", 4, (), ""), "unsupported kind 'list:set'"),  # type: ignore[arg-type]
        (ir.IpSet("p" * 32, "hash:net", 4, (), ""), "expected 1-31 of"),
    ],
)
def test_ipset_lines_refuses(ipset, message):
    with pytest.raises(RenderError) as caught:
        ipset_lines(ipset)
    assert message in str(caught.value)
