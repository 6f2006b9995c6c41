# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flow classes derived from two rulesets, and the flows whose verdict a change flips."""

from __future__ import annotations

import ipaddress
import re

import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.flow_record import set_members
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir, ir_json
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import render_files
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import flow_changes as fc
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import flow_report

DB = {"palisade_labels": {"role": "db"},
      "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.10", "2001:db8::10"]}]}
APP = {"palisade_labels": {"role": "app"},
       "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.20", "2001:db8::20"]}]}
OFFICE = [{"name": "office", "labels": {"zone": "office"}, "nets": ["203.0.113.0/28"]}]
END_OF_TIER = "end of tier: no policy allowed ingress on db1-eth0 (default deny)"


def compiled(ingress, egress=None, network_sets=()):
    policy = {"name": "db", "selector": "role == 'db'", "ingress": ingress}
    if egress is not None:
        policy["egress"] = egress
    shared = {"palisade_policies": [policy], "palisade_network_sets": list(network_sets)}
    index = FleetIndex(load_fleet([HostInput("db1", (), {**shared, **DB}), HostInput("app1", (), {**shared, **APP})]))
    return index, compile_host(index, "db1")


def changes(before, after, family=4, network_sets=()):
    """The change lines for db1 from the policy's rules ``before`` (None: no firewall) to ``after``."""
    index, new = compiled(*after, network_sets=network_sets)
    old = None if before is None else compiled(*before, network_sets=network_sets)[1].ruleset(family)
    local = fc.local_endpoints(item.endpoint for item in new.resolution.endpoints)
    found = fc.flow_changes(old, new.ruleset(family), local, fc.fleet_peers(index, "db1"))
    return [change.line(family) for change in found], fc.summary(found)


def allow_tcp(ports, source=None):
    rule = {"action": "Allow", "protocol": "TCP", "destination": {"ports": ports}}
    if source is not None:
        rule["source"] = source
    return rule


FROM_APP = {"selector": "role == 'app'"}

