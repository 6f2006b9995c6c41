# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed's "Protect hosts" example, compiled and explained packet by packet.

Failsafe rules run before policy, and Calico's defaults open inbound TCP 22 and outbound TCP
2379 to everyone, so with them those packets are decided by failsafe, never by the policy. The
main table therefore uses a FelixConfiguration that narrows failsafe (SSH only from a rescue
network, outbound DNS/DHCP only), which is what shows the policy deciding; the last test keeps
Calico's defaults and shows failsafe winning.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.simulator import Packet, explain

MANIFESTS = list(yaml.safe_load_all((Path(__file__).parents[3] / "fixtures" / "protect_hosts.yaml").read_text()))
NARROW_FAILSAFE = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "FelixConfiguration",
    "metadata": {"name": "default"},
    "spec": {
        "failsafeInboundHostPorts": [{"protocol": "TCP", "port": 22, "net": "203.0.113.0/24"}, {"protocol": "UDP", "port": 68}],
        "failsafeOutboundHostPorts": [{"protocol": "UDP", "port": 53}, {"protocol": "UDP", "port": 67}],
    },
}
HOST = "198.51.100.11"  # my-host's expectedIPs
MANAGEMENT = "198.51.100.7"
RESCUE = "203.0.113.9"
ETCD = "198.51.100.21"


def compiled(resources):
    shared = {"palisade_resources": resources}
    return compile_host(FleetIndex(load_fleet([HostInput("my-host", (), shared), HostInput("etcd-1", (), shared)])), "my-host")


def inbound(src, protocol=6, port=None, **extra):
    return Packet(
        ipaddress.ip_address(src), ipaddress.ip_address(HOST), protocol, src_port=40000 if port else None, dst_port=port, in_interface="eth0", **extra
    )


def outbound(dst, protocol=6, port=None):
    return Packet(ipaddress.ip_address(HOST), ipaddress.ip_address(dst), protocol, src_port=40000, dst_port=port, out_interface="eth0")


CASES = [
    ("SSH from the management net: the policy", inbound(MANAGEMENT, port=22), "allow", "policy k8s-worker ingress rule 0"),
    ("SSH from elsewhere: failsafe", inbound(RESCUE, port=22), "allow", "failsafe inbound tcp 22 src 203.0.113.0/24"),
    ("ICMP echo: the policy", inbound(RESCUE, 1, icmp_type=8), "allow", "policy k8s-worker ingress rule 1"),
    ("TCP 10250 (kubelet): the policy", inbound(RESCUE, port=10250), "allow", "policy k8s-worker ingress rule 2"),
    ("TCP 8080: end of tier", inbound(MANAGEMENT, port=8080), "deny", "end of tier: no policy allowed ingress on my-host-eth0 (default deny)"),
    ("egress TCP 2379 to the etcd IP: the policy", outbound(ETCD, port=2379), "allow", "policy k8s-worker egress rule 0"),
    (
        "egress TCP 2379 elsewhere: end of tier",
        outbound("198.51.100.99", port=2379),
        "deny",
        "end of tier: no policy allowed egress on my-host-eth0 (default deny)",
    ),
    ("egress UDP 53: failsafe first", outbound("198.51.100.99", 17, 53), "allow", "failsafe outbound udp 53"),
    ("egress UDP 67: failsafe first", outbound("198.51.100.99", 17, 67), "allow", "failsafe outbound udp 67"),
    ("egress TCP 443: end of tier", outbound("198.51.100.99", port=443), "deny", "end of tier: no policy allowed egress on my-host-eth0 (default deny)"),
]


