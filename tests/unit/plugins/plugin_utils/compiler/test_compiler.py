# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compiler behaviour that golden files show only indirectly: family splitting, OR expansion,
named ports, warnings and errors naming the policy and rule."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import CompileError, compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import render_files
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.simulator import Packet, explain, outcome_to_dict


def compiled(policies, web_vars=None, others=()):
    shared = {"palisade_policies": policies}
    web = {
        **shared,
        "palisade_labels": {"role": "web"},
        "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.10", "2001:db8::10"]}],
        **(web_vars or {}),
    }
    hosts = [HostInput("web1", (), web)] + [HostInput(name, (), {**shared, **variables}) for name, variables in others]
    return compile_host(FleetIndex(load_fleet(hosts)), "web1")


def policy_rules(result, family, chain="pal-pi-p"):
    return result.ruleset(family).table("filter").chain(chain).rules


def ingress(*rules, **extra):
    return [{"name": "p", "selector": "role == 'web'", "ingress": list(rules), **extra}]


FAMILY_CASES = [
    ("no family constraint: both", {"action": "Allow", "protocol": "TCP"}, 1, 1),
    ("ipVersion 4", {"action": "Allow", "ipVersion": 4}, 1, 0),
    ("ipVersion 6", {"action": "Allow", "ipVersion": 6}, 0, 1),
    ("ICMP is IPv4 only", {"action": "Allow", "protocol": "ICMP"}, 1, 0),
    ("ICMPv6 is IPv6 only", {"action": "Allow", "protocol": "ICMPv6"}, 0, 1),
    ("IPv4 nets: IPv6 rule omitted", {"action": "Deny", "source": {"nets": ["203.0.113.0/24"]}}, 1, 0),
    ("IPv6 nets: IPv4 rule omitted", {"action": "Deny", "destination": {"nets": ["2001:db8::/64"]}}, 0, 1),
    ("IPv4 source notNets: IPv6 rule omitted", {"action": "Allow", "source": {"notNets": ["203.0.113.0/24"]}}, 1, 0),
    ("IPv6 source notNets: IPv4 rule omitted", {"action": "Deny", "source": {"notNets": ["2001:db8::/64"]}}, 0, 1),
    ("IPv4 destination notNets: IPv6 rule omitted", {"action": "Allow", "destination": {"notNets": ["203.0.113.0/24"]}}, 1, 0),
    ("IPv6 destination notNets: IPv4 rule omitted", {"action": "Deny", "destination": {"notNets": ["2001:db8::/64", "2001:db8:1::/64"]}}, 0, 1),
    ("IPv4 source nets and destination notNets",
     {"action": "Allow", "source": {"nets": ["203.0.113.0/24"]}, "destination": {"notNets": ["198.51.100.0/24"]}}, 1, 0),
    ("IPv6 destination nets and source notNets",
     {"action": "Allow", "source": {"notNets": ["2001:db8:1::/64"]}, "destination": {"nets": ["2001:db8::/64"]}}, 0, 1),
    ("IPv4 notNets with ipVersion 4", {"action": "Allow", "ipVersion": 4, "source": {"notNets": ["203.0.113.0/24"]}}, 1, 0),
    ("IPv6 notNets with ICMPv6", {"action": "Allow", "protocol": "ICMPv6", "destination": {"notNets": ["2001:db8::/64"]}}, 0, 1),
    ("selector: both families", {"action": "Allow", "source": {"selector": "role == 'db'"}}, 1, 1),
]


@pytest.mark.parametrize("rule, v4, v6", [c[1:] for c in FAMILY_CASES], ids=[c[0] for c in FAMILY_CASES])
def test_rules_are_written_per_family(rule, v4, v6):
    result = compiled(ingress(rule))
    assert (len(policy_rules(result, 4)), len(policy_rules(result, 6))) == (v4, v6)


NOT_NETS_WARNINGS = [
    ({"source": {"notNets": ["203.0.113.0/24"]}},
     "policy p ingress rule 0: source.notNets has no IPv6 entries, so the rule is left out of the IPv6 rules (as Felix does)"),
    ({"destination": {"notNets": ["2001:db8::/64"]}},
     "policy p ingress rule 0: destination.notNets has no IPv4 entries, so the rule is left out of the IPv4 rules (as Felix does)"),
]


@pytest.mark.parametrize("sides, warning", NOT_NETS_WARNINGS)
def test_notnets_of_one_family_leave_the_rule_out_of_the_other_with_a_warning(sides, warning):
    result = compiled(ingress({"action": "Allow", **sides}))
    assert result.warnings == (warning,)


