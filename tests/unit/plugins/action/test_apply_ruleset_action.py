# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of apply_ruleset: which connections can confirm, and what users read.

The protocol itself runs against real hosts in tests/integration/test_rollback.py and its
refusals through ansible-playbook in tests/playbooks/test_apply_refusals.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.palisade.firewall.plugins.action import apply_ruleset as action


def cannot_confirm(transport, load_name=None) -> str:
    plugin = action.ActionModule.__new__(action.ActionModule)
    plugin._connection = SimpleNamespace(transport=transport, _load_name=load_name or transport)
    return plugin._cannot_confirm()


@pytest.mark.parametrize(
    "transport, load_name",
    [("ssh", "ansible.builtin.ssh"), ("ssh", "ssh"), ("paramiko", "ansible.builtin.paramiko_ssh"), ("paramiko_ssh", "paramiko_ssh")],
)
def test_ssh_and_paramiko_can_confirm(transport, load_name):
    assert cannot_confirm(transport, load_name) == ""


def test_local_is_refused_with_the_reason():
    assert cannot_confirm("local", "ansible.builtin.local") == (
        "Refusing to apply with connection 'ansible.builtin.local': the controller is the host itself, so reaching it"
        " again proves nothing about the network and rules that cut remote access would never be rolled back."
        " Use an ssh connection, or set palisade_allow_unsafe_apply: true to apply without rollback."
    )


@pytest.mark.parametrize("transport", ["mitogen_ssh", "community.docker.docker", "ansible.netcommon.network_cli", "kubernetes.core.kubectl"])
def test_other_connections_are_refused_with_the_reason(transport):
    assert cannot_confirm(transport) == (
        f"Refusing to apply with connection {transport!r}: it cannot be dropped and reopened as a new network"
        " connection (a persistent or non-network channel survives the new rules), so a lockout would go unnoticed"
        " and never be rolled back. Use ssh or paramiko, or set palisade_allow_unsafe_apply: true to apply without rollback."
    )


def test_mitogen_is_refused_although_it_calls_itself_ssh():
    connection_class = type("Connection", (), {"transport": "ssh", "_load_name": "ssh", "__module__": "ansible_mitogen.connection"})
    plugin = action.ActionModule.__new__(action.ActionModule)
    plugin._connection = connection_class()
    assert plugin._cannot_confirm().startswith("Refusing to apply with connection 'mitogen': it cannot be dropped and reopened")


@pytest.mark.parametrize(
    "timeout, probes, problem",
    [
        (5, [], ""),
        (4, [], "rollback_timeout (palisade_rollback_timeout) must be at least 5 seconds, got 4"),
        (30, [{"protocol": "icmp", "address": "198.51.100.1"}], ""),
        (30, [{"protocol": "tcp", "address": "198.51.100.1"}], "palisade_confirm_probes[0]: missing field 'port' (tcp probes need a port from 1 to 65535)"),
    ],
)
def test_argument_problems(timeout, probes, problem):
    assert action._argument_problem(dict(TEXTS, compiled=None, rollback_timeout=timeout, confirm_probes=probes)) == problem


TEXTS = {"ipv4_rules": "", "ipv6_rules": "", "ipsets": "", "hooks": []}


@pytest.mark.parametrize(
    "inputs, problem",
    [
        (dict(TEXTS, compiled=None), ""),
        ({"compiled": {"path": "/x", "run": "y"}, "ipv4_rules": None, "ipv6_rules": None, "ipsets": None, "hooks": None}, ""),
        (
            dict(TEXTS, compiled={"path": "/x", "run": "y"}),
            "compiled and ipv4_rules, ipv6_rules, ipsets, hooks are mutually exclusive: the compiled host brings its own texts and hooks",
        ),
        (
            {"compiled": None, "ipv4_rules": "", "ipv6_rules": None, "ipsets": "", "hooks": None},
            "missing required arguments: ipv6_rules, hooks (or compiled, from palisade.firewall.compile with keep_for_apply=true)",
        ),
    ],
)
def test_compiled_or_every_text(inputs, problem):
    assert action._argument_problem(dict(inputs, rollback_timeout=30, confirm_probes=[])) == problem


