# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The syntax tree of a Calico selector: evaluation against labels, and the canonical text.

Private to the collection: the engine's API may change at any time.

The nodes are frozen (and hashable) so that a parsed selector can be cached and shared by every
policy that spells it, and compared with ``==`` (two selectors with the same meaning written
differently, such as ``{'b','a'}`` and ``{"a", "b", "a"}``, give equal trees).

``evaluate`` is the hot path: the fleet index runs every selector against every endpoint, so each
method is a single dictionary lookup and comparison, without building anything per call. The
missing-label rules are Calico's: a positive match (``==``, ``in``, ``contains``, ``starts with``,
``ends with``, ``has``) is false for an absent label, a negative one (``!=``, ``not in``) is true.
A label that is present with the empty value ``""`` counts as present.

``canonical`` follows Calico's own rendering, so that a canonical string can be compared with
what ``calicoctl`` shows and always parses back to an equal tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union


def quote(value: str) -> str:
    """Quote a literal the way Calico prints it.

    There are no escapes in the language, so a value holding ``"`` can only be written with
    single quotes; a value cannot hold both quote characters (the parser cannot produce one).
    """
    if '"' in value:
        return f"'{value}'"
    return f'"{value}"'


def _set_text(values: frozenset[str]) -> str:
    """Sets print sorted so that the canonical form does not depend on how the user ordered them."""
    return "{" + ", ".join(quote(value) for value in sorted(values)) + "}"


@dataclass(frozen=True, slots=True)
class AllNode:
    """``all()``: matches every endpoint; also what an empty selector means."""

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        return True

    def canonical(self) -> str:
        return "all()"


@dataclass(frozen=True, slots=True)
class GlobalNode:
    """``global()``: a scope marker that matches everything; validators decide where it may be."""

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        return True

    def canonical(self) -> str:
        return "global()"


@dataclass(frozen=True, slots=True)
class HasNode:
    """``has(label)``: the label is present, whatever its value (even ``""``)."""

    label: str

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        return self.label in labels

    def canonical(self) -> str:
        return f"has({self.label})"


@dataclass(frozen=True, slots=True)
class EqualsNode:
    """``label == "value"``: false when the label is absent."""

    label: str
    value: str

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        # An absent label gives None, which never equals a string.
        return labels.get(self.label) == self.value

    def canonical(self) -> str:
        return f"{self.label} == {quote(self.value)}"


@dataclass(frozen=True, slots=True)
class NotEqualsNode:
    """``label != "value"``: true when the label is absent, exactly like ``!(label == "value")``."""

    label: str
    value: str

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        return labels.get(self.label) != self.value

    def canonical(self) -> str:
        return f"{self.label} != {quote(self.value)}"


@dataclass(frozen=True, slots=True)
class InNode:
    """``label in {...}``: false when the label is absent; an empty set never matches."""

    label: str
    values: frozenset[str]

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        # None (absent) is never a member of a set of strings.
        return labels.get(self.label) in self.values

    def canonical(self) -> str:
        return f"{self.label} in {_set_text(self.values)}"


@dataclass(frozen=True, slots=True)
class NotInNode:
    """``label not in {...}``: true when the label is absent; an empty set always matches."""

    label: str
    values: frozenset[str]

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        return labels.get(self.label) not in self.values

    def canonical(self) -> str:
        return f"{self.label} not in {_set_text(self.values)}"


@dataclass(frozen=True, slots=True)
class ContainsNode:
    """``label contains "s"``: substring test; false when the label is absent."""

    label: str
    value: str

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        found = labels.get(self.label)
        return found is not None and self.value in found

    def canonical(self) -> str:
        return f"{self.label} contains {quote(self.value)}"


@dataclass(frozen=True, slots=True)
class StartsWithNode:
    """``label starts with "s"``: prefix test; false when the label is absent."""

    label: str
    value: str

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        found = labels.get(self.label)
        return found is not None and found.startswith(self.value)

    def canonical(self) -> str:
        return f"{self.label} starts with {quote(self.value)}"


@dataclass(frozen=True, slots=True)
class EndsWithNode:
    """``label ends with "s"``: suffix test; false when the label is absent."""

    label: str
    value: str

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        found = labels.get(self.label)
        return found is not None and found.endswith(self.value)

    def canonical(self) -> str:
        return f"{self.label} ends with {quote(self.value)}"


@dataclass(frozen=True, slots=True)
class NotNode:
    """``!operand``: printed without a space, and binding to one primary, as Calico does."""

    operand: Node

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        return not self.operand.evaluate(labels)

    def canonical(self) -> str:
        return "!" + self.operand.canonical()


@dataclass(frozen=True, slots=True)
class AndNode:
    """``a && b && ...``: n-ary, short-circuit; always parenthesised in the canonical form so
    that the text never depends on precedence."""

    operands: tuple[Node, ...]

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        for operand in self.operands:
            if not operand.evaluate(labels):
                return False
        return True

    def canonical(self) -> str:
        return "(" + " && ".join(operand.canonical() for operand in self.operands) + ")"


@dataclass(frozen=True, slots=True)
class OrNode:
    """``a || b || ...``: n-ary, short-circuit; always parenthesised in the canonical form."""

    operands: tuple[Node, ...]

    def evaluate(self, labels: Mapping[str, str]) -> bool:
        for operand in self.operands:
            if operand.evaluate(labels):
                return True
        return False

    def canonical(self) -> str:
        return "(" + " || ".join(operand.canonical() for operand in self.operands) + ")"


Node = Union[
    AllNode,
    GlobalNode,
    HasNode,
    EqualsNode,
    NotEqualsNode,
    InNode,
    NotInNode,
    ContainsNode,
    StartsWithNode,
    EndsWithNode,
    NotNode,
    AndNode,
    OrNode,
]