def test_notnets_keep_their_negation_in_their_own_family():
    result = compiled(ingress({"action": "Allow", "source": {"notNets": ["203.0.113.0/24"]}}))
    assert policy_rules(result, 6) == ()
    assert policy_rules(result, 4)[0].match.nets == (ir.NetMatch(ipaddress.ip_network("203.0.113.0/24"), "src", negate=True),)


def test_positive_nets_of_the_other_family_leave_the_rule_out_silently():
    result = compiled(ingress({"action": "Allow", "source": {"nets": ["203.0.113.0/24"]}}))
    assert (len(policy_rules(result, 4)), policy_rules(result, 6), result.warnings) == (1, (), ())


def test_ipv6_traffic_is_not_allowed_by_an_ipv4_notnets_rule():
    """The case that made allow-all on IPv6: explain now reaches the end of the tier instead."""
    result = compiled(ingress({"action": "Allow", "protocol": "TCP", "source": {"notNets": ["203.0.113.0/24"]}}))
    packet = Packet(ipaddress.ip_address("2001:db8::99"), ipaddress.ip_address("2001:db8::10"), 6, 40000, 8080, in_interface="eth0")
    assert explain(result.rulesets, packet).verdict == "deny"
    packet4 = Packet(ipaddress.ip_address("198.51.100.99"), ipaddress.ip_address("198.51.100.10"), 6, 40000, 8080, in_interface="eth0")
    assert explain(result.rulesets, packet4).verdict == "allow"


def test_more_than_15_port_slots_split_into_rules():
    ports = list(range(1000, 1012)) + ["2000:2010", "3000:3010"]  # 12 + 2 + 2 = 16 slots
    (first, second) = policy_rules(compiled(ingress({"action": "Allow", "protocol": "TCP", "destination": {"ports": ports}})), 4)
    assert [len(p.spans) for p in first.match.dst_ports] == [13]
    assert [s.first for s in second.match.dst_ports[0].spans] == [3000]
    assert (first.comment, second.comment) == ("policy p ingress rule 0 part 0", "policy p ingress rule 0 part 1")


def test_notports_past_15_slots_stay_in_one_rule():
    ports = list(range(1000, 1020))
    (rule,) = policy_rules(compiled(ingress({"action": "Deny", "protocol": "UDP", "destination": {"notPorts": ports}})), 4)
    assert [(len(p.spans), p.negate) for p in rule.match.dst_ports] == [(15, True), (5, True)]


def test_several_nets_become_one_set_and_adjacent_nets_merge():
    nets = ["198.51.100.0/25", "198.51.100.128/25", "203.0.113.0/24"]
    result = compiled(ingress({"action": "Allow", "source": {"nets": nets}}))
    (rule,) = policy_rules(result, 4)
    (ref,) = rule.match.sets
    members = [str(m.net) for m in result.ruleset(4).ipset(ref.name).members]
    assert members == ["198.51.100.0/24", "203.0.113.0/24"]
    assert ref.name.startswith("pal-n4-")


NAMED = {
    "palisade_labels": {"role": "db"},
    "palisade_host_endpoints": [
        {
            "interfaceName": "eth0",
            "expectedIPs": ["198.51.100.20", "2001:db8::20"],
            "ports": [{"name": "pg", "protocol": "TCP", "port": 5432}, {"name": "pg", "protocol": "UDP", "port": 5433}],
        }
    ],
}


def test_named_and_numeric_ports_are_alternatives():
    policy = [
        {
            "name": "p",
            "selector": "role == 'web'",
            "egress": [{"action": "Allow", "protocol": "TCP", "destination": {"selector": "role == 'db'", "ports": [80, "pg"]}}],
        }
    ]
    result = compiled(policy, others=[("db1", NAMED)])
    numeric, named = result.ruleset(4).table("filter").chain("pal-po-p").rules
    assert numeric.match.dst_ports == (ir.Ports((ir.PortSpan(80, 80),)),)
    port_set = result.ruleset(4).ipset(named.match.sets[-1].name)
    assert port_set.kind == "hash:ip,port"
    assert port_set.members == (ir.IpPortMember(ipaddress.ip_network("198.51.100.20/32"), 6, 5432),)
    assert result.warnings == ()


def pg_egress(**rule):
    return [{"name": "p", "selector": "role == 'web'", "egress": [{"action": "Allow", "destination": {"selector": "role == 'db'", "ports": ["pg"]}, **rule}]}]


