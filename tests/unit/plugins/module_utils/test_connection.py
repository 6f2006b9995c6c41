# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's view of the management connection, also under become, and the tools check."""

from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import connection

SSH = "198.51.100.1 51258 198.51.100.11 22"


def fake_proc(tmp_path, processes):
    """``processes``: pid -> (comm, ppid, environ dict or None for unreadable)."""
    for pid, (comm, ppid, environ) in processes.items():
        directory = tmp_path / str(pid)
        directory.mkdir()
        (directory / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1\n")
        if environ is not None:
            (directory / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in environ.items()) + b"\0")
    return str(tmp_path)


def test_the_own_environment_comes_first(tmp_path):
    assert connection.session_ssh_connection({"SSH_CONNECTION": SSH}, proc=str(tmp_path), pid=40) == SSH


def test_under_become_the_nearest_ancestor_that_has_it(tmp_path):
    proc = fake_proc(
        tmp_path,
        {
            40: ("python3", 39, {"PATH": "/usr/bin"}),
            39: ("sh", 38, {}),
            38: ("sudo) (odd", 37, None),  # a name with parentheses and spaces; environ unreadable
            37: ("sh", 36, {"SSH_CONNECTION": SSH, "USER": "deploy"}),
            36: ("sshd", 1, {"SSH_CONNECTION": "203.0.113.9 1 203.0.113.10 22"}),
        },
    )
    assert connection.session_ssh_connection({}, proc=proc, pid=40) == SSH


def test_none_when_no_ancestor_has_it(tmp_path):
    proc = fake_proc(tmp_path, {40: ("python3", 39, {}), 39: ("sh", 1, {})})
    assert connection.session_ssh_connection({}, proc=proc, pid=40) is None


def test_the_facts_the_guard_reads():
    facts = connection.management_connection(lambda client: "eth0" if client == "198.51.100.1" else None, SSH)
    assert facts == {
        "client": "198.51.100.1",
        "client_port": 51258,
        "server": "198.51.100.11",
        "server_port": 22,
        "interface": "eth0",
        "source": "SSH_CONNECTION",
    }
    assert connection.management_connection(lambda client: None, None) is None


REPORTED = {"client": "198.51.100.1", "server": "198.51.100.11", "server_port": 22}


@pytest.mark.parametrize(
    "expected, same",
    [
        ({"client": "198.51.100.1", "server": "198.51.100.11", "port": 22}, True),
        ({"client": "198.51.100.2", "server": "198.51.100.11", "port": 22}, False),  # NAT or a jump host
        ({"client": "198.51.100.1", "server": "198.51.100.12", "port": 22}, False),
        ({"client": "198.51.100.1", "server": "198.51.100.11", "port": 2222}, False),
        ({"client": "::ffff:198.51.100.1", "server": "198.51.100.11", "port": 22}, False),  # the host reports mapped addresses as IPv4
        ({"client": "not an address", "server": "198.51.100.11", "port": 22}, False),
        ({}, False),
        (None, False),
    ],
)
def test_matches(expected, same):
    assert connection.matches(REPORTED, expected) is same


def test_missing_tools_in_a_fixed_order():
    present = {"iptables-save", "iptables-restore"}
    assert connection.missing_tools(lambda tool: "/usr/sbin/" + tool if tool in present else None) == [
        "ip6tables-save",
        "ip6tables-restore",
        "ipset",
    ]
