# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How many times the apply action calls the host, and when the lockout guard stops it.

A fake host answers each call (phase) as the module would; the lockout guard runs for real on
a compiled host kept as ``palisade.firewall.compile`` keeps it. The calls themselves run on
real hosts in tests/integration/test_site.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "plugin_utils" / "simulate"))

from test_lockout import CONTROLLER, HTTPS_ONLY, LOCK_DOWN, NO_FAILSAFE, SSH_2222, WEB, compiled  # noqa: E402

from ansible_collections.palisade.firewall.plugins.action import apply_ruleset as action  # noqa: E402
from ansible_collections.palisade.firewall.plugins.plugin_utils.action_support import compiled_store  # noqa: E402
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.role_data import compiled_host_to_dict  # noqa: E402
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate import lockout  # noqa: E402

SEEN = {"client": CONTROLLER, "client_port": 40000, "server": WEB, "server_port": 22, "interface": "eth0", "source": "SSH_CONNECTION"}
BEHIND_NAT = dict(SEEN, client="203.0.113.7")
GUESS = {"client": CONTROLLER, "server": WEB, "port": 22}


class FakeHost:
    """Answers like the module: the first ``arm`` plans only when the host sees another connection."""

    def __init__(self, changed=False, seen=None, missing=()):
        self.changed, self.seen, self.missing = changed, seen or SEEN, list(missing)
        self.calls: list[tuple[str, dict | None]] = []

    def __call__(self, module_name, module_args, task_vars):
        phase, expect = module_args["_palisade_phase"], module_args["_palisade_expect"]
        self.calls.append((phase, expect))
        facts = {"missing_tools": self.missing, "connection": self.seen}
        if phase in ("confirm", "status"):
            return {"changed": True, "outcome": {"outcome": "confirmed", "persisted": {"method": "none"}}}
        if self.missing:
            return dict(changed=False, armed=False, **facts)
        unexpected = phase == "arm" and expect is not None and (expect["client"], expect["server"]) != (self.seen["client"], self.seen["server"])
        if phase == "plan" or unexpected:
            return dict(changed=self.changed, armed=False, unexpected_connection=unexpected, **facts)
        if not self.changed:
            return dict(changed=False, armed=False, persisted={"changed": False}, **facts)
        return dict(changed=True, armed=True, run_id=module_args["_palisade_run_id"], window_left=30.0, **facts)


class FakeConnection:
    transport = "ssh"
    _load_name = "ssh"

    def reset(self):
        pass

    def get_option(self, name):
        return 10

    def set_option(self, name, value):
        pass


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setattr(lockout, "source_address", lambda host, server, port: lockout.normalise_address(CONTROLLER))

    def run(host, policies=(HTTPS_ONLY,), check_mode=False, allow_lockout=False, **web_vars):
        reference = compiled_store.new_store(str(tmp_path))
        built = compiled(list(policies), **web_vars)
        compiled_store.keep(reference, built, compiled_host_to_dict(built))
        plugin = action.ActionModule.__new__(action.ActionModule)
        plugin._task = SimpleNamespace(check_mode=check_mode, diff=False, args={})
        plugin._connection = FakeConnection()
        plugin._execute_module = host
        args = {name: None for name in action.ARGUMENT_SPEC}
        args.update(
            compiled=reference, state_dir="/var/lib/palisade", lock_timeout=60, rollback_timeout=30, confirm_probes=[], persist=True,
            boot_restore="auto", allow_lockout=allow_lockout, allow_unsafe_apply=False, prefix="pal-", _palisade_phase="apply",
        )
        plugin.validate_argument_spec = lambda argument_spec: (None, dict(args))
        monkeypatch.setattr(action.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
        task_vars = {"inventory_hostname": "web1", "hostvars": {"web1": {"ansible_host": WEB}}}
        return plugin.run(task_vars=task_vars)

    return run


def test_an_unchanged_host_costs_one_call(run):
    host = FakeHost()
    result = run(host)
    assert host.calls == [("arm", GUESS)]
    assert result["changed"] is False and "failed" not in result
    assert result["lockout"]["blocked"] is False and result["policies"] == {"web1-eth0": {"ingress": ["https-only"], "egress": []}}


def test_a_changed_host_arms_in_the_first_call_then_confirms(run):
    host = FakeHost(changed=True)
    result = run(host)
    assert [phase for phase, _expect in host.calls] == ["arm", "confirm"]
    assert result["changed"] is True and result["rollback"]["outcome"] == "confirmed"


def test_a_connection_seen_through_nat_is_checked_then_armed(run):
    host = FakeHost(changed=True, seen=BEHIND_NAT)
    result = run(host)
    assert host.calls[:2] == [("arm", GUESS), ("arm", {"client": "203.0.113.7", "server": WEB, "port": 22})]
    assert result["changed"] is True and result["lockout"]["connection"]["client"] == "203.0.113.7"


def test_a_connection_seen_through_nat_that_the_rules_block_changes_nothing(run):
    host = FakeHost(changed=True, seen=BEHIND_NAT)
    nat_only = {"name": "ssh-from-controller", "selector": "role == 'web'", "ingress": [{"action": "Allow", "protocol": "TCP",
                "source": {"nets": [f"{CONTROLLER}/32"]}, "destination": {"ports": [22]}}]}
    result = run(host, policies=[nat_only], **NO_FAILSAFE)
    assert host.calls == [("arm", GUESS)]
    assert result["failed"] is True and result["changed"] is False
    assert result["lockout"]["blocked"] is True and "203.0.113.7" in result["msg"]


def test_a_blocked_guess_asks_the_host_first(run):
    host = FakeHost(changed=True)
    result = run(host, policies=[LOCK_DOWN], **NO_FAILSAFE)
    assert host.calls == [("plan", None)]
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == result["lockout"]["message"]


def test_allow_lockout_arms_in_one_call(run):
    host = FakeHost(changed=True)
    result = run(host, policies=[SSH_2222], allow_lockout=True, **NO_FAILSAFE)
    assert [phase for phase, _expect in host.calls] == ["arm", "confirm"]
    assert result["changed"] is True


def test_a_missing_tool_fails_naming_it_and_changes_nothing(run):
    host = FakeHost(changed=True, missing=["ipset"])
    result = run(host)
    assert host.calls == [("arm", GUESS)]
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "web1 lacks ipset: install the iptables and ipset packages, or set palisade_install_packages to true. Nothing was changed."


def test_check_mode_costs_one_call(run):
    host = FakeHost(changed=True)
    result = run(host, check_mode=True)
    assert host.calls == [("plan", None)]
    assert result["changed"] is True and result["lockout"]["blocked"] is False


def test_check_mode_reports_a_lockout(run):
    host = FakeHost(changed=True)
    result = run(host, policies=[LOCK_DOWN], check_mode=True, **NO_FAILSAFE)
    assert host.calls == [("plan", None)]
    assert result["failed"] is True and result["lockout"]["blocked"] is True
