# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The owned state of a host as values, parsed from the module's inputs and rendered back.

Private to the collection: this API may change at any time.

An ``OwnedState`` is what the collection owns on one host: per family, per table, the owned
chains with their rules (in order); the hook rules (a plain ``-j <owned chain>`` in a built-in
chain, at the top (``insert``) or the bottom (``append``)); and the owned ipsets (type, family,
options, members). The same class describes the wanted state (parsed from the module's inputs
by ``parse_wanted``) and a snapshot of the live state (``saved_state``); ``inputs()`` renders
either back into the module's inputs, so that a snapshot can be applied to restore it.

The inputs, as the role renders them:

- ``ipv4_rules``/``ipv6_rules``: ``iptables-restore --noflush`` text declaring only owned
  chains (``:pal-x - [0:0]``) and their rules (``-A pal-x ...``), with ``*table``/``COMMIT``
  and ``#`` comments; no rules in built-in chains (hooks come separately);
- ``ipsets``: ``ipset restore`` text: ``create``/``add`` lines and ``#`` comments;
- ``hooks``: dicts ``{family, table, chain, target, position}``.
"""

import ipaddress
import json

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import rules
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import InputError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.records import field, record

FAMILIES = (4, 6)
# Tables in the order iptables-save prints them is not stable; this order is used everywhere.
TABLE_ORDER = ("raw", "mangle", "nat", "filter", "security")
BUILTIN_CHAINS = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}
POSITIONS = ("insert", "append")
MAX_CHAIN_NAME = 28  # iptables: 29 bytes with the terminating NUL
MAX_SET_NAME = 31  # ipset: 32 bytes with the terminating NUL
OPTION_FOR_FAMILY = {4: "ipv4_rules", 6: "ipv6_rules"}
SET_FAMILIES = {"inet": 4, "inet6": 6}
# ipset create options that take a value; every other word is a flag (comment, counters...).
SET_VALUE_OPTIONS = frozenset(
    {"family", "hashsize", "maxelem", "netmask", "timeout", "range", "size", "markmask", "bucketsize", "initval", "probes", "resize"}
)
# Tuning the kernel chooses or grows by itself: not part of what a set is.
SET_IGNORED_OPTIONS = frozenset({"hashsize", "bucketsize", "initval", "probes", "resize"})
SET_MEMBER_FLAGS = frozenset({"nomatch"})


def family_name(family: int) -> str:
    return f"ipv{family}"


def table_sort_key(table: str):
    return (TABLE_ORDER.index(table) if table in TABLE_ORDER else len(TABLE_ORDER), table)


def check_prefix(prefix: str) -> None:
    problems = []
    if not prefix or any(char.isspace() for char in prefix) or '"' in prefix:
        problems.append(f"prefix must be a non-empty word without spaces or quotes, not {prefix!r}")
    elif len(prefix) > 20:
        problems.append(f"prefix {prefix!r} is longer than 20 characters: owned names would not fit the kernel's limits")
    elif any(name.startswith(prefix) for names in BUILTIN_CHAINS.values() for name in names):
        problems.append(f"prefix {prefix!r} would claim built-in chains")
    if problems:
        raise InputError(problems)


# -- values ----------------------------------------------------------------------------------


@record(frozen=True)
class Hook:
    """A rule ``-j target`` in a built-in chain: first (``insert``) or last (``append``)."""

    family: int
    table: str
    chain: str
    target: str
    position: str = "insert"

    @property
    def name(self) -> str:
        return f"{family_name(self.family)} {self.table} {self.chain} -j {self.target}"

    def as_dict(self) -> dict:
        return {"family": self.family, "table": self.table, "chain": self.chain, "target": self.target, "position": self.position}


@record(frozen=True)
class IpSet:
    """One ipset: ``create`` words after the name, and one string per member (``add`` words after the name)."""

    name: str
    type: str
    options: tuple = ()
    members: tuple = ()

    @property
    def family(self):
        """4 or 6 for ``family inet``/``inet6`` (the default of hash types is inet), else None."""
        value = _option_values(self.options).get("family")
        if value is None:
            return 4 if self.type.startswith("hash:") and "mac" != self.type[5:] else None
        return SET_FAMILIES.get(value)

    @property
    def label(self) -> str:
        family = self.family
        return f"{family_name(family)} {self.name}" if family else f"ipset {self.name}"

    def identity(self) -> tuple:
        """Type, family and options that define the set (the tuning the kernel chooses left out)."""
        values = _option_values(self.options)
        values.pop("family", None)
        if self.type.startswith("hash:"):
            values.setdefault("maxelem", "65536")
        kept = tuple(sorted((key, value) for key, value in values.items() if key not in SET_IGNORED_OPTIONS))
        return (self.type, self.family, kept)

    def member_keys(self) -> frozenset:
        return frozenset(canonical_member(member) for member in self.members)

    def same_as(self, other: "IpSet") -> bool:
        return self.identity() == other.identity() and self.member_keys() == other.member_keys()

    def description(self) -> str:
        """``hash:net family inet maxelem 65536``: what the set is, for diffs."""
        words = [self.type]
        if self.family:
            words += ["family", {4: "inet", 6: "inet6"}[self.family]]
        for key, value in self.identity()[2]:
            words += [key] if value is None else [key, value]
        return " ".join(words)

    def create_line(self, name=None) -> str:
        return " ".join(["create", name or self.name, self.type, *self.options])

    def restore_lines(self, name=None) -> list:
        """``create`` then the members, sorted by their canonical form."""
        target = name or self.name
        members = sorted(self.members, key=canonical_member)
        return [self.create_line(target)] + [f"add {target} {member}" for member in members]


def _option_values(options) -> dict:
    values = {}
    words = list(options)
    index = 0
    while index < len(words):
        word = words[index]
        if word in SET_VALUE_OPTIONS and index + 1 < len(words):
            values[word] = words[index + 1]
            index += 2
        else:
            values[word] = None
            index += 1
    return values


def canonical_member(member: str) -> str:
    """A member as the kernel stores it: addresses canonical, ``/32`` and ``/128`` dropped,
    protocol names in ports lower-cased; member options other than ``nomatch`` (comments,
    timeouts, counters) left out."""
    words = rules.split_arguments(member)
    if not words:
        return ""
    parts = []
    for part in words[0].split(","):
        parts.append(_canonical_member_part(part))
    flags = [word for word in words[1:] if word in SET_MEMBER_FLAGS]
    return " ".join([",".join(parts), *flags])


def _canonical_member_part(part: str) -> str:
    if ":" in part and part.split(":", 1)[0].isalpha() and not _is_address(part):
        protocol, _sep, port = part.partition(":")  # tcp:80, icmp:echo-request
        return f"{protocol.lower()}:{port}"
    if "-" in part and not part.startswith("-"):
        low, _sep, high = part.partition("-")
        if _is_address(low) and _is_address(high):
            return f"{_canonical_address(low)}-{_canonical_address(high)}"
    if _is_address(part):
        return _canonical_address(part)
    return part


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _canonical_address(text: str) -> str:
    network = ipaddress.ip_network(text, strict=False)
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


@record(frozen=True)
class Chain:
    """An owned chain: its rules' arguments (after ``-A <name>``), in order, as written."""

    name: str
    rules: tuple = ()

    def canonical(self) -> tuple:
        return tuple(rules.canonical_words(rule) for rule in self.rules)


