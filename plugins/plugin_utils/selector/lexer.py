# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Splitting a Calico selector into tokens, with Calico's lexical rules.

Private to the collection: the engine's API may change at any time.

The rules that make this more than a regular expression, all taken from Calico so that a
selector means the same here as in a cluster:

- only space and TAB separate tokens; a newline or carriage return is an error (YAML's ``|``
  keeps a trailing newline, and Calico rejects that selector, so we must too);
- ``has(``, ``all(`` and ``global(`` are function forms only when ``(`` follows immediately;
- the operator words (``contains``, ``starts with``, ``ends with``, ``in``, ``not in``) are
  operators only right after a label, so the same words remain usable as label names
  (``in in {'in'}`` is a valid selector).

The lexer never raises. It ends the token list with ``EOF`` or, at the first character it
cannot read, with an ``ERROR`` token. The parser consumes tokens left to right, so whichever
problem comes first in the text is the one reported, and for a character that is simply out of
place the parser can say what it expected there instead of only "unexpected character".
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

MAX_LABEL_LENGTH = 512

_WHITESPACE = " \t"
_LABEL_CHARS = r"A-Za-z0-9_./-"
_LABEL = re.compile(f"[{_LABEL_CHARS}]+")

LINE_BREAK_PROBLEM = (
    'line breaks are not allowed in a selector (a YAML "|" block keeps them; '
    'write the selector on one line or use ">-")'
)


class Kind(enum.Enum):
    """Token kinds. ``HAS``, ``ALL`` and ``GLOBAL`` include their opening parenthesis."""

    LABEL = "label"
    STRING = "string"
    EQ = "=="
    NE = "!="
    NOT = "!"
    AND = "&&"
    OR = "||"
    LPAREN = "("
    RPAREN = ")"
    LBRACE = "{"
    RBRACE = "}"
    COMMA = ","
    HAS = "has("
    ALL = "all("
    GLOBAL = "global("
    CONTAINS = "contains"
    STARTS_WITH = "starts with"
    ENDS_WITH = "ends with"
    IN = "in"
    NOT_IN = "not in"
    EOF = "end"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Token:
    """One token and where it starts.

    ``column`` is 1-based, counted in characters, so that error messages point at the spot a
    user sees. ``text`` is the label name or the string's content (without quotes); empty for
    other kinds. ``problem`` is set on an ``ERROR`` token only when the lexer knows exactly
    what is wrong (unterminated string, label too long, a single ``=``, ...); when it is
    ``None`` the character is just out of place and the parser reports what it expected.
    """

    kind: Kind
    column: int
    text: str = ""
    problem: str | None = None


_PUNCTUATION = {
    "(": Kind.LPAREN,
    ")": Kind.RPAREN,
    "{": Kind.LBRACE,
    "}": Kind.RBRACE,
    ",": Kind.COMMA,
}
_DOUBLED = {"=": Kind.EQ, "&": Kind.AND, "|": Kind.OR}
_FUNCTIONS = {"has": Kind.HAS, "all": Kind.ALL, "global": Kind.GLOBAL}
# Words may be separated by any run of spaces and tabs ("startswith" too); the lookahead is the
# word boundary, so that "inf" and "withs" stay labels instead of becoming operators.
_OPERATOR_WORDS = tuple(
    (kind, re.compile(pattern + f"(?![{_LABEL_CHARS}])"))
    for kind, pattern in (
        (Kind.CONTAINS, r"contains"),
        (Kind.STARTS_WITH, r"starts[ \t]*with"),
        (Kind.ENDS_WITH, r"ends[ \t]*with"),
        (Kind.NOT_IN, r"not[ \t]*in"),
        (Kind.IN, r"in"),
    )
)


def tokenize(text: str) -> list[Token]:
    """Return the tokens of ``text``, ending with an ``EOF`` or an ``ERROR`` token."""
    tokens: list[Token] = []
    pos = 0
    length = len(text)
    while True:
        while pos < length and text[pos] in _WHITESPACE:
            pos += 1
        if pos == length:
            tokens.append(Token(Kind.EOF, length + 1))
            return tokens
        after_label = bool(tokens) and tokens[-1].kind is Kind.LABEL
        token, pos = _next_token(text, pos, after_label)
        tokens.append(token)
        if token.kind is Kind.ERROR:
            return tokens


def _next_token(text: str, pos: int, after_label: bool) -> tuple[Token, int]:
    """Read one token starting at ``pos`` (not whitespace); return it and the position after it."""
    char = text[pos]
    column = pos + 1
    if char in _PUNCTUATION:
        return Token(_PUNCTUATION[char], column), pos + 1
    if char in "\"'":
        return _string(text, pos)
    if char in _DOUBLED:
        if text.startswith(char * 2, pos):
            return Token(_DOUBLED[char], column), pos + 2
        problem = f'a single "{char}" is not an operator; use "{char * 2}"'
        return Token(Kind.ERROR, column, problem=problem), pos
    if char == "!":
        if text.startswith("!=", pos):
            return Token(Kind.NE, column), pos + 2
        return Token(Kind.NOT, column), pos + 1
    if after_label:
        for kind, pattern in _OPERATOR_WORDS:
            operator = pattern.match(text, pos)
            if operator is not None:
                return Token(kind, column), operator.end()
    label = _LABEL.match(text, pos)
    if label is not None:
        return _label_or_function(text, label)
    if char in "\r\n":
        return Token(Kind.ERROR, column, problem=LINE_BREAK_PROBLEM), pos
    return Token(Kind.ERROR, column), pos


def _string(text: str, pos: int) -> tuple[Token, int]:
    """A literal runs to the next quote of the same kind: Calico has no escape sequences."""
    end = text.find(text[pos], pos + 1)
    if end < 0:
        return Token(Kind.ERROR, pos + 1, problem="unterminated string"), pos
    return Token(Kind.STRING, pos + 1, text[pos + 1 : end]), end + 1


def _label_or_function(text: str, match: re.Match[str]) -> tuple[Token, int]:
    """A run of label characters: a label, or ``has(``/``all(``/``global(`` when ``(`` follows."""
    word = match.group()
    pos, end = match.span()
    if len(word) > MAX_LABEL_LENGTH:
        problem = f"label too long ({len(word)} characters; the limit is {MAX_LABEL_LENGTH})"
        return Token(Kind.ERROR, pos + 1, problem=problem), pos
    if word in _FUNCTIONS and text.startswith("(", end):
        return Token(_FUNCTIONS[word], pos + 1), end + 1
    return Token(Kind.LABEL, pos + 1, word), end
