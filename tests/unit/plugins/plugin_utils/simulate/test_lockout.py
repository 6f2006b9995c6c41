# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lockout guard: a new TCP connection from the controller to the host's SSH port, walked
through the compiled rules by the simulator, and where that connection's facts come from."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate import lockout
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.lockout import (
    LockoutError,
    ManagementConnection,
    check_lockout,
    connection_from_facts,
)

CONTROLLER = "198.51.100.1"
WEB = "198.51.100.10"
CONTROLLER6 = "2001:db8::1"
WEB6 = "2001:db8::10"
ETH0 = {"interfaceName": "eth0", "expectedIPs": [WEB, WEB6]}
NO_FAILSAFE = {"palisade_failsafe_inbound_host_ports": []}


def compiled(policies=(), endpoints=(ETH0,), **web_vars):
    web = {
        "palisade_policies": list(policies),
        "palisade_labels": {"role": "web"},
        "palisade_host_endpoints": list(endpoints),
        **web_vars,
    }
    return compile_host(FleetIndex(load_fleet([HostInput("web1", (), web)])), "web1")


def policy(name, *rules, selector="role == 'web'"):
    return {"name": name, "selector": selector, "ingress": list(rules)}


def allow_tcp(*ports, **source):
    rule = {"action": "Allow", "protocol": "TCP", "destination": {"ports": list(ports)}}
    return {**rule, "source": source} if source else rule


def ssh(client=CONTROLLER, server=WEB, port=22, interface="eth0", source="SSH_CONNECTION"):
    return ManagementConnection(client, server, port, interface, source)


HTTPS_ONLY = policy("https-only", allow_tcp(443))
LOCK_DOWN = policy("lock-down", {"action": "Deny", "protocol": "TCP", "destination": {"ports": [22]}})
SSH_2222 = policy("ssh", allow_tcp(2222))
SSH_FROM_ADMINS6 = policy("ssh6", allow_tcp(22, nets=["2001:db8::/120"]))
BY_ZONE = [  # eth0 is the management network, eth1 the public one
    policy("mgmt-ssh", allow_tcp(22), selector="zone == 'mgmt'"),
    policy("public-web", allow_tcp(443), selector="zone == 'public'"),
]
TWO_NAMED = (
    {"interfaceName": "eth0", "expectedIPs": [WEB], "labels": {"zone": "mgmt"}},
    {"interfaceName": "eth1", "expectedIPs": ["203.0.113.10"], "labels": {"zone": "public"}},
)
NAMED_AND_WILDCARD = (
    {"interfaceName": "eth0", "expectedIPs": [WEB], "labels": {"zone": "mgmt"}},
    {"interfaceName": "*", "labels": {"zone": "public"}},
)

NO_IPV6 = {"palisade_ipv6_support": False}

