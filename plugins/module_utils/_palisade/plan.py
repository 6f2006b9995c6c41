# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wanted state vs live state: what to run, what changes, and a readable text of both sides.

Private to the collection: this API may change at any time.

``make_plan(wanted, live)`` compares by content: per family, table and owned chain, the rules
in order (canonical forms, see ``rules``); per built-in chain, whether the hook rules sit
exactly as wanted (each wanted hook once, inserts first in the given order, appends last, no
other rule jumping into an owned chain); per ipset, type, family, options and the member set.

When a family differs, its plan is ONE ``iptables-restore --noflush`` transaction, per table
that has owned chains before or after:

1. ``:chain - [0:0]`` for every wanted owned chain (declaring flushes it) and every owned chain
   no longer wanted;
2. ``-D`` of hook rules of a built-in chain whose hooks are not exactly right (all of them, by
   their full rule text, never by number, so a rule another tool added meanwhile is never hit),
   and of other tools' rules that jump into an owned chain being deleted;
3. ``-A`` of the wanted rules; then the chain's wanted hooks (``-I CHAIN n``, ``-A CHAIN``);
4. ``-X`` of every owned chain no longer wanted.

ipsets: new sets are created (empty) first; new and changed sets are loaded into temporary sets
by one ``ipset restore``, then swapped in and the temporaries destroyed (``ipset restore`` is
not atomic, ``swap`` is); sets no longer wanted are destroyed after the rules stop using them.
A set whose type or family changes cannot be swapped: it is replaced (destroy, rename the
temporary) when no rule uses it, and refused otherwise.
"""

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import rules
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.records import field, record
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import (
    BUILTIN_CHAINS,
    FAMILIES,
    MAX_SET_NAME,
    family_name,
    table_sort_key,
)

DIFF_MEMBER_LIMIT = 1000  # members of one set listed in the readable text of each side (--diff)

CHANGE_KEYS = (
    "chains_added",
    "chains_changed",
    "chains_removed",
    "hooks_added",
    "hooks_moved",
    "hooks_removed",
    "references_removed",
    "sets_added",
    "sets_changed",
    "sets_removed",
)


@record
class FamilyPlan:
    family: int
    transaction: str = ""
    chains_added: list = field(default_factory=list)
    chains_changed: list = field(default_factory=list)
    chains_removed: list = field(default_factory=list)
    hooks_added: list = field(default_factory=list)
    hooks_moved: list = field(default_factory=list)
    hooks_removed: list = field(default_factory=list)
    references_removed: list = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.transaction)


@record
class SetPlan:
    added: list = field(default_factory=list)  # set names
    changed: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    labels: dict = field(default_factory=dict)  # set name -> family-qualified label
    load: str = ""  # one ipset restore: new sets (empty), then every temporary set with its members
    swap: str = ""  # one ipset restore: swap (or replace) and destroy the temporaries
    created: list = field(default_factory=list)  # what ``load`` creates: cleaned up if it fails
    temporaries: dict = field(default_factory=dict)  # set name -> temporary name

    @property
    def changed_anything(self) -> bool:
        return bool(self.load or self.removed)


@record
class Plan:
    families: dict  # family -> FamilyPlan
    sets: SetPlan
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return any(plan.changed for plan in self.families.values()) or self.sets.changed_anything

    def changes(self) -> dict:
        """The ``changes`` result: family-qualified names per kind of change."""
        result = {key: [] for key in CHANGE_KEYS}
        for family in sorted(self.families):
            plan = self.families[family]
            for key in CHANGE_KEYS[:7]:
                result[key].extend(getattr(plan, key))
        result["sets_added"] = [self.sets.labels[name] for name in self.sets.added]
        result["sets_changed"] = [self.sets.labels[name] for name in self.sets.changed]
        result["sets_removed"] = [self.sets.labels[name] for name in self.sets.removed]
        return result

    def transactions(self) -> dict:
        """The texts that would be (or were) given to the tools, by name."""
        result = {family_name(family): plan.transaction for family, plan in sorted(self.families.items()) if plan.transaction}
        if self.sets.load:
            result["ipset_load"] = self.sets.load
            result["ipset_swap"] = self.sets.swap
        if self.sets.removed:
            result["ipset_destroy"] = "".join(f"destroy {name}\n" for name in self.sets.removed)
        return result


def make_plan(wanted, live, families=FAMILIES, include_sets=True) -> Plan:
    """The plan that turns ``live`` into ``wanted``; ``families``/``include_sets`` limit its scope."""
    prefix = wanted.prefix
    family_plans = {}
    for family in FAMILIES:
        if family in families:
            family_plans[family] = _family_plan(wanted, live, family, prefix)
        else:
            family_plans[family] = FamilyPlan(family)
    sets = _set_plan(wanted, live) if include_sets else SetPlan()
    before, after = describe_both(live_view(live, wanted, families, include_sets), wanted_view(wanted, families, include_sets))
    return Plan(family_plans, sets, before, after)


# -- rules -----------------------------------------------------------------------------------


def _family_plan(wanted, live, family: int, prefix: str) -> FamilyPlan:
    plan = FamilyPlan(family)
    name = family_name(family)
    tables = set(table for table, chains in wanted.family_tables(family).items() if chains)
    tables |= set(live.tables_with_owned(family))
    blocks = []
    for table in sorted(tables, key=table_sort_key):
        wanted_chains = wanted.chains(family, table)
        live_table = live.table(family, table)
        removed = sorted(set(live_table.owned) - set(wanted_chains))
        plan.chains_added += [f"{name} {table} {chain}" for chain in sorted(set(wanted_chains) - set(live_table.owned))]
        plan.chains_removed += [f"{name} {table} {chain}" for chain in removed]
        plan.chains_changed += [
            f"{name} {table} {chain}"
            for chain in sorted(set(wanted_chains) & set(live_table.owned))
            if wanted_chains[chain].canonical() != live_table.owned[chain].canonical()
        ]
        deletes, hook_lines = [], []
        for builtin in BUILTIN_CHAINS.get(table, ()):
            hooks = [hook for hook in wanted.family_hooks(family) if hook.table == table and hook.chain == builtin]
            _plan_hooks(plan, table, builtin, hooks, live_table, prefix, deletes, hook_lines)
        for chain in sorted(live_table.references):
            for rule in live_table.references[chain]:
                if rule.target[1] in removed:
                    deletes.append(f"-D {chain} {rule.arguments}")
                    plan.references_removed.append(f"{name} {table} {chain} {rules.join_arguments(rule.words)}")
        block = [f"*{table}"]
        block += [f":{chain} - [0:0]" for chain in wanted_chains]
        block += [f":{chain} - [0:0]" for chain in removed]
        block += deletes
        for chain in wanted_chains.values():
            block += [f"-A {chain.name} {rule}" for rule in chain.rules]
        block += hook_lines
        block += [f"-X {chain}" for chain in removed]
        block.append("COMMIT")
        blocks.append(block)
    differs = any(getattr(plan, key) for key in CHANGE_KEYS[:7])
    if differs:
        header = [f"# palisade.firewall: owned IPv{family} state, for {'ip6tables' if family == 6 else 'iptables'}-restore --noflush"]
        plan.transaction = "".join(line + "\n" for line in header + [line for block in blocks for line in block])
    return plan


def hooks_in_place(rules_of_chain: list, inserts: list, appends: list, prefix: str) -> bool:
    """Each wanted hook exactly once where it belongs, and no other rule jumping into an owned chain."""
    count = len(rules_of_chain)
    if sum(1 for rule in rules_of_chain if rule.jumps_to(prefix)) != len(inserts) + len(appends):
        return False
    for index, hook in enumerate(inserts):
        if not _is_hook(rules_of_chain[index], hook.target):
            return False
    for index, hook in enumerate(appends):
        if not _is_hook(rules_of_chain[count - len(appends) + index], hook.target):
            return False
    return True


def _is_hook(rule, target: str) -> bool:
    return rule.is_plain_jump() and rule.target[1] == target


def _plan_hooks(plan, table, builtin, hooks, live_table, prefix, deletes, hook_lines) -> None:
    rules_of_chain = live_table.builtin.get(builtin, [])
    live_hooks = [rule for rule in rules_of_chain if rule.jumps_to(prefix)]
    inserts = [hook for hook in hooks if hook.position == "insert"]
    appends = [hook for hook in hooks if hook.position == "append"]
    if not hooks and not live_hooks:
        return
    if hooks_in_place(rules_of_chain, inserts, appends, prefix):
        return
    family = family_name(plan.family)
    deletes += [f"-D {builtin} {rule.arguments}" for rule in live_hooks]
    hook_lines += [f"-I {builtin} {index} -j {hook.target}" for index, hook in enumerate(inserts, start=1)]
    hook_lines += [f"-A {builtin} -j {hook.target}" for hook in appends]
    # What the user reads: hooks added, moved (present, but not where they belong), removed.
    count = len(rules_of_chain)
    wanted_targets = set()
    for index, hook in enumerate(inserts + appends):
        wanted_targets.add(hook.target)
        place = index if hook.position == "insert" else count - len(appends) + (index - len(inserts))
        copies = [rule for rule in live_hooks if _is_hook(rule, hook.target)]
        if not copies:
            plan.hooks_added.append(hook.name)
            continue
        in_place = 0 <= place < count and _is_hook(rules_of_chain[place], hook.target)
        if not in_place:
            plan.hooks_moved.append(f"{hook.name} ({hook.position})")
        plan.hooks_removed += [f"{hook.name} (duplicate)"] * (len(copies) - 1)
    for rule in live_hooks:
        if not (rule.is_plain_jump() and rule.target[1] in wanted_targets):
            plan.hooks_removed.append(f"{family} {table} {builtin} {rules.join_arguments(rule.words)}")


# -- ipsets ----------------------------------------------------------------------------------


def temporary_name(name: str, taken) -> str:
    """``<name>-t`` (cut to the kernel's 31 characters), or ``-t2``, ``-t3``... when taken."""
    for number in range(1, 100):
        suffix = "-t" if number == 1 else f"-t{number}"
        candidate = name[: MAX_SET_NAME - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
    raise PalisadeError(f"no free temporary ipset name for {name}")


def _set_plan(wanted, live) -> SetPlan:
    plan = SetPlan()
    wanted_sets, live_sets = wanted.ipsets, live.ipsets
    plan.added = sorted(set(wanted_sets) - set(live_sets))
    plan.removed = sorted(set(live_sets) - set(wanted_sets))
    plan.changed = sorted(name for name in set(wanted_sets) & set(live_sets) if not wanted_sets[name].same_as(live_sets[name]))
    plan.labels = {name: item.label for name, item in {**live_sets, **wanted_sets}.items()}
    replaced = [name for name in plan.changed if wanted_sets[name].identity()[:2] != live_sets[name].identity()[:2]]
    users = live.set_users() if replaced else set()
    refused = [name for name in replaced if name in users]
    if refused:
        details = "; ".join(
            f"{name} is {live_sets[name].description()} and should be {wanted_sets[name].description()}" for name in refused
        )
        raise PalisadeError(
            f"cannot change the type or family of an ipset that a rule uses (ipset swap refuses it): {details}."
            " Give the new set a new name (the renderer's names include the family and kind)."
        )
    taken = set(live.all_set_names) | set(wanted_sets)
    load, swap = [], []
    for name in plan.added:
        load.append(wanted_sets[name].create_line())
        plan.created.append(name)
    for name in plan.added + plan.changed:
        temporary = temporary_name(name, taken)
        taken.add(temporary)
        plan.temporaries[name] = temporary
        plan.created.append(temporary)
        load += wanted_sets[name].restore_lines(temporary)
        if name in replaced:
            swap += [f"destroy {name}", f"rename {temporary} {name}"]
        else:
            swap += [f"swap {temporary} {name}", f"destroy {temporary}"]
    plan.load = "".join(line + "\n" for line in load)
    plan.swap = "".join(line + "\n" for line in swap)
    return plan


# -- readable text of both sides (--diff) ----------------------------------------------------


def wanted_view(wanted, families=FAMILIES, include_sets=True) -> dict:
    """``{(family, table): {"hooks": [line], "chains": {name: [rule]}}, "ipsets": {...}}`` of a state."""
    view = {"tables": {}, "ipsets": {}}
    for family in families:
        for table, chains in wanted.family_tables(family).items():
            section = view["tables"].setdefault((family, table), {"hooks": [], "chains": {}})
            for name, chain in chains.items():
                section["chains"][name] = [rules.join_arguments(words) for words in chain.canonical()]
        for table in BUILTIN_CHAINS:
            for builtin in BUILTIN_CHAINS[table]:
                hooks = [hook for hook in wanted.family_hooks(family) if hook.table == table and hook.chain == builtin]
                ordered = [hook for hook in hooks if hook.position == "insert"] + [hook for hook in hooks if hook.position == "append"]
                if ordered:
                    section = view["tables"].setdefault((family, table), {"hooks": [], "chains": {}})
                    section["hooks"] += [f"{builtin} {hook.position}: -j {hook.target}" for hook in ordered]
    if include_sets:
        view["ipsets"] = {name: _set_view(item) for name, item in wanted.ipsets.items()}
    return view


def live_view(live, wanted, families=FAMILIES, include_sets=True) -> dict:
    """The same view of the live state; hooks exactly where wanted read as the wanted ones."""
    view = {"tables": {}, "ipsets": {}}
    prefix = wanted.prefix
    for family in families:
        for table_name, table in live.families[family].tables.items():
            section = {"hooks": [], "chains": {}}
            for name, chain in table.owned.items():
                section["chains"][name] = [rules.join_arguments(words) for words in chain.canonical()]
            for builtin in BUILTIN_CHAINS.get(table_name, ()):
                section["hooks"] += _live_hook_lines(family, table, builtin, wanted, prefix)
            if section["chains"] or section["hooks"]:
                view["tables"][(family, table_name)] = section
    if include_sets:
        view["ipsets"] = {name: _set_view(item) for name, item in live.ipsets.items()}
    return view


def _live_hook_lines(family, table, builtin, wanted, prefix) -> list:
    rules_of_chain = table.builtin.get(builtin, [])
    if not any(rule.jumps_to(prefix) for rule in rules_of_chain):
        return []
    hooks = [hook for hook in wanted.family_hooks(family) if hook.table == table.name and hook.chain == builtin]
    inserts = [hook for hook in hooks if hook.position == "insert"]
    appends = [hook for hook in hooks if hook.position == "append"]
    if hooks_in_place(rules_of_chain, inserts, appends, prefix):
        return [f"{builtin} {hook.position}: -j {hook.target}" for hook in inserts + appends]
    positions = {hook.target: hook.position for hook in hooks}
    lines = []
    count = len(rules_of_chain)
    for index, rule in enumerate(rules_of_chain):
        if not rule.jumps_to(prefix):
            continue
        top = all(other.jumps_to(prefix) for other in rules_of_chain[:index])
        bottom = all(other.jumps_to(prefix) for other in rules_of_chain[index + 1 :])
        if top and bottom:
            where = positions.get(rule.target[1], "insert") if rule.is_plain_jump() else "insert"
        elif top:
            where = "insert"
        elif bottom:
            where = "append"
        else:
            where = f"rule {index + 1} of {count}"
        lines.append(f"{builtin} {where}: {rules.join_arguments(rule.words)}")
    return lines


def _set_view(item) -> tuple:
    return item.description(), sorted(item.member_keys())


def describe(view: dict, other=None, limit: int = DIFF_MEMBER_LIMIT) -> str:
    """Deterministic text: per family and table, hooks then chains (sorted, rules in order); then ipsets.

    A set with more than ``limit`` members on either side (``other``, the view it is compared
    with) lists only its members missing on the other side, at most ``limit`` of them, and then
    one line counting the members it does not list; both sides of a diff so show exactly what
    changed without the members they share.
    """
    lines = []
    for family, table in sorted(view["tables"], key=lambda key: (key[0], table_sort_key(key[1]))):
        section = view["tables"][(family, table)]
        if not section["hooks"] and not section["chains"]:
            continue
        lines.append(f"# IPv{family} {table} table")
        lines += [f"hook {line}" for line in section["hooks"]]
        for name in sorted(section["chains"]):
            lines.append(f"chain {name}")
            lines += [f"-A {name} {rule}" if rule else f"-A {name}" for rule in section["chains"][name]]
    if view["ipsets"]:
        other_sets = (other or {}).get("ipsets", {})
        lines.append("# ipsets")
        for name in sorted(view["ipsets"]):
            description, members = view["ipsets"][name]
            lines.append(f"set {name} {description}")
            lines += _member_lines(name, members, other_sets[name][1] if name in other_sets else [], limit)
    return "".join(line + "\n" for line in lines)


def describe_both(before_view: dict, after_view: dict, limit: int = DIFF_MEMBER_LIMIT) -> tuple:
    """``(before, after)`` texts of two views, large sets summarised alike on both sides (see ``describe``)."""
    return describe(before_view, after_view, limit), describe(after_view, before_view, limit)


def _member_lines(name: str, members: list, other_members: list, limit: int) -> list:
    if len(members) <= limit and len(other_members) <= limit:
        return [f"add {name} {member}" for member in members]
    other = set(other_members)
    shown = []
    for member in members:
        if len(shown) == limit:
            break
        if member not in other:
            shown.append(member)
    lines = [f"add {name} {member}" for member in shown]
    hidden = len(members) - len(shown)
    if hidden:
        lines.append(f"# ... and {hidden:,} more members of {name} (a set above {limit:,} members lists only members that differ, at most {limit:,})")
    return lines