@pytest.mark.parametrize(
    "outcome, last_error, message",
    [
        (
            {"outcome": "rolled_back", "reason": "probe 'api' (tcp 198.51.100.7:6443, timeout 3 s) failed: connection refused", "verified": True},
            "",
            "The new rules were rolled back: probe 'api' (tcp 198.51.100.7:6443, timeout 3 s) failed: connection refused. Now the host's"
            " owned rules and ipsets equal the snapshot taken before the apply; the persisted rules were not changed.",
        ),
        (
            {"outcome": "rolled_back", "reason": "no confirmation", "verified": True, "verified_now": True},
            "Connection timed out",
            "The new rules were rolled back: no confirmation (last attempt: Connection timed out). Now the host's owned rules and"
            " ipsets equal the snapshot taken before the apply (checked again after reconnecting); the persisted rules were not changed.",
        ),
        (
            {"outcome": "rolled_back", "reason": "no confirmation", "verified": True, "verified_now": False},
            "",
            "The new rules were rolled back: no confirmation. Now the host's owned rules and ipsets do NOT equal the snapshot taken"
            " before the apply - inspect the host (checked again after reconnecting); the persisted rules were not changed.",
        ),
        (
            {"outcome": "error", "reason": "no confirmation", "error": "`iptables-restore` failed"},
            "",
            "The new rules were NOT confirmed (no confirmation), and rolling them back failed: `iptables-restore` failed",
        ),
    ],
)
def test_rolled_back_messages(outcome, last_error, message):
    assert action._rolled_back_message(outcome, last_error) == message


def test_last_line_of_a_connection_error():
    error = Exception("Failed to connect to the host via ssh: \nssh: connect to host 203.0.113.11 port 22: Connection timed out\n")
    assert action._last_line(error) == "ssh: connect to host 203.0.113.11 port 22: Connection timed out"


def test_a_confirmed_run_whose_persisting_failed_fails_saying_the_rules_are_kept():
    outcome = {"outcome": "confirmed", "persist_error": "[Errno 28] No space left on device"}
    result = action._confirmed({"armed": True}, dict(outcome), outcome)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == (
        "The new rules were confirmed and are kept, but persisting them for boot failed: [Errno 28] No space left on device"
    )


def test_a_confirmed_run_succeeds():
    outcome = {"outcome": "confirmed", "persisted": {"method": "systemd"}}
    result = action._confirmed({"armed": True}, dict(outcome), outcome)
    assert "failed" not in result and result["changed"] is True and result["persisted"] == {"method": "systemd"}


@pytest.mark.parametrize("verbosity, verbose", [(0, False), (2, False), (3, True), (4, True)])
def test_the_transaction_texts_are_asked_for_from_verbosity_three(monkeypatch, verbosity, verbose):
    plugin = action.ActionModule.__new__(action.ActionModule)
    sent = {}
    plugin._execute_module = lambda module_name, module_args, task_vars: sent.update(module_args) or {}
    monkeypatch.setattr(action.Display(), "verbosity", verbosity)
    plugin._module({"ipv4_rules": "*filter\nCOMMIT\n", "_palisade_verbose": not verbose}, {}, "apply")
    assert sent["_palisade_verbose"] is verbose and sent["ipv4_rules"] == "*filter\nCOMMIT\n"


@pytest.mark.parametrize(
    "error, never",
    [
        (action.AnsibleConnectionFailure("Failed to connect to the host via ssh: ssh: connect to host 203.0.113.11 port 22: Connection timed out"), True),
        (action.AnsibleConnectionFailure("Failed to connect to the host via ssh: Connection closed by 203.0.113.11 port 22"), False),
        (action.AnsibleConnectionFailure("Data could not be sent to remote host: Broken pipe"), False),
        (action.AnsibleError("ssh: connect to host 203.0.113.11 port 22: Connection timed out"), False),  # not a connection failure
    ],
)
def test_only_a_failed_connect_means_nothing_reached_the_host(error, never):
    assert action._never_connected(error) is never
