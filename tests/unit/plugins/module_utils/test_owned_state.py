# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The wanted state: parsing the module's inputs (with exact error messages) and rendering it back."""

from __future__ import annotations

import palisade_fakes
import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import InputError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import IpSet, canonical_member, parse_wanted

V4 = """# comment
*filter
:pal-INPUT - [0:0]
:pal-allow - [0:0]
-A pal-INPUT -i lo -j RETURN
-A pal-INPUT -m set --match-set pal-s4-a src -g pal-allow
-A pal-allow -j ACCEPT
COMMIT
"""
SETS = "create pal-s4-a hash:net family inet hashsize 1024 maxelem 65536\nadd pal-s4-a 198.51.100.0/24\n"
HOOK = {"family": 4, "table": "filter", "chain": "INPUT", "target": "pal-INPUT", "position": "insert"}


def parse(ipv4_rules=V4, ipv6_rules="", ipsets=SETS, hooks=(HOOK,), prefix="pal-"):
    return parse_wanted(ipv4_rules, ipv6_rules, ipsets, list(hooks), prefix)


def problems(**inputs):
    with pytest.raises(InputError) as raised:
        parse(**inputs)
    return raised.value.problems


def test_parse_keeps_chains_rules_hooks_and_sets_in_order():
    state = parse()
    chains = state.chains(4, "filter")
    assert list(chains) == ["pal-INPUT", "pal-allow"]
    assert chains["pal-INPUT"].rules == ("-i lo -j RETURN", "-m set --match-set pal-s4-a src -g pal-allow")
    assert [hook.name for hook in state.hooks] == ["ipv4 filter INPUT -j pal-INPUT"]
    assert state.ipsets["pal-s4-a"] == IpSet(
        "pal-s4-a", "hash:net", ("family", "inet", "hashsize", "1024", "maxelem", "65536"), ("198.51.100.0/24",)
    )
    assert state.inputs()["ipv4_rules"] == V4  # what gets recorded is what was given


@pytest.mark.parametrize("case", palisade_fakes.GOLDEN_CASES)
def test_golden_inputs_parse_and_render_back_to_the_same_state(case):
    inputs = palisade_fakes.golden_inputs(case)
    state = parse_wanted(**inputs)
    rendered = state.render_inputs()
    again = parse_wanted(**rendered)
    assert again.tables == state.tables
    assert again.hooks == state.hooks
    assert {name: s.member_keys() for name, s in again.ipsets.items()} == {name: s.member_keys() for name, s in state.ipsets.items()}
    assert all(again.ipsets[name].same_as(state.ipsets[name]) for name in state.ipsets)


def test_empty_inputs_are_an_empty_state():
    state = parse_wanted("", "", "", [])
    assert state.is_empty()
    assert state.render_inputs() == {"ipv4_rules": "", "ipv6_rules": "", "ipsets": "", "hooks": []}


