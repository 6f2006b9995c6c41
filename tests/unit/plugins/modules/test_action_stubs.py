# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module files of the controller-side actions: their argument spec is the action's, and they refuse to run."""

from __future__ import annotations

import importlib
import json

import pytest
from module_args import patch_module_args

NAMES = ("compile", "explain", "reachability", "resolve")


@pytest.mark.parametrize("name", NAMES)
def test_stub_argument_spec_is_the_action_plugins(name):
    stub = importlib.import_module(f"ansible_collections.palisade.firewall.plugins.modules.{name}")
    action = importlib.import_module(f"ansible_collections.palisade.firewall.plugins.action.{name}")
    assert stub.ARGUMENT_SPEC == action.ActionModule.ARGUMENT_SPEC


@pytest.mark.parametrize("name", NAMES)
def test_stub_refuses_to_run_on_a_host(name, capsys):
    stub = importlib.import_module(f"ansible_collections.palisade.firewall.plugins.modules.{name}")
    args = {"host": "h", "src": "198.51.100.1", "dst": "h", "protocol": "TCP"} if name == "explain" else {}
    with patch_module_args(args), pytest.raises(SystemExit):
        stub.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True and "runs on the controller as an action plugin" in result["msg"]