CASES = [
    (
        "IPv6 not managed: an IPv6 connection is untouched",
        {"policies": [HTTPS_ONLY], **NO_FAILSAFE, **NO_IPV6},
        ssh(CONTROLLER6, WEB6),
        False,
        "untouched",
        None,
        ["eth0"],
    ),
    (
        "IPv6 not managed, interface unknown",
        {"policies": [HTTPS_ONLY], **NO_FAILSAFE, **NO_IPV6},
        ssh(CONTROLLER6, WEB6, interface=None),
        False,
        "untouched",
        None,
        ["eth0"],
    ),
    (
        "IPv6 not managed: IPv4 is still checked",
        {"policies": [HTTPS_ONLY], **NO_FAILSAFE, **NO_IPV6},
        ssh(),
        True,
        "deny",
        "end of tier: no policy allowed ingress on web1-eth0 (default deny)",
        ["eth0"],
    ),
    # (id, compile kwargs, connection, blocked, verdict, decided_by, interfaces checked)
    ("default failsafe keeps 22 open", {"policies": [HTTPS_ONLY]}, ssh(), False, "allow", "failsafe inbound tcp 22", ["eth0"]),
    ("default failsafe beats a policy denying 22", {"policies": [LOCK_DOWN]}, ssh(), False, "allow", "failsafe inbound tcp 22", ["eth0"]),
    (
        "no failsafe, only 443 allowed: end of tier",
        {"policies": [HTTPS_ONLY], **NO_FAILSAFE},
        ssh(),
        True,
        "deny",
        "end of tier: no policy allowed ingress on web1-eth0 (default deny)",
        ["eth0"],
    ),
    ("no failsafe, 22 denied by a policy", {"policies": [LOCK_DOWN], **NO_FAILSAFE}, ssh(), True, "deny", "policy lock-down ingress rule 0", ["eth0"]),
    ("no failsafe, no policy selects the endpoint", NO_FAILSAFE, ssh(), True, "deny", "no policy selects web1-eth0 for ingress (default deny)", ["eth0"]),
    ("port 2222 allowed by a policy", {"policies": [SSH_2222], **NO_FAILSAFE}, ssh(port=2222), False, "allow", "policy ssh ingress rule 0", ["eth0"]),
    (
        "port 2222 with the default failsafe: end of tier",
        {"policies": [HTTPS_ONLY]},
        ssh(port=2222),
        True,
        "deny",
        "end of tier: no policy allowed ingress on web1-eth0 (default deny)",
        ["eth0"],
    ),
    ("no endpoint: untouched", {"endpoints": (), **NO_FAILSAFE}, ssh(), False, "untouched", None, ["eth0"]),
    ("no endpoint, interface unknown: a stand-in", {"endpoints": (), **NO_FAILSAFE}, ssh(interface=None), False, "untouched", None, ["eth0"]),
    ("interface without an endpoint: untouched", {"policies": [HTTPS_ONLY], **NO_FAILSAFE}, ssh(interface="eth9"), False, "untouched", None, ["eth9"]),
    (
        "loopback is never policed",
        {"policies": [HTTPS_ONLY], **NO_FAILSAFE},
        ssh(client="127.0.0.1", server="127.0.0.1", interface="lo"),
        False,
        "untouched",
        None,
        ["lo"],
    ),
    (
        "IPv6 allowed from the admin net",
        {"policies": [SSH_FROM_ADMINS6], **NO_FAILSAFE},
        ssh(CONTROLLER6, WEB6),
        False,
        "allow",
        "policy ssh6 ingress rule 0",
        ["eth0"],
    ),
    (
        "IPv6 from elsewhere: end of tier",
        {"policies": [SSH_FROM_ADMINS6], **NO_FAILSAFE},
        ssh("2001:db8:1::1", WEB6),
        True,
        "deny",
        "end of tier: no policy allowed ingress on web1-eth0 (default deny)",
        ["eth0"],
    ),
    ("IPv6 with the default failsafe", {"policies": [HTTPS_ONLY]}, ssh(CONTROLLER6, WEB6), False, "allow", "failsafe inbound tcp 22", ["eth0"]),
    (
        "known interface: only that one",
        {"policies": BY_ZONE, "endpoints": TWO_NAMED, **NO_FAILSAFE},
        ssh(),
        False,
        "allow",
        "policy mgmt-ssh ingress rule 0",
        ["eth0"],
    ),
    (
        "unknown interface, one of two named endpoints blocks",
        {"policies": BY_ZONE, "endpoints": TWO_NAMED, **NO_FAILSAFE},
        ssh(interface=None),
        True,
        "deny",
        "end of tier: no policy allowed ingress on web1-eth1 (default deny)",
        ["eth0", "eth1"],
    ),
    (
        "unknown interface, the '*' endpoint blocks on a stand-in",
        {"policies": BY_ZONE, "endpoints": NAMED_AND_WILDCARD, **NO_FAILSAFE},
        ssh(interface=None),
        True,
        "deny",
        "end of tier: no policy allowed ingress on web1-all (default deny)",
        ["eth0", "eth1"],
    ),
    (
        "unknown interface, every named endpoint allows",
        {"policies": [policy("ssh", allow_tcp(22))], "endpoints": TWO_NAMED, **NO_FAILSAFE},
        ssh(interface=None),
        False,
        "allow",
        "policy ssh ingress rule 0",
        ["eth0", "eth1"],
    ),
]


