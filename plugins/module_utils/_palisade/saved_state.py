# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The live state of a host, parsed from ``iptables-save``, ``ip6tables-save`` and ``ipset save``.

Private to the collection: this API may change at any time.

Per family and table, the parse keeps:

- the owned chains (name starts with the prefix) with their rules, in order;
- the rules of every built-in chain (to check where the hook rules sit);
- the rules of other tools' chains that jump into an owned chain (``references``): they are
  left alone unless the chain they jump to is being deleted.

A hook rule is any rule in a built-in chain whose target (``-j``/``-g``) is an owned chain.
Only a plain ``-j <owned chain>`` can be a wanted hook; any other such rule is removed by an
apply. Counters (``-c`` output) and timestamps are ignored. A fresh network namespace prints
nothing at all: that is "nothing owned".

``LiveState.owned()`` is the snapshot: the owned state as an ``OwnedState``, which renders back
into module inputs that restore it (hooks become ``insert`` when they sit above every rule of
other tools, else ``append``).
"""

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import rules
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.records import field, record
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import (
    BUILTIN_CHAINS,
    FAMILIES,
    OTHER_LINE_BREAKS,
    Chain,
    Hook,
    IpSet,
    OwnedState,
    table_sort_key,
)

SAVE_COMMANDS = {4: "iptables-save", 6: "ip6tables-save"}


@record(frozen=True)
class LiveRule:
    """A rule as saved: its arguments, their words, and its ``(kind, target)`` or None."""

    arguments: str
    words: tuple
    target: tuple = None

    @classmethod
    def parse(cls, arguments: str) -> "LiveRule":
        words = rules.canonical_words(arguments)
        return cls(arguments, words, rules.target_of(words))

    def jumps_to(self, prefix: str) -> bool:
        return self.target is not None and self.target[1].startswith(prefix)

    def is_plain_jump(self) -> bool:
        return self.target is not None and self.words == rules.hook_words(self.target[1])


@record
class LiveTable:
    """One table of one family: owned chains, built-in chains' rules, other tools' references."""

    name: str
    owned: dict = field(default_factory=dict)  # chain -> Chain
    builtin: dict = field(default_factory=dict)  # built-in chain -> [LiveRule]
    references: dict = field(default_factory=dict)  # other tools' chain -> [LiveRule] jumping to owned chains
    set_users: set = field(default_factory=set)  # names of every ipset a rule of this table uses

    def hook_rules(self, chain: str, prefix: str) -> list:
        """``(index, rule)`` of every rule of a built-in chain that jumps into an owned chain."""
        return [(index, rule) for index, rule in enumerate(self.builtin.get(chain, [])) if rule.jumps_to(prefix)]


@record
class LiveFamily:
    family: int
    tables: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)


def parse_iptables_save(text: str, family: int, prefix: str) -> LiveFamily:
    """The owned part of one family's ``iptables-save`` output (see the module docstring)."""
    live = LiveFamily(family)
    table = None
    declared = {}
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if "incompatible" in line or line.startswith("# Warning"):
                live.warnings.append(f"{SAVE_COMMANDS[family]}: {line[1:].strip()}")
            continue
        if line.startswith("["):  # counters of -c output
            line = line.split("]", 1)[1].strip()
        if line.startswith("*"):
            table = live.tables.setdefault(line[1:].strip(), LiveTable(line[1:].strip()))
            declared = {}
            continue
        if table is None or line == "COMMIT":
            table = None if line == "COMMIT" else table
            continue
        if line.startswith(":"):
            name = line[1:].split()[0]
            declared[name] = True
            if name.startswith(prefix):
                table.owned[name] = []
            elif name in BUILTIN_CHAINS.get(table.name, ()) or line.split()[1:2] != ["-"]:
                table.builtin.setdefault(name, [])
            continue
        if not line.startswith("-A "):
            continue
        chain, _sep, arguments = line[3:].partition(" ")
        rule = LiveRule.parse(arguments)
        table.set_users.update(rules.set_references(rule.words))
        if chain in table.owned:
            _check_owned_line(line, f"{SAVE_COMMANDS[family]} line {number}")
            table.owned[chain].append(arguments)
        elif chain in table.builtin:
            table.builtin[chain].append(rule)
        elif rule.jumps_to(prefix):
            table.references.setdefault(chain, []).append(rule)
    for item in live.tables.values():
        item.owned = {name: Chain(name, tuple(rule_list)) for name, rule_list in item.owned.items()}
    return live


