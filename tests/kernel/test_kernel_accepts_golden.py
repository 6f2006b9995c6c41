# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real kernel tools accept every golden file, and save exactly what was rendered.

Needs root (it creates network namespaces) and iptables, ip6tables, ipset and iproute2. Each
case runs in a throwaway namespace ``pal-golden-<pid>-<n>`` that only this test creates and
deletes, so the machine's own rules are never touched. Missing tools are a failure, not a
skip: CI installs them (.ci/run), and a silently skipped kernel check proves nothing.

Why a real restore as well as ``--test``: under nf_tables, ``iptables-restore --test`` does
not notice a jump to a chain that does not exist. Why compare with the save tools' output:
the apply step decides "changed or not" by comparing what a host runs with what was rendered,
which only works if the renderer writes what the save tools print.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from netns import SEARCH_PATH, namespace, run_in

GOLDEN_DIR = Path(__file__).parents[1] / "unit" / "golden"
CASES = sorted(p for p in GOLDEN_DIR.iterdir() if p.is_dir() and (p / "ipv4.rules").exists()) if GOLDEN_DIR.is_dir() else []
TOOLS = ("ip", "ipset", "iptables-restore", "ip6tables-restore", "iptables-save", "ip6tables-save")
# The tools live in sbin, which a non-root PATH often lacks.
FAMILIES = (("ipv4.rules", "iptables"), ("ipv6.rules", "ip6tables"))
# Protocol names the renderer writes; any other name in saved output comes from /etc/protocols.
RENDERED_PROTOCOL_NAMES = frozenset({"icmp", "tcp", "udp", "ipv6-icmp", "sctp", "udplite"})
_PROTOCOL = re.compile(r"(?<!\S)-p (\S+)")


def require_kernel_tools() -> None:
    """Called by each test (not a fixture) so that missing tools show as FAILED, not ERROR."""
    missing = [tool for tool in TOOLS if shutil.which(tool, path=SEARCH_PATH) is None]
    if missing:
        pytest.fail(f"missing tools {', '.join(missing)}: install the packages iptables, ipset and iproute2")
    if os.geteuid() != 0:
        pytest.skip("needs root: it creates network namespaces (run `make kernel` as root)")


def test_there_are_golden_cases():
    require_kernel_tools()
    assert CASES, f"no golden cases under {GOLDEN_DIR}"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_kernel_accepts_golden(case: Path):
    require_kernel_tools()
    with namespace("pal-golden") as name:
        run_in(name, ["ipset", "restore"], (case / "ipsets.restore").read_text())
        for file_name, tool in FAMILIES:
            run_in(name, [f"{tool}-restore", "--test", "--noflush"], (case / file_name).read_text())
        for file_name, tool in FAMILIES:
            run_in(name, [f"{tool}-restore", "--noflush"], (case / file_name).read_text())
        for file_name, tool in FAMILIES:
            check_saved_rules(name, tool, parse_rules((case / file_name).read_text()))
        check_saved_sets(name, parse_sets((case / "ipsets.restore").read_text()))


# -- iptables ------------------------------------------------------------------------------


@dataclass
class TableRules:
    chains: list[str] = field(default_factory=list)
    rules: dict[str, list[str]] = field(default_factory=dict)  # chain -> rule arguments, in order


def parse_rules(text: str) -> dict[str, TableRules]:
    """Tables of a restore (or save) file: declared chains and each chain's ``-A`` arguments.

    Hook lines ``-I CHAIN 1 ARGS`` are placed as the kernel places them (at the top), so the
    result compares directly with what the save tools print.
    """
    tables: dict[str, TableRules] = {}
    current = TableRules()
    for line in text.splitlines():
        if line.startswith("*"):
            current = tables.setdefault(line[1:], TableRules())
        elif line.startswith(":"):
            current.chains.append(line[1:].split(" ")[0])
        elif line.startswith("-A "):
            chain, _sep, arguments = line[3:].partition(" ")
            current.rules.setdefault(chain, []).append(arguments)
        elif line.startswith("-I "):
            chain, position, arguments = line[3:].split(" ", 2)
            current.rules.setdefault(chain, []).insert(int(position) - 1, arguments)
    return tables


def check_saved_rules(name: str, tool: str, rendered: dict[str, TableRules]) -> None:
    """Every owned chain exists and holds exactly the rendered rules; built-ins hold the hooks."""
    for table, expected in rendered.items():
        saved = parse_rules(run_in(name, [f"{tool}-save", "-t", table])).get(table, TableRules())
        missing = [chain for chain in expected.chains if chain not in saved.chains]
        assert not missing, f"{tool} {table}: owned chains missing after restore: {missing}"
        for chain in set(expected.chains) | set(expected.rules):
            want = expected.rules.get(chain, [])
            got = [normalise_protocols(arguments) for arguments in saved.rules.get(chain, [])]
            assert got == want, f"{tool} {table} {chain}: saved rules differ from rendered ones"


def normalise_protocols(arguments: str) -> str:
    """``-p gre`` (a name from /etc/protocols) back to ``-p 47``, as the renderer writes it."""

    def number(found: re.Match[str]) -> str:
        protocol = found.group(1)
        if protocol in RENDERED_PROTOCOL_NAMES or protocol.isdigit():
            return found.group(0)
        return f"-p {socket.getprotobyname(protocol)}"

    return _PROTOCOL.sub(number, arguments)


# -- ipsets --------------------------------------------------------------------------------


def parse_sets(text: str) -> dict[str, tuple[list[str], set[str]]]:
    """Set name -> (create arguments, members) of an ``ipset restore``/``ipset save`` text."""
    sets: dict[str, tuple[list[str], set[str]]] = {}
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["create"]:
            sets[words[1]] = (words[2:], set())
        elif words[:1] == ["add"]:
            sets[words[1]][1].add(words[2])
    return sets


def check_saved_sets(name: str, rendered: dict[str, tuple[list[str], set[str]]]) -> None:
    """Same sets, same members; the saved create line only adds bucketsize and initval."""
    saved = parse_sets(run_in(name, ["ipset", "save"]))
    assert sorted(saved) == sorted(rendered)
    for set_name, (create, members) in rendered.items():
        saved_create, saved_members = saved[set_name]
        assert saved_create[: len(create)] == create, f"ipset {set_name}: created as {saved_create}"
        assert saved_members == members, f"ipset {set_name}: members differ"