@record
class OwnedState:
    """Owned chains per family and table, hooks, and ipsets: wanted, or a snapshot of the live state.

    ``tables[family][table]`` maps chain names to chains, in the order given. ``hooks`` are in
    the order they sit in their built-in chain (inserts top down, then appends top down).
    ``source`` keeps the inputs a wanted state was parsed from (what gets recorded as applied).
    """

    prefix: str
    tables: dict = field(default_factory=dict)
    hooks: tuple = ()
    ipsets: dict = field(default_factory=dict)
    source: dict = None

    def family_tables(self, family: int) -> dict:
        return self.tables.get(family, {})

    def chains(self, family: int, table: str) -> dict:
        return self.tables.get(family, {}).get(table, {})

    def family_hooks(self, family: int) -> list:
        return [hook for hook in self.hooks if hook.family == family]

    def is_empty(self) -> bool:
        return not any(chains for tables in self.tables.values() for chains in tables.values()) and not self.hooks and not self.ipsets

    # -- rendering back into inputs --------------------------------------------------------

    def inputs(self) -> dict:
        """The module's inputs for this state: the parsed text when there is one, else rendered."""
        if self.source is not None:
            return dict(self.source)
        return self.render_inputs()

    def render_inputs(self) -> dict:
        """``ipv4_rules``, ``ipv6_rules``, ``ipsets`` and ``hooks`` that describe exactly this state."""
        return {
            "ipv4_rules": self.render_rules(4),
            "ipv6_rules": self.render_rules(6),
            "ipsets": self.render_ipsets(),
            "hooks": [hook.as_dict() for hook in self.hooks],
        }

    def render_rules(self, family: int) -> str:
        lines = []
        for table in sorted(self.family_tables(family), key=table_sort_key):
            chains = self.chains(family, table)
            if not chains:
                continue
            lines.append(f"*{table}")
            lines.extend(f":{name} - [0:0]" for name in chains)
            for name, chain in chains.items():
                lines.extend(f"-A {name} {rule}" for rule in chain.rules)
            lines.append("COMMIT")
        return "".join(line + "\n" for line in lines)

    def render_ipsets(self) -> str:
        lines = []
        for name in sorted(self.ipsets):
            lines.extend(self.ipsets[name].restore_lines())
        return "".join(line + "\n" for line in lines)

    def hooks_json(self) -> str:
        return json.dumps([hook.as_dict() for hook in self.hooks], indent=2, sort_keys=True) + "\n"


