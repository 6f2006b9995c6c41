# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host-side plan and rule words on the lowest supported host Python (3.6) give what they
give here: tests/host_python/run_plan.py run on both, the same case, the same JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import palisade_fakes
import pytest

ROOT = Path(__file__).parents[4]
SCRIPT = ROOT / "tests" / "host_python" / "run_plan.py"
# the lowest supported host Python; `make host-python` names the same one
HOST_PYTHON = os.environ.get("PALISADE_HOST_PYTHON", "/root/.pyenv/versions/3.6.15/bin/python")
LIVE_V4 = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:f2b-sshd - [0:0]
:pal-old - [0:0]
-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd
-A INPUT -j pal-old
-A f2b-sshd -j REJECT --reject-with icmp-port-unreachable
-A pal-old -j ACCEPT
COMMIT
"""
RULES = ['-p gre -m comment --comment "two words" -j ACCEPT', "-s 198.51.100.7 -p tcp --dport 22 -j pal-ssh", "-m set --match-set pal-web src -j RETURN"]


def run(python: str, case: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / ".build" / "collections"), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([python, str(SCRIPT)], input=json.dumps(case), env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{python}: {done.stderr}"
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def host_python():
    if not os.access(HOST_PYTHON, os.X_OK):
        pytest.fail(f"the lowest supported host Python {HOST_PYTHON} is missing (set PALISADE_HOST_PYTHON)")
    return HOST_PYTHON


@pytest.mark.parametrize("golden", ["inventory-web-features", "inventory-router-forwarding"])
def test_the_plan_on_the_lowest_host_python_is_the_same(host_python, golden):
    case = dict(palisade_fakes.golden_inputs(golden), live_ipv4=LIVE_V4, live_ipv6="", live_ipsets="", rules=RULES)
    here, there = run(sys.executable, case), run(host_python, case)
    assert there["python"] == "3.6"
    del here["python"], there["python"]
    assert there == here
    # and it is a real plan: the foreign chain stays, the stale owned one goes, the new ones come
    assert there["changed"]
    assert "ipv4 filter pal-old" in there["changes"]["chains_removed"]
    assert there["changes"]["chains_added"]
    assert "f2b-sshd" not in there["transactions"]["ipv4"]
    assert there["rules"][0] == {
        "words": ["-p", "gre", "-m", "comment", "--comment", "two words", "-j", "ACCEPT"],
        "canonical": '-p 47 -m comment --comment "two words" -j ACCEPT',
    }