CASES = [
    (
        "a port range added",
        ([allow_tcp([5432], FROM_APP)],), ([allow_tcp([5432, "6000:6010"], FROM_APP)],), 4,
        [f"ingress eth0 from host app1 TCP 6000-6010: deny -> allow (was deny ({END_OF_TIER}); now allow (policy db ingress rule 0))"],
        "1 flow changes: 1 deny -> allow",
    ),
    (
        "the same in IPv6",
        ([allow_tcp([5432], FROM_APP)],), ([allow_tcp([5432, "6000:6010"], FROM_APP)],), 6,
        [f"ingress eth0 from host app1 TCP 6000-6010: deny -> allow (was deny ({END_OF_TIER}); now allow (policy db ingress rule 0))"],
        "1 flow changes: 1 deny -> allow",
    ),
    (
        "a port removed",
        ([allow_tcp([5432, 5433], FROM_APP)],), ([allow_tcp([5432], FROM_APP)],), 4,
        [f"ingress eth0 from host app1 TCP 5433: allow -> deny (was allow (policy db ingress rule 0); now deny ({END_OF_TIER}))"],
        "1 flow changes: 1 allow -> deny",
    ),
    (
        "the source widened to everyone: other hosts, network sets and anything else",
        ([allow_tcp([5432], FROM_APP)],), ([allow_tcp([5432])],), 4,
        # no rule names the network set: its addresses are in the same class as anything else
        [f"ingress eth0 from anything else (also network set office (203.0.113.0/28)) TCP 5432: deny -> allow (was deny ({END_OF_TIER}); "
         "now allow (policy db ingress rule 0))"],
        "1 flow changes: 1 deny -> allow",
    ),
    (
        "notNets cut a network out of an allow",
        ([allow_tcp([443])],), ([allow_tcp([443], {"notNets": ["203.0.113.0/28"]})],), 4,
        [f"ingress eth0 from network set office (203.0.113.0/28) TCP 443: allow -> deny (was allow (policy db ingress rule 0); now deny ({END_OF_TIER}))"],
        "1 flow changes: 1 allow -> deny",
    ),
    (
        "a network no inventory object holds is a peer of its own",
        ([allow_tcp([443])],), ([allow_tcp([443], {"nets": ["198.51.100.128/25"]})],), 4,
        [f"ingress eth0 from anything else (also host app1, network set office (203.0.113.0/28)) TCP 443: allow -> deny "
         f"(was allow (policy db ingress rule 0); now deny ({END_OF_TIER}))"],
        "1 flow changes: 1 allow -> deny",
    ),
    (
        "an ICMP type without a code: any code",
        ([allow_tcp([22])],), ([allow_tcp([22]), {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8}}],), 4,
        [f"ingress eth0 from anything else (also host app1, network set office (203.0.113.0/28)) ICMP type 8: deny -> allow "
         f"(was deny ({END_OF_TIER}); now allow (policy db ingress rule 1))"],
        "1 flow changes: 1 deny -> allow",
    ),
    (
        "an ICMP type and code: the other codes keep their verdict",
        ([allow_tcp([22], FROM_APP)],),
        ([allow_tcp([22], FROM_APP), {"action": "Allow", "protocol": "ICMP", "source": FROM_APP, "icmp": {"type": 3, "code": 4}}],), 4,
        [f"ingress eth0 from host app1 ICMP type 3 code 4: deny -> allow (was deny ({END_OF_TIER}); now allow (policy db ingress rule 1))"],
        "1 flow changes: 1 deny -> allow",
    ),
    (
        "a protocol by number, and the other protocols",
        ([allow_tcp([22], FROM_APP)],), ([allow_tcp([22], FROM_APP), {"action": "Allow", "protocol": 47, "source": FROM_APP}],), 4,
        [f"ingress eth0 from host app1 protocol 47: deny -> allow (was deny ({END_OF_TIER}); now allow (policy db ingress rule 1))"],
        "1 flow changes: 1 deny -> allow",
    ),
    (
        "an egress policy added: egress flows change",
        ([allow_tcp([22], FROM_APP)],), ([allow_tcp([22], FROM_APP)], [allow_tcp([443])]), 4,
        [f"egress eth0 to {peer} TCP 443: deny -> allow (was deny (no policy selects db1-eth0 for egress (default deny)); "
         "now allow (policy db egress rule 0))" for peer in ("anything else (also host app1, network set office (203.0.113.0/28))",)],
        "1 flow changes: 1 deny -> allow",  # app1's set is named only by ingress rules: not on the egress path
    ),
    (
        "a source port range: only the source ports it leaves out change",
        ([allow_tcp([5432], FROM_APP)],), ([allow_tcp([5432], {**FROM_APP, "ports": ["1024:65535"]})],), 4,
        [f"ingress eth0 from host app1 TCP 5432 (source ports 1-1023): allow -> deny (was allow (policy db ingress rule 0); now deny ({END_OF_TIER}))"],
        "1 flow changes: 1 allow -> deny",
    ),
    (
        "an Allow turned Deny with the same match: the rule in the same place decides otherwise",
        ([allow_tcp([5432], FROM_APP)],), ([{**allow_tcp([5432], FROM_APP), "action": "Deny"}],), 4,
        ["ingress eth0 from host app1 TCP 5432: allow -> deny (was allow (policy db ingress rule 0); now deny (policy db ingress rule 0))"],
        "1 flow changes: 1 allow -> deny",
    ),
    (
        "a rule replaced by one that matches more: only what the new one adds changes",
        ([allow_tcp([5432], FROM_APP)],), ([allow_tcp([5432, 5433], FROM_APP)],), 4,
        [f"ingress eth0 from host app1 TCP 5433: deny -> allow (was deny ({END_OF_TIER}); now allow (policy db ingress rule 0))"],
        "1 flow changes: 1 deny -> allow",
    ),
    (
        "a Log turned Deny: the rules after it no longer decide",
        ([{"action": "Log", "protocol": "TCP", "source": FROM_APP}, allow_tcp([5432], FROM_APP)],),
        ([{"action": "Deny", "protocol": "TCP", "source": FROM_APP}, allow_tcp([5432], FROM_APP)],), 4,
        ["ingress eth0 from host app1 TCP 5432: allow -> deny (was allow (policy db ingress rule 1); now deny (policy db ingress rule 0))"],
        "1 flow changes: 1 allow -> deny",
    ),
    (
        "notPorts: every port but those listed, less the failsafe ports (179, 2379-2380, 6666-6667) open before and after",
        ([allow_tcp([5432], FROM_APP)],),
        ([allow_tcp([5432], FROM_APP), {"action": "Allow", "protocol": "TCP", "source": FROM_APP, "destination": {"notPorts": [22]}}],), 4,
        [f"ingress eth0 from host app1 TCP {ports}: deny -> allow (was deny ({END_OF_TIER}); now allow (policy db ingress rule 1))"
         for ports in ("1-21", "23-178", "180-2378", "2381-5431", "5433-6665", "6668-65535")],
        "6 flows change: 6 deny -> allow",
    ),
    (
        "Pass and Log keep the verdict to what comes after them",
        ([allow_tcp([22], FROM_APP)],), ([{"action": "Log", "protocol": "TCP"}, allow_tcp([22], FROM_APP)],), 4,
        [],
        "no flow changes",
    ),
]