# -- parsing the wanted state ----------------------------------------------------------------


# Input text is split on "\n" only. Every other character that some reader takes for a line
# break (Python's str.splitlines() breaks on all of these), and NUL (the C tools stop a line at it),
# is refused, so that what the module checks and what the kernel tools run are the same lines.
OTHER_LINE_BREAKS = {
    "\x00": "NUL",
    "\r": "carriage return (\\r)",
    "\x0b": "vertical tab (\\x0b)",
    "\x0c": "form feed (\\x0c)",
    "\x1c": "file separator (\\x1c)",
    "\x1d": "group separator (\\x1d)",
    "\x1e": "record separator (\\x1e)",
    "\x85": "next line (U+0085)",
    "\u2028": "line separator (U+2028)",
    "\u2029": "paragraph separator (U+2029)",
}
# The longest line each tool reads as one line (measured: ipset v7.17, iptables-restore v1.8.9).
MAX_LINE_BYTES = {"ipsets": 1023, "ipv4_rules": 10239, "ipv6_rules": 10239}


def input_lines(text: str, what: str, problems: list, max_line_bytes: int = 0) -> list:
    """``[(number, line)]`` of ``text`` split on "\n" only; a line holding another line break or
    NUL, or longer than ``max_line_bytes`` (0: no limit), is reported in ``problems`` and left out."""
    result = []
    for number, line in enumerate(text.split("\n"), start=1):
        bad = sorted({OTHER_LINE_BREAKS[char] for char in line if char in OTHER_LINE_BREAKS})
        if bad:
            problems.append(f"{what} line {number}: contains {', '.join(bad)}; lines may only be separated by \\n")
            continue
        size = len(line.encode("utf-8", errors="surrogatepass"))
        if max_line_bytes and size > max_line_bytes:
            problems.append(f"{what} line {number}: {size} bytes, longer than the {max_line_bytes} the kernel tools read as one line")
            continue
        result.append((number, line))
    return result


