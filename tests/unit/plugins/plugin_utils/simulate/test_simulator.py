# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The simulator over hand-built IR: the layout the compiler produces, and small rulesets.

The big ruleset mimics the compiler's shape (hooks to pal-INPUT/OUTPUT/FORWARD, dispatch by
interface with goto, per-endpoint chains with conntrack and failsafe, policy chains that goto
pal-allow / pal-pass to set marks), so that every verdict is checked in both families.
"""

from __future__ import annotations

import ipaddress
import json

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.simulator import (
    MAX_DEPTH,
    Outcome,
    Packet,
    SimulationError,
    Step,
    explain,
    outcome_to_dict,
    simulate,
)

A = 0x1000000  # accept mark
P = 0x2000000  # pass mark
MASK = A | P

# --- building IR tersely ---------------------------------------------------------------------


def rule(kind, comment="", target=None, *, value=0, mask=0, prefix=None, **match):
    verdict = ir.Verdict(kind, target, mark_value=value, mark_mask=mask, log_prefix=prefix)
    return ir.Rule(ir.Match(**match), verdict, comment)


def iface(text):
    """``eth0``, ``cali+`` (prefix), ``!cali+`` (negated)."""
    negate = text.startswith("!")
    text = text.lstrip("!")
    return ir.Interface(text.rstrip("+"), prefix=text.endswith("+"), negate=negate)


def ports(*items, negate=False):
    spans = tuple(ir.PortSpan(*item) if isinstance(item, tuple) else ir.PortSpan(item, item) for item in items)
    return (ir.Ports(spans, negate=negate),)


def net(text, side, negate=False):
    return ir.NetMatch(ipaddress.ip_network(text), side, negate)


def marked(bit):
    return (ir.MarkTest(bit, bit),)


def unmarked(bit):
    return (ir.MarkTest(bit, bit, negate=True),)


def chain(name, *rules):
    return ir.Chain(name, tuple(rules))


def ruleset(family=4, *, raw=(), mangle=(), filter_=(), hooks=(), ipsets=()):
    tables = tuple(ir.Table(name, tuple(chains)) for name, chains in (("raw", raw), ("mangle", mangle), ("filter", filter_)) if chains)
    return ir.Ruleset(family, tables, tuple(ir.Hook(*h) for h in hooks), tuple(ipsets))


CLEAR = rule("mark", "clear palisade marks", value=0, mask=MASK)
ESTABLISHED = rule("accept", "conntrack: established or related flow", ct_states=("RELATED", "ESTABLISHED"))
INVALID = rule("drop", "conntrack: invalid packet", ct_states=("INVALID",))
ALLOW_CHAIN = chain("pal-allow", rule("mark", "policy rule allows", value=A, mask=A))
PASS_CHAIN = chain("pal-pass", rule("mark", "policy rule passes", value=P, mask=P))


def allow(comment, **match):
    return rule("goto", comment, "pal-allow", **match)


# --- the host: eth0 is a host endpoint; eth1/eth2 are not; cali* are workloads; lo ------------

ADDR = {
    4: {
        "host": "203.0.113.1",
        "mgmt_net": "198.51.100.0/24",
        "mgmt": "198.51.100.7",
        "client_net": "203.0.113.0/25",
        "client": "203.0.113.7",
        "attacker": "203.0.113.66",
        "etcd": "203.0.113.20",
        "stranger": "203.0.113.200",
    },
    6: {
        "host": "2001:db8:2::1",
        "mgmt_net": "2001:db8:1::/64",
        "mgmt": "2001:db8:1::7",
        "client_net": "2001:db8:2::/64",
        "client": "2001:db8:2::7",
        "attacker": "2001:db8:2::66",
        "etcd": "2001:db8:2::20",
        "stranger": "2001:db8:3::200",
    },
}
# protocol, echo request, destination unreachable, port unreachable code
ICMP = {4: (1, 8, 3, 3), 6: (58, 128, 1, 4)}


def host_ruleset(family):
    a = ADDR[family]
    icmp, echo, unreachable, port_code = ICMP[family]
    host_len = 32 if family == 4 else 128
    ipsets = (
        ir.IpSet("pal-s-clients", "hash:net", family, (ir.NetMember(ipaddress.ip_network(a["client_net"])),), "clients"),
        ir.IpSet("pal-s-mgmt", "hash:net", family, (ir.NetMember(ipaddress.ip_network(a["mgmt_net"])),), "mgmt"),
        ir.IpSet("pal-s-etcd", "hash:net", family, (ir.NetMember(ipaddress.ip_network(a["etcd"])),), "etcd"),
        ir.IpSet(
            "pal-p-metrics",
            "hash:ip,port",
            family,
            (
                ir.IpPortMember(ipaddress.ip_network(f"{a['host']}/{host_len}"), 6, 9100),
                ir.IpPortMember(ipaddress.ip_network(f"{a['host']}/{host_len}"), 17, 9101),
            ),
            "named port metrics",
        ),
    )
    neighbour = (
        [rule("accept", f"IPv6 neighbour discovery (ICMPv6 type {t})", protocol=58, icmp=ir.IcmpTest(t)) for t in (133, 134, 135, 136)]
        if family == 6
        else []
    )
    raw = (
        chain(
            "pal-PREROUTING",
            rule("return", "loopback is never policed", in_interface=iface("lo")),
            CLEAR,
            rule("jump", "ingress through host endpoints", "pal-from-host-endpoint"),
            rule("accept", "allowed by untracked policy", marks=marked(A)),
        ),
        chain(
            "pal-OUTPUT",
            rule("return", "loopback is never policed", out_interface=iface("lo")),
            CLEAR,
            rule("jump", "egress through host endpoints", "pal-to-host-endpoint"),
            rule("accept", "allowed by untracked policy", marks=marked(A)),
        ),
        chain("pal-from-host-endpoint", rule("goto", "endpoint h-eth0", "pal-fh-eth0", in_interface=iface("eth0"))),
        chain("pal-to-host-endpoint", rule("goto", "endpoint h-eth0", "pal-th-eth0", out_interface=iface("eth0"))),
        chain(
            "pal-fh-eth0",
            rule("jump", "failsafe ports", "pal-failsafe-in"),
            CLEAR,
            rule("jump", "policy dnt", "pal-pi-dnt"),
            rule("notrack", "policy dnt allowed: untracked", marks=marked(A)),
            rule("return", "policy dnt allowed", marks=marked(A)),
        ),
        chain(
            "pal-th-eth0",
            rule("jump", "failsafe ports", "pal-failsafe-out"),
            CLEAR,
            rule("jump", "policy dnt", "pal-po-dnt"),
            rule("notrack", "policy dnt allowed: untracked", marks=marked(A)),
            rule("return", "policy dnt allowed", marks=marked(A)),
        ),
        chain(
            "pal-failsafe-in",
            rule("accept", "failsafe inbound tcp 22", protocol=6, dst_ports=ports(22)),
            rule("accept", "reply of failsafe outbound udp 53", protocol=17, src_ports=ports(53)),
        ),
        chain(
            "pal-failsafe-out",
            rule("accept", "failsafe outbound udp 53", protocol=17, dst_ports=ports(53)),
            rule("accept", "reply of failsafe inbound tcp 22", protocol=6, src_ports=ports(22)),
        ),
        chain(
            "pal-pi-dnt",
            allow("policy dnt ingress rule 0", protocol=17, dst_ports=ports(4789), nets=(net(a["mgmt_net"], "src"),)),
            rule("drop", "policy dnt ingress rule 1", protocol=6, dst_ports=ports(6379)),
        ),
        chain("pal-po-dnt", allow("policy dnt egress rule 0", protocol=17, src_ports=ports(4789), nets=(net(a["mgmt_net"], "dst"),))),
        ALLOW_CHAIN,
    )
    failsafe_in = chain(
        "pal-failsafe-in",
        rule("accept", "failsafe inbound tcp 22", protocol=6, dst_ports=ports(22)),
        rule("accept", "failsafe inbound udp 68", protocol=17, dst_ports=ports(68)),
        rule("accept", "failsafe inbound tcp 2379 from mgmt", protocol=6, dst_ports=ports(2379), nets=(net(a["mgmt_net"], "src"),)),
    )
    mangle = (
        chain(
            "pal-PREROUTING",
            ESTABLISHED,
            rule("accept", "allowed by an earlier stage (doNotTrack policy)", marks=marked(A)),
            rule("return", "loopback is never policed", in_interface=iface("lo")),
            CLEAR,
            rule("jump", "ingress through host endpoints", "pal-from-host-endpoint"),
            rule("accept", "allowed by preDNAT policy", marks=marked(A)),
        ),
        chain("pal-from-host-endpoint", rule("goto", "endpoint h-eth0", "pal-fh-eth0", in_interface=iface("eth0"))),
        chain(
            "pal-fh-eth0",
            ESTABLISHED,
            INVALID,
            rule("jump", "failsafe ports", "pal-failsafe-in"),
            CLEAR,
            rule("jump", "policy nodeports", "pal-pi-nodeports"),
            rule("return", "policy nodeports allowed", marks=marked(A)),
        ),
        failsafe_in,
        chain(
            "pal-pi-nodeports",
            rule(
                "drop",
                "policy nodeports ingress rule 0",
                protocol=6,
                dst_ports=ports((30000, 32767)),
                sets=(ir.SetRef("pal-s-mgmt", "src", negate=True),),
            ),
            allow("policy nodeports ingress rule 1", protocol=6, dst_ports=ports((30000, 32767))),
        ),
        ALLOW_CHAIN,
    )
    filter_ = (
        chain(
            "pal-INPUT",
            rule("goto", "from workload interfaces cali*", "pal-wl-to-host", in_interface=iface("cali+")),
            rule("accept", "allowed by an earlier stage", marks=marked(A)),
            rule("return", "loopback is never policed", in_interface=iface("lo")),
            CLEAR,
            rule("jump", "ingress through host endpoints", "pal-from-host-endpoint"),
            rule("accept", "allowed by policy", marks=marked(A)),
        ),
        chain("pal-wl-to-host", rule("drop", "workload to host: Drop")),
        chain("pal-from-host-endpoint", rule("goto", "endpoint h-eth0", "pal-fh-eth0", in_interface=iface("eth0"))),
        chain(
            "pal-fh-eth0",
            ESTABLISHED,
            INVALID,
            *neighbour,
            rule("jump", "failsafe ports", "pal-failsafe-in"),
            CLEAR,
            rule("jump", "policy web", "pal-pi-web"),
            rule("return", "policy web allowed", marks=marked(A)),
            rule("drop", "policy web passed: no later tier, default deny", marks=marked(P)),
            rule("jump", "policy zz", "pal-pi-zz"),
            rule("return", "policy zz allowed", marks=marked(A)),
            rule("drop", "end of tier: default deny"),
        ),
        failsafe_in,
        chain(
            "pal-pi-web",
            rule("drop", "policy web ingress rule 0", nets=(net(a["attacker"], "src"),)),
            rule("log", "policy web ingress rule 1", prefix="palisade: ", protocol=6, dst_ports=ports(8080)),
            allow("policy web ingress rule 2", protocol=6, dst_ports=ports(80, 443), sets=(ir.SetRef("pal-s-clients", "src"),)),
            allow("policy web ingress rule 3", protocol=6, dst_ports=ports((8000, 8099)) + ports(8080, negate=True)),
            allow("policy web ingress rule 4", sets=(ir.SetRef("pal-p-metrics", "dst"),)),
            allow("policy web ingress rule 5", protocol=icmp, icmp=ir.IcmpTest(echo)),
            allow("policy web ingress rule 6", protocol=icmp, icmp=ir.IcmpTest(unreachable, port_code)),
            rule("goto", "policy web ingress rule 7", "pal-pass", protocol=17, src_ports=ports(53)),
            rule("drop", "policy web ingress rule 8", protocol=6, src_ports=ports((1024, 65535), negate=True)),
        ),
        chain(
            "pal-pi-zz",
            allow("policy zz ingress rule 0", protocol=6, dst_ports=ports(25)),
            rule("reject", "policy zz ingress rule 1", protocol=6, dst_ports=ports(23)),
            allow("policy zz ingress rule 2", protocol=6, protocol_negate=True, sets=(ir.SetRef("pal-s-mgmt", "src"),)),
        ),
        chain(
            "pal-OUTPUT",
            rule("accept", "allowed by an earlier stage (doNotTrack policy)", marks=marked(A)),
            rule("return", "host to local workload (cali*) is never policed", out_interface=iface("cali+")),
            rule("return", "loopback is never policed", out_interface=iface("lo")),
            CLEAR,
            rule("jump", "egress through host endpoints", "pal-to-host-endpoint", not_dnat=True),
            rule("accept", "allowed by policy", marks=marked(A)),
        ),
        chain("pal-to-host-endpoint", rule("goto", "endpoint h-eth0", "pal-th-eth0", out_interface=iface("eth0"))),
        chain(
            "pal-th-eth0",
            ESTABLISHED,
            INVALID,
            *neighbour,
            rule("jump", "failsafe ports", "pal-failsafe-out"),
            CLEAR,
            rule("jump", "policy web", "pal-po-web"),
            rule("return", "policy web allowed", marks=marked(A)),
            rule("drop", "end of tier: default deny (egress)"),
        ),
        chain(
            "pal-failsafe-out",
            rule("accept", "failsafe outbound udp 53", protocol=17, dst_ports=ports(53)),
            rule("accept", "failsafe outbound tcp 2379 to mgmt", protocol=6, dst_ports=ports(2379), nets=(net(a["mgmt_net"], "dst"),)),
        ),
        chain(
            "pal-po-web",
            allow("policy web egress rule 0", protocol=6, dst_ports=ports(2379), sets=(ir.SetRef("pal-s-etcd", "dst"),)),
            allow("policy web egress rule 1", protocol=6, dst_ports=ports(443), nets=(net(a["mgmt_net"], "dst", negate=True),)),
        ),
        chain(
            "pal-FORWARD",
            rule("mark", "clear the pass mark", value=0, mask=P),
            rule("jump", "forwarded: ingress endpoint", "pal-from-hep-forward", marks=unmarked(A), in_interface=iface("!cali+")),
            rule("jump", "forwarded: egress endpoint", "pal-to-hep-forward"),
        ),
        chain("pal-FORWARD-tail", rule("accept", "forwarded traffic allowed", marks=marked(A))),
        chain("pal-from-hep-forward", rule("goto", "endpoint h-eth0", "pal-fhfw-eth0", in_interface=iface("eth0"))),
        chain("pal-to-hep-forward", rule("goto", "endpoint h-eth0", "pal-thfw-eth0", out_interface=iface("eth0"))),
        chain(
            "pal-fhfw-eth0",
            ESTABLISHED,
            INVALID,
            CLEAR,
            rule("jump", "policy fwd", "pal-pi-fwd"),
            rule("return", "policy fwd allowed", marks=marked(A)),
            rule("return", "policy fwd passed: undecided", marks=marked(P)),
            rule("drop", "end of tier: default deny (forward)"),
        ),
        chain(
            "pal-pi-fwd",
            allow("policy fwd ingress rule 0", protocol=6, dst_ports=ports(80), nets=(net(a["client_net"], "dst"),)),
            rule("goto", "policy fwd ingress rule 1", "pal-pass", protocol=17),
        ),
        chain(
            "pal-thfw-eth0",
            ESTABLISHED,
            INVALID,
            CLEAR,
            rule("goto", "forwarded traffic is allowed: no applyOnForward policy selects h-eth0", "pal-allow"),
        ),
        ALLOW_CHAIN,
        PASS_CHAIN,
    )
    hooks = (
        ("raw", "PREROUTING", "pal-PREROUTING"),
        ("raw", "OUTPUT", "pal-OUTPUT"),
        ("mangle", "PREROUTING", "pal-PREROUTING"),
        ("filter", "INPUT", "pal-INPUT"),
        ("filter", "FORWARD", "pal-FORWARD-tail", "append"),  # listed first, runs last
        ("filter", "FORWARD", "pal-FORWARD"),
        ("filter", "OUTPUT", "pal-OUTPUT"),
    )
    return ruleset(family, raw=raw, mangle=mangle, filter_=filter_, hooks=hooks, ipsets=ipsets)


RULESETS = {4: host_ruleset(4), 6: host_ruleset(6)}


def host_packet(family, *, src="stranger", dst="host", protocol="tcp", icmp_type=None, icmp_code=None, **fields):
    """A packet with symbolic addresses and ICMP values, the same case in either family."""
    icmp, echo, unreachable, port_code = ICMP[family]
    protocol = {"tcp": 6, "udp": 17, "icmp": icmp}[protocol]
    icmp_type = {"echo": echo, "unreachable": unreachable, None: None}[icmp_type]
    icmp_code = {"port": port_code, None: icmp_code}.get(icmp_code, icmp_code)
    fields.setdefault("in_interface", "eth0")
    return Packet(
        src=ipaddress.ip_address(ADDR[family][src]),
        dst=ipaddress.ip_address(ADDR[family][dst]),
        protocol=protocol,
        icmp_type=icmp_type,
        icmp_code=icmp_code,
        **fields,
    )


TIER_END = "end of tier: default deny"
EGRESS_END = "end of tier: default deny (egress)"
FORWARD_END = "end of tier: default deny (forward)"
BY_POLICY = "allowed by policy"
EARLIER = "allowed by an earlier stage"
EST = "conntrack: established or related flow"
OUT = {"in_interface": None, "out_interface": "eth0", "src": "host"}
FWD = {"out_interface": "eth1"}
S = 40000  # an ephemeral source port

# id, packet fields, verdict, decided_by, table that decided
HOST_CASES = [
    # ingress through eth0 to the host
    ("failsafe tcp 22", {"src_port": S, "dst_port": 22}, "allow", "failsafe inbound tcp 22", "filter"),
    ("failsafe wins over a Deny rule", {"src": "attacker", "src_port": S, "dst_port": 22}, "allow", "failsafe inbound tcp 22", "filter"),
    ("Deny rule", {"src": "attacker", "src_port": S, "dst_port": 80}, "deny", "policy web ingress rule 0", "filter"),
    ("Allow from a hash:net set", {"src": "client", "src_port": S, "dst_port": 80}, "allow", "policy web ingress rule 2", "filter"),
    ("not in the hash:net set", {"src_port": S, "dst_port": 443}, "deny", TIER_END, "filter"),
    ("port in a range", {"src_port": S, "dst_port": 8050}, "allow", "policy web ingress rule 3", "filter"),
    ("range start", {"src_port": S, "dst_port": 8000}, "allow", "policy web ingress rule 3", "filter"),
    ("range end", {"src_port": S, "dst_port": 8099}, "allow", "policy web ingress rule 3", "filter"),
    ("port excluded from the range (and logged)", {"src_port": S, "dst_port": 8080}, "deny", TIER_END, "filter"),
    ("past the range", {"src_port": S, "dst_port": 8100}, "deny", TIER_END, "filter"),
    ("named port tcp in hash:ip,port", {"src_port": S, "dst_port": 9100}, "allow", "policy web ingress rule 4", "filter"),
    ("named port udp in hash:ip,port", {"protocol": "udp", "src_port": S, "dst_port": 9101}, "allow", "policy web ingress rule 4", "filter"),
    ("named port, other protocol", {"protocol": "udp", "src_port": S, "dst_port": 9100}, "deny", TIER_END, "filter"),
    ("named port, other address", {"dst": "etcd", "src_port": S, "dst_port": 9100}, "deny", TIER_END, "filter"),
    ("ICMP echo", {"protocol": "icmp", "icmp_type": "echo"}, "allow", "policy web ingress rule 5", "filter"),
    ("ICMP echo with a code", {"protocol": "icmp", "icmp_type": "echo", "icmp_code": 0}, "allow", "policy web ingress rule 5", "filter"),
    ("ICMP type and code", {"protocol": "icmp", "icmp_type": "unreachable", "icmp_code": "port"}, "allow", "policy web ingress rule 6", "filter"),
    ("ICMP other code", {"protocol": "icmp", "icmp_type": "unreachable", "icmp_code": 0}, "deny", TIER_END, "filter"),
    ("ICMP code unknown: a code test cannot match", {"protocol": "icmp", "icmp_type": "unreachable"}, "deny", TIER_END, "filter"),
    ("ICMP type unknown", {"protocol": "icmp"}, "deny", TIER_END, "filter"),
    ("Pass, then no later tier", {"protocol": "udp", "src_port": 53, "dst_port": 5000}, "deny", "policy web passed: no later tier, default deny", "filter"),
    ("negated source ports", {"src_port": 80, "dst_port": 5000}, "deny", "policy web ingress rule 8", "filter"),
    ("unknown source port matches no port test", {"dst_port": 5000}, "deny", TIER_END, "filter"),
    ("reject", {"src_port": S, "dst_port": 23}, "deny", "policy zz ingress rule 1", "filter"),
    ("second policy allows", {"src_port": S, "dst_port": 25}, "allow", "policy zz ingress rule 0", "filter"),
    ("negated protocol", {"src": "mgmt", "protocol": "udp", "src_port": S, "dst_port": 7777}, "allow", "policy zz ingress rule 2", "filter"),
    ("negated protocol refuses tcp", {"src": "mgmt", "src_port": S, "dst_port": 7777}, "deny", TIER_END, "filter"),
    ("failsafe with a net", {"src": "mgmt", "src_port": S, "dst_port": 2379}, "allow", "failsafe inbound tcp 2379 from mgmt", "filter"),
    ("failsafe net excludes others", {"src_port": S, "dst_port": 2379}, "deny", TIER_END, "filter"),
    ("failsafe udp 68", {"protocol": "udp", "src_port": 67, "dst_port": 68}, "allow", "failsafe inbound udp 68", "filter"),
    ("established", {"src_port": S, "dst_port": 5000, "ct_state": "ESTABLISHED"}, "allow", EST, "filter"),
    ("related", {"protocol": "icmp", "icmp_type": "unreachable", "icmp_code": 0, "ct_state": "RELATED"}, "allow", EST, "filter"),
    ("invalid: dropped in mangle", {"src_port": S, "dst_port": 22, "ct_state": "INVALID"}, "deny", "conntrack: invalid packet", "mangle"),
    (
        "doNotTrack allow reaches filter by mark",
        {"src": "mgmt", "protocol": "udp", "src_port": S, "dst_port": 4789},
        "allow",
        "policy dnt ingress rule 0",
        "filter",
    ),
    ("doNotTrack deny", {"src_port": S, "dst_port": 6379}, "deny", "policy dnt ingress rule 1", "raw"),
    ("preDNAT deny", {"src_port": S, "dst_port": 31000}, "deny", "policy nodeports ingress rule 0", "mangle"),
    ("preDNAT allow reaches filter by mark", {"src": "mgmt", "src_port": S, "dst_port": 31000}, "allow", "policy nodeports ingress rule 1", "filter"),
    ("interface without endpoint", {"in_interface": "eth1", "src_port": S, "dst_port": 80}, "untouched", None, None),
    ("loopback", {"in_interface": "lo", "src_port": S, "dst_port": 80}, "untouched", None, None),
    ("workload to host", {"in_interface": "cali1234", "src_port": S, "dst_port": 80}, "deny", "workload to host: Drop", "filter"),
    # sent by the host through eth0
    ("egress to a hash:net set", {**OUT, "dst": "etcd", "src_port": S, "dst_port": 2379}, "allow", "policy web egress rule 0", "filter"),
    ("egress not in the set", {**OUT, "dst": "stranger", "src_port": S, "dst_port": 2379}, "deny", EGRESS_END, "filter"),
    ("failsafe outbound with a net", {**OUT, "dst": "mgmt", "src_port": S, "dst_port": 2379}, "allow", "failsafe outbound tcp 2379 to mgmt", "filter"),
    ("failsafe outbound udp 53", {**OUT, "dst": "stranger", "protocol": "udp", "src_port": S, "dst_port": 53}, "allow", "failsafe outbound udp 53", "filter"),
    ("negated net allows", {**OUT, "dst": "stranger", "src_port": S, "dst_port": 443}, "allow", "policy web egress rule 1", "filter"),
    ("negated net refuses", {**OUT, "dst": "mgmt", "src_port": S, "dst_port": 443}, "deny", EGRESS_END, "filter"),
    ("failsafe is directional", {**OUT, "dst": "stranger", "src_port": S, "dst_port": 22}, "deny", EGRESS_END, "filter"),
    ("egress established", {**OUT, "dst": "stranger", "src_port": 22, "dst_port": S, "ct_state": "ESTABLISHED"}, "allow", EST, "filter"),
    ("to a local workload", {**OUT, "out_interface": "cali99", "dst": "client", "src_port": S, "dst_port": 80}, "untouched", None, None),
    ("DNAT'd packet skips egress policy", {**OUT, "dst": "mgmt", "src_port": S, "dst_port": 443, "dnat": True}, "untouched", None, None),
    ("egress interface without endpoint", {**OUT, "out_interface": "eth1", "dst": "mgmt", "src_port": S, "dst_port": 443}, "untouched", None, None),
    ("loopback egress", {**OUT, "out_interface": "lo", "dst": "host", "src_port": S, "dst_port": 443}, "untouched", None, None),
    (
        "doNotTrack egress allow",
        {**OUT, "dst": "mgmt", "protocol": "udp", "src_port": 4789, "dst_port": 4789},
        "allow",
        "policy dnt egress rule 0",
        "filter",
    ),
    # forwarded
    ("forward allowed by an applyOnForward policy", {**FWD, "dst": "client", "src_port": S, "dst_port": 80}, "allow", "policy fwd ingress rule 0", "filter"),
    ("forward: end of tier", {**FWD, "dst": "client", "src_port": S, "dst_port": 22}, "deny", FORWARD_END, "filter"),
    ("forward: Pass leaves it undecided", {**FWD, "dst": "client", "protocol": "udp", "src_port": S, "dst_port": 53}, "untouched", None, None),
    (
        "forward into the endpoint: allowed by default",
        {"in_interface": "eth1", "out_interface": "eth0", "dst": "client", "src_port": S, "dst_port": 22},
        "allow",
        "forwarded traffic is allowed: no applyOnForward policy selects h-eth0",
        "filter",
    ),
    ("forward from a workload", {"in_interface": "cali1", "out_interface": "eth1", "dst": "client", "src_port": S, "dst_port": 22}, "untouched", None, None),
    (
        "forward between unpoliced interfaces",
        {"in_interface": "eth1", "out_interface": "eth2", "dst": "client", "src_port": S, "dst_port": 22},
        "untouched",
        None,
        None,
    ),
    ("forward established", {**FWD, "dst": "client", "src_port": S, "dst_port": 22, "ct_state": "ESTABLISHED"}, "allow", EST, "filter"),
    ("forward invalid", {**FWD, "dst": "client", "src_port": S, "dst_port": 22, "ct_state": "INVALID"}, "deny", "conntrack: invalid packet", "mangle"),
    (
        "forward allowed by preDNAT skips the ingress check",
        {**FWD, "src": "mgmt", "dst": "client", "src_port": S, "dst_port": 31000},
        "allow",
        "policy nodeports ingress rule 1",
        "filter",
    ),
]


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("fields, verdict, decided_by, table", [c[1:] for c in HOST_CASES], ids=[c[0] for c in HOST_CASES])
def test_host_layout(family, fields, verdict, decided_by, table):
    outcome = simulate(RULESETS[family], host_packet(family, **fields))
    assert (outcome.verdict, outcome.decided_by) == (verdict, decided_by)
    assert (outcome.stages[-1].table if outcome.decided_at else None) == table
    if outcome.decided_at is not None:
        assert outcome.decided_at in outcome.trace
        assert outcome.stages[-1].table == table
        assert outcome.stages[-1].decided_by == decided_by
        assert outcome.decided_at.comment == decided_by


def steps(outcome):
    """The trace as compact tuples: (table, chain, rule, action, target)."""
    return [(s.table, s.chain, s.rule, s.action, s.target) for s in outcome.trace]


def test_policy_allow_goes_to_allow_chain_and_back_to_the_endpoint_chain():
    outcome = simulate(RULESETS[4], host_packet(4, src="client", src_port=S, dst_port=80))
    filter_steps = [s for s in steps(outcome) if s[0] == "filter"]
    assert filter_steps == [
        ("filter", "INPUT", 0, "jump", "pal-INPUT"),
        ("filter", "pal-INPUT", 3, "mark", None),
        ("filter", "pal-INPUT", 4, "jump", "pal-from-host-endpoint"),
        ("filter", "pal-from-host-endpoint", 0, "goto", "pal-fh-eth0"),
        ("filter", "pal-fh-eth0", 2, "jump", "pal-failsafe-in"),
        ("filter", "pal-failsafe-in", None, "fell off", None),
        ("filter", "pal-fh-eth0", 3, "mark", None),
        ("filter", "pal-fh-eth0", 4, "jump", "pal-pi-web"),
        ("filter", "pal-pi-web", 2, "goto", "pal-allow"),
        ("filter", "pal-allow", 0, "mark", None),
        # falling off pal-allow returns to the caller of pal-pi-web, which did the goto
        ("filter", "pal-allow", None, "fell off", None),
        ("filter", "pal-fh-eth0", 5, "return", None),
        # pal-fh-eth0 was entered by goto: its return goes back to pal-INPUT
        ("filter", "pal-INPUT", 5, "accept", None),
    ]
    assert outcome.trace[-1] == Step("filter", "pal-INPUT", 5, BY_POLICY, "accept")
    # the accept tests the accept mark, which pal-allow set unconditionally; pal-allow was
    # entered by the policy rule's goto, so that rule is what decided
    web_rule_2 = Step("filter", "pal-pi-web", 2, "policy web ingress rule 2", "goto", target="pal-allow")
    assert (outcome.decided_by, outcome.decided_at) == ("policy web ingress rule 2", web_rule_2)
    assert outcome.stages[-1].decided_by == "policy web ingress rule 2"
    assert [s.detail for s in outcome.trace if s.chain == "pal-allow" and s.action == "mark"] == ["set 0x1000000/0x1000000, mark is now 0x1000000"]


def test_stages_of_an_untracked_allow():
    outcome = simulate(RULESETS[6], host_packet(6, src="mgmt", protocol="udp", src_port=S, dst_port=4789))
    # every stage accepts on the accept mark set in raw by the doNotTrack policy rule's goto
    # to pal-allow, so every stage credits that rule
    assert [(s.table, s.chain, s.result, s.decided_by) for s in outcome.stages] == [
        ("raw", "PREROUTING", "accept", "policy dnt ingress rule 0"),
        ("mangle", "PREROUTING", "accept", "policy dnt ingress rule 0"),
        ("filter", "INPUT", "accept", "policy dnt ingress rule 0"),
    ]
    assert outcome.decided_at == Step("raw", "pal-pi-dnt", 0, "policy dnt ingress rule 0", "goto", target="pal-allow")
    assert [s.comment for s in outcome.trace if s.action == "accept"] == [
        "allowed by untracked policy",
        "allowed by an earlier stage (doNotTrack policy)",
        EARLIER,
    ]
    notrack = [s for s in outcome.trace if s.action == "notrack"]
    assert notrack == [Step("raw", "pal-fh-eth0", 3, "policy dnt allowed: untracked", "notrack", detail="conntrack state is now UNTRACKED")]


def test_log_continues_and_is_in_the_trace():
    outcome = simulate(RULESETS[4], host_packet(4, src_port=S, dst_port=8080))
    logs = [s for s in outcome.trace if s.action == "log"]
    assert logs == [Step("filter", "pal-pi-web", 1, "policy web ingress rule 1", "log", detail="prefix 'palisade: '")]
    assert outcome.verdict == "deny"


def test_forward_hooks_run_insert_first_then_append():
    outcome = simulate(RULESETS[4], host_packet(4, in_interface="eth1", out_interface="eth0", dst="client", src_port=S, dst_port=22))
    hooks = [s for s in steps(outcome) if s[1] == "FORWARD"]
    assert hooks == [
        ("filter", "FORWARD", 0, "jump", "pal-FORWARD"),
        ("filter", "FORWARD", 0, "returned", "pal-FORWARD"),
        ("filter", "FORWARD", 1, "jump", "pal-FORWARD-tail"),
    ]


def test_untouched_keeps_the_earlier_tables_steps():
    outcome = simulate(RULESETS[4], host_packet(4, in_interface="eth1", src_port=S, dst_port=80))
    assert outcome.decided_at is None
    assert [(s.table, s.result) for s in outcome.stages] == [("raw", "continue"), ("mangle", "continue"), ("filter", "continue")]
    assert [s for s in steps(outcome) if s[2] is not None and s[1] in ("PREROUTING", "INPUT")] == [
        ("raw", "PREROUTING", 0, "jump", "pal-PREROUTING"),
        ("raw", "PREROUTING", 0, "returned", "pal-PREROUTING"),
        ("mangle", "PREROUTING", 0, "jump", "pal-PREROUTING"),
        ("mangle", "PREROUTING", 0, "returned", "pal-PREROUTING"),
        ("filter", "INPUT", 0, "jump", "pal-INPUT"),
        ("filter", "INPUT", 0, "returned", "pal-INPUT"),
    ]


def test_output_path_skips_mangle():
    outcome = simulate(RULESETS[4], host_packet(4, **OUT, dst="stranger", src_port=S, dst_port=443))
    assert [(s.table, s.chain) for s in outcome.stages] == [("raw", "OUTPUT"), ("filter", "OUTPUT")]


# --- small rulesets: chain semantics ------------------------------------------------------------

V4_SRC, V4_DST = ipaddress.ip_address("198.51.100.7"), ipaddress.ip_address("203.0.113.1")
V6_SRC, V6_DST = ipaddress.ip_address("2001:db8:1::7"), ipaddress.ip_address("2001:db8:2::1")


def packet(**fields):
    """A TCP packet from 198.51.100.7:40000 to 203.0.113.1:22 arriving on eth0, unless told."""
    base = {"src": V4_SRC, "dst": V4_DST, "protocol": 6, "src_port": S, "dst_port": 22, "in_interface": "eth0"}
    base.update(fields)
    return Packet(**base)


def filter_only(*chains, builtin="INPUT", family=4, hooks=None, ipsets=()):
    return ruleset(family, filter_=chains, hooks=hooks or (("filter", builtin, chains[0].name),), ipsets=ipsets)


def test_jump_returns_and_goto_skips_the_chain_that_did_it():
    rs = filter_only(
        chain("top", rule("jump", "to a", "a"), rule("accept", "a marked it", marks=marked(1))),
        chain("a", rule("goto", "a to c", "c"), rule("drop", "never: goto does not come back to a")),
        chain("c", rule("mark", "c marks", value=1, mask=1)),
    )
    outcome = simulate(rs, packet())
    assert outcome.trace == (
        Step("filter", "INPUT", 0, "hook INPUT -> top (insert)", "jump", target="top"),
        Step("filter", "top", 0, "to a", "jump", target="a"),
        Step("filter", "a", 0, "a to c", "goto", target="c"),
        Step("filter", "c", 0, "c marks", "mark", detail="set 0x1/0x1, mark is now 0x1"),
        Step("filter", "c", None, "", "fell off"),
        Step("filter", "top", 1, "a marked it", "accept"),
    )
    # c's mark rule is unconditional and c was entered by a's goto: the goto is the cause
    assert (outcome.verdict, outcome.decided_by) == ("allow", "a to c")
    assert outcome.decided_at == outcome.trace[2]


@pytest.mark.parametrize("protocol, verdict, decided_by", [(6, "allow", "top accepts"), (17, "deny", "a drops the rest")])
def test_return_leaves_only_the_current_chain(protocol, verdict, decided_by):
    rs = filter_only(
        chain("top", rule("jump", "to a", "a"), rule("accept", "top accepts")),
        chain("a", rule("return", "a returns tcp", protocol=6), rule("drop", "a drops the rest")),
    )
    outcome = simulate(rs, packet(protocol=protocol))
    assert (outcome.verdict, outcome.decided_by) == (verdict, decided_by)


def test_return_from_a_goto_chain_goes_to_the_callers_caller():
    rs = filter_only(
        chain("top", rule("jump", "to a", "a"), rule("accept", "back in top")),
        chain("a", rule("goto", "a to b", "b"), rule("drop", "never")),
        chain("b", rule("return", "b returns")),
    )
    outcome = simulate(rs, packet())
    assert [s[1:4] for s in steps(outcome)] == [("INPUT", 0, "jump"), ("top", 0, "jump"), ("a", 0, "goto"), ("b", 0, "return"), ("top", 1, "accept")]


def test_goto_from_the_hooked_chain_returns_to_the_builtin_chain():
    rs = filter_only(chain("top", rule("goto", "to b", "b"), rule("drop", "never")), chain("b"))
    outcome = simulate(rs, packet())
    assert outcome.verdict == "untouched"
    assert [s[1:4] for s in steps(outcome)] == [("INPUT", 0, "jump"), ("top", 0, "goto"), ("b", None, "fell off"), ("INPUT", 0, "returned")]


def test_return_from_the_hooked_chain_continues_with_the_next_hook():
    hooks = (("filter", "INPUT", "second"), ("filter", "INPUT", "first"))  # both insert: given order
    rs = filter_only(chain("second", rule("return", "second returns")), chain("first", rule("accept", "first accepts")), hooks=hooks)
    outcome = simulate(rs, packet())
    assert [s[1:5] for s in steps(outcome)] == [
        ("INPUT", 0, "jump", "second"),
        ("second", 0, "return", None),
        ("INPUT", 0, "returned", "second"),
        ("INPUT", 1, "jump", "first"),
        ("first", 0, "accept", None),
    ]
    assert outcome.trace[0].comment == "hook INPUT -> second (insert)"


def test_hooks_order_insert_then_append():
    hooks = (("filter", "INPUT", "x", "append"), ("filter", "INPUT", "y", "insert"), ("filter", "INPUT", "z", "insert"))
    rs = filter_only(chain("x"), chain("y"), chain("z"), hooks=hooks)
    outcome = simulate(rs, packet())
    assert [(s.rule, s.target) for s in outcome.trace if s.action == "jump"] == [(0, "y"), (1, "z"), (2, "x")]
    assert outcome.verdict == "untouched"


def test_hooks_of_other_chains_are_not_on_the_path():
    hooks = (("filter", "OUTPUT", "out"), ("filter", "FORWARD", "fwd"), ("raw", "OUTPUT", "out"))
    rs = ruleset(4, raw=(chain("out", rule("drop", "raw out")),), filter_=(chain("out", rule("drop", "out")), chain("fwd", rule("drop", "fwd"))), hooks=hooks)
    outcome = simulate(rs, packet())
    assert (outcome.verdict, outcome.trace) == ("untouched", ())
    assert [(s.table, s.chain, s.result) for s in outcome.stages] == [
        ("raw", "PREROUTING", "continue"),
        ("mangle", "PREROUTING", "continue"),
        ("filter", "INPUT", "continue"),
    ]


@pytest.mark.parametrize(
    "filter_rule, verdict, decided_by",
    [
        (None, "untouched", None),
        (rule("drop", "filter drops"), "deny", "filter drops"),
        (rule("accept", "filter accepts"), "allow", "filter accepts"),
    ],
    ids=["filter undecided", "filter drops", "filter accepts"],
)
def test_accept_in_raw_ends_only_raw(filter_rule, verdict, decided_by):
    filter_chains = (chain("f", filter_rule),) if filter_rule else ()
    hooks = (("raw", "PREROUTING", "r"), ("mangle", "PREROUTING", "m")) + ((("filter", "INPUT", "f"),) if filter_rule else ())
    rs = ruleset(4, raw=(chain("r", rule("accept", "raw accepts"), rule("drop", "never")),), mangle=(chain("m"),), filter_=filter_chains, hooks=hooks)
    outcome = simulate(rs, packet())
    assert (outcome.verdict, outcome.decided_by) == (verdict, decided_by)
    assert [(s.table, s.result, s.decided_by) for s in outcome.stages] == [
        ("raw", "accept", "raw accepts"),
        ("mangle", "continue", None),
        ("filter", *({"allow": ("accept",), "deny": ("drop",), "untouched": ("continue",)}[verdict]), decided_by),
    ]
    assert outcome.trace[1] == Step("raw", "r", 0, "raw accepts", "accept")


def test_drop_in_raw_is_final():
    hooks = (("raw", "PREROUTING", "r"), ("filter", "INPUT", "f"))
    rs = ruleset(4, raw=(chain("r", rule("drop", "raw drops")),), filter_=(chain("f", rule("accept", "never")),), hooks=hooks)
    outcome = simulate(rs, packet())
    assert (outcome.verdict, outcome.decided_by, [s.table for s in outcome.stages]) == ("deny", "raw drops", ["raw"])


def test_reject_is_deny():
    outcome = simulate(filter_only(chain("f", rule("reject", "rejected"))), packet())
    assert (outcome.verdict, outcome.decided_at.action, outcome.stages[-1].result) == ("deny", "reject", "reject")


def mark_tables(builtin_raw="PREROUTING", builtin_filter="INPUT"):
    hooks = (("raw", builtin_raw, "r"), ("mangle", "PREROUTING", "m"), ("filter", builtin_filter, "f"))
    return ruleset(
        4,
        raw=(chain("r", rule("mark", "raw sets 0x1", value=0x1, mask=0x1)),),
        mangle=(chain("m", rule("mark", "mangle sets 0x2", value=0x2, mask=0x2)),),
        filter_=(chain("f", rule("accept", "both marks", marks=(ir.MarkTest(0x3, 0x3),))),),
        hooks=hooks,
    )


def test_marks_set_in_raw_and_mangle_are_seen_in_filter():
    outcome = simulate(mark_tables(), packet())
    # the accept tests 0x3: the cause is the setter of its lowest tested bit, 0x1, i.e. raw's
    # unconditional mark rule in the hooked chain (entered by no rule, so it is its own cause)
    assert (outcome.verdict, outcome.decided_by) == ("allow", "raw sets 0x1")
    assert outcome.decided_at == Step("raw", "r", 0, "raw sets 0x1", "mark", detail="set 0x1/0x1, mark is now 0x1")
    assert outcome.trace[-1] == Step("filter", "f", 0, "both marks", "accept")
    assert [s.detail for s in outcome.trace if s.action == "mark"] == ["set 0x1/0x1, mark is now 0x1", "set 0x2/0x2, mark is now 0x3"]


def test_output_path_has_no_mangle_so_only_the_raw_mark_is_set():
    outcome = simulate(mark_tables("OUTPUT", "OUTPUT"), packet(in_interface=None, out_interface="eth0"))
    assert outcome.verdict == "untouched"


def test_mark_changes_only_the_bits_under_its_mask():
    rs = filter_only(
        chain(
            "f",
            rule("mark", "set 0xff", value=0xFF, mask=0xFF),
            rule("mark", "clear 0x0f", value=0, mask=0x0F),
            rule("mark", "set 0x100", value=0x100, mask=0x300),
            rule("accept", "0x1f0", marks=(ir.MarkTest(0x1F0, 0xFFF),)),
        )
    )
    outcome = simulate(rs, packet())
    # the lowest tested bit, 0x10, was set by "set 0xff" and not touched since
    assert outcome.decided_by == "set 0xff"
    assert outcome.decided_at == outcome.trace[1]
    assert outcome.trace[-1].comment == "0x1f0"
    assert outcome.trace[3].detail == "set 0x100/0x300, mark is now 0x1f0"


MARK_CAUSES = [
    (
        "a conditional mark rule is its own cause, even in a chain entered by jump",
        (
            chain("top", rule("jump", "to m", "m"), rule("accept", "accept on 0x1", marks=marked(0x1))),
            chain("m", rule("mark", "m marks tcp", value=0x1, mask=0x1, protocol=6)),
        ),
        Step("filter", "m", 0, "m marks tcp", "mark", detail="set 0x1/0x1, mark is now 0x1"),
    ),
    (
        "an unconditional mark rule reached by goto credits the goto rule",
        (
            chain("top", rule("jump", "to p", "p"), rule("accept", "accept on 0x1", marks=marked(0x1))),
            chain("p", rule("goto", "p allows port 22", "helper", protocol=6, dst_ports=ports(22))),
            chain("helper", rule("mark", "helper marks", value=0x1, mask=0x1)),
        ),
        Step("filter", "p", 0, "p allows port 22", "goto", target="helper"),
    ),
    (
        "a bit set, cleared, then set again by another rule credits the second rule",
        (
            chain(
                "top",
                rule("mark", "first sets 0x1", value=0x1, mask=0x1, protocol=6),
                rule("mark", "clear 0x1", value=0, mask=0x1),
                rule("mark", "second sets 0x1", value=0x1, mask=0x1, dst_ports=ports(22)),
                rule("accept", "accept on 0x1", marks=marked(0x1)),
            ),
        ),
        Step("filter", "top", 2, "second sets 0x1", "mark", detail="set 0x1/0x1, mark is now 0x1"),
    ),
    (
        "a drop on a mark is still the dropping rule itself",
        (
            chain("top", rule("mark", "top marks tcp", value=0x1, mask=0x1, protocol=6), rule("drop", "drop on 0x1", marks=marked(0x1))),
        ),
        Step("filter", "top", 1, "drop on 0x1", "drop"),
    ),
]


@pytest.mark.parametrize("chains, cause", [c[1:] for c in MARK_CAUSES], ids=[c[0] for c in MARK_CAUSES])
def test_a_verdict_on_a_mark_credits_the_step_that_caused_the_mark(chains, cause):
    outcome = simulate(filter_only(*chains), packet())
    assert (outcome.decided_by, outcome.decided_at) == (cause.comment, cause)
    assert outcome.stages[-1].decided_by == cause.comment
    assert cause in outcome.trace
    assert outcome.trace[-1].action in ("accept", "drop")


@pytest.mark.parametrize("protocol, decided_by", [(17, "untracked"), (6, "tracked: NEW")])
def test_notrack_makes_conntrack_see_untracked(protocol, decided_by):
    hooks = (("raw", "PREROUTING", "r"), ("filter", "INPUT", "f"))
    rs = ruleset(
        4,
        raw=(chain("r", rule("notrack", "udp untracked", protocol=17)),),
        filter_=(chain("f", rule("accept", "untracked", ct_states=("UNTRACKED",)), rule("accept", "tracked: NEW", ct_states=("NEW",))),),
        hooks=hooks,
    )
    outcome = simulate(rs, packet(protocol=protocol))
    assert outcome.decided_by == decided_by


def test_notrack_outside_raw_is_a_compiler_bug():
    rs = filter_only(chain("f", rule("notrack", "wrong table")))
    with pytest.raises(SimulationError) as err:
        simulate(rs, packet())
    assert str(err.value) == "filter f rule 0: notrack is only possible in the raw table"


def test_mark_value_outside_its_mask_is_refused():
    rs = filter_only(chain("f", rule("mark", "bad mark", value=0x3, mask=0x1)))
    with pytest.raises(SimulationError) as err:
        simulate(rs, packet())
    assert str(err.value) == "filter f rule 0: mark value 0x3 has bits outside its mask 0x1"


def nested(count):
    """``n0`` jumps ``n1`` jumps ... ``n<count-1>``, which accepts."""
    chains = [chain(f"n{i}", rule("jump", f"to n{i + 1}", f"n{i + 1}")) for i in range(count - 1)]
    return filter_only(*chains, chain(f"n{count - 1}", rule("accept", "deepest")))


LOOPS = [
    ("jump loop", (chain("a", rule("jump", "", "b")), chain("b", rule("jump", "", "a"))), "chain loop in the filter table: a -> b -> a"),
    ("goto loop", (chain("a", rule("goto", "", "b")), chain("b", rule("goto", "", "a"))), "chain loop in the filter table: a -> b -> a"),
    ("self goto", (chain("a", rule("goto", "", "a")),), "chain loop in the filter table: a -> a"),
    (
        "loop below the entry",
        (chain("a", rule("jump", "", "b")), chain("b", rule("goto", "", "c")), chain("c", rule("jump", "", "b"))),
        "chain loop in the filter table: b -> c -> b",
    ),
]


@pytest.mark.parametrize("chains, message", [c[1:] for c in LOOPS], ids=[c[0] for c in LOOPS])
def test_loops_are_refused(chains, message):
    with pytest.raises(SimulationError) as err:
        simulate(filter_only(*chains), packet())
    assert str(err.value) == message


def test_a_chain_visited_twice_without_a_loop_is_fine():
    rs = filter_only(
        chain("top", rule("jump", "first", "shared"), rule("jump", "second", "shared"), rule("accept", "twice", marks=(ir.MarkTest(0x2, 0x2),))),
        chain("shared", rule("mark", "second visit", value=0x2, mask=0x2, marks=(ir.MarkTest(0x1, 0x1),)), rule("mark", "first visit", value=0x1, mask=0x1)),
    )
    outcome = simulate(rs, packet())
    # 0x2 is set on the second visit by a conditional mark rule: that rule is its own cause
    assert outcome.decided_by == "second visit"
    assert outcome.decided_at == Step("filter", "shared", 0, "second visit", "mark", detail="set 0x2/0x2, mark is now 0x3")
    assert outcome.trace[-1] == Step("filter", "top", 2, "twice", "accept")


def test_depth_limit():
    assert simulate(nested(MAX_DEPTH), packet()).decided_by == "deepest"
    with pytest.raises(SimulationError) as err:
        simulate(nested(MAX_DEPTH + 1), packet())
    assert str(err.value) == f"the walk of the filter table went deeper than {MAX_DEPTH} chains at filter n63 rule 0 -> n64"


BROKEN = [
    (
        "jump to a missing chain",
        filter_only(chain("f", rule("jump", "", "gone"))),
        "filter f rule 0 targets chain 'gone', which the filter table does not have",
    ),
    (
        "hook to a missing chain",
        filter_only(chain("f"), hooks=(("filter", "INPUT", "gone"),)),
        "hook filter INPUT targets chain 'gone', which the filter table does not have",
    ),
    (
        "hook to a missing table",
        ruleset(4, filter_=(chain("f"),), hooks=(("raw", "PREROUTING", "f"),)),
        "hook raw PREROUTING -> f: the ruleset has no raw table",
    ),
    (
        "missing ipset",
        filter_only(chain("f", rule("accept", "", sets=(ir.SetRef("pal-s-gone", "src"),)))),
        "filter f rule 0 refers to ipset 'pal-s-gone', which the ruleset does not define",
    ),
    (
        "ipset of the other family",
        filter_only(chain("f", rule("accept", "", sets=(ir.SetRef("v6", "src"),))), ipsets=(ir.IpSet("v6", "hash:net", 6, (), ""),)),
        "filter f rule 0 refers to IPv6 ipset 'v6' in the IPv4 ruleset",
    ),
    ("unknown verdict", filter_only(chain("f", rule("allow", "typo"))), "filter f rule 0: unknown verdict 'allow'"),
    (
        "net of the other family",
        filter_only(chain("f", rule("accept", "", nets=(net("2001:db8::/32", "src"),)))),
        "filter f rule 0: network 2001:db8::/32 in the IPv4 ruleset",
    ),
]


@pytest.mark.parametrize("rs, message", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_rulesets(rs, message):
    with pytest.raises(SimulationError) as err:
        simulate(rs, packet())
    assert str(err.value) == message


# --- matches, one at a time -----------------------------------------------------------------

SETS = (
    ir.IpSet("mgmt", "hash:net", 4, (ir.NetMember(ipaddress.ip_network("198.51.100.0/24")), ir.NetMember(ipaddress.ip_network("10.9.0.0/16"))), ""),
    ir.IpSet(
        "ports",
        "hash:ip,port",
        4,
        (
            ir.IpPortMember(ipaddress.ip_network("203.0.113.1/32"), 6, 22),
            ir.IpPortMember(ipaddress.ip_network("198.51.100.7/32"), 6, 40000),
        ),
        "",
    ),
    ir.IpSet("ports6", "hash:ip,port", 6, (ir.IpPortMember(ipaddress.ip_network("2001:db8:2::1/128"), 17, 53),), ""),
)
OUTPUT = {"in_interface": None, "out_interface": "eth0"}
ICMP4 = {"protocol": 1, "src_port": None, "dst_port": None}
ICMP6 = {"src": V6_SRC, "dst": V6_DST, "protocol": 58, "src_port": None, "dst_port": None}
NO_DPORT = {"dst_port": None}


def no(**match):
    return ir.Match(**match)


# id, match, packet fields, matches
MATCHES = [
    ("empty match", no(), {}, True),
    ("in interface", no(in_interface=iface("eth0")), {}, True),
    ("in interface, other name", no(in_interface=iface("eth1")), {}, False),
    ("in interface name is not a prefix", no(in_interface=iface("eth")), {}, False),
    ("in interface prefix", no(in_interface=iface("eth+")), {}, True),
    ("in interface prefix, whole name", no(in_interface=iface("eth0+")), {}, True),
    ("in interface prefix, other", no(in_interface=iface("cali+")), {}, False),
    ("in interface prefix, workload", no(in_interface=iface("cali+")), {"in_interface": "cali7f3a"}, True),
    ("negated in interface", no(in_interface=iface("!eth1")), {}, True),
    ("negated in interface, same", no(in_interface=iface("!eth0")), {}, False),
    ("negated prefix", no(in_interface=iface("!eth+")), {}, False),
    ("out interface on a local delivery", no(out_interface=iface("eth0")), {}, False),
    ("negated out interface on a local delivery", no(out_interface=iface("!eth0")), {}, True),
    ("in interface on a sent packet", no(in_interface=iface("eth0")), OUTPUT, False),
    ("negated in interface on a sent packet", no(in_interface=iface("!eth0")), OUTPUT, True),
    ("out interface", no(out_interface=iface("eth0")), OUTPUT, True),
    ("both interfaces, forwarded", no(in_interface=iface("eth1"), out_interface=iface("eth0")), {"in_interface": "eth1", "out_interface": "eth0"}, True),
    ("protocol", no(protocol=6), {}, True),
    ("protocol, other", no(protocol=17), {}, False),
    ("negated protocol", no(protocol=17, protocol_negate=True), {}, True),
    ("negated protocol, same", no(protocol=6, protocol_negate=True), {}, False),
    ("source net", no(nets=(net("198.51.100.0/24", "src"),)), {}, True),
    ("destination net", no(nets=(net("198.51.100.0/24", "dst"),)), {}, False),
    ("negated destination net", no(nets=(net("198.51.100.0/24", "dst", negate=True),)), {}, True),
    ("negated source net", no(nets=(net("198.51.100.0/24", "src", negate=True),)), {}, False),
    ("host net", no(nets=(net("203.0.113.1/32", "dst"),)), {}, True),
    ("nets are AND-ed", no(nets=(net("198.51.100.0/24", "src"), net("203.0.113.0/24", "dst"))), {}, True),
    ("nets are AND-ed, one fails", no(nets=(net("198.51.100.0/24", "src"), net("203.0.113.128/25", "dst"))), {}, False),
    ("hash:net source", no(sets=(ir.SetRef("mgmt", "src"),)), {}, True),
    ("hash:net destination", no(sets=(ir.SetRef("mgmt", "dst"),)), {}, False),
    ("hash:net second member", no(sets=(ir.SetRef("mgmt", "dst"),)), {"dst": ipaddress.ip_address("10.9.3.4")}, True),
    ("negated hash:net", no(sets=(ir.SetRef("mgmt", "dst", negate=True),)), {}, True),
    ("hash:ip,port destination", no(sets=(ir.SetRef("ports", "dst"),)), {}, True),
    ("hash:ip,port source uses the source port", no(sets=(ir.SetRef("ports", "src"),)), {}, True),
    ("hash:ip,port other port", no(sets=(ir.SetRef("ports", "dst"),)), {"dst_port": 23}, False),
    ("hash:ip,port other protocol", no(sets=(ir.SetRef("ports", "dst"),)), {"protocol": 17}, False),
    ("hash:ip,port other address", no(sets=(ir.SetRef("ports", "dst"),)), {"dst": ipaddress.ip_address("203.0.113.2")}, False),
    ("negated hash:ip,port miss", no(sets=(ir.SetRef("ports", "dst", negate=True),)), {"dst_port": 23}, True),
    ("negated hash:ip,port hit", no(sets=(ir.SetRef("ports", "dst", negate=True),)), {}, False),
    ("hash:ip,port, port unknown", no(sets=(ir.SetRef("ports", "dst"),)), NO_DPORT, False),
    ("negated hash:ip,port, port unknown", no(sets=(ir.SetRef("ports", "dst", negate=True),)), NO_DPORT, False),
    ("hash:ip,port, protocol without ports", no(sets=(ir.SetRef("ports", "dst"),)), {**ICMP4, "icmp_type": 8}, False),
    ("negated hash:ip,port, protocol without ports", no(sets=(ir.SetRef("ports", "dst", negate=True),)), {**ICMP4, "icmp_type": 8}, True),
    ("IPv6 hash:ip,port", no(sets=(ir.SetRef("ports6", "dst"),)), {**ICMP6, "protocol": 17, "dst_port": 53}, True),
    ("destination port", no(dst_ports=ports(22)), {}, True),
    ("destination port list", no(dst_ports=ports(80, 22, 443)), {}, True),
    ("destination port range", no(dst_ports=ports((20, 30))), {}, True),
    ("range first", no(dst_ports=ports((22, 30))), {}, True),
    ("range last", no(dst_ports=ports((20, 22))), {}, True),
    ("range misses", no(dst_ports=ports((23, 30))), {}, False),
    ("negated destination port", no(dst_ports=ports(22, negate=True)), {}, False),
    ("negated destination port, other", no(dst_ports=ports(80, negate=True)), {}, True),
    ("negated range", no(dst_ports=ports((1, 1023), negate=True)), {}, False),
    ("port tests are AND-ed", no(dst_ports=ports((1, 100)) + ports(22, negate=True)), {}, False),
    ("port tests are AND-ed, both hold", no(dst_ports=ports((1, 100)) + ports(80, negate=True)), {}, True),
    ("source port", no(src_ports=ports((32768, 60999))), {}, True),
    ("source port is not the destination port", no(src_ports=ports(22)), {}, False),
    ("port 0", no(dst_ports=ports(0)), {"dst_port": 0}, True),
    ("port 65535", no(dst_ports=ports((1024, 65535))), {"dst_port": 65535}, True),
    ("unknown port: positive test", no(dst_ports=ports(22)), NO_DPORT, False),
    ("unknown port: negated test", no(dst_ports=ports(22, negate=True)), NO_DPORT, False),
    ("ICMP has no port: positive test", no(dst_ports=ports(22)), {**ICMP4, "icmp_type": 8}, False),
    ("ICMP has no port: negated test", no(dst_ports=ports(22, negate=True)), {**ICMP4, "icmp_type": 8}, False),
    ("ICMP type", no(icmp=ir.IcmpTest(8)), {**ICMP4, "icmp_type": 8}, True),
    ("ICMP type, any code", no(icmp=ir.IcmpTest(3)), {**ICMP4, "icmp_type": 3, "icmp_code": 13}, True),
    ("ICMP other type", no(icmp=ir.IcmpTest(8)), {**ICMP4, "icmp_type": 0}, False),
    ("ICMP type and code", no(icmp=ir.IcmpTest(3, 3)), {**ICMP4, "icmp_type": 3, "icmp_code": 3}, True),
    ("ICMP other code", no(icmp=ir.IcmpTest(3, 3)), {**ICMP4, "icmp_type": 3, "icmp_code": 1}, False),
    ("ICMP code 0", no(icmp=ir.IcmpTest(3, 0)), {**ICMP4, "icmp_type": 3, "icmp_code": 0}, True),
    ("negated ICMP type", no(icmp=ir.IcmpTest(8, negate=True)), {**ICMP4, "icmp_type": 0}, True),
    ("negated ICMP type, same", no(icmp=ir.IcmpTest(8, negate=True)), {**ICMP4, "icmp_type": 8}, False),
    ("negated ICMP type and code, other code", no(icmp=ir.IcmpTest(3, 3, negate=True)), {**ICMP4, "icmp_type": 3, "icmp_code": 1}, True),
    ("not_icmp beside icmp", no(icmp=ir.IcmpTest(3), not_icmp=ir.IcmpTest(3, 4, negate=True)), {**ICMP4, "icmp_type": 3, "icmp_code": 3}, True),
    ("not_icmp beside icmp, excluded", no(icmp=ir.IcmpTest(3), not_icmp=ir.IcmpTest(3, 4, negate=True)), {**ICMP4, "icmp_type": 3, "icmp_code": 4}, False),
    ("ICMP test on TCP", no(icmp=ir.IcmpTest(8)), {}, False),
    ("negated ICMP test on TCP", no(icmp=ir.IcmpTest(8, negate=True)), {}, False),
    ("ICMP type unknown", no(icmp=ir.IcmpTest(8)), ICMP4, False),
    ("negated ICMP type unknown", no(icmp=ir.IcmpTest(8, negate=True)), ICMP4, False),
    ("ICMP code unknown", no(icmp=ir.IcmpTest(3, 3)), {**ICMP4, "icmp_type": 3}, False),
    ("negated ICMP code unknown", no(icmp=ir.IcmpTest(3, 3, negate=True)), {**ICMP4, "icmp_type": 3}, False),
    ("ICMPv6 type", no(icmp=ir.IcmpTest(128)), {**ICMP6, "icmp_type": 128}, True),
    ("ICMPv6 other type", no(icmp=ir.IcmpTest(128)), {**ICMP6, "icmp_type": 129}, False),
    ("ICMPv6 type and code", no(icmp=ir.IcmpTest(1, 4)), {**ICMP6, "icmp_type": 1, "icmp_code": 4}, True),
    ("negated ICMPv6", no(icmp=ir.IcmpTest(135, negate=True)), {**ICMP6, "icmp_type": 128}, True),
    ("ICMP test on an IPv6 UDP packet", no(icmp=ir.IcmpTest(8)), {**ICMP6, "protocol": 17}, False),
    ("conntrack state", no(ct_states=("NEW",)), {}, True),
    ("conntrack states", no(ct_states=("RELATED", "ESTABLISHED")), {"ct_state": "RELATED"}, True),
    ("conntrack state, other", no(ct_states=("RELATED", "ESTABLISHED")), {}, False),
    ("negated conntrack state", no(ct_states=("RELATED", "ESTABLISHED"), ct_negate=True), {}, True),
    ("negated conntrack state, same", no(ct_states=("INVALID",), ct_negate=True), {"ct_state": "INVALID"}, False),
    ("untracked is no caller's state", no(ct_states=("UNTRACKED",)), {}, False),
    ("mark starts at 0", no(marks=(ir.MarkTest(0, 0xFFFFFFFF),)), {}, True),
    ("mark bit not set", no(marks=(ir.MarkTest(A, A),)), {}, False),
    ("negated mark bit", no(marks=(ir.MarkTest(A, A, negate=True),)), {}, True),
    ("mark tests are AND-ed", no(marks=(ir.MarkTest(0, A), ir.MarkTest(P, P))), {}, False),
    ("not DNAT'd", no(not_dnat=True), {}, True),
    ("not DNAT'd, but it was", no(not_dnat=True), {"dnat": True}, False),
    ("DNAT is ignored without the test", no(), {"dnat": True}, True),
    ("not a first SYN: a NEW TCP packet is one", no(protocol=6, not_syn=True), {}, False),
    ("not a first SYN: mid-stream NEW segment", no(protocol=6, not_syn=True), {"syn": False}, True),
    ("not a first SYN: ESTABLISHED", no(protocol=6, not_syn=True), {"ct_state": "ESTABLISHED"}, True),
    ("not a first SYN: a SYN whatever the state", no(protocol=6, not_syn=True), {"ct_state": "ESTABLISHED", "syn": True}, False),
    ("not a first SYN: UDP never matches the tcp rule", no(protocol=6, not_syn=True), {"protocol": 17}, False),
    ("every field must match", no(in_interface=iface("eth0"), protocol=6, dst_ports=ports(22), nets=(net("10.0.0.0/8", "src"),)), {}, False),
]


@pytest.mark.parametrize("match, fields, expected", [c[1:] for c in MATCHES], ids=[c[0] for c in MATCHES])
def test_match(match, fields, expected):
    probe = packet(**fields)
    hooks = tuple(("filter", builtin, "probe") for builtin in ("INPUT", "FORWARD", "OUTPUT"))
    ipsets = tuple(s for s in SETS if s.family == probe.family)
    rs = filter_only(chain("probe", ir.Rule(match, ir.Verdict("accept"), "hit")), family=probe.family, hooks=hooks, ipsets=ipsets)
    outcome = simulate(rs, probe)
    assert outcome.verdict == ("allow" if expected else "untouched")


# --- packets --------------------------------------------------------------------------------

BAD_PACKETS = [
    ("address as text", {"src": "198.51.100.7"}, "packet src must be an IPv4 or IPv6 address, got '198.51.100.7'"),
    ("no destination", {"dst": None}, "packet dst must be an IPv4 or IPv6 address, got None"),
    ("mixed families", {"dst": V6_DST}, "packet mixes IP families: src 198.51.100.7 is IPv4, dst 2001:db8:2::1 is IPv6"),
    (
        "no interface at all",
        {"in_interface": None},
        "packet has neither in_interface nor out_interface: give in_interface for a packet the host receives, "
        "out_interface for one it sends, or both for one it forwards",
    ),
    ("empty interface name", {"in_interface": ""}, "packet in_interface must be an interface name, got ''"),
    ("interface not a string", {"out_interface": 3}, "packet out_interface must be an interface name, got 3"),
    ("protocol 0", {"protocol": 0}, "packet protocol must be a number from 1 to 255, got 0"),
    ("protocol 256", {"protocol": 256}, "packet protocol must be a number from 1 to 255, got 256"),
    ("protocol as text", {"protocol": "tcp"}, "packet protocol must be a number from 1 to 255, got 'tcp'"),
    ("protocol as bool", {"protocol": True}, "packet protocol must be a number from 1 to 255, got True"),
    ("ICMPv6 in IPv4", {**ICMP4, "protocol": 58}, "packet protocol 58 is ICMPv6, which IPv4 does not carry: use ICMP (1)"),
    ("ICMP in IPv6", {**ICMP6, "protocol": 1}, "packet protocol 1 is ICMP, which IPv6 does not carry: use ICMPv6 (58)"),
    ("ports on ICMP", {**ICMP4, "dst_port": 22}, "packet has dst_port but protocol 1 has no ports (only TCP, UDP, DCCP, SCTP and UDPLite do)"),
    ("source port on GRE", {"protocol": 47, "dst_port": None}, "packet has src_port but protocol 47 has no ports (only TCP, UDP, DCCP, SCTP and UDPLite do)"),
    ("port too large", {"src_port": 70000}, "packet src_port must be a number from 0 to 65535, got 70000"),
    ("negative port", {"dst_port": -1}, "packet dst_port must be a number from 0 to 65535, got -1"),
    ("port as text", {"dst_port": "22"}, "packet dst_port must be a number from 0 to 65535, got '22'"),
    ("ICMP type on TCP", {"icmp_type": 8}, "packet has icmp_type but protocol 6 is not ICMP (1)"),
    ("ICMPv6 type on UDP", {**ICMP6, "protocol": 17, "icmp_type": 128}, "packet has icmp_type but protocol 17 is not ICMPv6 (58)"),
    ("ICMP code on TCP", {"icmp_code": 0}, "packet has icmp_code but protocol 6 is not ICMP (1)"),
    ("ICMP code without a type", {**ICMP4, "icmp_code": 0}, "packet has icmp_code but no icmp_type"),
    ("ICMP type too large", {**ICMP4, "icmp_type": 256}, "packet icmp_type must be a number from 0 to 255, got 256"),
    ("ICMP code negative", {**ICMP4, "icmp_type": 3, "icmp_code": -1}, "packet icmp_code must be a number from 0 to 255, got -1"),
    ("ct_state untracked", {"ct_state": "UNTRACKED"}, "packet ct_state must be one of NEW, ESTABLISHED, RELATED, INVALID, got 'UNTRACKED'"),
    ("ct_state lower case", {"ct_state": "new"}, "packet ct_state must be one of NEW, ESTABLISHED, RELATED, INVALID, got 'new'"),
    ("dnat not a bool", {"dnat": "yes"}, "packet dnat must be true or false, got 'yes'"),
    ("syn not a bool", {"syn": "yes"}, "packet syn must be true or false, and only for TCP (protocol 6), got 'yes' with protocol 6"),
    ("syn on UDP", {"protocol": 17, "syn": False}, "packet syn must be true or false, and only for TCP (protocol 6), got False with protocol 17"),
]


@pytest.mark.parametrize("fields, message", [c[1:] for c in BAD_PACKETS], ids=[c[0] for c in BAD_PACKETS])
def test_impossible_packets(fields, message):
    with pytest.raises(ValueError) as err:
        packet(**fields)
    assert str(err.value) == message


@pytest.mark.parametrize(
    "fields, family, direction",
    [
        ({}, 4, "input"),
        (OUTPUT, 4, "output"),
        ({"out_interface": "eth1"}, 4, "forward"),
        ({**ICMP6, "icmp_type": 128}, 6, "input"),
        ({"protocol": 132}, 4, "input"),
    ],
)
def test_possible_packets(fields, family, direction):
    probe = packet(**fields)
    probe.validate()
    assert (probe.family, probe.direction) == (family, direction)


def test_packet_of_the_other_family():
    with pytest.raises(ValueError) as err:
        simulate(RULESETS[4], packet(src=V6_SRC, dst=V6_DST))
    assert str(err.value) == "an IPv6 packet cannot be simulated on the IPv4 ruleset"


# --- explain and plain data ---------------------------------------------------------------------


@pytest.mark.parametrize("order", [(4, 6), (6, 4)])
def test_explain_picks_the_packets_family(order):
    rulesets = tuple(RULESETS[f] for f in order)
    v6 = explain(rulesets, host_packet(6, protocol="icmp", icmp_type="echo"))
    v4 = explain(rulesets, host_packet(4, src="attacker", src_port=S, dst_port=80))
    assert (v6.verdict, v4.verdict, v4.decided_by) == ("allow", "deny", "policy web ingress rule 0")


def test_explain_without_a_ruleset_of_the_family():
    with pytest.raises(ValueError) as err:
        explain((RULESETS[4], RULESETS[4]), host_packet(6, src_port=S, dst_port=22))
    assert str(err.value) == "no IPv6 ruleset to simulate the packet on"


def test_outcome_to_dict():
    rs = filter_only(
        chain("top", rule("jump", "to a", "a"), rule("accept", "a marked it", marks=marked(1))),
        chain("a", rule("mark", "a marks", value=1, mask=1)),
    )
    data = outcome_to_dict(simulate(rs, packet()))
    assert data == {
        "verdict": "allow",
        # a's mark rule is unconditional and a was entered by the jump "to a": that is the cause
        "decided_by": "to a",
        "decided_at": {"table": "filter", "chain": "top", "rule": 0, "comment": "to a", "action": "jump", "target": "a", "detail": None},
        "stages": [
            {"table": "raw", "chain": "PREROUTING", "result": "continue", "decided_by": None},
            {"table": "mangle", "chain": "PREROUTING", "result": "continue", "decided_by": None},
            {"table": "filter", "chain": "INPUT", "result": "accept", "decided_by": "to a"},
        ],
        "trace": [
            {"table": "filter", "chain": "INPUT", "rule": 0, "comment": "hook INPUT -> top (insert)", "action": "jump", "target": "top", "detail": None},
            {"table": "filter", "chain": "top", "rule": 0, "comment": "to a", "action": "jump", "target": "a", "detail": None},
            {"table": "filter", "chain": "a", "rule": 0, "comment": "a marks", "action": "mark", "target": None, "detail": "set 0x1/0x1, mark is now 0x1"},
            {"table": "filter", "chain": "a", "rule": None, "comment": "", "action": "fell off", "target": None, "detail": None},
            {"table": "filter", "chain": "top", "rule": 1, "comment": "a marked it", "action": "accept", "target": None, "detail": None},
        ],
        "report": [
            "verdict: allow, decided by: to a",
            "filter INPUT #0: jump top -- hook INPUT -> top (insert)",
            "filter top #0: jump a -- to a",
            "filter a #0: mark (set 0x1/0x1, mark is now 0x1) -- a marks",
            "filter a: fell off",
            "filter top #1: accept -- a marked it",
        ],
        "note": None,
    }
    assert json.loads(json.dumps(data)) == data


def test_outcome_to_dict_untouched():
    data = outcome_to_dict(simulate(RULESETS[4], host_packet(4, in_interface="eth1", src_port=S, dst_port=80)))
    assert (data["verdict"], data["decided_by"], data["decided_at"]) == ("untouched", None, None)
    assert [s["result"] for s in data["stages"]] == ["continue", "continue", "continue"]
    assert data["report"][-1] == "filter INPUT #0: returned pal-INPUT -- hook INPUT -> pal-INPUT (insert)"


def test_an_unmanaged_ruleset_leaves_every_packet_untouched_with_a_note():
    unmanaged = ir.Ruleset(6, (), (), (), managed=False)
    outcome = simulate(unmanaged, packet(src=V6_SRC, dst=V6_DST))
    assert outcome == Outcome(
        "untouched", None, None, (), (), note="IPv6 is not managed on this host: ipv6Support is false, so the kernel's other rules decide"
    )