NAMED_PROTOCOLS = [
    # (id, rule fields, protocol of the rule, members (protocol, port) for db1's address)
    ("no protocol: each endpoint port with its own", {}, None, [(6, 5432), (17, 5433)]),
    ("TCP by name", {"protocol": "TCP"}, 6, [(6, 5432)]),
    ("UDP by number", {"protocol": 17}, 17, [(17, 5433)]),
    ("SCTP: no such endpoint port", {"protocol": "SCTP"}, 132, []),
]


@pytest.mark.parametrize("rule, protocol, members", [c[1:] for c in NAMED_PROTOCOLS], ids=[c[0] for c in NAMED_PROTOCOLS])
def test_named_port_set_members_carry_their_protocol(rule, protocol, members):
    result = compiled(pg_egress(**rule), others=[("db1", NAMED)])
    for family, address in ((4, "198.51.100.20/32"), (6, "2001:db8::20/128")):
        (only,) = result.ruleset(family).table("filter").chain("pal-po-p").rules
        assert only.match.protocol == protocol
        port_set = result.ruleset(family).ipset(only.match.sets[-1].name)
        assert port_set.members == tuple(ir.IpPortMember(ipaddress.ip_network(address), p, n) for p, n in members)


def test_named_ports_without_protocol_exact_set_and_rule():
    result = compiled(pg_egress(), others=[("db1", NAMED)])
    (only,) = result.ruleset(4).table("filter").chain("pal-po-p").rules
    port_set = result.ruleset(4).ipset(only.match.sets[1].name)
    assert (port_set.comment, only.comment, result.warnings) == ('named ports pg/any protocol of role == "db"', "policy p egress rule 0", ())
    assert only.match == ir.Match(sets=(ir.SetRef(only.match.sets[0].name, "dst"), ir.SetRef(port_set.name, "dst")))


def test_a_named_port_nobody_declares_without_protocol_warns():
    result = compiled(ingress({"action": "Allow", "source": {"notPorts": ["http"]}}), others=[("db1", NAMED)])
    assert result.warnings == (
        "policy p ingress rule 0: named port 'http' (any protocol) is declared by no endpoint the rule's src side matches; it matches nothing",
    )


def test_a_named_port_nobody_declares_warns_naming_policy_and_rule():
    policy = ingress({"action": "Allow", "protocol": "TCP", "destination": {"ports": ["http"]}})
    result = compiled(policy, others=[("db1", NAMED)])
    assert result.warnings == (
        "policy p ingress rule 0: named port 'http' (TCP) is declared by no endpoint the rule's dst side matches; it matches nothing",
    )


def test_protocol_and_the_same_notprotocol_warn():
    result = compiled(ingress({"action": "Allow", "protocol": "TCP", "notProtocol": "TCP"}))
    assert policy_rules(result, 4) == ()
    assert result.warnings == ("policy p ingress rule 0: protocol TCP and notProtocol TCP exclude each other; the rule matches nothing",)


def test_endpoint_without_interface_is_a_compile_error():
    with pytest.raises(CompileError) as info:
        compiled([], web_vars={"palisade_host_endpoints": [{"name": "by-ip", "expectedIPs": ["198.51.100.10"]}]})
    assert str(info.value) == (
        "host web1: endpoint 'by-ip' (host web1: palisade_host_endpoints[0] (by-ip)) has no interfaceName; endpoints "
        "found by expectedIPs alone are not supported: give its interfaceName"
    )


def test_do_not_track_on_the_wildcard_endpoint_is_ignored_with_a_warning():
    policy = [{"name": "dnt", "selector": "role == 'web'", "doNotTrack": True, "applyOnForward": True, "ingress": [{"action": "Allow"}]}]
    result = compiled(policy, web_vars={"palisade_host_endpoints": [{"interfaceName": "*"}]})
    assert result.ruleset(4).table("raw") is None
    assert result.warnings == ("policy dnt: doNotTrack policies do not apply to the '*' endpoint web1-all; ignored there",)


def test_tables_and_hooks_only_where_needed():
    plain = compiled(ingress({"action": "Allow"}))
    assert [t.name for t in plain.ruleset(4).tables] == ["filter"]
    assert [(h.table, h.builtin, h.target, h.position) for h in plain.ruleset(4).hooks] == [
        ("filter", "INPUT", "pal-INPUT", "insert"),
        ("filter", "FORWARD", "pal-FORWARD", "insert"),
        ("filter", "OUTPUT", "pal-OUTPUT", "insert"),
    ]
    prednat = compiled(ingress({"action": "Allow"}, preDNAT=True, applyOnForward=True), web_vars={"palisade_chain_insert_mode": "append"})
    assert [t.name for t in prednat.ruleset(6).tables] == ["mangle", "filter"]
    assert {h.position for h in prednat.ruleset(6).hooks} == {"append"}


