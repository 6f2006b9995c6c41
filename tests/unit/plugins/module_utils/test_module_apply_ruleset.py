# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module palisade.firewall.apply_ruleset: documentation vs argument spec, results and errors."""

from __future__ import annotations

import json

import palisade_fakes
import pytest
import yaml
from module_args import patch_module_args

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.apply import Result
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import ApplyError, CommandError, InputError
from ansible_collections.palisade.firewall.plugins.modules import apply_ruleset


def test_documented_options_are_the_argument_spec():
    documented = yaml.safe_load(apply_ruleset.DOCUMENTATION)["options"]

    def compare(docs, spec, where):
        assert sorted(docs) == sorted(spec), where
        for name, option in spec.items():
            doc = docs[name]
            for key in ("type", "required", "default", "choices", "elements"):
                assert doc.get(key, False if key == "required" else None) == option.get(
                    key, False if key == "required" else None
                ), f"{where}.{name}.{key}"
            if "options" in option:
                compare(doc["suboptions"], option["options"], f"{where}.{name}")

    # the private _palisade_* options too: documented as set by the action plugin
    compare(documented, apply_ruleset.ARGUMENT_SPEC, "options")
    attributes = yaml.safe_load(apply_ruleset.DOCUMENTATION)["attributes"]
    assert attributes["check_mode"]["support"] == attributes["diff_mode"]["support"] == "full"
    assert attributes["platform"]["platforms"] == "linux"
    yaml.safe_load(apply_ruleset.EXAMPLES)
    yaml.safe_load(apply_ruleset.RETURN)


def run_module(capsys, args, fake=None, target="apply", **flags):
    """Run main() with ``args``; ``fake`` replaces the backend's ``target``. Returns (exit code, result)."""
    inputs = dict(args)
    inputs.update({f"_ansible_{key}": value for key, value in flags.items()})
    with patch_module_args(inputs):
        if fake is not None:
            original = getattr(apply_ruleset, target)
            setattr(apply_ruleset, target, fake)
        try:
            with pytest.raises(SystemExit) as exited:
                apply_ruleset.main()
        finally:
            if fake is not None:
                setattr(apply_ruleset, target, original)
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_results_and_diff(capsys, monkeypatch):
    seen = {}
    warned = []
    monkeypatch.setattr(apply_ruleset.AnsibleModule, "warn", lambda self, message: warned.append(message))

    def fake(wanted, state_dir, lock_timeout, check_mode):
        seen.update(state_dir=state_dir, lock_timeout=lock_timeout, check_mode=check_mode, hooks=wanted.hooks)
        return Result(
            changed=True,
            changes={"chains_added": ["ipv4 filter pal-INPUT"]},
            before="",
            after="chain pal-INPUT\n",
            commands=["iptables-restore --noflush -w 60"],
            warnings=["careful"],
        )

    code, result = run_module(capsys, palisade_fakes.golden_inputs("inventory-web-features"), fake, diff=True, check_mode=True)
    assert code == 0
    assert result["changed"] is True and result["diff"] == {"before": "", "after": "chain pal-INPUT\n"}
    assert result["changes"] == {"chains_added": ["ipv4 filter pal-INPUT"]}
    assert warned == ["careful"]
    assert seen["check_mode"] is True and seen["state_dir"] == "/var/lib/palisade" and seen["lock_timeout"] == 60
    assert [hook.position for hook in seen["hooks"]] == ["insert"] * 6


@pytest.mark.parametrize(
    "error, fields",
    [
        (InputError(["ipv4_rules line 3: bad"]), {"msg": "ipv4_rules line 3: bad", "changed": False}),
        (
            CommandError(["iptables-restore", "--noflush"], 2, "Chain 'x' does not exist\n"),
            {
                "msg": "`iptables-restore --noflush` failed (exit status 2): Chain 'x' does not exist",
                "changed": False,
                "command": "iptables-restore --noflush",
                "rc": 2,
                "stderr": "Chain 'x' does not exist\n",
            },
        ),
        (
            ApplyError("it broke", changed=True, cause=CommandError(["ipset", "restore"], 1, "oops")),
            {"msg": "it broke", "changed": True, "command": "ipset restore", "rc": 1, "stderr": "oops"},
        ),
    ],
)
def test_errors_become_failures(capsys, error, fields):
    def fake(*args, **kwargs):
        raise error

    code, result = run_module(capsys, {"ipv4_rules": "", "ipv6_rules": "", "ipsets": "", "hooks": []}, fake, target="apply_without_rollback")
    assert code == 1 and result["failed"] is True
    assert {key: result[key] for key in fields} == fields


def test_input_problems_fail_before_anything_runs(capsys):
    code, result = run_module(capsys, {"ipv4_rules": "*filter\n-A INPUT -j DROP\nCOMMIT\n", "ipv6_rules": "", "ipsets": "", "hooks": []})
    assert code == 1
    assert result["msg"].startswith("ipv4_rules line 2: a rule in chain INPUT, which is not owned")


def test_every_input_is_required(capsys):
    code, result = run_module(capsys, {"ipv4_rules": ""})
    assert code == 1
    assert result["msg"] == "missing required arguments: hooks, ipsets, ipv6_rules"