@pytest.mark.parametrize("name,before,after,family,lines,summary", CASES, ids=[c[0] for c in CASES])
def test_flow_changes(name, before, after, family, lines, summary):
    found, said = changes(before, after, family, OFFICE)
    assert (found, said) == (lines, summary)


def test_a_host_with_no_record_is_compared_with_no_firewall():
    found, said = changes(None, ([allow_tcp([5432], FROM_APP)],))
    assert "ingress eth0 from host app1 TCP 5432: untouched -> allow (was untouched; now allow (policy db ingress rule 0))" in found
    # failsafe ports cut the ranges: 6666 and 6667 are open
    assert f"ingress eth0 from host app1 TCP 5433-6665: untouched -> deny (was untouched; now deny ({END_OF_TIER}))" in found
    assert "ingress eth0 from host app1 TCP 6666: untouched -> allow (was untouched; now allow (failsafe inbound tcp 6666))" in found
    assert "ingress eth0 from host app1 TCP 22: untouched -> allow (was untouched; now allow (failsafe inbound tcp 22))" in found
    assert said.startswith(f"{len(found)} flows change: ")


def test_flow_changes_are_deterministic():
    first = changes(None, ([allow_tcp([5432, "7000:7100"], FROM_APP)],), network_sets=OFFICE)
    assert changes(None, ([allow_tcp([5432, "7000:7100"], FROM_APP)],), network_sets=OFFICE) == first


@pytest.mark.parametrize("cuts,intervals", [
    (set(), [(1, 65535)]),
    ({80, 81}, [(1, 79), (80, 80), (81, 65535)]),
    ({1, 2}, [(1, 1), (2, 65535)]),
    ({65535, 65536}, [(1, 65534), (65535, 65535)]),
    ({8000, 8101, 8050}, [(1, 7999), (8000, 8049), (8050, 8100), (8101, 65535)]),
])
def test_port_intervals(cuts, intervals):
    assert fc._intervals(cuts) == intervals  # pylint: disable=protected-access


def _rule(**match):
    return ir.Rule(ir.Match(**match), ir.Verdict("accept"), "r")


TCP_22 = _rule(protocol=6, dst_ports=(ir.Ports((ir.PortSpan(22, 22),)),))
FROM_1024 = _rule(protocol=17, src_ports=(ir.Ports((ir.PortSpan(1024, 65535),)),))
ECHO = _rule(protocol=1, icmp=ir.IcmpTest(8))
UNREACHABLE_4 = _rule(protocol=1, icmp=ir.IcmpTest(3, 4))
GRE = _rule(protocol=47)
OTHER = fc.PacketClasses.OTHER


