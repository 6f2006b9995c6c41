# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resolve action through real ansible-playbook runs; no host is contacted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
EXAMPLES = ROOT / "examples"
PLAYBOOK = HERE / "resolve_to_file.yml"


def ansible_playbook(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build" / "collections"),
    }
    command = [str(Path(sys.executable).parent / "ansible-playbook"), *args]
    return subprocess.run(command, cwd=cwd, env=env, check=False, capture_output=True, text=True, timeout=300)


def resolve_files(out_dir: Path, *args: str) -> dict:
    out_dir.mkdir(exist_ok=True)
    run = ansible_playbook("-i", str(EXAMPLES / "inventory" / "hosts.yml"), str(PLAYBOOK), "-e", f"out_dir={out_dir}", *args)
    assert run.returncode == 0, run.stdout + run.stderr
    merged = {}
    for path in sorted(out_dir.glob("*.json")):
        merged.update(json.loads(path.read_text()))
    return merged


def test_example_resolves(tmp_path):
    result = resolve_files(tmp_path)
    assert sorted(result) == ["admin-1", "etcd-1", "my-host"]
    (endpoint,) = result["my-host"]["endpoints"]
    assert [p["name"] for p in endpoint["policies"]["ingress"]] == ["k8s-worker"]
    assert result["my-host"]["rule_selectors"]['role == "etcd"']["ipv4"] == ["198.51.100.12/32"]


@pytest.mark.parametrize("cut", [["--limit", "my-host"], ["--limit", "my-host,admin-1"], ["-e", "test_serial=1"]], ids=["limit-one", "limit-two", "serial-1"])
def test_resolution_does_not_depend_on_how_the_play_is_cut(tmp_path, cut):
    whole = resolve_files(tmp_path / "whole")
    cut_result = resolve_files(tmp_path / "cut", *cut)
    assert cut_result
    for host, resolved in cut_result.items():
        assert resolved == whole[host], host


def failure_result(output: str, host: str) -> dict:
    """The task result of ``host``'s failure, as the default callback prints it on every
    ansible-core version (``fatal: [host]: FAILED! => {json}``); the error lines around it
    differ between versions and are not the product's."""
    marker = f"fatal: [{host}]: FAILED! => "
    (line,) = [line for line in output.splitlines() if line.startswith(marker)]
    return json.loads(line[len(marker):])


def test_one_bad_policy_fails_the_play_before_any_host_task(tmp_path):
    run = ansible_playbook("-i", str(HERE / "inventories" / "broken" / "hosts.yml"), str(PLAYBOOK), "-e", f"out_dir={tmp_path}")
    output = run.stdout + run.stderr
    assert run.returncode == 2, output
    problems = [
        'palisade_policies[1] (bad-selector): selector: selector "role == web" column 9: expected a quoted string',
        "palisade_policies[2] (bad-rule): ingress[0].destinaton: unknown field; did you mean 'destination'?"
        " (expected one of: action, destination, http, icmp, ipVersion, metadata, notICMP, notProtocol, protocol, source)",
        "palisade_policies[2] (bad-rule): ingress[0].action: invalid action 'allow': expected one of Allow, Deny, Pass, Log; did you mean 'Allow'?",
        "host web1: palisade_labels.tier: label values must be strings, got an integer 3; quote it in YAML",
    ]
    result = failure_result(output, "web1")
    assert result["problems"] == problems
    assert result["msg"] == "\n".join(["4 problems in the firewall configuration:", *("- " + problem for problem in problems)])
    assert "Save the batch's resolution" not in output
    assert list(tmp_path.iterdir()) == []


def test_resolve_playbook_prints_every_host():
    run = ansible_playbook("palisade.firewall.resolve", cwd=EXAMPLES)
    assert run.returncode == 0, run.stdout + run.stderr
    for expected in ("ok: [my-host]", "ok: [etcd-1]", "ok: [admin-1]", '"name": "my-host-eth0"', "failed=0"):
        assert expected in run.stdout, expected
