# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``palisade.firewall.explain`` with ``packets``: one result per packet, each host compiled once,
the same answers as one packet per task, and errors that name the item and field."""

from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.action import explain as action
from ansible_collections.palisade.firewall.plugins.modules.explain import ARGUMENT_SPEC
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet, settle

POLICIES = [
    {"name": "web", "selector": "role == 'web'", "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}]},
    {"name": "db", "selector": "role == 'db'", "ingress": [{"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'web'"},
                                                           "destination": {"ports": [5432]}}]},
]


def host(name, role, v4, v6):
    return HostInput(name, (), {
        "palisade_policies": POLICIES,
        "palisade_labels": {"role": role},
        "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": [v4, v6]}],
    })


FLEET = settle(load_fleet([host("web1", "web", "198.51.100.10", "2001:db8::10"), host("db1", "db", "198.51.100.20", "2001:db8::20")]))
PACKETS = [
    {"in_interface": "eth0", "src": "203.0.113.9", "dst": "web1", "protocol": "TCP", "dst_port": 80},
    {"in_interface": "eth0", "src": "203.0.113.9", "dst": "web1", "protocol": 6, "dst_port": 81},
    {"host": "db1", "in_interface": "eth0", "src": "web1", "dst": "db1", "protocol": "TCP", "dst_port": 5432},
    {"host": "db1", "in_interface": "eth0", "src": "2001:db8::99", "dst": "db1", "protocol": "TCP", "dst_port": "5432"},
    {"out_interface": "eth0", "src": "web1", "dst": "203.0.113.9", "protocol": "ICMP", "icmp_type": 8},
    {"in_interface": "eth0", "src": "203.0.113.9", "dst": "web1", "protocol": "TCP", "src_port": 22, "dst_port": 80, "ct_state": "ESTABLISHED",
     "syn": "false"},
]


def args(**given):
    options = {name: spec.get("default") for name, spec in ARGUMENT_SPEC.items()}
    return {**options, **given}


def plugin():
    return action.ActionModule.__new__(action.ActionModule)


def test_one_result_per_packet_in_order_each_host_compiled_once(monkeypatch):
    compiled = []
    real = action.compile_host

    def counting(index, name):
        compiled.append(name)
        return real(index, name)

    monkeypatch.setattr(action, "compile_host", counting)
    output, warnings = plugin().work(FLEET, args(host="web1", packets=PACKETS), {})
    assert sorted(compiled) == ["db1", "web1"]
    assert [(r["host"], r["verdict"], r["decided_by"]) for r in output["results"]] == [
        ("web1", "allow", "policy web ingress rule 0"),
        ("web1", "deny", "end of tier: no policy allowed ingress on web1-eth0 (default deny)"),
        ("db1", "allow", "policy db ingress rule 0"),
        ("db1", "deny", "end of tier: no policy allowed ingress on db1-eth0 (default deny)"),
        ("web1", "deny", "no policy selects web1-eth0 for egress (default deny)"),
        ("web1", "allow", "conntrack: established or related flow"),
    ]
    assert output["report"][0] == "web1: 203.0.113.9 -> 198.51.100.10 TCP ->80 in eth0: allow, decided by: policy web ingress rule 0"
    assert output["report"][5].startswith("web1: 203.0.113.9 -> 198.51.100.10 TCP 22->80 in eth0 ESTABLISHED not SYN: allow")
    assert output["summary"] == "6 packets: 3 allow, 3 deny"
    assert "trace" not in output["results"][0] and warnings == []


@pytest.mark.parametrize("index", range(len(PACKETS)))
def test_each_result_is_what_a_single_packet_task_answers(index):
    many, _warnings = plugin().work(FLEET, args(host="web1", packets=PACKETS, details=True), {})
    item = dict(PACKETS[index])
    single_args = args(**{**item, "host": item.get("host", "web1"), "protocol": str(item["protocol"]),
                          "dst_port": None if "dst_port" not in item else int(item["dst_port"]),
                          "syn": {"false": False}.get(item.get("syn"), item.get("syn"))})
    single, _warnings = plugin().work(FLEET, single_args, {})
    result = many["results"][index]
    assert (result["verdict"], result["decided_by"], result["trace"], result["report"]) == (
        single["verdict"], single["decided_by"], single["trace"], single["report"])


ERRORS = [
    ("not a list", "tcp", "packets: expected a list of packets, got str"),
    ("item not a mapping", ["tcp"], "packets[0]: expected a mapping of packet fields, got str"),
    ("unknown field", [{**PACKETS[0], "prot": "TCP"}], "packets[0]: unknown field(s) prot; expected host, in_interface, out_interface, src, dst, "
     "protocol, src_port, dst_port, icmp_type, icmp_code, ct_state, syn"),
    ("missing fields", [PACKETS[0], {"src": "web1"}], "packets[1]: missing required field(s) dst, protocol"),
    ("port as words", [{**PACKETS[0], "dst_port": "eighty"}], "packets[0].dst_port: expected a whole number, got 'eighty'"),
    ("syn not a bool", [{**PACKETS[0], "syn": "maybe"}], "packets[0].syn: expected true or false, got 'maybe'"),
    ("bad protocol", [PACKETS[0], {**PACKETS[0], "protocol": "GRE2"}],
     "packets[1]: protocol: expected TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255, got 'GRE2'"),
    ("unknown host", [{**PACKETS[0], "host": "nope"}], "packets[0]: host: 'nope' is not an inventory host"),
    ("unknown src", [{**PACKETS[0], "src": "nobody"}], "packets[0]: src: 'nobody' is neither an IP address nor an inventory host"),
    ("impossible packet", [{**PACKETS[0], "protocol": "ICMP"}],
     "packets[0]: packet has dst_port but protocol 1 has no ports (only TCP, UDP, DCCP, SCTP and UDPLite do)"),
]


@pytest.mark.parametrize("packets, message", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors_name_the_item_and_field(packets, message):
    with pytest.raises(PalisadeError) as err:
        plugin().work(FLEET, args(host="web1", packets=packets), {})
    assert str(err.value) == message


def test_a_packet_without_a_host_needs_the_task_host():
    with pytest.raises(PalisadeError) as err:
        plugin().work(FLEET, args(packets=[PACKETS[0]]), {})
    assert str(err.value) == "packets[0].host: required when the task has no host option"


def test_a_single_packet_still_needs_its_options():
    with pytest.raises(PalisadeError) as err:
        plugin().work(FLEET, args(host="web1", src="web1"), {})
    assert str(err.value) == "missing required option(s) dst, protocol (or give packets)"
