# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rendered files of a hostile policy load with the real tools and create exactly the
intended sets, members and rules: a selector string holding line separators, or long enough to
cross ipset's 1,024-byte read, never becomes a command.

Each case runs in a throwaway namespace ``pal-hostile-<pid>-<n>`` that only this test creates
and deletes (see ``netns.namespace``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from netns import namespace, run_in
from test_kernel_accepts_golden import FAMILIES, check_saved_rules, parse_rules, require_kernel_tools

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "plugins" / "plugin_utils"))
import golden_cases  # noqa: E402  (the unit tests' inventory -> compile plumbing)

from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import IPSETS_FILE, render_files  # noqa: E402

ADMIN_V4 = "pal-s4-350250576f627f61"  # selector role == 'admin': 192.0.2.20
ADMIN_V6 = "pal-s6-350250576f627f61"
SEPARATORS = {
    "LF": "\n",
    "CR": "\r",
    "VT": "\x0b",
    "FF": "\x0c",
    "FS": "\x1c",
    "GS": "\x1d",
    "RS": "\x1e",
    "NEL": "\x85",
    "LS": "\u2028",
    "PS": "\u2029",
    "NUL": "\x00",
}
HOSTILE = {name: f'role == "x{char}add {ADMIN_V4} 0.0.0.0/1{char}create pal-evil hash:net{char}#"' for name, char in SEPARATORS.items()}
HOSTILE["long"] = 'role == "' + "y" * (1000 - len('role == ""') - len(" create pal-evil hash:net")) + ' create pal-evil hash:net"'


def hostile_files(selector: str) -> dict:
    policies = [
        {
            "name": "web",
            "selector": "role == 'web'",
            "ingress": [
                {"action": "Allow", "source": {"selector": "role == 'admin'"}},
                {"action": "Allow", "protocol": "TCP", "source": {"selector": selector}},
            ],
        }
    ]

    def entry(role: str, address: str) -> dict:
        endpoints = [{"interfaceName": "eth0", "expectedIPs": [address]}]
        return {"vars": {"palisade_labels": {"role": role}, "palisade_host_endpoints": endpoints, "palisade_policies": policies}}

    inventory = {"host": f"web1{selector[:40]}", "hosts": {"web1": entry("web", "192.0.2.10"), "adm": entry("admin", "192.0.2.20")}}
    _host, rulesets = golden_cases.compile_inventory(dict(inventory, host="web1"))
    return render_files(rulesets, host=inventory["host"])  # a hostile host name in the headers too


def saved_sets(name: str) -> dict:
    """``{set: sorted members}`` as ``ipset save`` prints them."""
    sets: dict = {}
    for line in run_in(name, ["ipset", "save"]).split("\n"):
        words = line.split(" ")
        if words[0] == "create":
            sets[words[1]] = []
        elif words[0] == "add":
            sets[words[1]].append(words[2])
    return {key: sorted(value) for key, value in sets.items()}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_selector_loads_as_intended(case):
    require_kernel_tools()
    files = hostile_files(HOSTILE[case])
    hostile_sets = sorted(
        line.split(" ")[1] for line in files[IPSETS_FILE].split("\n") if line.startswith("create ") and ADMIN_V4[7:] not in line
    )
    assert len(hostile_sets) == 2
    with namespace("pal-hostile") as name:
        run_in(name, ["ipset", "restore"], files[IPSETS_FILE])
        for file_name, tool in FAMILIES:
            run_in(name, [f"{tool}-restore", "--test", "--noflush"], files[file_name])
            run_in(name, [f"{tool}-restore", "--noflush"], files[file_name])
        assert saved_sets(name) == {ADMIN_V4: ["192.0.2.20"], ADMIN_V6: [], hostile_sets[0]: [], hostile_sets[1]: []}
        for file_name, tool in FAMILIES:
            rendered = parse_rules(files[file_name])
            check_saved_rules(name, tool, rendered)
            saved = parse_rules(run_in(name, [f"{tool}-save"]))
            owned = {
                (table, chain): rules
                for table, item in saved.items()
                for chain, rules in item.rules.items()
                if chain.startswith("pal-")
            }
            wanted = {(table, chain): rules for table, item in rendered.items() for chain, rules in item.rules.items() if chain.startswith("pal-")}
            assert sorted(owned) == sorted(key for key, rules in wanted.items() if rules)
