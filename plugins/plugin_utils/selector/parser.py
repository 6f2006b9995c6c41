# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calico selectors: parsing, matching against labels, and the errors users see.

Private to the collection: the engine's API may change at any time.

A selector decides which hosts a policy protects and which addresses a rule lets in, so it must
mean exactly what it means in Calico: same grammar, same precedence, same answer for a missing
label. Anything Calico rejects is rejected here too, with the column and what was expected
there, because a selector that silently parsed differently would open or close a firewall.

Public API: ``parse_selector``, ``Selector`` and ``SelectorError``. The grammar (``!`` binds to
one primary, ``&&`` binds tighter than ``||``, both n-ary)::

    selector   := (empty or only spaces/tabs)  -- all()
                | or_expr END
    or_expr    := and_expr ("||" and_expr)*
    and_expr   := unary ("&&" unary)*
    unary      := "!"* primary                 -- an even run of "!" cancels out
    primary    := "has(" LABEL ")" | "all(" ")" | "global(" ")" | "(" or_expr ")"
                | LABEL ("==" | "!=" | "contains" | "starts with" | "ends with") STRING
                | LABEL ("in" | "not in") "{" [STRING ("," STRING)* [","]] "}"
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.lexer import (
    Kind,
    Token,
    tokenize,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.syntax_tree import (
    AllNode,
    AndNode,
    ContainsNode,
    EndsWithNode,
    EqualsNode,
    GlobalNode,
    HasNode,
    InNode,
    Node,
    NotEqualsNode,
    NotInNode,
    NotNode,
    OrNode,
    StartsWithNode,
)

__all__ = ["Selector", "SelectorError", "parse_selector"]

EXPECTED_PRIMARY = 'expected a label, "has(", "all()", "!" or "("'
EXPECTED_AFTER_LABEL = "expected an operator after the label"
EXPECTED_STRING = "expected a quoted string"
EXPECTED_LABEL = "expected a label"
EXPECTED_CLOSE = 'expected ")"'
EXPECTED_SET = 'expected "{"'
EXPECTED_SET_ITEM = 'expected a quoted string or "}"'
EXPECTED_SET_NEXT = 'expected "," or "}"'
EXPECTED_END = 'expected "&&", "||" or the end of the selector'
EXPECTED_IN_PARENS = 'expected "&&", "||" or ")"'
UNMATCHED_CLOSE = '")" without a matching "("'

# Parentheses nested deeper than this are refused: the parser recurses once per level, and a
# selector within the length limit could otherwise nest deep enough to exhaust Python's stack.
MAX_DEPTH = 100
TOO_DEEP = f"parentheses are nested more than {MAX_DEPTH} levels deep; the limit is {MAX_DEPTH}"

_VALUE_OPERATORS = {
    Kind.EQ: EqualsNode,
    Kind.NE: NotEqualsNode,
    Kind.CONTAINS: ContainsNode,
    Kind.STARTS_WITH: StartsWithNode,
    Kind.ENDS_WITH: EndsWithNode,
}
_SET_OPERATORS = {Kind.IN: InNode, Kind.NOT_IN: NotInNode}
_EMPTY_FUNCTIONS = {Kind.ALL: AllNode, Kind.GLOBAL: GlobalNode}


class SelectorError(PalisadeError):
    """A selector that does not parse.

    ``column`` is 1-based, in characters of ``selector``. ``expected`` is what had to come at
    that column (``expected a quoted string``), or the lexical problem found there
    (``unterminated string``): the part of the message after the column.
    """

    def __init__(self, selector: str, column: int, expected: str) -> None:
        self.selector = selector
        self.column = column
        self.expected = expected
        super().__init__(f'selector "{_printable(selector)}" column {column}: {expected}')

    def __reduce__(self) -> tuple[type[SelectorError], tuple[str, int, str]]:
        # Exceptions pickle through their args; ours has three, and Ansible may pickle errors
        # raised in a worker.
        return (type(self), (self.selector, self.column, self.expected))


def _printable(text: str) -> str:
    """Line breaks are errors in a selector; show them escaped so the message stays on one line."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


@dataclass(frozen=True)
class Selector:
    """A parsed selector. ``text`` is kept as the user wrote it, for messages."""

    text: str
    root: Node

    @functools.cached_property
    def canonical(self) -> str:
        """Calico's rendering, for comparing selectors and for showing one unambiguously."""
        return self.root.canonical()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an endpoint with these labels is selected."""
        return self.root.evaluate(labels)

    @functools.cached_property
    def uses_global(self) -> bool:
        """Calico allows ``global()`` in one place only; validators use this to reject the rest."""
        return _mentions_global(self.root)


def _mentions_global(node: Node) -> bool:
    if isinstance(node, GlobalNode):
        return True
    if isinstance(node, NotNode):
        return _mentions_global(node.operand)
    if isinstance(node, (AndNode, OrNode)):
        return any(_mentions_global(operand) for operand in node.operands)
    return False


def _negate(node: Node) -> Node:
    """``!!x`` is ``x``, also when one ``!`` is inside parentheses (``!(!x)``): keeping trees free
    of double negations is what lets every canonical string parse back to an equal tree."""
    if isinstance(node, NotNode):
        return node.operand
    return NotNode(node)


@functools.lru_cache(maxsize=4096)
def parse_selector(text: str) -> Selector:
    """Parse ``text``; raise ``SelectorError`` if it is not a valid Calico selector.

    Memoised because a fleet repeats the same few selectors in many policies and rules; the
    returned ``Selector`` is immutable, so sharing it is safe.
    """
    return Selector(text, _Parser(text).parse())


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = tokenize(text)
        self._index = 0
        self._depth = 0

    def parse(self) -> Node:
        if self._peek().kind is Kind.EOF:
            return AllNode()
        node = self._or_expr()
        token = self._peek()
        if token.kind is Kind.RPAREN:
            self._fail(token, UNMATCHED_CLOSE)
        if token.kind is not Kind.EOF:
            self._fail(token, EXPECTED_END)
        return node

    def _or_expr(self) -> Node:
        operands = [self._and_expr()]
        while self._accept(Kind.OR):
            operands.append(self._and_expr())
        return operands[0] if len(operands) == 1 else OrNode(tuple(operands))

    def _and_expr(self) -> Node:
        operands = [self._unary()]
        while self._accept(Kind.AND):
            operands.append(self._unary())
        return operands[0] if len(operands) == 1 else AndNode(tuple(operands))

    def _unary(self) -> Node:
        negated = False
        while self._accept(Kind.NOT):
            negated = not negated
        node = self._primary()
        return _negate(node) if negated else node

    def _primary(self) -> Node:
        token = self._advance()
        kind = token.kind
        if kind is Kind.LABEL:
            return self._comparison(token.text)
        if kind is Kind.HAS:
            label = self._expect(Kind.LABEL, EXPECTED_LABEL).text
            self._expect(Kind.RPAREN, EXPECTED_CLOSE)
            return HasNode(label)
        if kind in _EMPTY_FUNCTIONS:
            self._expect(Kind.RPAREN, EXPECTED_CLOSE)
            return _EMPTY_FUNCTIONS[kind]()
        if kind is Kind.LPAREN:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                self._fail(token, TOO_DEEP)
            node = self._or_expr()
            self._close(token)
            self._depth -= 1
            return node
        self._fail(token, EXPECTED_PRIMARY)

    def _comparison(self, label: str) -> Node:
        token = self._advance()
        if token.kind in _VALUE_OPERATORS:
            value = self._expect(Kind.STRING, EXPECTED_STRING).text
            return _VALUE_OPERATORS[token.kind](label, value)
        if token.kind in _SET_OPERATORS:
            return _SET_OPERATORS[token.kind](label, self._set())
        self._fail(token, EXPECTED_AFTER_LABEL)

    def _set(self) -> frozenset[str]:
        # Empty sets and a trailing comma are allowed, as in Calico.
        self._expect(Kind.LBRACE, EXPECTED_SET)
        values: set[str] = set()
        while not self._accept(Kind.RBRACE):
            values.add(self._expect(Kind.STRING, EXPECTED_SET_ITEM).text)
            if not self._accept(Kind.COMMA):
                self._expect(Kind.RBRACE, EXPECTED_SET_NEXT)
                break
        return frozenset(values)

    def _close(self, opening: Token) -> None:
        """At the end of the text, point back at the "(" left open: in a long selector that is
        the useful half of the story."""
        token = self._peek()
        if token.kind is Kind.RPAREN:
            self._advance()
        elif token.kind is Kind.EOF:
            unclosed = f'the "(" at column {opening.column} is not closed'
            self._fail(token, f"{EXPECTED_IN_PARENS} ({unclosed})")
        else:
            self._fail(token, EXPECTED_IN_PARENS)

    def _peek(self) -> Token:
        return self._tokens[self._index]

    def _advance(self) -> Token:
        """Return the current token and move on; never past the final EOF or ERROR token."""
        token = self._tokens[self._index]
        if self._index < len(self._tokens) - 1:
            self._index += 1
        return token

    def _accept(self, kind: Kind) -> bool:
        if self._tokens[self._index].kind is kind:
            self._advance()
            return True
        return False

    def _expect(self, kind: Kind, expected: str) -> Token:
        token = self._advance()
        if token.kind is not kind:
            self._fail(token, expected)
        return token

    def _fail(self, token: Token, expected: str) -> NoReturn:
        """The lexer's own diagnosis wins over the parser's "expected ..." when it has one."""
        raise SelectorError(self._text, token.column, token.problem or expected)