def test_host_without_endpoints_owns_nothing():
    result = compiled([], web_vars={"palisade_host_endpoints": []})
    assert result.rulesets == (ir.Ruleset(4, (), (), ()), ir.Ruleset(6, (), (), ()))


def test_compiling_twice_gives_identical_rulesets():
    policy = ingress({"action": "Allow", "source": {"selector": "role == 'db'"}, "protocol": "TCP", "destination": {"ports": [1, 2, 3]}})
    assert compiled(policy, others=[("db1", NAMED)]).rulesets == compiled(policy, others=[("db1", NAMED)]).rulesets


def test_sctp_and_port_zero_failsafe_entries_render():
    from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import render_ruleset

    failsafe = [{"protocol": "sctp", "port": 5000}, {"protocol": "tcp", "port": 0, "net": ""}]
    result = compiled(ingress({"action": "Allow"}), web_vars={"palisade_failsafe_inbound_host_ports": failsafe})
    text = render_ruleset(result.ruleset(4), host="web1")
    failsafe_lines = [line for line in text.splitlines() if line.startswith("-A pal-failsafe-in ")]
    assert len(failsafe_lines) == 2
    assert failsafe_lines == [
        '-A pal-failsafe-in -p sctp -m comment --comment "failsafe inbound sctp 5000" -m sctp --dport 5000 -j ACCEPT',
        '-A pal-failsafe-in -p tcp -m comment --comment "failsafe inbound tcp 0" -m tcp --dport 0 -j ACCEPT',
    ]


# --- ipv6Support: false -------------------------------------------------------------------------

NO_IPV6_POLICY = ingress({"action": "Allow", "protocol": "TCP", "destination": {"ports": [443]}})
FELIX_NO_IPV6 = {"apiVersion": "projectcalico.org/v3", "kind": "FelixConfiguration", "metadata": {"name": "node.web1"}, "spec": {"ipv6Support": False}}
IPV6_OFF = [
    ("host variable", {"palisade_ipv6_support": False}),
    ("FelixConfiguration of the node", {"palisade_resources": [FELIX_NO_IPV6]}),
]


@pytest.mark.parametrize("web_vars", [c[1] for c in IPV6_OFF], ids=[c[0] for c in IPV6_OFF])
def test_ipv6_support_false_leaves_an_empty_unmanaged_ipv6_ruleset(web_vars):
    result = compiled(NO_IPV6_POLICY, web_vars=web_vars)
    assert result.ruleset(6) == ir.Ruleset(6, (), (), (), result.ruleset(6).warnings, managed=False)
    assert result.ruleset(4) == compiled(NO_IPV6_POLICY).ruleset(4)
    assert result.ruleset(4).managed is True


def test_ipv6_support_false_renders_an_ipv6_file_that_owns_nothing():
    files = render_files(compiled(NO_IPV6_POLICY, web_vars={"palisade_ipv6_support": False}).rulesets, host="web1")
    assert files["ipv6.rules"] == (
        "# Generated by palisade.firewall for host web1: IPv6 rules for ip6tables-restore --noflush.\n"
        "# Do not edit: the next run replaces this file.\n"
    )
    assert files["ipv4.rules"] == render_files(compiled(NO_IPV6_POLICY).rulesets, host="web1")["ipv4.rules"]


def test_ipv6_support_true_is_the_default():
    assert compiled(NO_IPV6_POLICY, web_vars={"palisade_ipv6_support": True}).rulesets == compiled(NO_IPV6_POLICY).rulesets


def test_ipv6_support_false_explains_ipv6_as_untouched_and_ipv4_as_before():
    result = compiled(NO_IPV6_POLICY, web_vars={"palisade_ipv6_support": False})
    v6 = Packet(ipaddress.ip_address("2001:db8::99"), ipaddress.ip_address("2001:db8::10"), 6, src_port=40000, dst_port=80, in_interface="eth0")
    assert outcome_to_dict(explain(result.rulesets, v6)) == {
        "verdict": "untouched",
        "decided_by": None,
        "decided_at": None,
        "stages": [],
        "trace": [],
        "note": "IPv6 is not managed on this host: ipv6Support is false, so the kernel's other rules decide",
        "report": ["verdict: untouched (IPv6 is not managed on this host: ipv6Support is false, so the kernel's other rules decide)"],
    }
    v4 = Packet(ipaddress.ip_address("203.0.113.9"), ipaddress.ip_address("198.51.100.10"), 6, src_port=40000, dst_port=80, in_interface="eth0")
    outcome = explain(result.rulesets, v4)
    assert (outcome.verdict, outcome.decided_by, outcome.note) == ("deny", "end of tier: no policy allowed ingress on web1-eth0 (default deny)", None)