@pytest.mark.parametrize("kwargs, connection, blocked, verdict, decided_by, interfaces", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_lockout(kwargs, connection, blocked, verdict, decided_by, interfaces):
    check = check_lockout(compiled(**kwargs), connection)
    assert (check.blocked, check.verdict, check.decided_by, list(check.interface_checked)) == (blocked, verdict, decided_by, interfaces)
    assert check.message.endswith("Nothing was changed.") == blocked
    assert check.message.startswith("safe: ") != blocked


def test_end_of_tier_refusal_names_the_policies_and_the_fix():
    check = check_lockout(compiled([HTTPS_ONLY], **NO_FAILSAFE), ssh())
    assert check.message == (
        "host web1: refusing to apply the new firewall rules, because they would cut the management connection the "
        "controller uses. A new connection TCP 198.51.100.1 -> 198.51.100.10 port 22 arriving on eth0 (from "
        'SSH_CONNECTION on the host) would be denied; the deciding rule is "end of tier: no policy allowed ingress on '
        'web1-eth0 (default deny)". Policies selecting web1-eth0 for ingress, none of which allows it: https-only. To '
        "keep access, allow that connection in a policy selecting web1, or keep TCP port 22 in "
        "palisade_failsafe_inbound_host_ports, or set palisade_allow_lockout: true to apply anyway (the apply then "
        "relies on the automatic rollback). Nothing was changed."
    )


def test_a_deny_rule_is_named_as_the_deciding_rule():
    check = check_lockout(compiled([HTTPS_ONLY, LOCK_DOWN], **NO_FAILSAFE), ssh(source="inventory"))
    assert check.message == (
        "host web1: refusing to apply the new firewall rules, because they would cut the management connection the "
        "controller uses. A new connection TCP 198.51.100.1 -> 198.51.100.10 port 22 arriving on eth0 (guessed from "
        'the inventory, as the host reported no SSH_CONNECTION) would be denied; the deciding rule is "policy lock-down '
        'ingress rule 0". To keep access, allow that connection in a policy selecting web1, or keep TCP port 22 in '
        "palisade_failsafe_inbound_host_ports, or set palisade_allow_lockout: true to apply anyway (the apply then "
        "relies on the automatic rollback). Nothing was changed."
    )


def test_unknown_interface_refusal_names_the_candidates_and_the_stand_in():
    check = check_lockout(compiled(BY_ZONE, NAMED_AND_WILDCARD, **NO_FAILSAFE), ssh(interface=None))
    assert check.message == (
        "host web1: refusing to apply the new firewall rules, because they would cut the management connection the "
        "controller uses. A new connection TCP 198.51.100.1 -> 198.51.100.10 port 22 arriving on eth1 (from "
        'SSH_CONNECTION on the host) would be denied; the deciding rule is "end of tier: no policy allowed ingress on '
        'web1-all (default deny)". The interface it arrives on is unknown, so every candidate was checked: eth0, eth1 '
        "(eth1 standing for any interface without an endpoint of its own). Policies selecting web1-all for ingress, none "
        "of which allows it: public-web. To keep access, allow that connection in a policy selecting web1, or keep TCP "
        "port 22 in palisade_failsafe_inbound_host_ports, or set palisade_allow_lockout: true to apply anyway (the "
        "apply then relies on the automatic rollback). Nothing was changed."
    )


SUMMARIES = [
    (
        "IPv6 not managed",
        {"policies": [HTTPS_ONLY], **NO_FAILSAFE, **NO_IPV6},
        ssh(CONTROLLER6, WEB6),
        "safe: TCP 2001:db8::1 -> 2001:db8::10 port 22 arriving on eth0 (from SSH_CONNECTION) is untouched "
        "(IPv6 is not managed on this host: ipv6Support is false, so the kernel's other rules decide)",
    ),
    (
        "known interface",
        {"policies": [HTTPS_ONLY]},
        ssh(),
        "safe: TCP 198.51.100.1 -> 198.51.100.10 port 22 arriving on eth0 (from SSH_CONNECTION) is allowed by failsafe inbound tcp 22",
    ),
    (
        "unknown interface",
        {"policies": [policy("ssh", allow_tcp(22), selector="zone == 'mgmt'")], "endpoints": TWO_NAMED[:1]},
        ssh(interface=None, source="inventory"),
        "safe: TCP 198.51.100.1 -> 198.51.100.10 port 22 (from inventory, interface unknown): on eth0 allowed by failsafe inbound tcp 22",
    ),
    (
        "unknown interface, two endpoints",
        {"policies": [policy("ssh", allow_tcp(22))], "endpoints": TWO_NAMED, **NO_FAILSAFE},
        ssh(interface=None),
        "safe: TCP 198.51.100.1 -> 198.51.100.10 port 22 (from SSH_CONNECTION, interface unknown): "
        "on eth0 allowed by policy ssh ingress rule 0; on eth1 allowed by policy ssh ingress rule 0",
    ),
    (
        "no endpoint",
        {"endpoints": ()},
        ssh(interface=None),
        "safe: TCP 198.51.100.1 -> 198.51.100.10 port 22 (from SSH_CONNECTION, interface unknown): on eth0 untouched (no rule of the collection decides it)",
    ),
]


@pytest.mark.parametrize("kwargs, connection, message", [c[1:] for c in SUMMARIES], ids=[c[0] for c in SUMMARIES])
def test_safe_summary(kwargs, connection, message):
    assert check_lockout(compiled(**kwargs), connection).message == message


def test_the_stand_in_avoids_claimed_and_workload_names():
    endpoints = [{"interfaceName": name} for name in ("eth0", "eth1", "*")]
    check = check_lockout(compiled(endpoints=endpoints, palisade_interface_prefixes=["cali", "eth2"]), ssh(interface=None))
    assert list(check.interface_checked) == ["eth0", "eth1", "eth3"]


def test_to_dict_is_plain_data():
    check = check_lockout(compiled([HTTPS_ONLY]), ssh())
    assert check.to_dict() == {
        "blocked": False,
        "verdict": "allow",
        "decided_by": "failsafe inbound tcp 22",
        "interface_checked": ["eth0"],
        "message": "safe: TCP 198.51.100.1 -> 198.51.100.10 port 22 arriving on eth0 (from SSH_CONNECTION) is allowed by failsafe inbound tcp 22",
        "connection": {"client": CONTROLLER, "server": WEB, "port": 22, "interface": "eth0", "source": "SSH_CONNECTION"},
    }


ERRORS = [
    (
        "mixed families",
        ssh(client=CONTROLLER6),
        "host web1: the management connection mixes IP families: client 2001:db8::1 is IPv6, server 198.51.100.10 is IPv4 (from SSH_CONNECTION)",
    ),
    (
        "a name, not an address",
        ssh(server="web1.example.com"),
        "host web1: the management connection needs IP addresses, got client '198.51.100.1' and server 'web1.example.com' (from SSH_CONNECTION)",
    ),
    ("port out of range", ssh(port=0), "host web1: the management port must be a number from 1 to 65535, got 0"),
    ("port not a number", ssh(port="ssh"), "host web1: the management port must be a number from 1 to 65535, got 'ssh'"),
]


@pytest.mark.parametrize("connection, message", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_connections_that_cannot_be_checked(connection, message):
    with pytest.raises(LockoutError) as info:
        check_lockout(compiled([HTTPS_ONLY]), connection)
    assert str(info.value) == message
    assert isinstance(info.value, PalisadeError)


# --- connection_from_facts -------------------------------------------------------------------


def reported(**overrides):
    facts = {"client": CONTROLLER, "client_port": 51258, "server": WEB, "server_port": 22, "interface": "eth0", "source": "SSH_CONNECTION"}
    return {**facts, **overrides}


@pytest.fixture
def controller_route(monkeypatch):
    """The controller's source address towards anything but loopback, without a real route."""
    real = lockout.source_address

    def fake(host, server, port):
        if server.is_loopback:
            return real(host, server, port)
        return ipaddress.ip_address(CONTROLLER if server.version == 4 else CONTROLLER6)

    monkeypatch.setattr(lockout, "source_address", fake)


FACTS = [
    ("reported by the host", reported(), {"ansible_host": "192.0.2.99"}, ssh()),
    ("reported, IPv6", reported(client=CONTROLLER6, server=WEB6, interface=None), {}, ssh(CONTROLLER6, WEB6, interface=None)),
    (
        "reported, IPv4-mapped and zoned",
        reported(client="::ffff:198.51.100.1", server="::ffff:198.51.100.10%eth0", server_port="2222"),
        {},
        ssh(port=2222),
    ),
    ("inventory: ansible_host, default port", None, {"ansible_host": WEB}, ssh(interface=None, source="inventory")),
    ("inventory: ansible_port", None, {"ansible_host": WEB, "ansible_port": "2222"}, ssh(port=2222, interface=None, source="inventory")),
    (
        "inventory: ansible_ssh_host and ansible_ssh_port",
        None,
        {"ansible_ssh_host": WEB6, "ansible_ssh_port": 2200},
        ssh(CONTROLLER6, WEB6, 2200, None, "inventory"),
    ),
    ("inventory: IPv4-mapped ansible_host", None, {"ansible_host": "::ffff:198.51.100.10"}, ssh(interface=None, source="inventory")),
    ("inventory: loopback, a real source address", None, {"ansible_host": "127.0.0.1"}, ssh("127.0.0.1", "127.0.0.1", interface=None, source="inventory")),
    ("no connection reported (module without SSH_CONNECTION)", {}, {"ansible_host": WEB}, ssh(interface=None, source="inventory")),
]


@pytest.mark.parametrize("facts, host_vars, expected", [c[1:] for c in FACTS], ids=[c[0] for c in FACTS])
def test_connection_from_facts(controller_route, facts, host_vars, expected):
    assert connection_from_facts("web1", facts, host_vars) == expected


def test_inventory_name_is_resolved_on_the_controller(controller_route, monkeypatch):
    asked = []

    def getaddrinfo(name, port, type=0):
        asked.append((name, port, type))
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (WEB6, port, 0, 0)), (socket.AF_INET, socket.SOCK_STREAM, 6, "", (WEB, port))]

    monkeypatch.setattr(lockout.socket, "getaddrinfo", getaddrinfo)
    assert connection_from_facts("web1", None, {}) == ssh(CONTROLLER6, WEB6, interface=None, source="inventory")
    assert asked == [("web1", 22, socket.SOCK_STREAM)]


def test_an_unresolvable_name_is_an_error(monkeypatch):
    def getaddrinfo(name, port, type=0):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(lockout.socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(LockoutError) as info:
        connection_from_facts("web1", None, {"ansible_host": "web1.example.com"})
    assert str(info.value) == (
        "host web1: cannot resolve 'web1.example.com' on the controller to check the management connection: "
        "[Errno -2] Name or service not known"
    )


def test_a_report_without_addresses_is_an_error():
    with pytest.raises(LockoutError) as info:
        connection_from_facts("web1", reported(client="somewhere"), {})
    assert str(info.value) == "host web1: the reported management connection needs IP addresses, got client 'somewhere' and server '198.51.100.10'"
