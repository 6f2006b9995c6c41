# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module palisade.firewall.management_connection: SSH_CONNECTION parsing, the route's
interface, and what the module returns."""

from __future__ import annotations

import json

import pytest
import yaml
from module_args import patch_module_args

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import connection
from ansible_collections.palisade.firewall.plugins.modules import management_connection as module

PARSED = [
    (
        "IPv4",
        "198.51.100.1 51258 198.51.100.11 22",
        {"client": "198.51.100.1", "client_port": 51258, "server": "198.51.100.11", "server_port": 22, "zone": None},
    ),
    (
        "IPv6",
        "2001:db8::1 51258 2001:db8::11 2222",
        {"client": "2001:db8::1", "client_port": 51258, "server": "2001:db8::11", "server_port": 2222, "zone": None},
    ),
    ("IPv6 zones", "fe80::1%eth1 51258 fe80::11%eth1 22", {"client": "fe80::1", "client_port": 51258, "server": "fe80::11", "server_port": 22, "zone": "eth1"}),
    (
        "IPv4-mapped",
        "::ffff:198.51.100.1 51258 ::ffff:198.51.100.11 22",
        {"client": "198.51.100.1", "client_port": 51258, "server": "198.51.100.11", "server_port": 22, "zone": None},
    ),
    (
        "extra blanks",
        " 198.51.100.1  51258 198.51.100.11 22\n",
        {"client": "198.51.100.1", "client_port": 51258, "server": "198.51.100.11", "server_port": 22, "zone": None},
    ),
    ("unset", None, None),
    ("empty", "", None),
]


@pytest.mark.parametrize("value, expected", [c[1:] for c in PARSED], ids=[c[0] for c in PARSED])
def test_parse_ssh_connection(value, expected):
    assert connection.parse_ssh_connection(value) == expected


BAD = [
    (
        "three fields",
        "198.51.100.1 51258 198.51.100.11",
        "SSH_CONNECTION is '198.51.100.1 51258 198.51.100.11': expected 'client_ip client_port server_ip server_port'",
    ),
    ("a name", "controller 51258 198.51.100.11 22", "SSH_CONNECTION is 'controller 51258 198.51.100.11 22': 'controller' is not an IP address"),
    ("port 0", "198.51.100.1 51258 198.51.100.11 0", "SSH_CONNECTION is '198.51.100.1 51258 198.51.100.11 0': '0' is not a port"),
    ("port text", "198.51.100.1 x 198.51.100.11 22", "SSH_CONNECTION is '198.51.100.1 x 198.51.100.11 22': 'x' is not a port"),
]


@pytest.mark.parametrize("value, message", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_parse_ssh_connection_refuses(value, message):
    with pytest.raises(ValueError) as info:
        connection.parse_ssh_connection(value)
    assert str(info.value) == message


ROUTES = [
    ("via a gateway", "198.51.100.1 via 192.0.2.1 dev ens3 src 192.0.2.11 uid 0 \\    cache ", "ens3"),
    ("on link", "198.51.100.1 dev eth0 src 198.51.100.11 uid 1000 \\    cache ", "eth0"),
    ("local", "local 127.0.0.1 dev lo table local src 127.0.0.1 uid 0 \\    cache <local> ", "lo"),
    ("IPv6", "2001:db8::1 from :: dev eth0 proto kernel src 2001:db8::11 metric 256 pref medium", "eth0"),
    ("no dev", "unreachable 203.0.113.1", None),
    ("empty", "", None),
]


@pytest.mark.parametrize("output, interface", [c[1:] for c in ROUTES], ids=[c[0] for c in ROUTES])
def test_parse_route_interface(output, interface):
    assert connection.parse_route_interface(output) == interface


def test_documentation():
    documented = yaml.safe_load(module.DOCUMENTATION)
    assert documented["options"] == {}
    assert documented["attributes"]["check_mode"]["support"] == "full"
    assert documented["attributes"]["platform"]["platforms"] == "linux"
    returned = yaml.safe_load(module.RETURN)
    assert sorted(returned["connection"]["contains"]) == ["client", "client_port", "interface", "server", "server_port", "source"]
    yaml.safe_load(module.EXAMPLES)


def run_module(capsys, monkeypatch, ssh_connection, route=(0, "198.51.100.1 dev eth0 src 198.51.100.11 uid 0", ""), ip="/usr/sbin/ip"):
    """Run main() with SSH_CONNECTION set (or not) and ``ip`` faked; (exit code, result, commands, warnings)."""
    if ssh_connection is None:
        monkeypatch.delenv("SSH_CONNECTION", raising=False)
    else:
        monkeypatch.setenv("SSH_CONNECTION", ssh_connection)
    commands, warnings = [], []
    monkeypatch.setattr(module.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: ip)
    monkeypatch.setattr(module.AnsibleModule, "run_command", lambda self, args, **kwargs: commands.append(args) or route)
    monkeypatch.setattr(module.AnsibleModule, "warn", lambda self, message: warnings.append(message))
    with patch_module_args({"_ansible_check_mode": True}):
        with pytest.raises(SystemExit) as exited:
            module.main()
    return exited.value.code, json.loads(capsys.readouterr().out), commands, warnings


def test_reports_the_connection_and_its_interface(capsys, monkeypatch):
    code, result, commands, warnings = run_module(capsys, monkeypatch, "::ffff:198.51.100.1 51258 ::ffff:198.51.100.11 22")
    assert code == 0 and result["changed"] is False and result["source"] == "SSH_CONNECTION"
    assert result["connection"] == {
        "client": "198.51.100.1",
        "client_port": 51258,
        "server": "198.51.100.11",
        "server_port": 22,
        "interface": "eth0",
        "source": "SSH_CONNECTION",
    }
    assert commands == [["/usr/sbin/ip", "-o", "route", "get", "198.51.100.1"]]
    assert warnings == []


def test_without_ssh_connection_the_connection_is_null(capsys, monkeypatch):
    code, result, commands, _warnings = run_module(capsys, monkeypatch, None)
    assert code == 0 and (result["connection"], result["source"], result["changed"]) == (None, None, False)
    assert commands == []


def test_a_zone_is_the_interface(capsys, monkeypatch):
    _code, result, commands, _warnings = run_module(capsys, monkeypatch, "fe80::1%eth1 51258 fe80::11%eth1 22")
    assert (result["connection"]["client"], result["connection"]["interface"]) == ("fe80::1", "eth1")
    assert commands == []


@pytest.mark.parametrize(
    "ip, route, warning",
    [
        (None, None, "the ip tool was not found, so the management connection's interface is unknown"),
        (
            "/sbin/ip",
            (2, "", "RTNETLINK answers: Network is unreachable\n"),
            "'ip -o route get 198.51.100.1' did not name an interface (rc 2: RTNETLINK answers: Network is unreachable)",
        ),
    ],
    ids=["no ip tool", "ip fails"],
)
def test_an_unknown_interface_is_null_with_a_warning(capsys, monkeypatch, ip, route, warning):
    code, result, _commands, warnings = run_module(capsys, monkeypatch, "198.51.100.1 51258 198.51.100.11 22", route=route, ip=ip)
    assert code == 0 and result["connection"]["interface"] is None
    assert warnings == [warning]


def test_a_malformed_ssh_connection_fails(capsys, monkeypatch):
    code, result, _commands, _warnings = run_module(capsys, monkeypatch, "garbage")
    assert code == 1 and result["failed"] is True
    assert result["msg"] == "SSH_CONNECTION is 'garbage': expected 'client_ip client_port server_ip server_port'"