@pytest.mark.parametrize("rules,service,src_port,found", [
    # port protocols: the lowest port of the destination and source ranges holding the packet's ports
    ([TCP_22], fc.Service(6, 22, 22), 40000, (6, 22, 1)),
    ([TCP_22], fc.Service(6, 23, 80), 40000, (6, 23, 1)),
    ([TCP_22], fc.Service(6, 1000, 2000), 40000, (6, 23, 1)),
    ([TCP_22], fc.Service(17, 53, 53), 40000, (17, 1, 1)),
    ([FROM_1024], fc.Service(17, 53, 53), 40000, (17, 1, 1024)),
    ([FROM_1024], fc.Service(17, 53, 53, src_first=1, src_last=1023), 40000, (17, 1, 1)),
    ([TCP_22], fc.Service(132, 22, 22), 40000, (132, 22, 40000, None, None)),  # SCTP, named by no rule: its own class
    # ICMP: a type a rule names; a code it names, or any other code; any type no rule names; and
    # whether the packet has a code (one without fails every test of a code, even a negated one)
    ([ECHO, UNREACHABLE_4], fc.Service(1, icmp_type=8), 40000, (1, 8, None, False)),
    ([ECHO, UNREACHABLE_4], fc.Service(1, icmp_type=8, icmp_code=0), 40000, (1, 8, None, True)),
    ([ECHO, UNREACHABLE_4], fc.Service(1, icmp_type=3, icmp_code=4), 40000, (1, 3, 4, True)),
    ([ECHO, UNREACHABLE_4], fc.Service(1, icmp_type=3, icmp_code=0), 40000, (1, 3, OTHER, True)),
    ([ECHO, UNREACHABLE_4], fc.Service(1, icmp_type=3), 40000, (1, 3, None, False)),
    ([ECHO, UNREACHABLE_4], fc.Service(1, icmp_type=0, icmp_code=0, other=True), 40000, (1, OTHER, None, True)),
    ([ECHO, UNREACHABLE_4], fc.Service(1, icmp_type=5), 40000, (1, OTHER, None, False)),
    ([TCP_22], fc.Service(1, icmp_type=8), 40000, (1, None, None, False)),  # no rule tests a type: every type alike
    # other protocols: one a rule names, or every other
    ([GRE], fc.Service(47), 40000, (47, None, 40000, None, None)),
    ([GRE], fc.Service(50), 40000, (OTHER,)),
    ([TCP_22], fc.Service(47), 40000, (OTHER,)),
    ([TCP_22], fc.Service(136), 40000, (136, None, 40000, None, None)),  # UDPLite: the simulator gives it ports
    ([TCP_22], fc.Service(33), 40000, (33, None, 40000, None, None)),  # DCCP too
])
def test_packet_classes(rules, service, src_port, found):
    cuts = fc.Cuts()
    for rule in rules:
        cuts.add_rule(rule)
    assert fc.PacketClasses(cuts, 4).of(service, src_port) == found


def test_cuts_of_several_rulesets_are_their_union():
    first, second = fc.Cuts(), fc.Cuts()
    first.add_rule(TCP_22)
    second.add_rule(ECHO)
    second.add_rule(FROM_1024)
    both = fc.Cuts()
    for rule in (TCP_22, ECHO, FROM_1024):
        both.add_rule(rule)
    first.update(second)
    assert first.fingerprint() == both.fingerprint()
    assert first.services(4) == both.services(4)
    assert fc.Cuts().fingerprint() != both.fingerprint()


def test_anything_else_is_outside_every_network_named():
    _index, result = compiled([allow_tcp([22], {"nets": ["203.0.113.0/24", "198.51.100.0/24", "100.64.0.0/10"]})])
    peers = fc.derive_peers([result.ruleset(4)], 4, [])
    other = peers[-1]
    assert other.name == "anything else"
    assert not any(other.address in ipaddress.ip_network(net) for net in ("203.0.113.0/24", "198.51.100.0/24", "100.64.0.0/10"))


def test_the_other_protocol_is_one_no_rule_names():
    _index, result = compiled([{"action": "Allow", "protocol": 2}, {"action": "Allow", "protocol": 3}])
    services = fc.derive_services([result.ruleset(4)], 4)
    assert [s.label(4) for s in services if s.protocol not in (6, 17)] == ["ICMP", "protocol 2", "protocol 3", "other protocols"]
    assert services[-1].protocol == 4


# -- the check-mode report: the host's flow record read back -----------------------------------


def fleet_of(app2_role):
    shared = {"palisade_policies": [{"name": "db", "selector": "role == 'db'", "ingress": [allow_tcp([5432], FROM_APP)]}]}
    app2 = {"palisade_labels": {"role": app2_role},
            "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.30", "2001:db8::30"]}]}
    hosts = [HostInput("db1", (), {**shared, **DB}), HostInput("app1", (), {**shared, **APP}), HostInput("app2", (), {**shared, **app2})]
    return compile_host(FleetIndex(load_fleet(hosts)), "db1")