def parse_wanted(ipv4_rules: str, ipv6_rules: str, ipsets: str, hooks, prefix: str = "pal-") -> OwnedState:
    """The wanted state from the module's inputs; ``InputError`` lists every problem found."""
    check_prefix(prefix)
    problems = []
    sets = _parse_ipsets(ipsets or "", prefix, problems)
    tables = {}
    for family, text in ((4, ipv4_rules or ""), (6, ipv6_rules or "")):
        tables[family] = _parse_rules(text, family, prefix, sets, problems)
    parsed_hooks = _parse_hooks(hooks or [], tables, prefix, problems)
    if problems:
        raise InputError(problems)
    source = {
        "ipv4_rules": ipv4_rules or "",
        "ipv6_rules": ipv6_rules or "",
        "ipsets": ipsets or "",
        "hooks": [hook.as_dict() for hook in parsed_hooks],
    }
    return OwnedState(prefix=prefix, tables=tables, hooks=tuple(parsed_hooks), ipsets=sets, source=source)


def _parse_rules(text: str, family: int, prefix: str, sets: dict, problems: list) -> dict:
    """``{table: {chain: Chain}}`` of one family's restore text (see the module docstring)."""
    option = OPTION_FOR_FAMILY[family]
    tables = {}
    rules_by_chain = None
    table = None
    for number, raw in input_lines(text, option, problems, MAX_LINE_BYTES[option]):
        line = raw.strip()
        where = f"{option} line {number}"
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            if table is not None:
                problems.append(f"{where}: table {line[1:]} starts before table {table} ends with COMMIT")
            table = line[1:].strip()
            if table not in BUILTIN_CHAINS:
                problems.append(f"{where}: unknown table {table!r} (known: {', '.join(TABLE_ORDER)})")
            elif table in tables:
                problems.append(f"{where}: table {table} appears twice")
            rules_by_chain = tables.setdefault(table, {})
            continue
        if table is None:
            problems.append(f"{where}: {line!r} is outside a table (a table starts with *filter, *raw...)")
            continue
        if line == "COMMIT":
            table = None
            continue
        if line.startswith(":"):
            _declare_chain(line, where, table, prefix, rules_by_chain, problems)
            continue
        command, _sep, rest = line.partition(" ")
        if command not in ("-A", "--append"):
            problems.append(
                f"{where}: only chain declarations (:{prefix}name - [0:0]) and -A rules belong here, not {command!r}"
                + (" (hooks are given in the hooks option)" if command in ("-I", "--insert") else "")
            )
            continue
        chain, _sep, arguments = rest.strip().partition(" ")
        if chain in BUILTIN_CHAINS.get(table, ()) or not chain.startswith(prefix):
            problems.append(
                f"{where}: a rule in chain {chain}, which is not owned: rules in built-in chains are"
                f" hooks (the hooks option); other chains must start with {prefix!r}"
            )
        elif chain not in rules_by_chain:
            problems.append(f"{where}: a rule in chain {chain}, which is not declared in table {table} (:{chain} - [0:0])")
        else:
            rules_by_chain[chain].append(arguments.strip())
    if table is not None:
        problems.append(f"{option}: table {table} does not end with COMMIT")
    result = {}
    for table_name, chains in tables.items():
        result[table_name] = {name: Chain(name, tuple(rule_list)) for name, rule_list in chains.items()}
    _check_references(result, family, prefix, sets, problems)
    return result


def _declare_chain(line: str, where: str, table: str, prefix: str, chains: dict, problems: list) -> None:
    words = line[1:].split()
    name = words[0] if words else ""
    policy = words[1] if len(words) > 1 else "-"
    if not name.startswith(prefix):
        problems.append(
            f"{where}: declares chain {name!r}, which is not owned (owned chains start with {prefix!r};"
            " built-in chains and their policies are never changed)"
        )
    elif policy != "-":
        problems.append(f"{where}: chain {name} has policy {policy!r}: user chains have none (write '-')")
    elif len(name) > MAX_CHAIN_NAME:
        problems.append(f"{where}: chain name {name} is longer than {MAX_CHAIN_NAME} characters")
    elif name in chains:
        problems.append(f"{where}: chain {name} is declared twice in table {table}")
    else:
        chains[name] = []


