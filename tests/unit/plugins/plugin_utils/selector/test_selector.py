# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the selector engine: matching, errors, canonical form.

The tables follow reference/calico-semantics.md section (a): every operator with a present, a
different and an absent label (a.4), precedence (a.3), the lexical rules (a.1) and every error
case (a.7). Error messages are compared whole, column included, because they are what users
read when a policy is rejected.
"""

from __future__ import annotations

import pickle
from types import MappingProxyType

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.lexer import (
    Kind,
    tokenize,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import (
    Selector,
    SelectorError,
    parse_selector,
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
    NotEqualsNode,
    NotInNode,
    NotNode,
    OrNode,
    StartsWithNode,
)

WEB = {"role": "web", "env": "prod", "tier": "frontend", "empty": ""}
LONG_LABEL = "a" * 512
DOCS_EXAMPLE = "! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}"

PRIMARY = 'expected a label, "has(", "all()", "!" or "("'
AFTER_LABEL = "expected an operator after the label"
STRING = "expected a quoted string"
END = 'expected "&&", "||" or the end of the selector'
IN_PARENS = 'expected "&&", "||" or ")"'
LINE_BREAK = (
    'line breaks are not allowed in a selector (a YAML "|" block keeps them; '
    'write the selector on one line or use ">-")'
)

# (selector, labels, expected match)
MATCH_CASES = [
    # == : false when absent; exact and case-sensitive; "" is a value like any other
    ('role == "web"', WEB, True),
    ("role == 'web'", WEB, True),
    ('role == "db"', WEB, False),
    ('role == "Web"', WEB, False),
    ('role == "web "', WEB, False),
    ('missing == "web"', WEB, False),
    ('empty == ""', WEB, True),
    ('missing == ""', WEB, False),
    # != : true when absent
    ('role != "db"', WEB, True),
    ('role != "web"', WEB, False),
    ('missing != "web"', WEB, True),
    ('empty != ""', WEB, False),
    ('missing != ""', WEB, True),
    # in : false when absent; the empty set never matches
    ('role in {"web", "db"}', WEB, True),
    ('role in {"db"}', WEB, False),
    ('missing in {"web"}', WEB, False),
    ("role in {}", WEB, False),
    ("missing in {}", WEB, False),
    ('empty in {""}', WEB, True),
    ('missing in {""}', WEB, False),
    ("role in {'web',}", WEB, True),
    ('role in {"web","web"}', WEB, True),
    ('role in {"web server"}', {"role": "web server"}, True),
    # not in : true when absent; the empty set always matches
    ('role not in {"db"}', WEB, True),
    ('role not in {"web", "db"}', WEB, False),
    ('missing not in {"web"}', WEB, True),
    ("role not in {}", WEB, True),
    ("missing not in {}", WEB, True),
    ('empty not in {""}', WEB, False),
    ('role notin {"db"}', WEB, True),
    ('role not   in {"web"}', WEB, False),
    ('role not\tin {"db"}', WEB, True),
    # has() : presence only, "" counts as present
    ("has(role)", WEB, True),
    ("has(missing)", WEB, False),
    ("has(empty)", WEB, True),
    ("has( role )", WEB, True),
    ("has(\trole\t)", WEB, True),
    ("!has(missing)", WEB, True),
    ("!has(role)", WEB, False),
    # contains : substring; false when absent, even for ""
    ('role contains "e"', WEB, True),
    ('role contains "web"', WEB, True),
    ('role contains "webs"', WEB, False),
    ('role contains "WEB"', WEB, False),
    ('role contains ""', WEB, True),
    ('empty contains ""', WEB, True),
    ('missing contains ""', WEB, False),
    # starts with : prefix; false when absent
    ('env starts with "pr"', WEB, True),
    ('env starts with "prod"', WEB, True),
    ('env starts with "rod"', WEB, False),
    ('env starts with "production"', WEB, False),
    ('env starts with ""', WEB, True),
    ('empty starts with ""', WEB, True),
    ('missing starts with ""', WEB, False),
    ('env startswith "p"', WEB, True),
    ('env starts   with "p"', WEB, True),
    ('env starts\twith "p"', WEB, True),
    # ends with : suffix; false when absent
    ('env ends with "od"', WEB, True),
    ('env ends with "pr"', WEB, False),
    ('env ends with ""', WEB, True),
    ('missing ends with ""', WEB, False),
    ('env endswith "d"', WEB, True),
    ('env ends  with "prod"', WEB, True),
    # all(), global() and the empty selector match everything
    ("all()", WEB, True),
    ("all()", {}, True),
    ("all( )", {}, True),
    ("global()", {}, True),
    ("global( )", WEB, True),
    ("!all()", WEB, False),
    ("!all()", {}, False),
    ("!global()", {}, False),
    ("", {}, True),
    ("", WEB, True),
    ("   ", WEB, True),
    ("\t \t", {}, True),
    # ! : applies to one primary; runs collapse by parity; !(a == x) behaves like a != x
    ('!missing == "x"', WEB, True),
    ('!role == "web"', WEB, False),
    ('!(role == "web")', WEB, False),
    ('!!role == "web"', WEB, True),
    ('!!!role == "web"', WEB, False),
    ('! ! role == "web"', WEB, True),
    ('!(!role == "web")', WEB, True),
    ('!role in {"web"}', WEB, False),
    ('!missing in {"web"}', WEB, True),
    ('!missing not in {"web"}', WEB, False),
    # precedence: ! above && above ||
    ('!role == "x" && env == "prod"', WEB, True),
    ('!role == "web" && env == "prod"', WEB, False),
    ('a == "1" || b == "1" && c == "1"', {"a": "1"}, True),
    ('a == "1" || b == "1" && c == "1"', {"b": "1"}, False),
    ('a == "1" || b == "1" && c == "1"', {"b": "1", "c": "1"}, True),
    ('(a == "1" || b == "1") && c == "1"', {"a": "1"}, False),
    ('(a == "1" || b == "1") && c == "1"', {"a": "1", "c": "1"}, True),
    ('a == "1" && b == "1" || c == "1"', {"c": "1"}, True),
    ('a == "1" && b == "1" || c == "1"', {"a": "1"}, False),
    ('a == "1" && (b == "1" || c == "1")', {"c": "1"}, False),
    ('!(a == "1" || b == "1")', {}, True),
    ('!(a == "1" || b == "1")', {"b": "1"}, False),
    ('!a == "1" || b == "1"', {"a": "1"}, False),
    ("!has(a) && !has(b)", {}, True),
    ("!has(a) && !has(b)", {"b": ""}, False),
    ('((a == "1"))', {"a": "1"}, True),
    ('a == "1" && b == "1" && c == "1"', {"a": "1", "b": "1", "c": "1"}, True),
    ('a == "1" && b == "1" && c == "1"', {"a": "1", "b": "1"}, False),
    ('a == "1" || b == "1" || c == "1"', {"c": "1"}, True),
    ('a == "1" || b == "1" || c == "1"', {}, False),
    (DOCS_EXAMPLE, {}, True),
    (DOCS_EXAMPLE, {"my-label": "production", "role": "frontend"}, True),
    (DOCS_EXAMPLE, {"my-label": "production", "role": "db"}, False),
    (DOCS_EXAMPLE, {"my-label": "dev", "role": "frontend"}, False),
    # operator words are labels unless they directly follow a label
    ('contains contains "x"', {"contains": "xyz"}, True),
    ('contains contains "x"', {"contains": "abc"}, False),
    ('has == "x"', {"has": "x"}, True),
    ('all == "x"', {"all": "x"}, True),
    ('global == "x"', {"global": "x"}, True),
    ("in in {'in'}", {"in": "in"}, True),
    ('not in {"a"}', {"not": "a"}, True),
    ('not not in {"a"}', {"not": "b"}, True),
    ('starts starts with "s"', {"starts": "seed"}, True),
    ('ends ends with "s"', {"ends": "ends"}, True),
    ('with == "w"', {"with": "w"}, True),
    ('instance in {"a"}', {"instance": "a"}, True),
    ('index ends with "x"', {"index": "ax"}, True),
    ("has(has)", {"has": ""}, True),
    ("has(in)", {"in": "x"}, True),
    ('!has(all) && all != "x"', {}, True),
    # label characters: [A-Za-z0-9_./-], up to 512 of them
    ('projectcalico.org/namespace == "x"', {"projectcalico.org/namespace": "x"}, True),
    ('app.kubernetes.io/name in {"nginx"}', {"app.kubernetes.io/name": "nginx"}, True),
    ('-a_b.c/d == "v"', {"-a_b.c/d": "v"}, True),
    ('123 == "4"', {"123": "4"}, True),
    ('Role == "web"', WEB, False),
    (LONG_LABEL + ' == "x"', {LONG_LABEL: "x"}, True),
    (f"has({LONG_LABEL})", {LONG_LABEL: ""}, True),
    # literals: either quote, no escapes, anything up to the closing quote
    ("name == 'say \"hi\"'", {"name": 'say "hi"'}, True),
    ('name == "it\'s"', {"name": "it's"}, True),
    ('name == "a && b || c"', {"name": "a && b || c"}, True),
    ('name == "(x) {y}, !z"', {"name": "(x) {y}, !z"}, True),
    ('name == "a\\nb"', {"name": "a\\nb"}, True),
    ('name == "a\\nb"', {"name": "a\nb"}, False),
    ('name == "a\nb"', {"name": "a\nb"}, True),
    ('name == "ünïcode"', {"name": "ünïcode"}, True),
    ('name in {"it\'s", \'say "hi"\'}', {"name": 'say "hi"'}, True),
    # whitespace: only spaces and tabs, and none is needed between tokens
    ('\trole\t==\t"web"\t', WEB, True),
    ('role=="web"', WEB, True),
    ('  role == "web"  ', WEB, True),
    ('role in{"web"}', WEB, True),
    ('role contains"e"', WEB, True),
    ('has(role)&&env=="prod"', WEB, True),
    ('!has(missing)||role=="x"', WEB, True),
    ('(role=="web")&&(env!="dev")', WEB, True),
]

# (selector, the whole error message)
ERROR_CASES = [
    # a value must be a quoted string
    ("role == web", f'selector "role == web" column 9: {STRING}'),
    ("a == 1", f'selector "a == 1" column 6: {STRING}'),
    ("b == b", f'selector "b == b" column 6: {STRING}'),
    ("a ==", f'selector "a ==" column 5: {STRING}'),
    ("a != x", f'selector "a != x" column 6: {STRING}'),
    ("a contains x", f'selector "a contains x" column 12: {STRING}'),
    ("a starts with 1", f'selector "a starts with 1" column 15: {STRING}'),
    ("a ends with", f'selector "a ends with" column 12: {STRING}'),
    # a literal cannot come first
    ("'b1' == b", f"selector \"'b1' == b\" column 1: {PRIMARY}"),
    ('"a"', f'selector ""a"" column 1: {PRIMARY}'),
    # a label needs an operator
    ("a", f'selector "a" column 2: {AFTER_LABEL}'),
    ("a ", f'selector "a " column 3: {AFTER_LABEL}'),
    ("a b", f'selector "a b" column 3: {AFTER_LABEL}'),
    ('a "x"', f'selector "a "x"" column 3: {AFTER_LABEL}'),
    ('a inf {"x"}', f'selector "a inf {{"x"}}" column 3: {AFTER_LABEL}'),
    ('a containsx "y"', f'selector "a containsx "y"" column 3: {AFTER_LABEL}'),
    ('a starts withs "x"', f'selector "a starts withs "x"" column 3: {AFTER_LABEL}'),
    ('a starts "x"', f'selector "a starts "x"" column 3: {AFTER_LABEL}'),
    ('a ends "x"', f'selector "a ends "x"" column 3: {AFTER_LABEL}'),
    ('a not "x"', f'selector "a not "x"" column 3: {AFTER_LABEL}'),
    ('a ! = "x"', f'selector "a ! = "x"" column 3: {AFTER_LABEL}'),
    ('a < "x"', f'selector "a < "x"" column 3: {AFTER_LABEL}'),
    ('role:web == "x"', f'selector "role:web == "x"" column 5: {AFTER_LABEL}'),
    ("has (a)", f'selector "has (a)" column 5: {AFTER_LABEL}'),
    ("all ()", f'selector "all ()" column 5: {AFTER_LABEL}'),
    ("a, b", f'selector "a, b" column 2: {AFTER_LABEL}'),
    ('a b == "x', f'selector "a b == "x" column 3: {AFTER_LABEL}'),
    # operators that must be doubled
    ('a = "x"', 'selector "a = "x"" column 3: a single "=" is not an operator; use "=="'),
    ('a === "x"', 'selector "a === "x"" column 5: a single "=" is not an operator; use "=="'),
    ('a !== "x"', 'selector "a !== "x"" column 5: a single "=" is not an operator; use "=="'),
    ("has(a) & has(b)", 'selector "has(a) & has(b)" column 8: a single "&" is not an operator; use "&&"'),
    ("has(a) &&& has(b)", 'selector "has(a) &&& has(b)" column 10: a single "&" is not an operator; use "&&"'),
    ("has(a) | has(b)", 'selector "has(a) | has(b)" column 8: a single "|" is not an operator; use "||"'),
    # unterminated strings point at the opening quote
    ('a == "x', 'selector "a == "x" column 6: unterminated string'),
    ("a == 'x", "selector \"a == 'x\" column 6: unterminated string"),
    ("a == \"x'", "selector \"a == \"x'\" column 6: unterminated string"),
    ('a in {"x}', 'selector "a in {"x}" column 7: unterminated string'),
    # sets
    ('a in "x"', 'selector "a in "x"" column 6: expected "{"'),
    ("a not in x", 'selector "a not in x" column 10: expected "{"'),
    ("a notin", 'selector "a notin" column 8: expected "{"'),
    ('a in {"x"', 'selector "a in {"x"" column 10: expected "," or "}"'),
    ('a in {"x" "y"}', 'selector "a in {"x" "y"}" column 11: expected "," or "}"'),
    ("a in {x}", 'selector "a in {x}" column 7: expected a quoted string or "}"'),
    ("a in {,}", 'selector "a in {,}" column 7: expected a quoted string or "}"'),
    ('a in {"x",,}', 'selector "a in {"x",,}" column 11: expected a quoted string or "}"'),
    ('a in {"x", y}', 'selector "a in {"x", y}" column 12: expected a quoted string or "}"'),
    ("a in {", 'selector "a in {" column 7: expected a quoted string or "}"'),
    # parentheses
    ('(a == "x"', f'selector "(a == "x"" column 10: {IN_PARENS} (the "(" at column 1 is not closed)'),
    ('((a == "x")', f'selector "((a == "x")" column 12: {IN_PARENS} (the "(" at column 1 is not closed)'),
    ('(has(a) && (b == "x")', f'selector "(has(a) && (b == "x")" column 22: {IN_PARENS} (the "(" at column 1 is not closed)'),
    ('(a == "x" b == "y")', f'selector "(a == "x" b == "y")" column 11: {IN_PARENS}'),
    ('a == "x")', 'selector "a == "x")" column 9: ")" without a matching "("'),
    ('(a == "x"))', 'selector "(a == "x"))" column 11: ")" without a matching "("'),
    (")", f'selector ")" column 1: {PRIMARY}'),
    ("()", f'selector "()" column 2: {PRIMARY}'),
    ("( )", f'selector "( )" column 3: {PRIMARY}'),
    # has(), all(), global()
    ("has()", 'selector "has()" column 5: expected a label'),
    ("has( )", 'selector "has( )" column 6: expected a label'),
    ('has("a")', 'selector "has("a")" column 5: expected a label'),
    ("has(a", 'selector "has(a" column 6: expected ")"'),
    ("has(a b)", 'selector "has(a b)" column 7: expected ")"'),
    ("all(", 'selector "all(" column 5: expected ")"'),
    ("all(x)", 'selector "all(x)" column 5: expected ")"'),
    ("global(", 'selector "global(" column 8: expected ")"'),
    ("global(a)", 'selector "global(a)" column 8: expected ")"'),
    # dangling and misplaced operators
    ("has(foo) &&", f'selector "has(foo) &&" column 12: {PRIMARY}'),
    ("has(foo) ||", f'selector "has(foo) ||" column 12: {PRIMARY}'),
    ("has(foo) && ", f'selector "has(foo) && " column 13: {PRIMARY}'),
    ("&& has(foo)", f'selector "&& has(foo)" column 1: {PRIMARY}'),
    ("!", f'selector "!" column 2: {PRIMARY}'),
    ("! ", f'selector "! " column 3: {PRIMARY}'),
    ('!= "x"', f'selector "!= "x"" column 1: {PRIMARY}'),
    ('{"a"}', f'selector "{{"a"}}" column 1: {PRIMARY}'),
    (",", f'selector "," column 1: {PRIMARY}'),
    ('a == "x" b == "y"', f'selector "a == "x" b == "y"" column 10: {END}'),
    ('a == "x" has(b)', f'selector "a == "x" has(b)" column 10: {END}'),
    ('a == "x" ! b == "y"', f'selector "a == "x" ! b == "y"" column 10: {END}'),
    ('has(a) == "x"', f'selector "has(a) == "x"" column 8: {END}'),
    ('a in {"x"} }', f'selector "a in {{"x"}} }}" column 12: {END}'),
    ('a == "it"s"', f'selector "a == "it"s"" column 10: {END}'),
    # characters that are not part of the language
    ("%", f'selector "%" column 1: {PRIMARY}'),
    ('a == "x" %', f'selector "a == "x" %" column 10: {END}'),
    ('@a == "x"', f'selector "@a == "x"" column 1: {PRIMARY}'),
    ('ä == "x"', f'selector "ä == "x"" column 1: {PRIMARY}'),
    ('a == "é" && é == "x"', f'selector "a == "é" && é == "x"" column 13: {PRIMARY}'),
    # newline and carriage return are not whitespace (shown escaped in the message)
    ('a == "x"\n', f'selector "a == "x"\\n" column 9: {LINE_BREAK}'),
    ("\n", f'selector "\\n" column 1: {LINE_BREAK}'),
    ('a == "x" &&\nb == "y"', f'selector "a == "x" &&\\nb == "y"" column 12: {LINE_BREAK}'),
    ('a == "x"\r\n', f'selector "a == "x"\\r\\n" column 9: {LINE_BREAK}'),
    ('a\n== "x"', f'selector "a\\n== "x"" column 2: {LINE_BREAK}'),
    # label length
    ("x" * 513 + ' == "y"', f'selector "{"x" * 513} == "y"" column 1: label too long (513 characters; the limit is 512)'),
    (f"has({'x' * 600})", f'selector "has({"x" * 600})" column 5: label too long (600 characters; the limit is 512)'),
    ('a == "x" && ' + "y" * 513 + ' == "z"', f'selector "a == "x" && {"y" * 513} == "z"" column 13: label too long (513 characters; the limit is 512)'),
]

# (selector, canonical form)
CANONICAL_CASES = [
    ("", "all()"),
    (" \t ", "all()"),
    ("all( )", "all()"),
    ("global( )", "global()"),
    ("has( a )", "has(a)"),
    ("a=='x'", 'a == "x"'),
    ("a!='x'", 'a != "x"'),
    ('a == ""', 'a == ""'),
    ("a == 'say \"hi\"'", "a == 'say \"hi\"'"),
    ('a == "it\'s"', 'a == "it\'s"'),
    ("a in {'b','a','b'}", 'a in {"a", "b"}'),
    ("a in {}", "a in {}"),
    ("a in { }", "a in {}"),
    ('a not in {"x",}', 'a not in {"x"}'),
    ("a notin{'x'}", 'a not in {"x"}'),
    ("a in {'q\"', \"p\"}", "a in {\"p\", 'q\"'}"),
    ('a contains"x"', 'a contains "x"'),
    ('a startswith "x"', 'a starts with "x"'),
    ('a ends   with "x"', 'a ends with "x"'),
    ('a == "1" && b == "2"', '(a == "1" && b == "2")'),
    ('a == "1" || b == "2"', '(a == "1" || b == "2")'),
    ('a == "1" || b == "2" && c == "3"', '(a == "1" || (b == "2" && c == "3"))'),
    ('(a == "1" || b == "2") && c == "3"', '((a == "1" || b == "2") && c == "3")'),
    ('a == "1" && b == "2" && c == "3"', '(a == "1" && b == "2" && c == "3")'),
    ('(a == "1" && b == "2") && c == "3"', '((a == "1" && b == "2") && c == "3")'),
    ("! has(a)", "!has(a)"),
    ("!!has(a)", "has(a)"),
    ("!!!has(a)", "!has(a)"),
    ("!(!has(a))", "has(a)"),
    ("!(!(!has(a)))", "!has(a)"),
    ('!(a == "1" && b == "2")', '!(a == "1" && b == "2")'),
    ('!a in {"x"}', '!a in {"x"}'),
    ("((has(a)))", "has(a)"),
    ("!all()", "!all()"),
    ("global() || has(a)", "(global() || has(a))"),
    ("in in {'in'}", 'in in {"in"}'),
    ('contains contains "x"', 'contains contains "x"'),
    ("has == 'x'", 'has == "x"'),
    (DOCS_EXAMPLE, '(!has(my-label) || (my-label starts with "prod" && role in {"business", "frontend"}))'),
]

# (selector, the tree the parser must build)
TREE_CASES = [
    ("", AllNode()),
    ("global()", GlobalNode()),
    ("has(a)", HasNode("a")),
    ('a == "x"', EqualsNode("a", "x")),
    ('a != "x"', NotEqualsNode("a", "x")),
    ('a contains "x"', ContainsNode("a", "x")),
    ('a starts with "x"', StartsWithNode("a", "x")),
    ('a ends with "x"', EndsWithNode("a", "x")),
    ("a in {'y', 'x', 'y'}", InNode("a", frozenset({"x", "y"}))),
    ("a not in {}", NotInNode("a", frozenset())),
    ('!a == "x" && b == "y"', AndNode((NotNode(EqualsNode("a", "x")), EqualsNode("b", "y")))),
    ("!a in {'a'}", NotNode(InNode("a", frozenset({"a"})))),
    (
        "has(a) || has(b) && has(c) || has(d)",
        OrNode((HasNode("a"), AndNode((HasNode("b"), HasNode("c"))), HasNode("d"))),
    ),
    ("!(has(a) || has(b))", NotNode(OrNode((HasNode("a"), HasNode("b"))))),
    ("!!has(a)", HasNode("a")),
]

# (selector, whether global() appears in it)
GLOBAL_CASES = [
    ("global()", True),
    ("!global()", True),
    ('a == "x" || global()', True),
    ("(has(a) && (global()))", True),
    ('global == "x"', False),
    ("has(global)", False),
    ('a == "global()"', False),
    ("all()", False),
    ("", False),
]

ROUND_TRIP_SELECTORS = sorted({case[0] for case in MATCH_CASES} | {case[0] for case in CANONICAL_CASES})


@pytest.mark.parametrize(("selector", "labels", "expected"), MATCH_CASES)
def test_matches(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(selector).matches(labels) is expected


@pytest.mark.parametrize(("selector", "message"), ERROR_CASES)
def test_invalid_selector_message(selector: str, message: str) -> None:
    with pytest.raises(SelectorError) as excinfo:
        parse_selector(selector)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(("selector", "canonical"), CANONICAL_CASES)
def test_canonical_form(selector: str, canonical: str) -> None:
    assert parse_selector(selector).canonical == canonical


@pytest.mark.parametrize("selector", ROUND_TRIP_SELECTORS)
def test_canonical_form_parses_back_to_the_same_tree(selector: str) -> None:
    parsed = parse_selector(selector)
    reparsed = parse_selector(parsed.canonical)
    assert reparsed.root == parsed.root
    assert reparsed.canonical == parsed.canonical


@pytest.mark.parametrize(("selector", "labels", "expected"), MATCH_CASES)
def test_canonical_form_matches_like_the_original(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(parse_selector(selector).canonical).matches(labels) is expected


@pytest.mark.parametrize(("selector", "tree"), TREE_CASES)
def test_parse_tree(selector: str, tree: object) -> None:
    assert parse_selector(selector).root == tree


@pytest.mark.parametrize(("selector", "expected"), GLOBAL_CASES)
def test_uses_global(selector: str, expected: bool) -> None:
    assert parse_selector(selector).uses_global is expected


def test_error_attributes() -> None:
    with pytest.raises(SelectorError) as excinfo:
        parse_selector("role == web")
    error = excinfo.value
    assert isinstance(error, PalisadeError)
    assert (error.selector, error.column, error.expected) == ("role == web", 9, STRING)


def test_error_survives_pickling() -> None:
    error = SelectorError("role == web", 9, STRING)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.selector, copy.column, copy.expected, str(copy)) == (
        error.selector,
        error.column,
        error.expected,
        str(error),
    )


def test_selector_keeps_the_text_as_given() -> None:
    selector = parse_selector(' role=="web" ')
    assert isinstance(selector, Selector)
    assert selector.text == ' role=="web" '
    assert selector.canonical == 'role == "web"'


def test_parse_is_memoised() -> None:
    assert parse_selector('tier == "cache"') is parse_selector('tier == "cache"')


def test_labels_may_be_any_mapping() -> None:
    labels = MappingProxyType({"role": "web"})
    assert parse_selector('role == "web" && tier not in {"db"}').matches(labels) is True


def test_tokens_record_their_column() -> None:
    tokens = [(token.kind, token.column, token.text) for token in tokenize('a == "x" &&\t!has(b)')]
    assert tokens == [
        (Kind.LABEL, 1, "a"),
        (Kind.EQ, 3, ""),
        (Kind.STRING, 6, "x"),
        (Kind.AND, 10, ""),
        (Kind.NOT, 13, ""),
        (Kind.HAS, 14, ""),
        (Kind.LABEL, 18, "b"),
        (Kind.RPAREN, 19, ""),
        (Kind.EOF, 20, ""),
    ]


def test_operator_words_are_one_token_each() -> None:
    kinds = [token.kind for token in tokenize('a starts  with "x" || b not\tin {} || in in {}')]
    assert kinds == [
        Kind.LABEL, Kind.STARTS_WITH, Kind.STRING, Kind.OR,
        Kind.LABEL, Kind.NOT_IN, Kind.LBRACE, Kind.RBRACE, Kind.OR,
        Kind.LABEL, Kind.IN, Kind.LBRACE, Kind.RBRACE, Kind.EOF,
    ]  # fmt: skip