def recorded(before, after):
    """What the host sends back: its record and the recorded sets that differ from the wanted ones."""
    old_sets = set_members(render_files(before.rulesets, host="db1")["ipsets.restore"])
    new_sets = set_members(render_files(after.rulesets, host="db1")["ipsets.restore"])
    return ir_json.dumps(before.rulesets), {name: members for name, members in old_sets.items() if new_sets.get(name) != members}


def test_a_set_whose_members_changed_is_read_from_the_host():
    before, after = fleet_of("batch"), fleet_of("app")
    text, sets = recorded(before, after)
    assert len(sets) == 2  # the selector's IPv4 and IPv6 sets, same names, new members
    result = flow_report.report(after, flow_report.FOUND, text, sets)
    assert result["summary"] == "2 flows change: 2 deny -> allow"
    assert [change["line"] for change in result["flow_changes"]] == [
        f"ingress eth0 from host app2 TCP 5432: deny -> allow (was deny ({END_OF_TIER}); now allow (policy db ingress rule 0))",
    ] * 2
    assert [(c["family"], c["peer_address"]) for c in result["flow_changes"]] == [(4, "198.51.100.30"), (6, "2001:db8::30")]
    assert result["text"].splitlines()[0] == "# flow changes on db1: 2 flows change: 2 deny -> allow"
    assert result["warning"] is None


def test_the_same_rules_change_no_flow():
    before = fleet_of("app")
    text, sets = recorded(before, before)
    assert sets == {}
    assert flow_report.report(before, flow_report.FOUND, text, sets)["summary"] == "no flow changes"


def test_a_host_that_never_applied_is_compared_with_no_firewall():
    result = flow_report.report(fleet_of("app"), flow_report.NEVER_APPLIED, None, {})
    assert result["summary"].endswith(" (nothing applied yet: compared with no firewall)")
    assert any(c["before"] == "untouched" and c["after"] == "deny" for c in result["flow_changes"])


@pytest.mark.parametrize("state,text,summary", [
    (flow_report.NO_FLOW_RECORD, None, flow_report.UNKNOWN),
    (flow_report.FOUND, '{"version": 7}', "flow changes unknown: flow record version 7, this collection reads 1"),
])
def test_a_record_that_is_missing_or_unreadable_says_so(state, text, summary):
    result = flow_report.report(fleet_of("app"), state, text, {})
    assert (result["flow_changes"], result["summary"], result["warning"]) == ([], summary, f"db1: {summary}")


def test_peers_in_the_same_sets_and_networks_are_one_class():
    def fleet(ports):
        shared = {"palisade_policies": [{"name": "db", "selector": "role == 'db'", "ingress": [allow_tcp(ports, FROM_APP)]}]}
        apps = [HostInput(f"app{n}", (), {**shared, "palisade_labels": {"role": "app"}, "palisade_host_endpoints": [
            {"interfaceName": "eth0", "expectedIPs": [f"198.51.100.{20 + n}"]}]}) for n in range(1, 6)]
        return compile_host(FleetIndex(load_fleet([HostInput("db1", (), {**shared, **DB}), *apps])), "db1")

    before, after = fleet([5432]), fleet([5432, 6000])
    text, sets = recorded(before, after)
    result = flow_report.report(after, flow_report.FOUND, text, sets)
    assert [c["line"] for c in result["flow_changes"]] == [
        "ingress eth0 from host app1, host app2, host app3 and 2 more TCP 6000: deny -> allow "
        f"(was deny ({END_OF_TIER}); now allow (policy db ingress rule 0))",
    ]


@pytest.mark.parametrize("old,new,ends", [
    ("abc", "abc", (3, 0)),
    ("abc", "xbc", (0, 2)),
    ("abc", "abx", (2, 0)),
    ("abc", "axc", (1, 1)),
    ("ab", "abc", (2, 0)),
    ("bc", "abc", (0, 2)),
    ("aba", "aa", (1, 1)),  # the end never overlaps the start
    ("", "a", (0, 0)),
])
def test_common_ends(old, new, ends):
    assert fc.common_ends(old, new) == ends


