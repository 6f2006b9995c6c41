# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's IR as the files the kernel tools read: iptables-restore, ip6tables-restore, ipset.

Private to the collection: the engine's API may change at any time.

The words of every line come from ``iptables_syntax``; the role's Jinja2 templates only lay the
lines out, so that the layout is visible (and reusable by Ansible's ``template``) while every
decision stays in tested Python. Before rendering, the ruleset's cross-references are checked
(jump targets, hooks, set families), because iptables-restore under nf_tables does not report a
jump to a missing chain in ``--test`` mode: the first to notice would be a host mid-apply.

Output is a pure function of the IR (no timestamps, IR order for chains and rules, sorted set
members), so golden files and ``--diff`` stay stable.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jinja2

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir
from ansible_collections.palisade.firewall.plugins.plugin_utils.render import iptables_syntax as syntax
from ansible_collections.palisade.firewall.plugins.plugin_utils.render import text_contract
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.iptables_syntax import RenderError

TEMPLATES_DIR = Path(__file__).parents[3] / "roles" / "host_firewall" / "templates"
RULES_TEMPLATE = "iptables.rules.j2"
IPSETS_TEMPLATE = "ipset.restore.j2"

# File names a host's rendering is known by (golden files, the role's files on the host).
IPV4_FILE = "ipv4.rules"
IPV6_FILE = "ipv6.rules"
IPSETS_FILE = "ipsets.restore"

RESTORE_COMMANDS: Mapping[int, str] = {4: "iptables-restore", 6: "ip6tables-restore"}
# Targets the kernel accepts only in one table.
TABLE_ONLY_VERDICTS: Mapping[str, str] = {"notrack": "raw", "reject": "filter"}


def render_ruleset(ruleset: ir.Ruleset, *, host: str, include_hooks: bool = True) -> str:
    """The ``iptables-restore --noflush`` (or ip6tables) text of one family's owned ruleset.

    ``include_hooks=False`` leaves out the rules in built-in chains, for an apply step that
    manages hooks itself (``--noflush`` would otherwise add a second copy of each on re-apply).
    """
    context = ruleset_context(ruleset, host=host, include_hooks=include_hooks)
    name = IPV4_FILE if ruleset.family == 4 else IPV6_FILE
    return text_contract.check_file(
        _template(RULES_TEMPLATE).render(context),
        f"{name} of host {header_host(host)}",
        max_line_bytes=text_contract.RESTORE_MAX_LINE_BYTES,
        max_words=text_contract.RESTORE_MAX_WORDS,
    )


def render_ipsets(rulesets: Iterable[ir.Ruleset], *, host: str) -> str:
    """The ``ipset restore`` text of every family's sets (ipset names share one namespace)."""
    return text_contract.check_file(
        _template(IPSETS_TEMPLATE).render(ipsets_context(rulesets, host=host)),
        f"{IPSETS_FILE} of host {header_host(host)}",
        max_line_bytes=text_contract.IPSET_MAX_LINE_BYTES,
    )


def render_files(rulesets: Iterable[ir.Ruleset], *, host: str, include_hooks: bool = True) -> dict[str, str]:
    """Every file of a host by name: ``ipv4.rules``, ``ipv6.rules``, ``ipsets.restore``."""
    by_family = {ruleset.family: ruleset for ruleset in rulesets}
    if sorted(by_family) != [4, 6]:
        raise RenderError(f"expected one IPv4 and one IPv6 ruleset, got families {sorted(by_family)}")
    return {
        IPV4_FILE: render_ruleset(by_family[4], host=host, include_hooks=include_hooks),
        IPV6_FILE: render_ruleset(by_family[6], host=host, include_hooks=include_hooks),
        IPSETS_FILE: render_ipsets((by_family[4], by_family[6]), host=host),
    }


# -- contexts ------------------------------------------------------------------------------


def ruleset_context(ruleset: ir.Ruleset, *, host: str, include_hooks: bool = True) -> dict[str, Any]:
    """Plain data for ``iptables.rules.j2``: tables -> chains -> argument strings."""
    check_ruleset(ruleset)
    kinds = syntax.set_kinds(ruleset)
    tables = []
    for table in ruleset.tables:
        chains = [{"name": chain.name, "rules": _chain_rules(ruleset, table, chain, kinds)} for chain in table.chains]
        hooks = [syntax.hook_arguments(h) for h in ruleset.hooks if h.table == table.name] if include_hooks else []
        tables.append({"name": table.name, "chains": chains, "hooks": hooks})
    return {
        "host": header_host(host),
        "family": ruleset.family,
        "restore_command": RESTORE_COMMANDS[ruleset.family],
        "tables": tables,
    }


def _chain_rules(ruleset: ir.Ruleset, table: ir.Table, chain: ir.Chain, kinds: Mapping[str, str]) -> list[str]:
    """Each rule's arguments; an error names the rule, because the IR has no other handle on it."""
    lines = []
    for index, rule in enumerate(chain.rules):
        try:
            lines.append(syntax.rule_arguments(rule, ruleset.family, set_kinds=kinds))
        except RenderError as error:
            raise RenderError(f"{_where(ruleset, table)} chain {chain.name} rule {index} ({rule.comment!r}): {error}") from None
    return lines


def ipsets_context(rulesets: Iterable[ir.Ruleset], *, host: str) -> dict[str, Any]:
    """Plain data for ``ipset.restore.j2``: IPv4 sets first, each set's lines in order."""
    sets = []
    seen: set[str] = set()
    for ruleset in sorted(rulesets, key=lambda r: r.family):
        for item in ruleset.ipsets:
            if item.name in seen:
                raise RenderError(f"ipset {item.name} is defined twice (ipset names are shared by both families)")
            seen.add(item.name)
            _check_set_family(ruleset, item)
            text = text_contract.free_text(item.comment, text_contract.MAX_FREE_COMMENT_BYTES)
            comment = f"{item.name} (IPv{item.family} {item.kind}): {text}"
            sets.append({"comment": comment, "lines": syntax.ipset_lines(item)})
    return {"host": header_host(host), "sets": sets}


def header_host(host: str) -> str:
    """The host name as a header shows it: escaped and capped like any free text."""
    return text_contract.free_text(host, text_contract.MAX_HOST_BYTES)


# -- cross-reference checks ----------------------------------------------------------------


def check_ruleset(ruleset: ir.Ruleset) -> None:
    """What no single rule can check: tables, chain names, jump targets, hooks, set families."""
    if ruleset.family not in RESTORE_COMMANDS:
        raise RenderError(f"IP family must be 4 or 6, not {ruleset.family!r}")
    chains_by_table = _check_tables(ruleset)
    for table in ruleset.tables:
        for chain in table.chains:
            for index, rule in enumerate(chain.rules):
                _check_rule_references(ruleset, table, chain, index, rule, chains_by_table[table.name])
    _check_hooks(ruleset, chains_by_table)
    for item in ruleset.ipsets:
        _check_set_family(ruleset, item)
    names = [item.name for item in ruleset.ipsets]
    if len(set(names)) != len(names):
        raise RenderError(f"{_where(ruleset)}: an ipset name is used twice: {sorted(names)}")


def _where(ruleset: ir.Ruleset, table: ir.Table | None = None) -> str:
    return f"IPv{ruleset.family} {table.name} table" if table else f"IPv{ruleset.family} ruleset"


def _check_tables(ruleset: ir.Ruleset) -> dict[str, set[str]]:
    """Known, distinct tables; owned chains with valid, distinct, non-built-in names."""
    chains_by_table: dict[str, set[str]] = {}
    for table in ruleset.tables:
        if table.name not in ir.BUILTIN_CHAINS:
            raise RenderError(f"{_where(ruleset)}: unknown table {table.name!r}")
        if table.name in chains_by_table:
            raise RenderError(f"{_where(ruleset)}: table {table.name} appears twice")
        names: set[str] = set()
        for chain in table.chains:
            syntax.check_chain_name(chain.name)
            if chain.name in names:
                raise RenderError(f"{_where(ruleset, table)}: chain {chain.name} is defined twice")
            names.add(chain.name)
        chains_by_table[table.name] = names
    return chains_by_table


def _check_rule_references(
    ruleset: ir.Ruleset, table: ir.Table, chain: ir.Chain, index: int, rule: ir.Rule, owned: set[str]
) -> None:
    """A jump may only enter an owned chain of the same table; some targets live in one table."""
    where = f"{_where(ruleset, table)} chain {chain.name} rule {index}"
    verdict = rule.verdict
    if verdict.kind in ("jump", "goto") and verdict.target not in owned:
        raise RenderError(f"{where}: {verdict.kind} to {verdict.target!r}, which is not an owned chain of this table")
    only = TABLE_ONLY_VERDICTS.get(verdict.kind)
    if only is not None and table.name != only:
        raise RenderError(f"{where}: a {verdict.kind} verdict is only valid in the {only} table")


def _check_hooks(ruleset: ir.Ruleset, chains_by_table: Mapping[str, set[str]]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for hook in ruleset.hooks:
        key = (hook.table, hook.builtin, hook.target)
        if key in seen:
            raise RenderError(f"{_where(ruleset)}: hook {hook.table} {hook.builtin} -> {hook.target} appears twice")
        seen.add(key)
        if hook.target not in chains_by_table.get(hook.table, set()):
            raise RenderError(
                f"{_where(ruleset)}: hook {hook.table} {hook.builtin} -> {hook.target!r}, which is not an owned chain of that table"
            )
        syntax.hook_arguments(hook)


def _check_set_family(ruleset: ir.Ruleset, item: ir.IpSet) -> None:
    """The kernel refuses a set match whose set has the other family."""
    if item.family != ruleset.family:
        raise RenderError(f"{_where(ruleset)}: ipset {item.name} is an IPv{item.family} set")


# -- templates -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _environment() -> jinja2.Environment:
    """Settings that match Ansible's ``template`` defaults, so the role could render the same bytes."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        keep_trailing_newline=True,
        trim_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def _template(name: str) -> jinja2.Template:
    return _environment().get_template(name)
