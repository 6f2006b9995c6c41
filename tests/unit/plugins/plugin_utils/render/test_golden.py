# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendered files, byte for byte, against tests/unit/golden/<case>/.

``PALISADE_UPDATE_GOLDEN=1`` rewrites the golden files instead of comparing (see
tests/unit/golden/README.md); review the diff before committing it.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import golden_cases
import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import IPSETS_FILE, IPV4_FILE, IPV6_FILE

GOLDEN_DIR = Path(__file__).parents[4] / "unit" / "golden"
FILES = (IPV4_FILE, IPV6_FILE, IPSETS_FILE)
UPDATE = os.environ.get("PALISADE_UPDATE_GOLDEN") == "1"
NAMES = golden_cases.case_names()
# Golden directories of other outputs, kept by their own tests (not rulesets: never fed to the kernel).
OTHER_GOLDEN = ("reachability",)  # test_reachability.py


@pytest.mark.parametrize("name", NAMES)
def test_golden(name):
    rendered = golden_cases.render_case(name)
    assert sorted(rendered) == sorted(FILES)
    directory = GOLDEN_DIR / name
    if UPDATE:
        directory.mkdir(parents=True, exist_ok=True)
        for file_name in FILES:
            (directory / file_name).write_bytes(rendered[file_name].encode("utf-8"))
        return
    for file_name in FILES:
        path = directory / file_name
        assert path.exists(), f"{path} is missing: run with PALISADE_UPDATE_GOLDEN=1 and review it"
        expected = path.read_bytes()
        actual = rendered[file_name].encode("utf-8")
        assert actual == expected, _diff(path, expected, actual)


def _diff(path: Path, expected: bytes, actual: bytes) -> str:
    lines = difflib.unified_diff(
        expected.decode("utf-8", "replace").splitlines(keepends=True),
        actual.decode("utf-8", "replace").splitlines(keepends=True),
        f"{path} (golden)",
        "rendered",
    )
    return f"{path} differs (PALISADE_UPDATE_GOLDEN=1 rewrites it):\n" + "".join(lines)


def test_no_stale_golden_directories():
    """A golden directory without a case would still be fed to the kernel test: remove it."""
    directories = sorted(p.name for p in GOLDEN_DIR.iterdir() if p.is_dir() and p.name != "__pycache__" and p.name not in OTHER_GOLDEN)
    stale = [name for name in directories if name not in NAMES]
    if UPDATE:
        for name in stale:
            for file_name in FILES:
                (GOLDEN_DIR / name / file_name).unlink(missing_ok=True)
            (GOLDEN_DIR / name).rmdir()
        return
    assert not stale, f"golden directories without a case (PALISADE_UPDATE_GOLDEN=1 removes them): {stale}"


def test_rendering_does_not_depend_on_hash_seed():
    """Sets and dicts must never leak their iteration order into a file."""
    script = (
        "import json, golden_cases\n"
        "print(json.dumps({n: golden_cases.render_case(n) for n in golden_cases.case_names()}))\n"
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    outputs = []
    for seed in ("1", "2"):
        environment["PYTHONHASHSEED"] = seed
        done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=True)
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1] == {name: golden_cases.render_case(name) for name in NAMES}


def test_ir_cases_cover_every_ir_feature():
    """Keeps the hand-built cases honest: every match field, verdict, hook point and set kind."""
    seen: set[str] = set()
    for _name, _host, build in golden_cases.IR_CASES:
        for ruleset in build():
            seen.update(_features(ruleset))
    match_fields = {f"match.{name}" for name in ir.Match.__dataclass_fields__}
    verdicts = {f"verdict.{kind}" for kind in ("accept", "drop", "reject", "return", "jump", "goto", "mark", "log", "notrack")}
    hooks = {f"hook.{table}.{chain}" for table, chains in ir.BUILTIN_CHAINS.items() for chain in chains}
    expected = match_fields | verdicts | hooks | {"hook.insert", "hook.append", "set.hash:net", "set.hash:ip,port", "family.4", "family.6"}
    assert expected - seen == set()


def _features(ruleset: ir.Ruleset) -> set[str]:
    seen = {f"family.{ruleset.family}"}
    for table in ruleset.tables:
        for chain in table.chains:
            for rule in chain.rules:
                seen.add(f"verdict.{rule.verdict.kind}")
                seen.update(f"match.{name}" for name in ir.Match.__dataclass_fields__ if getattr(rule.match, name))
    for hook in ruleset.hooks:
        seen.update((f"hook.{hook.table}.{hook.builtin}", f"hook.{hook.position}"))
    seen.update(f"set.{item.kind}" for item in ruleset.ipsets)
    return seen


def test_compile_inventory_plumbing():
    """Inventory cases reach compile_host with the whole fleet; a stub stands in for the compiler."""
    calls = []

    class Compiled:
        rulesets = golden_cases.empty_case()
        warnings = ()

    def fake_compile_host(index, host_name):
        calls.append((sorted(index.fleet.hosts), host_name))
        return Compiled()

    inventory = {
        "host": "web1",
        "hosts": {
            "web1": {"groups": ["web"], "vars": {"palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.10"]}]}},
            "db1": {"groups": ["db"], "vars": {}},
        },
    }
    host, rulesets = golden_cases.compile_inventory(inventory, compile_host=fake_compile_host)
    assert (host, [r.family for r in rulesets]) == ("web1", [4, 6])
    assert calls == [(["db1", "web1"], "web1")]
