# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A result stays small when the ruleset is huge: a 1,000,000-member ipset, through the module's
real entry point inside a throwaway network namespace ``pal-big-<pid>-<n>`` (root, like
test_apply_ruleset.py). Before results were bounded, this result was about 66 MB.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from netns import SEARCH_PATH, namespace, tool

import ansible_collections.palisade.firewall.plugins.module_utils._palisade as backend

ROOT = Path(__file__).parents[2]
MODULE = ROOT / "plugins" / "modules" / "apply_ruleset.py"
COLLECTIONS = Path(backend.__file__).parents[6]
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in [str(COLLECTIONS), os.environ.get("PYTHONPATH", "")] if p), PATH=SEARCH_PATH)
HOST_PYTHON = os.environ.get("PALISADE_HOST_PYTHON") or sys.executable
MEMBERS = 1_000_000
MIB = 1024 * 1024
SET = "pal-n4-big"


def big_inputs() -> dict:
    lines = [f"create {SET} hash:net family inet hashsize 1048576 maxelem 2097152"]
    for index in range(MEMBERS):
        address = (10 << 24) + index * 4
        lines.append(f"add {SET} {address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}/30")
    return {
        "ipv4_rules": f"*filter\n:pal-INPUT - [0:0]\n-A pal-INPUT -m set --match-set {SET} src -j DROP\nCOMMIT\n",
        "ipv6_rules": "",
        "ipsets": "\n".join(lines) + "\n",
        "hooks": [{"family": 4, "table": "filter", "chain": "INPUT", "target": "pal-INPUT"}],
    }


@pytest.fixture
def ns():
    if any(shutil.which(name, path=SEARCH_PATH) is None for name in ("ip", "ipset", "iptables-restore", "iptables-save")):
        pytest.fail("missing tools: install the packages iptables, ipset and iproute2")
    if os.geteuid() != 0:
        pytest.skip("needs root: it creates network namespaces (run `make kernel` as root)")
    with namespace("pal-big") as name:
        yield name


def test_a_million_member_set_applies_and_its_result_stays_under_one_mib(ns, tmp_path):
    args = dict(big_inputs(), state_dir=str(tmp_path / "state"), _ansible_diff=True)
    (tmp_path / "args.json").write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    done = subprocess.run(
        [tool("ip"), "netns", "exec", ns, HOST_PYTHON, str(MODULE), str(tmp_path / "args.json")],
        capture_output=True, text=True, check=False, env=ENV,
    )
    result = json.loads(done.stdout)
    without_diff = len(json.dumps({key: value for key, value in result.items() if key != "diff"}))
    print(f"result of the apply of a {MEMBERS:,}-member set: {len(done.stdout):,} bytes with --diff, {without_diff:,} without its diff")
    assert "failed" not in result, result.get("msg")
    assert len(done.stdout) < MIB
    assert result["changed"] is True and result["restored"] is True
    assert result["changes"]["sets_added"] == [f"ipv4 {SET}"]
    assert result["transaction_lines"] == {"ipv4": 6, "ipset_load": MEMBERS + 2, "ipset_swap": 2}
    assert "transactions" not in result
    assert result["invocation"]["module_args"]["ipsets"] == f"({MEMBERS + 1} lines, {len(args['ipsets'])} bytes: shown at verbosity 3)"
    after = result["diff"]["after"].splitlines()
    assert after[-1] == f"# ... and 999,000 more members of {SET} (a set above 1,000 members lists only members that differ, at most 1,000)"
    members = sorted(line.split(" ", 2)[2] for line in args["ipsets"].splitlines()[1:])  # the diff sorts members as text
    assert after[-1001:-1] == [f"add {SET} {member}" for member in members[:1000]]
    assert after[:3] == ["# IPv4 filter table", "hook INPUT insert: -j pal-INPUT", "chain pal-INPUT"]
    assert result["diff"]["before"] == ""
    # the full texts are on the host: the applied inputs, and the kernel's own set
    assert (tmp_path / "state" / "applied" / "ipsets.restore").read_text() == args["ipsets"]
    listed = subprocess.run(
        [tool("ip"), "netns", "exec", ns, tool("ipset"), "list", SET, "-terse"], capture_output=True, text=True, check=True, env=ENV
    )
    assert f"Number of entries: {MEMBERS}" in listed.stdout