def _check_references(tables: dict, family: int, prefix: str, sets: dict, problems: list) -> None:
    """Jumps to owned chains stay in the table; owned sets exist and have the rule's family."""
    option = OPTION_FOR_FAMILY[family]
    for table, chains in tables.items():
        for chain in chains.values():
            for index, arguments in enumerate(chain.rules):
                words = rules.split_arguments(arguments)
                where = f"{option}: table {table} chain {chain.name} rule {index + 1}"
                target = rules.target_of(words)
                if target and target[1].startswith(prefix) and target[1] not in chains:
                    problems.append(f"{where}: {target[0]}s to {target[1]}, which is not declared in table {table}")
                for name in rules.set_references(words):
                    if not name.startswith(prefix):
                        continue
                    if name not in sets:
                        problems.append(f"{where}: uses ipset {name}, which is not in the ipsets option")
                    elif sets[name].family not in (None, family):
                        problems.append(f"{where}: uses ipset {name}, an IPv{sets[name].family} set")


def _parse_ipsets(text: str, prefix: str, problems: list) -> dict:
    creates = {}
    members = {}
    for number, raw in input_lines(text, "ipsets", problems, MAX_LINE_BYTES["ipsets"]):
        line = raw.strip()
        where = f"ipsets line {number}"
        if not line or line.startswith("#"):
            continue
        words = line.split(None, 2)
        command = words[0]
        if command not in ("create", "add", "-N", "-A") or len(words) < 3:
            problems.append(f"{where}: only 'create NAME TYPE [options]' and 'add NAME MEMBER' lines belong here, not {line!r}")
            continue
        name, rest = words[1], words[2]
        if command in ("create", "-N"):
            type_and_options = rest.split()
            if not name.startswith(prefix):
                problems.append(f"{where}: ipset {name} is not owned (owned ipsets start with {prefix!r})")
            elif len(name) > MAX_SET_NAME:
                problems.append(f"{where}: ipset name {name} is longer than {MAX_SET_NAME} characters")
            elif name in creates:
                problems.append(f"{where}: ipset {name} is created twice")
            else:
                creates[name] = (type_and_options[0].lower(), tuple(type_and_options[1:]))
                members[name] = []
        elif name not in creates:
            problems.append(f"{where}: adds to ipset {name} before (or without) its create line")
        else:
            members[name].append(rest.strip())
    return {name: IpSet(name, kind, options, tuple(members[name])) for name, (kind, options) in creates.items()}


def _parse_hooks(hooks, tables: dict, prefix: str, problems: list) -> list:
    parsed = []
    seen = set()
    for index, item in enumerate(hooks):
        where = f"hooks[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a dict with family, table, chain, target and position")
            continue
        unknown = sorted(set(item) - {"family", "table", "chain", "target", "position"})
        if unknown:
            problems.append(f"{where}: unknown keys {', '.join(unknown)}")
        try:
            family = int(item.get("family"))
        except (TypeError, ValueError):
            family = None
        table, chain, target = item.get("table"), item.get("chain"), item.get("target")
        position = item.get("position") or "insert"
        if family not in FAMILIES:
            problems.append(f"{where}: family must be 4 or 6, not {item.get('family')!r}")
            continue
        if table not in BUILTIN_CHAINS:
            problems.append(f"{where}: unknown table {table!r}")
            continue
        if chain not in BUILTIN_CHAINS[table]:
            problems.append(f"{where}: {chain!r} is not a built-in chain of table {table}" f" ({', '.join(BUILTIN_CHAINS[table])})")
            continue
        if position not in POSITIONS:
            problems.append(f"{where}: position must be insert or append, not {position!r}")
            continue
        if not isinstance(target, str) or not target.startswith(prefix):
            problems.append(f"{where}: target {target!r} is not an owned chain (owned chains start with {prefix!r})")
            continue
        if target not in tables.get(family, {}).get(table, {}):
            problems.append(f"{where}: target {target} is not declared in table {table} of {OPTION_FOR_FAMILY[family]}")
            continue
        hook = Hook(family, table, chain, target, position)
        key = (family, table, chain, target)
        if key in seen:
            problems.append(f"{where}: hook {hook.name} is given twice")
            continue
        seen.add(key)
        parsed.append(hook)
    return parsed