def test_too_many_flow_classes_are_not_compared_and_say_so(monkeypatch):
    before, after = fleet_of("batch"), fleet_of("app")
    text, sets = recorded(before, after)
    monkeypatch.setattr(flow_report, "CLASS_LIMIT", 1)
    result = flow_report.report(after, flow_report.FOUND, text, sets)
    assert result["flow_changes"] == []
    assert re.fullmatch(r"flow changes not computed: \d+ flow classes, more than the 1 a check compares per host", result["summary"])
    assert result["warning"] == f"db1: {result['summary']}"


def test_an_unchanged_family_is_not_simulated(monkeypatch):
    before = fleet_of("app")
    text, sets = recorded(before, before)
    monkeypatch.setattr(flow_report, "CLASS_LIMIT", 0)  # any class counted would refuse
    assert flow_report.report(before, flow_report.FOUND, text, sets)["summary"] == "no flow changes"


def test_peers_with_the_same_rules_on_the_path_are_one_class():
    """An ingress-only policy naming app1: on the egress path app1 is anything else."""
    policy = {"name": "db", "selector": "role == 'db'",
              "ingress": [{"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'app'"}, "destination": {"ports": [5432]}}]}
    hosts = [HostInput("db1", (), {"palisade_policies": [policy], "palisade_labels": {"role": "db"},
                                   "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.10"]}]}),
             HostInput("app1", (), {"palisade_policies": [policy], "palisade_labels": {"role": "app"},
                                    "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.20"]}]})]
    index = FleetIndex(load_fleet(hosts))
    ruleset = compile_host(index, "db1").ruleset(4)
    local = [fc.LocalEndpoint("eth0", (ipaddress.ip_address("198.51.100.10"),))]
    classes = fc.flow_classes([ruleset], 4, local, fc.fleet_peers(index, "db1"))
    ingress = {c.peer.name for c in classes if c.direction == fc.INGRESS}
    egress = {c.peer.name for c in classes if c.direction == fc.EGRESS}
    assert ingress == {"host app1", "anything else"}
    assert egress == {"anything else (also host app1)"}
    assert not any(c.service.first == 5432 for c in classes if c.direction == fc.EGRESS)  # the ingress rule is not on that path


# -- a router: forwarded traffic, doNotTrack and preDNAT ----------------------------------------

ROUTER_OPEN = {"name": "router-open", "selector": "role == 'router'", "order": 900, "ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]}
FORWARD_DB = {"name": "fwd", "selector": "role == 'router'", "order": 10, "applyOnForward": True, "ingress": [
    {"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'app'"}, "destination": {"selector": "role == 'db'", "ports": [5432]}}]}
UNTRACKED = {"name": "dnt", "selector": "role == 'router'", "order": 5, "doNotTrack": True, "applyOnForward": True,
             "ingress": [{"action": "Deny", "protocol": "UDP", "destination": {"ports": [161]}}]}
PRE_DNAT = {"name": "pre", "selector": "role == 'router'", "order": 5, "preDNAT": True, "applyOnForward": True,
            "ingress": [{"action": "Deny", "protocol": "TCP", "source": {"nets": ["198.51.100.20/32"]}, "destination": {"ports": [8080]}}]}
FORWARD_OPEN = "forwarded traffic is allowed: no applyOnForward policy selects r1-{out}"
EVERYONE = "anything else (also host app1, host db1)"


