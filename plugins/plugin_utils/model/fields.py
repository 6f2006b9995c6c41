# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading user mappings field by field, with Calico names canonical and snake_case aliases.

Private to the collection: the engine's API may change at any time.

Why this exists: a typo such as ``destinaton:`` must never silently widen or narrow a firewall,
so every mapping the user writes is checked against the fields it may have, and an unknown
field is an error with a "did you mean" hint. The readers below never raise; they report to a
``Where`` and return ``None`` (or a safe empty value) so loading can go on and find more
problems.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.name_rules import check_label_key

_MISSING = object()


@functools.lru_cache(maxsize=4096)
def snake_case(name: str) -> str:
    """``interfaceName`` -> ``interface_name``; ``expectedIPs`` -> ``expected_ips``;
    ``notICMP`` -> ``not_icmp``; ``preDNAT`` -> ``pre_dnat``.

    Cached: every mapping a loader reads converts the same few field names again."""
    words = re.findall(r"[A-Z]{2,}s(?=[A-Z]|$)|[A-Z]+(?=[A-Z][a-z]|$)|[A-Z]?[a-z0-9]+|[A-Z]+", name)
    return "_".join(word.lower() for word in words)


def type_name(value: Any) -> str:
    """The YAML-ish name of a value's type, for messages that users read."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def canonical_fields(
    value: Mapping[str, Any], allowed: Iterable[str], where: Where, ignored: Iterable[str] = ()
) -> dict[str, Any]:
    """Return ``value`` keyed by canonical (Calico) field names.

    snake_case spellings of ``allowed`` are accepted as aliases. Unknown fields, and a field
    given under both spellings, are reported. Fields in ``ignored`` are accepted and dropped.
    """
    allowed = list(allowed)
    ignored = set(ignored) | {snake_case(name) for name in ignored}
    aliases = {snake_case(name): name for name in allowed}
    aliases.update({name: name for name in allowed})
    result: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            where.error(f"field names must be strings, got {type_name(key)} {key!r}")
            continue
        if key in ignored:
            continue
        canonical = aliases.get(key)
        if canonical is None:
            where.at(key).error(_unknown_field_message(key, allowed))
            continue
        if canonical in result:
            where.at(key).error(f"given twice, as {spelled[canonical]!r} and {key!r}")
            continue
        result[canonical] = item
        spelled[canonical] = key
    return result


def _unknown_field_message(key: str, allowed: list[str]) -> str:
    # The same letters in another case or with other underscores (``notnets``, ``IPVERSION``)
    # can only mean the Calico name; otherwise the closest spelling, camelCase or snake_case.
    folded = key.lower().replace("_", "")
    close = [name for name in allowed if name.lower() == folded][:1]
    candidates = allowed + [snake_case(name) for name in allowed]
    close = close or difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(key.lower(), [c.lower() for c in candidates], n=1, cutoff=0.6)
        close = [c for c in candidates if c.lower() in close][:1]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown field{hint} (expected one of: {', '.join(sorted(allowed))})"


def require_mapping(value: Any, where: Where, what: str = "a mapping") -> Mapping[str, Any] | None:
    if isinstance(value, Mapping):
        return value
    where.error(f"expected {what}, got {type_name(value)}")
    return None


def get_str(
    fields: Mapping[str, Any], name: str, where: Where, *, required: bool = False, default: str | None = None
) -> str | None:
    value = fields.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            where.at(name).error("is required")
        return default
    if not isinstance(value, str):
        where.at(name).error(f"expected a string, got {type_name(value)}")
        return default
    return value


def get_bool(fields: Mapping[str, Any], name: str, where: Where, *, default: bool = False) -> bool:
    value = fields.get(name, _MISSING)
    if value is _MISSING or value is None:
        return default
    if not isinstance(value, bool):
        where.at(name).error(f"expected true or false, got {type_name(value)} {value!r}")
        return default
    return value


def get_list(fields: Mapping[str, Any], name: str, where: Where) -> list[Any]:
    """A list field; absent or null is an empty list."""
    value = fields.get(name, _MISSING)
    if value is _MISSING or value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        where.at(name).error(f"expected a list, got {type_name(value)}")
        return []
    return list(value)


def get_mapping(fields: Mapping[str, Any], name: str, where: Where) -> Mapping[str, Any]:
    """A mapping field; absent or null is an empty mapping."""
    value = fields.get(name, _MISSING)
    if value is _MISSING or value is None:
        return {}
    if not isinstance(value, Mapping):
        where.at(name).error(f"expected a mapping, got {type_name(value)}")
        return {}
    return value


def is_decimal(text: str) -> bool:
    """Whether ``text`` is a plain decimal number (ASCII digits only: ``str.isdigit`` also
    accepts characters such as ``'²'`` that ``int()`` refuses)."""
    return text.isascii() and text.isdigit()


MAX_NUMBER_DIGITS = 18


def number_text(value: int) -> str:
    """An integer for a message. Python refuses to print integers of more than 4300 digits (and
    a 400-digit one helps nobody): past 18 digits the message says so instead."""
    if abs(value) < 10**MAX_NUMBER_DIGITS:
        return str(value)
    return f"(an integer of more than {MAX_NUMBER_DIGITS} digits)"


def as_int(value: Any, where: Where, what: str, low: int, high: int) -> int | None:
    """An integer in [low, high]; digit strings are accepted (YAML often quotes numbers).

    ``what`` names the value with its article (``"a port"``); out-of-range messages drop the
    article: ``port 0 is out of range 1-65535``. Any size of integer or digit string gives a
    message, never an exception (``int()`` refuses strings of more than 4300 digits).
    """
    if isinstance(value, bool):
        where.error(f"expected {what} ({low}-{high}), got {type_name(value)} {value!r}")
        return None
    noun = re.sub(r"^(a|an) ", "", what)
    if isinstance(value, str) and is_decimal(value):
        if len(value.lstrip("0")) > MAX_NUMBER_DIGITS:
            where.error(f"{noun} (an integer of more than {MAX_NUMBER_DIGITS} digits) is out of range {low}-{high}")
            return None
        value = int(value)
    if not isinstance(value, int):
        where.error(f"expected {what} ({low}-{high}), got {type_name(value)} {value!r}")
        return None
    if not low <= value <= high:
        where.error(f"{noun} {number_text(value)} is out of range {low}-{high}")
        return None
    return value


MAX_NESTING = 64


def nesting_problem(value: Any, limit: int = MAX_NESTING) -> str | None:
    """Why ``value`` is nested too deeply to load, or ``None``.

    The loaders recurse into nested lists (``palisade_resources``) and messages print values, and
    both hit Python's recursion limit on input nested a few hundred levels deep; the depth is
    measured here without recursion, before anything else looks at the value. A real
    configuration nests about ten levels (a manifest list, a document, its spec, a rule, its
    destination, its ports).
    """
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children = list(item.values())
        elif isinstance(item, (list, tuple)):
            children = list(item)
        else:
            continue
        if depth + 1 > limit:
            return f"lists and mappings are nested more than {limit} levels deep; the limit is {limit}"
        stack.extend((child, depth + 1) for child in children)
    return None


MAX_ANNOTATIONS_BYTES = 256 * 1024


def check_annotations(value: Any, where: Where) -> None:
    """Kubernetes' rules for annotations: qualified-name keys (like label keys) to strings, at
    most 256 KiB in all."""
    if value is None:
        return
    if not isinstance(value, Mapping):
        where.error(f"expected a mapping of strings to strings, got {type_name(value)}")
        return
    size = 0
    for key, text in value.items():
        if not isinstance(key, str):
            where.error(f"annotation names must be strings, got {type_name(key)} {key!r}")
            continue
        problem = check_label_key(key, "annotation key")
        if problem:
            (where.at(key) if key else where).error(problem)
            continue
        if not isinstance(text, str):
            where.at(key).error(f"expected a string, got {type_name(text)}; quote it in YAML")
            continue
        size += len(key.encode()) + len(text.encode())
    if size > MAX_ANNOTATIONS_BYTES:
        where.error(f"annotations total {size} bytes; the limit is {MAX_ANNOTATIONS_BYTES}")