@pytest.mark.parametrize(
    "inputs, expected",
    [
        (
            {"ipv4_rules": "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", "hooks": (), "ipsets": ""},
            "ipv4_rules line 2: declares chain 'INPUT', which is not owned (owned chains start with 'pal-';"
            " built-in chains and their policies are never changed)",
        ),
        (
            {"ipv4_rules": "*filter\n:pal-x - [0:0]\n-I INPUT 1 -j pal-x\nCOMMIT\n", "hooks": (), "ipsets": ""},
            "ipv4_rules line 3: only chain declarations (:pal-name - [0:0]) and -A rules belong here, not '-I'"
            " (hooks are given in the hooks option)",
        ),
        (
            {"ipv4_rules": "*filter\n:pal-x - [0:0]\n-A INPUT -j pal-x\nCOMMIT\n", "hooks": (), "ipsets": ""},
            "ipv4_rules line 3: a rule in chain INPUT, which is not owned: rules in built-in chains are hooks"
            " (the hooks option); other chains must start with 'pal-'",
        ),
        (
            {"ipv4_rules": "*filter\n-A pal-y -j DROP\nCOMMIT\n", "hooks": (), "ipsets": ""},
            "ipv4_rules line 2: a rule in chain pal-y, which is not declared in table filter (:pal-y - [0:0])",
        ),
        (
            {"ipv4_rules": "*filter\n:pal-x - [0:0]\n-A pal-x -j pal-nowhere\nCOMMIT\n", "hooks": (), "ipsets": ""},
            "ipv4_rules: table filter chain pal-x rule 1: jumps to pal-nowhere, which is not declared in table filter",
        ),
        (
            {"ipv4_rules": "*filter\n:pal-x - [0:0]\n-A pal-x -m set --match-set pal-s4-b src -j DROP\nCOMMIT\n", "hooks": ()},
            "ipv4_rules: table filter chain pal-x rule 1: uses ipset pal-s4-b, which is not in the ipsets option",
        ),
        (
            {
                "ipv4_rules": "",
                "ipv6_rules": "*filter\n:pal-x - [0:0]\n-A pal-x -m set --match-set pal-s4-a src -j DROP\nCOMMIT\n",
                "hooks": (),
            },
            "ipv6_rules: table filter chain pal-x rule 1: uses ipset pal-s4-a, an IPv4 set",
        ),
        (
            {"ipv4_rules": "*nosuch\nCOMMIT\n", "hooks": (), "ipsets": ""},
            "ipv4_rules line 1: unknown table 'nosuch' (known: raw, mangle, nat, filter, security)",
        ),
        ({"ipv4_rules": "*filter\n:pal-x - [0:0]\n", "hooks": (), "ipsets": ""}, "ipv4_rules: table filter does not end with COMMIT"),
        (
            {"ipv4_rules": ":pal-x - [0:0]\n", "hooks": (), "ipsets": ""},
            "ipv4_rules line 1: ':pal-x - [0:0]' is outside a table (a table starts with *filter, *raw...)",
        ),
        (
            {"ipv4_rules": "*filter\n:pal-x ACCEPT [0:0]\nCOMMIT\n", "hooks": (), "ipsets": ""},
            "ipv4_rules line 2: chain pal-x has policy 'ACCEPT': user chains have none (write '-')",
        ),
        (
            {"ipv4_rules": "*filter\n:pal-" + "x" * 30 + " - [0:0]\nCOMMIT\n", "hooks": (), "ipsets": ""},
            "ipv4_rules line 2: chain name pal-" + "x" * 30 + " is longer than 28 characters",
        ),
        ({"ipsets": SETS + "create f2b hash:ip\n"}, "ipsets line 3: ipset f2b is not owned (owned ipsets start with 'pal-')"),
        ({"ipsets": SETS + "add pal-s4-zz 1.2.3.4\n"}, "ipsets line 3: adds to ipset pal-s4-zz before (or without) its create line"),
        (
            {"ipsets": SETS + "flush pal-s4-a\n"},
            "ipsets line 3: only 'create NAME TYPE [options]' and 'add NAME MEMBER' lines belong here, not 'flush pal-s4-a'",
        ),
        ({"ipsets": SETS + SETS}, "ipsets line 3: ipset pal-s4-a is created twice"),
        ({"hooks": [dict(HOOK, chain="FOO")]}, "hooks[0]: 'FOO' is not a built-in chain of table filter (INPUT, FORWARD, OUTPUT)"),
        ({"hooks": [dict(HOOK, target="pal-nope")]}, "hooks[0]: target pal-nope is not declared in table filter of ipv4_rules"),
        ({"hooks": [dict(HOOK, target="DOCKER")]}, "hooks[0]: target 'DOCKER' is not an owned chain (owned chains start with 'pal-')"),
        ({"hooks": [dict(HOOK, family=6)]}, "hooks[0]: target pal-INPUT is not declared in table filter of ipv6_rules"),
        ({"hooks": [dict(HOOK, family=5)]}, "hooks[0]: family must be 4 or 6, not 5"),
        ({"hooks": [dict(HOOK, position="middle")]}, "hooks[0]: position must be insert or append, not 'middle'"),
        ({"hooks": [HOOK, dict(HOOK, position="append")]}, "hooks[1]: hook ipv4 filter INPUT -j pal-INPUT is given twice"),
        ({"hooks": [dict(HOOK, table="raw")]}, "hooks[0]: 'INPUT' is not a built-in chain of table raw (PREROUTING, OUTPUT)"),
    ],
)
def test_input_problems(inputs, expected):
    assert problems(**inputs) == [expected]


def test_every_problem_is_reported_at_once():
    with pytest.raises(InputError) as raised:
        parse(ipv4_rules="*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j DROP\n", hooks=(), ipsets="")
    assert str(raised.value).splitlines()[0] == "3 problems in the wanted ruleset:"


@pytest.mark.parametrize(
    "prefix, message",
    [
        ("", "prefix must be a non-empty word without spaces or quotes, not ''"),
        ("IN", "prefix 'IN' would claim built-in chains"),
        ("a" * 21, f"prefix {'a' * 21!r} is longer than 20 characters: owned names would not fit the kernel's limits"),
    ],
)
def test_prefix_problems(prefix, message):
    assert problems(prefix=prefix) == [message]


@pytest.mark.parametrize(
    "member, canonical",
    [
        ("198.51.100.30/32", "198.51.100.30"),
        ("198.51.100.30", "198.51.100.30"),
        ("198.51.100.7/24", "198.51.100.0/24"),
        ("2001:DB8:0::1", "2001:db8::1"),
        ("2001:db8::/128", "2001:db8::"),
        ("2001:db8::10,TCP:8443", "2001:db8::10,tcp:8443"),
        ('10.0.0.0/8 comment "why" timeout 300', "10.0.0.0/8"),
        ("10.0.0.0/8 nomatch", "10.0.0.0/8 nomatch"),
        ("10.0.0.1-10.0.0.9", "10.0.0.1-10.0.0.9"),
        ("10.0.0.0/8,eth0", "10.0.0.0/8,eth0"),
    ],
)
def test_set_members_compare_as_the_kernel_stores_them(member, canonical):
    assert canonical_member(member) == canonical


def test_set_identity_ignores_the_tuning_the_kernel_chooses():
    rendered = IpSet("pal-s", "hash:net", ("family", "inet", "hashsize", "1024", "maxelem", "65536"), ("10.0.0.1/32",))
    saved = IpSet(
        "pal-s",
        "hash:net",
        ("family", "inet", "hashsize", "4096", "maxelem", "65536", "bucketsize", "12", "initval", "0x1234"),
        ("10.0.0.1",),
    )
    bare = IpSet("pal-s", "hash:net", (), ("10.0.0.1",))
    assert rendered.same_as(saved) and saved.same_as(bare)
    assert not rendered.same_as(IpSet("pal-s", "hash:net", ("maxelem", "10"), ("10.0.0.1",)))
    assert not rendered.same_as(IpSet("pal-s", "hash:net", ("family", "inet6"), ("10.0.0.1",)))
    assert not rendered.same_as(IpSet("pal-s", "hash:net", ("comment",), ("10.0.0.1",)))
    assert saved.description() == "hash:net family inet maxelem 65536"
    assert IpSet("pal-l", "list:set").family is None and IpSet("pal-l", "list:set").label == "ipset pal-l"
