# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deterministic fuzzer of the engine: inventories -> fleet -> compiled hosts -> rendered files.

Case ``n`` of seed ``s`` is generated from ``random.Random(f"{s}:{n}")`` alone, so any case can be
regenerated on its own (``case_inventory(s, n)``). A case is one small fleet (three hosts) built
from valid policies, network sets, endpoints, settings and Calico manifests, then changed in one
of two ways:

- selectors: the policy and rule selectors are replaced by ones generated from Calico's selector
  grammar (docs/selectors.md), some of them mutated (truncated, tokens swapped, characters
  inserted: unicode, every line separator, NUL; very long literals, deep nesting);
- documents: a few values anywhere in the variables are replaced (wrong types, extreme numbers,
  hostile strings, bad CIDRs, ports, protocols, deep nesting), deleted, or joined by extra fields.

``check_case`` runs a case through the engine and returns the outcome, raising ``FuzzFailure``
when the engine breaks its contract: an exception other than its validation errors, an error
that names no location, or an accepted input whose files are outside the rendering contract or
refused by the host module's parser.
"""

from __future__ import annotations

import random
import re
from typing import Any

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import InputError, parse_wanted
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import CompileError, Compiler
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import ValidationError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import IPSETS_FILE, IPV4_FILE, IPV6_FILE
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.role_data import compiled_host_to_dict
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.text_contract import (
    IPSET_MAX_LINE_BYTES,
    RESTORE_MAX_LINE_BYTES,
    RESTORE_MAX_WORDS,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import SelectorError, parse_selector

FIXED_SEED = 20240601
LINE_SEPARATORS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
ODD_CHARS = (*LINE_SEPARATORS, "\x00", "\x7f", "\t", "\u00a0", "\u200b", "\u202e", "\ufeff", "é", "ß", "Ω", "日", "\U0001f525", "\\", "%", "<", "#")
FILE_LIMITS = {
    IPV4_FILE: (RESTORE_MAX_LINE_BYTES, RESTORE_MAX_WORDS),
    IPV6_FILE: (RESTORE_MAX_LINE_BYTES, RESTORE_MAX_WORDS),
    IPSETS_FILE: (IPSET_MAX_LINE_BYTES, None),
}
# Where an error may come from: a variable (with list index), a manifest document, a host, the inventory.
LOCATION = re.compile(r"^(palisade_[a-z0-9_]+(\[\d+\])?( |:|$)|host [^ :]+|inventory$)")
COMPILE_LOCATION = re.compile(r"^host [^ :]+: ")


class FuzzFailure(AssertionError):
    """The engine broke its contract on one case."""


# -- selectors -------------------------------------------------------------------------------

LABEL_KEYS = (
    "role", "env", "tier", "rack-12", "app.kubernetes.io/name", "group.palisade.io/web", "palisade.io/hostname",
    "has", "in", "contains", "all", "not", "starts", "x_y.z", "a" * 63, "k" * 513,
)
VALUES = ("web", "db", "admin", "prod", "", "web1", "db1", "x y", "&&", ")", "in", "a'b", 'a"b', "v" * 64)
OPERATORS = ("==", "!=", "contains", "starts with", "ends with", "startswith", "endswith", "starts\twith", "ends  with")


def _key(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return rng.choice(LABEL_KEYS)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_./ABC"
    return "".join(rng.choice(alphabet) for _index in range(rng.randint(1, 20)))


def _literal(rng: random.Random) -> str:
    value = rng.choice(VALUES) if rng.random() < 0.75 else _odd_string(rng, 12)
    if rng.random() < 0.02:
        value = "L" * rng.randint(200, 2000)
    if "'" in value and '"' in value and rng.random() < 0.9:
        value = value.replace("'", "")
    quote = "'" if '"' in value else '"' if "'" in value else rng.choice("'\"")
    return quote + value + quote


def _space(rng: random.Random) -> str:
    return rng.choice(("", " ", " ", " ", "\t", "  "))


def selector_expression(rng: random.Random, depth: int = 0) -> str:
    """A selector from the grammar (valid unless it hits a limit or ``global()``)."""
    choice = rng.random()
    if depth < 4 and choice < 0.25:
        operator = rng.choice(("&&", "||"))
        parts = [selector_expression(rng, depth + 1) for _index in range(rng.randint(2, 3))]
        return f"{_space(rng)}{operator}{_space(rng)}".join(parts)
    if depth < 4 and choice < 0.35:
        return f"({_space(rng)}{selector_expression(rng, depth + 1)}{_space(rng)})"
    if depth < 4 and choice < 0.45:
        return f"!{_space(rng)}{selector_expression(rng, depth + 1)}"
    return _comparison(rng)


def _comparison(rng: random.Random) -> str:
    kind = rng.random()
    key = _key(rng)
    if kind < 0.45:
        return f"{key}{_space(rng) or ' '}{rng.choice(OPERATORS)}{_space(rng) or ' '}{_literal(rng)}"
    if kind < 0.65:
        members = ",".join(f"{_space(rng)}{_literal(rng)}" for _index in range(rng.randint(0, 4)))
        trailing = "," if members and rng.random() < 0.1 else ""
        operator = rng.choice(("in", "not in", "notin", "not\tin"))
        return f"{key} {operator} {{{members}{trailing}}}"
    if kind < 0.85:
        return f"{rng.choice(('has', '!has'))}({_space(rng)}{key}{_space(rng)})"
    return rng.choice(("all()", "all()", "global()", "all( )"))


def selector_mutation(rng: random.Random, text: str) -> str:
    operation = rng.randrange(9)
    if operation == 0 and text:
        return text[: rng.randrange(len(text))]
    if operation == 1:
        words = text.split(" ")
        if len(words) > 1:
            first, second = rng.sample(range(len(words)), 2)
            words[first], words[second] = words[second], words[first]
        return " ".join(words)
    if operation == 2:
        where = rng.randint(0, len(text))
        return text[:where] + rng.choice(ODD_CHARS) + text[where:]
    if operation == 3:
        return text + rng.choice(LINE_SEPARATORS)
    if operation == 4:
        depth = rng.choice((5, 99, 100, 101, 150, 400))
        return "(" * depth + text + ")" * depth
    if operation == 5:
        return f'{_key(rng)} == "{"z" * rng.randint(500, 1100)}"'
    if operation == 6 and text:
        where = rng.randrange(len(text))
        return text[:where] + text[where + 1:]
    if operation == 7:
        return rng.choice(("", " ", "\t", "(", ")", "!", "&&", "()", "has(", "'", '"', "==", "{", "a in {", "!!!!has(a)"))
    return text + rng.choice((" &", " |", " = 'x'", " &&", " ||", ")", " has(b)"))


def fuzz_selector(rng: random.Random) -> str:
    text = selector_expression(rng)
    for _round in range(rng.choice((0, 0, 1, 1, 2))):
        text = selector_mutation(rng, text)
    return text


# -- documents -------------------------------------------------------------------------------


def _odd_string(rng: random.Random, length: int) -> str:
    alphabet = "abcxyz019-_./ :'\""
    return "".join(rng.choice(ODD_CHARS) if rng.random() < 0.3 else rng.choice(alphabet) for _index in range(rng.randint(0, length)))


def _deep(rng: random.Random) -> Any:
    value: Any = "x"
    for _level in range(rng.choice((63, 64, 65, 100, 300))):
        value = [value] if rng.random() < 0.5 else {"k": value}
    return value


BAD_NETS = ("10.0.0.1/24", "300.1.1.1", "fe80::1%eth0", "::/0", "0.0.0.0/0", "10.0.0.0/33", "10.0.0.0/-1", "1.2.3", "", " 10.0.0.0/8",
            "10.0.0.0/8\n", "2001:db8::/129", "::ffff:10.0.0.1", "10.0.0.0 /8", "a.b.c.d/8", "10.0.0.0/08", "0x0a.0.0.0")
BAD_PORTS = (0, 65536, -1, "1:0", "80:90", "80:80", "http", "-1", "8000:8080", 22.0, True, "22 ", "9" * 40, 10**30, "a:b", ":", "http\n", "ftp-data")
BAD_PROTOCOLS = ("tcp", "TCP", 0, 256, "ICMPv6", 6, "6", -6, 1.0, "icmp", "UDPLite", "SCTP", True, "Tcp", "")


def weird_value(rng: random.Random) -> Any:
    pick = rng.randrange(15)
    if pick == 0:
        return rng.choice((None, True, False))
    if pick == 1:
        return rng.choice((0, 1, -1, 2**31, 2**63, 10**30, -(10**400), 10**15, -(10**15) - 1))
    if pick == 2:
        return rng.choice((0.0, 1.5, -0.0, 1e300, -1e308, float("inf"), float("-inf"), float("nan")))
    if pick == 3:
        return _odd_string(rng, 20)
    if pick == 4:
        return rng.choice(("", " ", "x" * 300, "y" * 5000, "\u2028", "web\n"))
    if pick == 5:
        return []
    if pick == 6:
        return {}
    if pick == 7:
        return [weird_value(rng) for _index in range(rng.randint(1, 3))]
    if pick == 8:
        return {_odd_string(rng, 6): weird_value(rng)}
    if pick == 9:
        return _deep(rng)
    if pick == 10:
        return rng.choice(BAD_NETS)
    if pick == 11:
        return rng.choice(BAD_PORTS)
    if pick == 12:
        return rng.choice(BAD_PROTOCOLS)
    if pick == 13:
        return fuzz_selector(rng)
    return _big_list(rng)


def _big_list(rng: random.Random) -> list:
    """Near and past the limits: up to 300 nets (256 allowed), up to 60 ports (50 allowed)."""
    if rng.random() < 0.5:
        return [f"10.{index // 256}.{index % 256}.0/24" if index % 7 else f"2001:db8:{index:x}::/48" for index in range(rng.randint(1, 300))]
    return [rng.choice((index + 1, f"{index * 10 + 1}:{index * 10 + 5}", f"p{index}")) for index in range(rng.randint(1, 60))]


EXTRA_FIELDS = ("destinaton", "source", "nets", "notNets", "ports", "selector", "name", "labels", "order", "types", "action", "protocol",
                "ipVersion", "icmp", "notICMP", "applyOnForward", "preDNAT", "doNotTrack", "interface_name", "expected_ips", "spec",
                "metadata", "kind", "apiVersion", "status", "tier", "namespaceSelector", "serviceAccountSelector", "profiles", "node",
                "performanceHints", "http", "notSelector", "notProtocol", "notPorts", "code", "type", "net", "port", "interfacePrefix")


def _containers(value: Any, path: tuple = ()) -> list:
    """Every (container, key) pair reachable in ``value``."""
    found = []
    if isinstance(value, dict):
        for key in list(value):
            found.append((value, key))
            found.extend(_containers(value[key], (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((value, index))
            found.extend(_containers(item, (*path, index)))
    return found


def mutate_document(rng: random.Random, document: Any) -> None:
    """One change somewhere inside ``document`` (a dict or list), in place."""
    places = _containers(document)
    if not places:
        return
    container, key = rng.choice(places)
    operation = rng.randrange(7)
    current = container[key]
    if operation == 6 and isinstance(container, dict):
        container[rng.choice((_odd_string(rng, 8), 1, None, True, (1, 2), key.upper() if isinstance(key, str) else "x"))] = container.pop(key)
        return
    if operation == 0:
        container[key] = weird_value(rng)
    elif operation == 1:
        if isinstance(container, dict):
            del container[key]
        else:
            container.pop(key)
    elif operation == 2 and isinstance(current, dict):
        current[rng.choice(EXTRA_FIELDS)] = weird_value(rng)
    elif operation == 3 and isinstance(current, str):
        where = rng.randint(0, len(current))
        container[key] = current[:where] + rng.choice(ODD_CHARS) + current[where:]
    elif operation == 4 and isinstance(current, list) and current:
        current.append(current[rng.randrange(len(current))])
    elif operation == 5 and isinstance(current, (int, float)) and not isinstance(current, bool):
        container[key] = rng.choice((-current, current * 10**20, current + 0.5, str(current), bool(current), current + 65536))
    else:
        container[key] = weird_value(rng)


def base_policies(rng: random.Random) -> list:
    return [
        {
            "name": "web",
            "selector": "role == 'web'",
            "order": rng.choice((0, 10, 100.5, None)),
            "ingress": [
                {"action": "Allow", "protocol": "TCP", "source": {"selector": "role == 'admin'"}, "destination": {"ports": [22, "8000:8080", "http"]}},
                {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8}},
                {"action": "Deny", "source": {"nets": ["198.51.100.0/24", "203.0.113.0/25"], "notNets": ["198.51.100.128/25"]}},
                {"action": "Log", "protocol": "UDP", "destination": {"notPorts": [53]}},
            ],
            "egress": [
                {"action": "Allow", "protocol": "TCP", "destination": {"selector": "role == 'db'", "ports": [5432, "pg"]}},
                {"action": "Pass", "ipVersion": 6, "destination": {"notSelector": "has(env)"}},
            ],
        },
        {
            "name": "db-forward",
            "selector": "has(group.palisade.io/db)",
            "types": ["Ingress"],
            "applyOnForward": True,
            "preDNAT": True,
            "ingress": [{"action": "Deny", "protocol": "SCTP", "source": {"selector": "tier in {'edge', 'dmz'}"}}],
        },
        {
            "name": "untracked",
            "selector": "role == 'db'",
            "applyOnForward": True,
            "doNotTrack": True,
            "egress": [{"action": "Allow", "protocol": 17, "destination": {"nets": ["203.0.113.7"], "ports": [123]}}],
        },
    ]


def base_network_sets() -> list:
    return [{"name": "management", "labels": {"role": "admin", "tier": "edge"}, "nets": ["192.0.2.128/25", "2001:db8:ff::/48"]}]


def base_resources() -> list:
    return [
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "GlobalNetworkPolicy",
            "metadata": {"name": "manifest-allow", "labels": {"from": "calico"}, "annotations": {"note": "pasted"}},
            "spec": {
                "selector": "all()",
                "order": 500,
                "ingress": [{"action": "Allow", "protocol": "UDP", "source": {"selector": "role == 'admin'"}, "destination": {"ports": [161]}}],
            },
        },
        {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet", "metadata": {"name": "dmz", "labels": {"tier": "dmz"}},
         "spec": {"nets": ["203.0.113.0/24"]}},
        {"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint", "metadata": {"name": "adm-eth1", "labels": {"extra": "yes"}},
         "spec": {"node": "adm", "interfaceName": "eth1", "expectedIPs": ["192.0.2.21"]}},
        {"apiVersion": "projectcalico.org/v3", "kind": "FelixConfiguration", "metadata": {"name": "default"},
         "spec": {"failsafeInboundHostPorts": [{"protocol": "tcp", "port": 22}], "failsafeOutboundHostPorts": [{"protocol": "udp", "port": 53}],
                  "defaultEndpointToHostAction": "Return", "logPrefix": "calico"}},
    ]


def base_hosts(rng: random.Random) -> dict:
    return {
        "web1": {
            "groups": ["web"],
            "vars": {
                "palisade_labels": {"role": "web", "env": "prod"},
                "palisade_labels__rack": {"rack": "12"},
                "palisade_host_endpoints": [
                    {"interfaceName": "eth0", "expectedIPs": ["198.51.100.10", "2001:db8::10"], "ports": [{"name": "http", "protocol": "TCP", "port": 80}]},
                ],
                "palisade_chain_insert_mode": rng.choice(("insert", "append")),
                "palisade_log_prefix": "pal-web",
                "palisade_failsafe_outbound_host_ports": [{"protocol": "udp", "port": 53, "net": "198.51.100.53/32"}],
            },
        },
        "db1": {
            "groups": ["db"],
            "vars": {
                "palisade_labels": {"role": "db"},
                "palisade_host_endpoints": [
                    {"interface_name": "*", "expected_ips": ["198.51.100.20"], "labels": {"tier": "edge"},
                     "ports": [{"name": "pg", "protocol": "TCP", "port": 5432}]},
                    {"interfaceName": "eth9", "name": "db1-nine"},
                ],
                "palisade_interface_prefixes": ["cali", "tap"],
                "ansible_host": "198.51.100.20",
                "ansible_facts": {
                    "eth9": {"ipv4": {"address": "10.9.9.9"}, "ipv4_secondaries": [{"address": "10.9.9.10"}],
                             "ipv6": [{"address": "2001:db8:9::9"}, {"address": "fe80::9%eth9"}]},
                    "all_ipv4_addresses": ["10.9.9.9", "127.0.0.1"], "all_ipv6_addresses": ["2001:db8:9::9"],
                },
            },
        },
        "adm": {
            "groups": ["admin"],
            "vars": {"palisade_labels": {"role": "admin"}, "palisade_auto_host_endpoint": True, "ansible_host": "2001:db8::21",
                     "palisade_default_endpoint_to_host_action": "Accept"},
        },
    }


SELECTOR_PLACES = (
    ("palisade_policies", 0, "selector"),
    ("palisade_policies", 0, "ingress", 0, "source", "selector"),
    ("palisade_policies", 0, "egress", 0, "destination", "selector"),
    ("palisade_policies", 0, "egress", 1, "destination", "notSelector"),
    ("palisade_policies", 1, "ingress", 0, "source", "selector"),
    ("palisade_policies", 2, "selector"),
    ("palisade_resources", 0, "spec", "selector"),
)


def case_inventory(seed: int, number: int) -> dict:
    """Case ``number`` of ``seed``: ``{"hosts": {name: {"groups": [...], "vars": {...}}}}``."""
    rng = random.Random(f"{seed}:{number}")
    fleet_wide = {"palisade_policies": base_policies(rng), "palisade_network_sets": base_network_sets(), "palisade_resources": base_resources()}
    hosts = base_hosts(rng)
    if rng.random() < 0.5:
        for _index in range(rng.randint(1, 4)):
            variable, *path = rng.choice(SELECTOR_PLACES)
            target: Any = fleet_wide[variable]
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = fuzz_selector(rng)
    else:
        for _index in range(rng.choice((1, 1, 2, 3))):
            if rng.random() < 0.6:
                mutate_document(rng, fleet_wide)
            else:
                mutate_document(rng, hosts[rng.choice(sorted(hosts))]["vars"])
    if rng.random() < 0.01:
        hosts[rng.choice(("web 1", "db1\n", "x" * 254, "web1.", "h\u2028"))] = hosts.pop("web1")
    for entry in hosts.values():
        entry["vars"].update(fleet_wide)
    return {"hosts": hosts}


# -- running a case --------------------------------------------------------------------------


def check_selector(text: str) -> None:
    """The selector parser alone: a SelectorError naming a column, or a canonical form that parses back."""
    try:
        selector = parse_selector(text)
    except SelectorError as err:
        if not re.search(r"column \d+: ", str(err)):
            raise FuzzFailure(f"selector error without a column: {err}") from err
        return
    again = parse_selector(selector.canonical)
    if again.canonical != selector.canonical:
        raise FuzzFailure(f"canonical form does not parse back: {text!r} -> {selector.canonical!r} -> {again.canonical!r}")


_OUTSIDE = re.compile(r"[^\x20-\x7e]")
_RENDERED: dict = {}  # (host, rulesets) -> (files, hooks)
_CHECKED: dict = {}  # files already checked (most cases leave most hosts' files as they were)


def check_files(host: str, files: dict, hooks: list) -> None:
    key = (tuple(sorted(files.items())), repr(hooks))
    if key in _CHECKED:
        return
    for name, text in files.items():
        max_bytes, max_words = FILE_LIMITS[name]
        if text and not text.endswith("\n"):
            raise FuzzFailure(f"host {host} {name}: does not end with a newline")
        for number, line in enumerate(text.split("\n")[:-1], start=1):
            if _OUTSIDE.search(line):
                raise FuzzFailure(f"host {host} {name} line {number}: not printable ASCII: {line[:200]!r}")
            if len(line) > max_bytes or (max_words is not None and len(line.split()) > max_words):
                raise FuzzFailure(f"host {host} {name} line {number}: beyond the tools' limits ({len(line)} bytes)")
    try:
        parse_wanted(files[IPV4_FILE], files[IPV6_FILE], files[IPSETS_FILE], hooks)
    except InputError as err:
        raise FuzzFailure(f"host {host}: the module's parser refuses the rendered files: {err}") from err
    if len(_CHECKED) > 2000:
        _CHECKED.clear()
    _CHECKED[key] = True


def run_inventory(inventory: dict) -> tuple[str, dict]:
    """``("accepted", {host: (files, hooks)})``, ``("invalid", {})`` or ``("uncompilable", {})``.

    Raises ``FuzzFailure`` (or whatever the engine raised by mistake) when the contract is broken.
    """
    hosts = [HostInput(name, tuple(entry.get("groups", ())), dict(entry.get("vars", {}))) for name, entry in inventory["hosts"].items()]
    try:
        fleet = load_fleet(hosts)
    except ValidationError as err:
        check_problems(err)
        return "invalid", {}
    compiler = Compiler(FleetIndex(fleet))
    rendered = {}
    for host in sorted(fleet.hosts):
        try:
            compiled = compiler.compile(host)
        except ValidationError as err:
            check_problems(err)
            return "invalid", {}
        except CompileError as err:
            if not COMPILE_LOCATION.match(str(err)):
                raise FuzzFailure(f"compile error naming no host: {err}") from err
            return "uncompilable", {}
        key = (host, compiled.rulesets)
        if key not in _RENDERED:  # rendering is a function of the IR: each IR is rendered and checked once
            output = compiled_host_to_dict(compiled)
            check_files(host, output["files"], output["hooks"])
            if len(_RENDERED) > 2000:
                _RENDERED.clear()
            _RENDERED[key] = (output["files"], output["hooks"])
        rendered[host] = _RENDERED[key]
    return "accepted", rendered


def check_problems(err: ValidationError) -> None:
    if not err.problems:
        raise FuzzFailure(f"a validation error without problems: {err}")
    for problem in err.problems:
        if not LOCATION.match(problem.source) or not problem.message:
            raise FuzzFailure(f"a problem that names no location: {problem.source!r} / {problem.path!r} / {problem.message!r}")


def run_case(seed: int, number: int) -> tuple[str, dict]:
    """Run one case; any failure is re-raised as ``FuzzFailure`` naming how to reproduce it."""
    rng = random.Random(f"selector:{seed}:{number}")
    try:
        check_selector(fuzz_selector(rng))
        return run_inventory(case_inventory(seed, number))
    except Exception as err:  # noqa: BLE001  (any exception but the engine's own errors is the finding)
        raise FuzzFailure(
            f"case {number} of seed {seed} (reproduce: PALISADE_FUZZ_SEED={seed} PALISADE_FUZZ_CASE={number}): {type(err).__name__}: {err}"
        ) from err


def run_chunk(seed: int, first: int, count: int) -> tuple[dict, list]:
    """Cases ``first`` .. ``first + count - 1``: ``({outcome: count}, [failure messages])``."""
    outcomes: dict = {}
    failures = []
    for number in range(first, first + count):
        try:
            outcome, _rendered = run_case(seed, number)
        except FuzzFailure as err:
            outcome = "failed"
            failures.append(str(err))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes, failures