def router_changes(before, after):
    """The IPv4 change lines of router r1 (eth0 and eth1), from the policies ``before`` to ``after``."""
    def compiled_router(policies):
        shared = {"palisade_policies": policies}
        hosts = [
            HostInput("r1", (), {**shared, "palisade_labels": {"role": "router"}, "palisade_host_endpoints": [
                {"interfaceName": "eth0", "expectedIPs": ["198.51.100.1"]}, {"interfaceName": "eth1", "expectedIPs": ["203.0.113.1"]}]}),
            HostInput("app1", (), {**shared, "palisade_labels": {"role": "app"},
                                   "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.20"]}]}),
            HostInput("db1", (), {**shared, "palisade_labels": {"role": "db"},
                                  "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["203.0.113.10"]}]}),
        ]
        index = FleetIndex(load_fleet(hosts))
        return index, compile_host(index, "r1")

    index, new = compiled_router(after)
    old = compiled_router(before)[1]
    local = fc.local_endpoints(item.endpoint for item in new.resolution.endpoints)
    found = fc.flow_changes(old.ruleset(4), new.ruleset(4), local, fc.fleet_peers(index, "r1"))
    return [change.line(4) for change in found], fc.summary(found)


@pytest.mark.parametrize("policy,lines", [
    # In raw, replies to the outbound failsafe ports (UDP 53 and 67) skip untracked policy, as
    # in Felix: a datagram from those source ports is not denied by the doNotTrack rule.
    (UNTRACKED, [line for way, was in (
        ("ingress eth0 from", "policy router-open ingress rule 0"), ("ingress eth1 from", "policy router-open ingress rule 0"),
        (f"forward eth0 -> eth1 from {EVERYONE} to", FORWARD_OPEN.format(out="eth1")),
        (f"forward eth1 -> eth0 from {EVERYONE} to", FORWARD_OPEN.format(out="eth0")),
    ) for line in (f"{way} {EVERYONE} UDP 161 (source ports {sources}): allow -> deny (was allow ({was}); now deny (policy dnt ingress rule 0))"
                   for sources in ("1-52", "54-66", "68-65535"))]),
    (PRE_DNAT, [
        "ingress eth0 from host app1 TCP 8080: allow -> deny (was allow (policy router-open ingress rule 0); now deny (policy pre ingress rule 0))",
        "ingress eth1 from host app1 TCP 8080: allow -> deny (was allow (policy router-open ingress rule 0); now deny (policy pre ingress rule 0))",
        f"forward eth0 -> eth1 from host app1 to {EVERYONE} TCP 8080: allow -> deny "
        f"(was allow ({FORWARD_OPEN.format(out='eth1')}); now deny (policy pre ingress rule 0))",
        f"forward eth1 -> eth0 from host app1 to {EVERYONE} TCP 8080: allow -> deny "
        f"(was allow ({FORWARD_OPEN.format(out='eth0')}); now deny (policy pre ingress rule 0))",
    ]),
], ids=["doNotTrack", "preDNAT"])
def test_untracked_and_pre_dnat_policies_change_input_and_forwarded_flows(policy, lines):
    assert router_changes([ROUTER_OPEN], [ROUTER_OPEN, policy]) == (lines, f"{len(lines)} flows change: {len(lines)} allow -> deny")


def test_an_apply_on_forward_policy_closes_forwarding_but_what_it_allows():
    lines, said = router_changes([ROUTER_OPEN], [ROUTER_OPEN, FORWARD_DB])
    assert said == "26 flows change: 26 allow -> deny"
    assert all(line.startswith("forward ") for line in lines)  # the host's own traffic is unchanged
    end = "end of tier: no applyOnForward policy allowed forwarded ingress on r1-eth0"
    app_to_db = [line for line in lines if line.startswith("forward eth0 -> eth1 from host app1 to host db1 ")]
    assert app_to_db == [f"forward eth0 -> eth1 from host app1 to host db1 {service}: allow -> deny "
                         f"(was allow ({FORWARD_OPEN.format(out='eth1')}); now deny ({end}))"
                         for service in ("TCP 1-5431", "TCP 5433-65535", "UDP 1-65535", "ICMP", "other protocols")]
    assert (f"forward eth0 -> eth1 from anything else (also host db1) to {EVERYONE} TCP 1-65535: allow -> deny "
            f"(was allow ({FORWARD_OPEN.format(out='eth1')}); now deny ({end}))") in lines


def test_too_many_peer_pairs_to_forward_between_are_said(monkeypatch):
    monkeypatch.setattr(fc, "FORWARD_PAIRS", 3)
    notes = []
    _index, result = compiled([allow_tcp([22], FROM_APP)])
    local = [fc.LocalEndpoint("eth0", (ipaddress.ip_address("198.51.100.10"),)), fc.LocalEndpoint("eth1", (ipaddress.ip_address("203.0.113.9"),))]
    classes = fc.flow_classes([result.ruleset(4)], 4, local, [fc.Peer("host app1", ipaddress.ip_address("198.51.100.20"))], notes)
    assert not any(c.direction == fc.FORWARD for c in classes)
    assert notes == [f"IPv4 traffic forwarded from {a} to {b} not compared: 4 pairs of peer classes, more than the 3 a check tries"
                     for a, b in (("eth0", "eth1"), ("eth1", "eth0"))]