def parse_ipset_save(text: str, prefix: str):
    """``({name: IpSet} of owned sets, names of every set)`` from ``ipset save`` output."""
    creates = {}
    members = {}
    names = set()
    for number, raw in enumerate(text.split("\n"), start=1):
        words = raw.strip().split(None, 2)
        if len(words) < 3:
            continue
        command, name, rest = words
        if name.startswith(prefix):
            _check_owned_line(raw, f"ipset save line {number}")
        if command == "create":
            names.add(name)
            if name.startswith(prefix):
                type_and_options = rest.split()
                creates[name] = (type_and_options[0], tuple(type_and_options[1:]))
                members[name] = []
        elif command == "add" and name in members:
            members[name].append(rest.strip())
    owned = {name: IpSet(name, kind, options, tuple(members[name])) for name, (kind, options) in creates.items()}
    return owned, frozenset(names)


def _check_owned_line(line: str, where: str) -> None:
    """An owned rule or set line holding a line break other than \\n (or NUL) was not written by the
    collection, and a snapshot of it could not be restored as the same lines: refuse it."""
    bad = sorted({OTHER_LINE_BREAKS[char] for char in line if char in OTHER_LINE_BREAKS})
    if bad:
        raise PalisadeError(f"{where}: an owned rule or set contains {', '.join(bad)}; it was not written by palisade.firewall")


@record
class LiveState:
    """What a host runs now: both families and the ipsets."""

    prefix: str
    families: dict = field(default_factory=dict)  # family -> LiveFamily
    ipsets: dict = field(default_factory=dict)  # owned sets: name -> IpSet
    all_set_names: frozenset = frozenset()

    @property
    def warnings(self) -> list:
        return [warning for live in self.families.values() for warning in live.warnings]

    def table(self, family: int, name: str) -> LiveTable:
        return self.families[family].tables.get(name) or LiveTable(name)

    def tables_with_owned(self, family: int) -> list:
        return [name for name, table in self.families[family].tables.items() if table.owned]

    def set_users(self) -> set:
        return {name for live in self.families.values() for table in live.tables.values() for name in table.set_users}

    def owned(self) -> OwnedState:
        """The snapshot: the owned state, which ``OwnedState.render_inputs()`` turns into inputs."""
        tables = {}
        hooks = []
        for family in FAMILIES:
            live = self.families.get(family, LiveFamily(family))
            tables[family] = {}
            for name in sorted(live.tables, key=table_sort_key):
                table = live.tables[name]
                if table.owned:
                    tables[family][name] = dict(sorted(table.owned.items()))
                for chain in BUILTIN_CHAINS.get(name, ()):
                    hooks.extend(_snapshot_hooks(family, table, chain, self.prefix))
        return OwnedState(prefix=self.prefix, tables=tables, hooks=tuple(hooks), ipsets=dict(sorted(self.ipsets.items())))


def _snapshot_hooks(family: int, table: LiveTable, chain: str, prefix: str) -> list:
    """Plain hooks of a built-in chain in chain order: inserts (above every other rule), then appends.

    A hook between other tools' rules cannot be placed there again by name; it comes back as an
    insert (other tools inserting above the collection's hook is how one ends up there). Hook
    rules with extra matches, or ``-g``, are not hooks the collection writes: the snapshot leaves
    them out, and applying it removes them.
    """
    rules_of_chain = table.builtin.get(chain, [])
    inserts, appends = [], []
    seen = set()
    for index, rule in enumerate(rules_of_chain):
        if not rule.jumps_to(prefix) or not rule.is_plain_jump() or rule.target[1] in seen:
            continue
        seen.add(rule.target[1])
        above = rules_of_chain[:index]
        below = rules_of_chain[index + 1 :]
        if all(other.jumps_to(prefix) for other in above) or not all(other.jumps_to(prefix) for other in below):
            inserts.append(Hook(family, table.name, chain, rule.target[1], "insert"))
        else:
            appends.append(Hook(family, table.name, chain, rule.target[1], "append"))
    return inserts + appends


def read_live(runner, prefix: str, need_ipset: bool = False) -> LiveState:
    """Run the save tools (reads only) and parse their output.

    A host without the ``ipset`` tool has no ipsets it could manage: that reads as none, unless
    ``need_ipset`` (the wanted state has sets) makes it an error.
    """
    state = LiveState(prefix)
    for family in FAMILIES:
        output = runner.run([SAVE_COMMANDS[family]]).stdout
        state.families[family] = parse_iptables_save(output, family, prefix)
    if runner.which("ipset") is None and not need_ipset:
        return state
    if runner.which("ipset") is None:
        raise PalisadeError("the wanted state has ipsets, but the ipset tool is not installed (install the ipset package)")
    owned, names = parse_ipset_save(runner.run(["ipset", "save"]).stdout, prefix)
    state.ipsets = owned
    state.all_set_names = names
    return state