WEB_TO_DB = [
    # (id, protocol, dst port, verdict, decided by) for a packet web1 -> db1 leaving by eth0
    ("TCP to the TCP pg port", 6, 5432, "allow", "policy p egress rule 0"),
    ("UDP to the UDP pg port", 17, 5433, "allow", "policy p egress rule 0"),
    ("UDP to the TCP pg port", 17, 5432, "deny", "end of tier: no policy allowed egress on web1-eth0 (default deny)"),
    ("SCTP to the TCP pg port", 132, 5432, "deny", "end of tier: no policy allowed egress on web1-eth0 (default deny)"),
]


@pytest.mark.parametrize("protocol, port, verdict, decided_by", [c[1:] for c in WEB_TO_DB], ids=[c[0] for c in WEB_TO_DB])
def test_named_ports_without_protocol_explained(protocol, port, verdict, decided_by):
    result = compiled(pg_egress(), others=[("db1", NAMED)])
    for src, dst in (("198.51.100.10", "198.51.100.20"), ("2001:db8::10", "2001:db8::20")):
        packet = Packet(ipaddress.ip_address(src), ipaddress.ip_address(dst), protocol, src_port=40000, dst_port=port, out_interface="eth0")
        outcome = explain(result.rulesets, packet)
        assert (outcome.verdict, outcome.decided_by) == (verdict, decided_by)


def without_comments(result):
    """Both families' rulesets with rule and set comments blanked (a comment may spell the
    protocol as the user did); everything that decides traffic is kept."""
    shapes = []
    for family in (4, 6):
        ruleset = result.ruleset(family)
        for table in ruleset.tables:
            for chain in table.chains:
                shapes.append((family, table.name, chain.name, tuple((r.match, r.verdict) for r in chain.rules)))
        shapes += [(family, s.name, s.kind, s.members) for s in ruleset.ipsets]
    return shapes


PROTOCOL_SPELLINGS = [
    # (id, name, number, rule fields besides the protocol)
    ("TCP named port", "TCP", 6, {"destination": {"selector": "role == 'db'", "ports": ["pg"]}}),
    ("UDP named port in notPorts", "UDP", 17, {"destination": {"selector": "role == 'db'", "notPorts": ["pg"]}}),
    ("TCP numeric ports and range", "TCP", 6, {"destination": {"ports": [80, "8000:8100"]}}),
    ("SCTP port", "SCTP", 132, {"destination": {"ports": [3868]}}),
    ("UDPLite with nets", "UDPLite", 136, {"destination": {"nets": ["203.0.113.0/24"]}}),
    ("ICMP type and code", "ICMP", 1, {"icmp": {"type": 3, "code": 4}}),
    ("ICMPv6 notICMP", "ICMPv6", 58, {"notICMP": {"type": 128}}),
    ("ICMP alone: IPv4 only", "ICMP", 1, {}),
]


@pytest.mark.parametrize("name, number, fields", [c[1:] for c in PROTOCOL_SPELLINGS], ids=[c[0] for c in PROTOCOL_SPELLINGS])
@pytest.mark.parametrize("spelling", ["int", "str"])
def test_a_protocol_number_means_its_name(name, number, fields, spelling):
    def policy(protocol):
        return [{"name": "p", "selector": "role == 'web'", "egress": [{"action": "Allow", "protocol": protocol, **fields}]}]

    by_name = compiled(policy(name), others=[("db1", NAMED)])
    by_number = compiled(policy(number if spelling == "int" else str(number)), others=[("db1", NAMED)])
    assert without_comments(by_number) == without_comments(by_name)
    assert by_number.warnings == by_name.warnings


@pytest.mark.parametrize("protocol", ["TCP", 6, "6"])
def test_a_named_port_by_protocol_number_is_explained_as_allowed(protocol):
    result = compiled(pg_egress(protocol=protocol), others=[("db1", NAMED)])
    packet = Packet(ipaddress.ip_address("198.51.100.10"), ipaddress.ip_address("198.51.100.20"), 6, 40000, 5432, out_interface="eth0")
    outcome = explain(result.rulesets, packet)
    assert (outcome.verdict, outcome.decided_by, result.warnings) == ("allow", "policy p egress rule 0", ())