@pytest.mark.parametrize("packet, verdict, decided_by", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_seed_example_with_narrow_failsafe(packet, verdict, decided_by):
    outcome = explain(compiled(MANIFESTS + [NARROW_FAILSAFE]).rulesets, packet)
    assert (outcome.verdict, outcome.decided_by) == (verdict, decided_by)


def test_seed_example_udp_53_without_failsafe_is_the_policy():
    no_outbound_failsafe = {**NARROW_FAILSAFE, "spec": {**NARROW_FAILSAFE["spec"], "failsafeOutboundHostPorts": []}}
    outcome = explain(compiled(MANIFESTS + [no_outbound_failsafe]).rulesets, outbound("198.51.100.99", 17, 53))
    assert (outcome.verdict, outcome.decided_by) == ("allow", "policy k8s-worker egress rule 1")


DEFAULT_FAILSAFE = [
    ("SSH from the management net", inbound(MANAGEMENT, port=22), "failsafe inbound tcp 22"),
    ("egress TCP 2379 anywhere", outbound("198.51.100.99", port=2379), "failsafe outbound tcp 2379"),
]


@pytest.mark.parametrize("packet, decided_by", [c[1:] for c in DEFAULT_FAILSAFE], ids=[c[0] for c in DEFAULT_FAILSAFE])
def test_with_calico_default_failsafe_these_never_reach_the_policy(packet, decided_by):
    outcome = explain(compiled(MANIFESTS).rulesets, packet)
    assert (outcome.verdict, outcome.decided_by) == ("allow", decided_by)


def _compiled_inventory(builder):
    from golden_cases import compile_inventory

    return compile_inventory(builder())[1]


@pytest.mark.parametrize(
    "builder_name, verdict, decided_by",
    [
        ("web_features", "allow", "workload to host: default_endpoint_to_host_action Accept"),
        ("wildcard_append", "untouched", None),
    ],
    ids=["Accept", "Return"],
)
def test_default_endpoint_to_host_action(builder_name, verdict, decided_by):
    import golden_inventories

    rulesets = _compiled_inventory(getattr(golden_inventories, builder_name))
    packet = Packet(ipaddress.ip_address("10.65.0.2"), ipaddress.ip_address("198.51.100.10"), 6, src_port=40000, dst_port=80, in_interface="cali0abc")
    outcome = explain(rulesets, packet)
    assert (outcome.verdict, outcome.decided_by) == (verdict, decided_by)


def test_replies_of_failsafe_ssh_get_out_even_when_conntrack_sees_them_as_new():
    """The controller's SSH session predates the first ruleset: after the apply, conntrack picks
    it up mid-stream and its first outbound packet is NEW. A deny-all egress policy must not cut
    it (found on the lab: the play hung after applying a lock-down policy)."""
    lock_down = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "lock-down"},
        "spec": {"selector": "all()", "order": -1, "types": ["Ingress", "Egress"], "egress": [{"action": "Deny"}]},
    }
    reply = Packet(ipaddress.ip_address(HOST), ipaddress.ip_address("198.51.100.1"), 6, src_port=22, dst_port=51258, out_interface="eth0", syn=False)
    outcome = explain(compiled(MANIFESTS + [lock_down]).rulesets, reply)
    assert (outcome.verdict, outcome.decided_by) == ("allow", "reply of failsafe inbound tcp 22")


LOCK_DOWN_EGRESS = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "GlobalNetworkPolicy",
    "metadata": {"name": "lock-down"},
    "spec": {"selector": "all()", "order": -1, "types": ["Egress"], "egress": [{"action": "Deny"}]},
}
FAILSAFE_SOURCE_PORT_CASES = [
    # (id, protocol, source port, syn, verdict, decided by)
    ("ssh mid-stream segment", 6, 22, False, "allow", "reply of failsafe inbound tcp 22"),
    ("etcd mid-stream segment", 6, 2379, False, "allow", "reply of failsafe inbound tcp 2379"),
    ("a new connection from 2379", 6, 2379, None, "deny", "policy lock-down egress rule 0"),
    ("a SYN from 6666 whatever the state", 6, 6666, True, "deny", "policy lock-down egress rule 0"),
    ("a new connection from 22", 6, 22, None, "deny", "policy lock-down egress rule 0"),
    ("udp from 68: conntrack's to allow", 17, 68, None, "deny", "policy lock-down egress rule 0"),
]


@pytest.mark.parametrize("protocol, port, syn, verdict, decided_by", [c[1:] for c in FAILSAFE_SOURCE_PORT_CASES],
                         ids=[c[0] for c in FAILSAFE_SOURCE_PORT_CASES])
def test_a_failsafe_source_port_does_not_open_connections_past_egress_policy(protocol, port, syn, verdict, decided_by):
    packet = Packet(ipaddress.ip_address(HOST), ipaddress.ip_address("203.0.113.9"), protocol, src_port=port, dst_port=443,
                    out_interface="eth0", syn=syn)
    outcome = explain(compiled(MANIFESTS + [LOCK_DOWN_EGRESS]).rulesets, packet)
    assert (outcome.verdict, outcome.decided_by) == (verdict, decided_by)


def test_replies_from_a_workload_to_the_host_get_in():
    """Host -> workload is never policed, so its replies must not meet the Drop default
    (found on the lab: a connection from the host to a workload hung)."""
    import golden_inventories

    rulesets = _compiled_inventory(golden_inventories.wildcard_append)
    new = Packet(ipaddress.ip_address("203.0.113.254"), ipaddress.ip_address("203.0.113.253"), 6, src_port=9000, dst_port=40000, in_interface="cali1")
    reply = Packet(**{**new.__dict__, "ct_state": "ESTABLISHED"})
    assert explain(rulesets, reply).decided_by == "conntrack: established or related flow"
    assert explain(_compiled_inventory(golden_inventories.web_features), new).decided_by == "workload to host: default_endpoint_to_host_action Accept"
