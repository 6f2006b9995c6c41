# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: inventory -> compiler -> simulator, against Calico's decision procedure.

The expected verdicts come from calico-semantics.md (i) and DESIGN §4, not from reading the
compiler's output, so that these cases check the compiler through the simulator.
"""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.simulator import Packet, explain

POLICIES = [
    {
        "name": "web-ingress",
        "selector": "role == 'web'",
        "order": 10,
        "ingress": [
            {"action": "Deny", "protocol": "TCP", "source": {"nets": ["203.0.113.66/32"]}},
            {"action": "Allow", "protocol": "TCP", "destination": {"ports": [80, 443]}},
            {"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'admin'"}, "destination": {"ports": [8443]}},
            {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8}},
            {"action": "Allow", "protocol": "ICMPv6", "icmp": {"type": 128}},
            {"action": "Allow", "protocol": "UDP", "source": {"selector": "zone == 'office'"}, "destination": {"ports": ["5000:5100"]}},
            {"action": "Log", "protocol": "TCP", "destination": {"ports": [8080]}},
            {"action": "Pass", "protocol": "TCP", "source": {"nets": ["198.51.100.77/32"]}, "destination": {"ports": [10250]}},
        ],
        "egress": [
            {"action": "Allow", "protocol": "TCP", "destination": {"selector": "role == 'db'", "ports": ["metrics"]}},
            {"action": "Allow", "protocol": "UDP", "destination": {"ports": [53]}},
        ],
    },
    {
        "name": "web-dnt",
        "selector": "role == 'web'",
        "order": 1,
        "doNotTrack": True,
        "applyOnForward": True,
        "ingress": [
            {"action": "Allow", "protocol": "UDP", "source": {"nets": ["198.51.100.0/24"]}, "destination": {"ports": [4789]}},
            {"action": "Deny", "protocol": "TCP", "destination": {"ports": [6379]}},
        ],
    },
    {
        "name": "web-prednat",
        "selector": "role == 'web'",
        "order": 1,
        "preDNAT": True,
        "applyOnForward": True,
        "ingress": [
            {"action": "Deny", "protocol": "TCP", "source": {"notSelector": "role == 'admin'"}, "destination": {"ports": ["30000:32767"]}},
            {"action": "Allow", "protocol": "TCP", "destination": {"ports": ["30000:32767"]}},
        ],
    },
    {
        "name": "router-fwd",
        "selector": "role == 'router'",
        "order": 5,
        "applyOnForward": True,
        "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}],
    },
    {
        "name": "last-resort",
        "selector": "all()",
        "ingress": [{"action": "Allow", "protocol": "TCP", "source": {"nets": ["198.51.100.0/24"]}, "destination": {"ports": [10250]}}],
    },
]
NETWORK_SETS = [{"name": "office", "labels": {"zone": "office"}, "nets": ["203.0.113.0/24", "2001:db8:200::/48"]}]


def endpoint(interface, *addresses, **extra):
    return {"interfaceName": interface, "expectedIPs": list(addresses), **extra}


HOSTS = {
    "web-1": {
        "palisade_labels": {"role": "web"},
        "palisade_host_endpoints": [endpoint("eth0", "198.51.100.10", "2001:db8:100::10")],
    },
    "admin-1": {
        "palisade_labels": {"role": "admin"},
        "palisade_host_endpoints": [endpoint("eth0", "198.51.100.50", "2001:db8:100::50")],
        "palisade_chain_insert_mode": "append",
    },
    "db-1": {
        "palisade_labels": {"role": "db"},
        "palisade_host_endpoints": [
            endpoint("eth0", "198.51.100.20", "2001:db8:100::20", ports=[{"name": "metrics", "protocol": "TCP", "port": 9100}])
        ],
    },
    "router-1": {
        "palisade_labels": {"role": "router"},
        "palisade_host_endpoints": [endpoint("eth0", "198.51.100.1"), endpoint("eth1", "203.0.113.1")],
    },
    "edge-1": {"palisade_labels": {"role": "edge"}, "palisade_auto_host_endpoint": True, "ansible_host": "198.51.100.30"},
}


def build():
    shared = {"palisade_policies": POLICIES, "palisade_network_sets": NETWORK_SETS}
    fleet = load_fleet([HostInput(name, (), {**shared, **variables}) for name, variables in HOSTS.items()])
    index = FleetIndex(fleet)
    return {name: compile_host(index, name) for name in HOSTS}


COMPILED = build()

WEB, ADMIN, DB, EDGE = "198.51.100.10", "198.51.100.50", "198.51.100.20", "198.51.100.30"
WEB6, ADMIN6, DB6 = "2001:db8:100::10", "2001:db8:100::50", "2001:db8:100::20"
OFFICE, OFFICE6, OUTSIDER, OUTSIDER6 = "203.0.113.9", "2001:db8:200::9", "198.18.0.9", "2001:db8:300::9"
ATTACKER, ATTACKER6 = "203.0.113.66", "2001:db8:200::66"


def packet(src, dst, protocol="tcp", *, into="eth0", out=None, **fields):
    """``into`` None: the host sends it; ``out`` None: delivered to the host."""
    family = ipaddress.ip_address(src).version
    number = {"tcp": 6, "udp": 17, "icmp": 1 if family == 4 else 58}[protocol]
    if number in (6, 17):
        fields.setdefault("src_port", 40000)
    return Packet(
        src=ipaddress.ip_address(src),
        dst=ipaddress.ip_address(dst),
        protocol=number,
        in_interface=into,
        out_interface=out,
        **fields,
    )


def deny_end(host, direction="ingress"):
    return f"end of tier: no policy allowed {direction} on {host}-eth0 (default deny)"


BY_POLICY = "allowed by policy"
EARLIER = "allowed by an earlier stage (doNotTrack or preDNAT policy)"
EST = "conntrack: established or related flow"
FORWARDED = "forwarded traffic allowed"

# id, host, packet, verdict, decided_by, a comment the trace must contain (or None)
CASES = [
    # web-1: normal ingress policy
    ("failsafe ssh", "web-1", packet(OUTSIDER, WEB, dst_port=22), "allow", "failsafe inbound tcp 22", None),
    ("failsafe ssh from a denied source", "web-1", packet(ATTACKER, WEB, dst_port=22), "allow", "failsafe inbound tcp 22", None),
    ("Deny by source net", "web-1", packet(ATTACKER, WEB, dst_port=80), "deny", "policy web-ingress ingress rule 0", None),
    (
        "IPv4 Deny not rendered in IPv6",
        "web-1",
        packet(ATTACKER6, WEB6, dst_port=80),
        "allow",
        "policy web-ingress ingress rule 1",
        "policy web-ingress ingress rule 1",
    ),
    ("Allow by port", "web-1", packet(OUTSIDER, WEB, dst_port=443), "allow", "policy web-ingress ingress rule 1", "policy web-ingress ingress rule 1"),
    ("Allow by selector", "web-1", packet(ADMIN, WEB, dst_port=8443), "allow", "policy web-ingress ingress rule 2", "policy web-ingress ingress rule 2"),
    (
        "Allow by selector, IPv6",
        "web-1",
        packet(ADMIN6, WEB6, dst_port=8443),
        "allow",
        "policy web-ingress ingress rule 2",
        "policy web-ingress ingress rule 2",
    ),
    ("selector does not match", "web-1", packet(DB, WEB, dst_port=8443), "deny", deny_end("web-1"), None),
    ("ICMP echo", "web-1", packet(OUTSIDER, WEB, "icmp", icmp_type=8), "allow", "policy web-ingress ingress rule 3", "policy web-ingress ingress rule 3"),
    ("ICMPv6 echo", "web-1", packet(OUTSIDER6, WEB6, "icmp", icmp_type=128), "allow", "policy web-ingress ingress rule 4", "policy web-ingress ingress rule 4"),
    ("ICMP echo reply is not allowed", "web-1", packet(OUTSIDER, WEB, "icmp", icmp_type=0), "deny", deny_end("web-1"), None),
    (
        "IPv6 neighbour discovery",
        "web-1",
        packet(OUTSIDER6, WEB6, "icmp", icmp_type=135, icmp_code=0),
        "allow",
        "IPv6 neighbour discovery (ICMPv6 type 135)",
        None,
    ),
    (
        "network set by selector",
        "web-1",
        packet(OFFICE, WEB, "udp", dst_port=5050),
        "allow",
        "policy web-ingress ingress rule 5",
        "policy web-ingress ingress rule 5",
    ),
    ("network set by selector, IPv6", "web-1", packet(OFFICE6, WEB6, "udp", dst_port=5100), "allow", "policy web-ingress ingress rule 5", None),
    ("outside the network set", "web-1", packet(OUTSIDER, WEB, "udp", dst_port=5050), "deny", deny_end("web-1"), None),
    ("Log continues", "web-1", packet(OUTSIDER, WEB, dst_port=8080), "deny", deny_end("web-1"), "policy web-ingress ingress rule 6"),
    ("Pass skips later policies", "web-1", packet("198.51.100.77", WEB, dst_port=10250), "deny", None, "policy web-ingress ingress rule 7"),
    (
        "later policy (no order) allows",
        "web-1",
        packet(ADMIN, WEB, dst_port=10250),
        "allow",
        "policy last-resort ingress rule 0",
        "policy last-resort ingress rule 0",
    ),
    ("established", "web-1", packet(OUTSIDER, WEB, dst_port=5000, ct_state="ESTABLISHED"), "allow", EST, None),
    ("invalid", "web-1", packet(OUTSIDER, WEB, dst_port=5000, ct_state="INVALID"), "deny", "conntrack: invalid packet", None),
    # web-1: doNotTrack (raw) and preDNAT (mangle)
    ("doNotTrack allow", "web-1", packet(ADMIN, WEB, "udp", dst_port=4789), "allow", "policy web-dnt ingress rule 0", "policy web-dnt ingress rule 0"),
    ("doNotTrack deny", "web-1", packet(OUTSIDER, WEB, dst_port=6379), "deny", "policy web-dnt ingress rule 1", None),
    ("preDNAT deny", "web-1", packet(OUTSIDER, WEB, dst_port=31000), "deny", "policy web-prednat ingress rule 0", None),
    ("preDNAT allow", "web-1", packet(ADMIN, WEB, dst_port=31000), "allow", "policy web-prednat ingress rule 1", "policy web-prednat ingress rule 1"),
    # web-1: interfaces without an endpoint
    ("interface without endpoint", "web-1", packet(OUTSIDER, WEB, into="eth1", dst_port=80), "untouched", None, None),
    ("loopback", "web-1", packet("127.0.0.1", "127.0.0.1", into="lo", dst_port=80), "untouched", None, None),
    (
        "workload to host",
        "web-1",
        packet("10.65.0.2", WEB, into="cali12ab", dst_port=80),
        "deny",
        "workload to host: default_endpoint_to_host_action Drop",
        None,
    ),
    # web-1: egress
    (
        "egress to a named port",
        "web-1",
        packet(WEB, DB, into=None, out="eth0", dst_port=9100),
        "allow",
        "policy web-ingress egress rule 0",
        "policy web-ingress egress rule 0",
    ),
    ("egress to a named port, IPv6", "web-1", packet(WEB6, DB6, into=None, out="eth0", dst_port=9100), "allow", "policy web-ingress egress rule 0", None),
    ("egress to another port", "web-1", packet(WEB, DB, into=None, out="eth0", dst_port=9101), "deny", deny_end("web-1", "egress"), None),
    ("egress named port of another host", "web-1", packet(WEB, ADMIN, into=None, out="eth0", dst_port=9100), "deny", deny_end("web-1", "egress"), None),
    ("egress dns: failsafe first", "web-1", packet(WEB, OUTSIDER, "udp", into=None, out="eth0", dst_port=53), "allow", "failsafe outbound udp 53", None),
    ("failsafe is directional", "web-1", packet(WEB, ADMIN, into=None, out="eth0", dst_port=22), "deny", deny_end("web-1", "egress"), None),
    ("host to local workload", "web-1", packet(WEB, "10.65.0.2", into=None, out="cali12ab", dst_port=80), "untouched", None, None),
    # web-1: forwarded (no applyOnForward policy in the normal stage: allowed by default)
    (
        "forwarded: allowed by default",
        "web-1",
        packet(OUTSIDER, "10.1.0.1", out="eth1", dst_port=5000),
        "allow",
        "forwarded traffic is allowed: no applyOnForward policy selects web-1-eth0",
        None,
    ),
    ("forwarded: doNotTrack still applies", "web-1", packet(OUTSIDER, "10.1.0.1", out="eth1", dst_port=6379), "deny", "policy web-dnt ingress rule 1", None),
    (
        "forwarded: no failsafe but allowed",
        "web-1",
        packet(OUTSIDER, "10.1.0.1", out="eth1", dst_port=22),
        "allow",
        "forwarded traffic is allowed: no applyOnForward policy selects web-1-eth0",
        None,
    ),
    # router-1: applyOnForward ingress policy only
    (
        "router forwards port 80",
        "router-1",
        packet(OUTSIDER, "10.1.0.1", out="eth1", dst_port=80),
        "allow",
        "forwarded egress on router-1-eth1 left undecided: allowed",
        "policy router-fwd ingress rule 0",
    ),
    (
        "router: forwarded ingress denied at end of tier, no failsafe",
        "router-1",
        packet(OUTSIDER, "10.1.0.1", out="eth1", dst_port=22),
        "deny",
        "end of tier: no applyOnForward policy allowed forwarded ingress on router-1-eth0",
        None,
    ),
    (
        "router: egress direction undecided: allowed",
        "router-1",
        packet(OUTSIDER, "10.1.0.1", into="eth1", out="eth0", dst_port=80),
        "allow",
        "forwarded egress on router-1-eth0 left undecided: allowed",
        None,
    ),
    ("router: local ingress policy", "router-1", packet(OUTSIDER, "198.51.100.1", dst_port=80), "allow", "policy router-fwd ingress rule 0", None),
    ("router: local ingress end of tier", "router-1", packet(OUTSIDER, "198.51.100.1", dst_port=5000), "deny", deny_end("router-1"), None),
    # edge-1: the '*' endpoint covers every interface but lo
    ("wildcard endpoint polices any interface", "edge-1", packet(OUTSIDER, EDGE, into="ens3", dst_port=80), "deny", None, None),
    (
        "wildcard endpoint: policy",
        "edge-1",
        packet(ADMIN, EDGE, into="ens3", dst_port=10250),
        "allow",
        "policy last-resort ingress rule 0",
        "policy last-resort ingress rule 0",
    ),
    ("wildcard endpoint: not lo", "edge-1", packet("127.0.0.1", "127.0.0.1", into="lo", dst_port=10250), "untouched", None, None),
    ("wildcard endpoint: egress default deny", "edge-1", packet(EDGE, ADMIN, into=None, out="ens3", dst_port=443), "deny", None, None),
    ("wildcard endpoint: failsafe out", "edge-1", packet(EDGE, ADMIN, "udp", into=None, out="ens3", dst_port=53), "allow", "failsafe outbound udp 53", None),
    # admin-1: hooks appended instead of inserted: same verdicts
    ("append mode: policy", "admin-1", packet(OUTSIDER, ADMIN, dst_port=10250), "deny", deny_end("admin-1"), None),
    ("append mode: failsafe", "admin-1", packet(OUTSIDER, ADMIN, dst_port=22), "allow", "failsafe inbound tcp 22", None),
]


@pytest.mark.parametrize("host, probe, verdict, decided_by, visited", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_explain(host, probe, verdict, decided_by, visited):
    outcome = explain(COMPILED[host].rulesets, probe)
    assert outcome.verdict == verdict
    if decided_by is not None:
        assert outcome.decided_by == decided_by
    if visited is not None:
        assert visited in [step.comment for step in outcome.trace]


def test_pass_denies_with_its_own_reason():
    outcome = explain(COMPILED["web-1"].rulesets, packet("198.51.100.77", WEB, dst_port=10250))
    assert outcome.decided_by.startswith("policy web-ingress passed")


def test_append_mode_hooks():
    positions = {hook.position for ruleset in COMPILED["admin-1"].rulesets for hook in ruleset.hooks}
    assert positions == {"append"}


def test_doNotTrack_allow_is_untracked_in_later_tables():
    outcome = explain(COMPILED["web-1"].rulesets, packet(ADMIN, WEB, "udp", dst_port=4789))
    assert [(s.table, s.result) for s in outcome.stages] == [("raw", "accept"), ("mangle", "accept"), ("filter", "accept")]
    assert any(step.action == "notrack" for step in outcome.trace)
