# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host splits rule and set text on "\\n" only and refuses every other line break, NUL and
over-long lines, so that a bad controller cannot make the host read other lines than the tools."""

from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import boot
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import InputError, PalisadeError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.saved_state import parse_ipset_save, parse_iptables_save
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted

SETS = "# pal-s4-a: a set\ncreate pal-s4-a hash:net family inet hashsize 1024 maxelem 65536\nadd pal-s4-a 198.51.100.0/24\n"
V4 = "*filter\n:pal-INPUT - [0:0]\n-A pal-INPUT -m comment --comment \"x\" -m set --match-set pal-s4-a src -j ACCEPT\nCOMMIT\n"

BREAKS = [
    ("\x00", "NUL"),
    ("\r", "carriage return (\\r)"),
    ("\x0b", "vertical tab (\\x0b)"),
    ("\x0c", "form feed (\\x0c)"),
    ("\x1c", "file separator (\\x1c)"),
    ("\x1d", "group separator (\\x1d)"),
    ("\x1e", "record separator (\\x1e)"),
    ("\x85", "next line (U+0085)"),
    ("\u2028", "line separator (U+2028)"),
    ("\u2029", "paragraph separator (U+2029)"),
]
IDS = ["NUL", "CR", "VT", "FF", "FS", "GS", "RS", "NEL", "LS", "PS"]


def problems(ipv4_rules=V4, ipsets=SETS):
    with pytest.raises(InputError) as raised:
        parse_wanted(ipv4_rules, "", ipsets, [])
    return raised.value.problems


@pytest.mark.parametrize("char, name", BREAKS, ids=IDS)
def test_ipset_comment_with_a_line_break_is_refused(char, name):
    hostile = SETS.replace("a set", f"a set{char}add pal-s4-a 0.0.0.0/1{char}#")
    assert problems(ipsets=hostile) == [f"ipsets line 1: contains {name}; lines may only be separated by \\n"]


@pytest.mark.parametrize("char, name", BREAKS, ids=IDS)
def test_rule_with_a_line_break_is_refused(char, name):
    hostile = V4.replace('"x"', f'"x{char}-A pal-INPUT -j ACCEPT"')
    assert problems(ipv4_rules=hostile) == [f"ipv4_rules line 3: contains {name}; lines may only be separated by \\n"]
    with pytest.raises(InputError) as raised:
        parse_wanted("", hostile, "", [])
    assert raised.value.problems == [f"ipv6_rules line 3: contains {name}; lines may only be separated by \\n"]


def test_several_breaks_on_one_line_are_named_once_each():
    hostile = SETS.replace("a set", "a\r\u2028\r")
    assert problems(ipsets=hostile) == [
        "ipsets line 1: contains carriage return (\\r), line separator (U+2028); lines may only be separated by \\n"
    ]


def test_lines_split_on_newline_only_keep_their_numbers():
    wanted = parse_wanted(V4, "", "\n\n" + SETS, [])
    assert wanted.ipsets["pal-s4-a"].members == ("198.51.100.0/24",)
    assert problems(ipsets="\n\n" + SETS.replace("a set", "\u2028")) == [
        "ipsets line 3: contains line separator (U+2028); lines may only be separated by \\n"
    ]


@pytest.mark.parametrize(
    "option, text, message",
    [
        ("ipsets", "#" + "x" * 1022 + "\n" + SETS, None),
        ("ipsets", "#" + "x" * 1023 + "\n" + SETS, "ipsets line 1: 1024 bytes, longer than the 1023 the kernel tools read as one line"),
        ("ipsets", "#" + "\u00e9" * 512 + "\n" + SETS, "ipsets line 1: 1025 bytes, longer than the 1023 the kernel tools read as one line"),
        ("ipv4_rules", "#" + "x" * 10238 + "\n" + V4, None),
        (
            "ipv4_rules",
            "#" + "x" * 10239 + "\n" + V4,
            "ipv4_rules line 1: 10240 bytes, longer than the 10239 the kernel tools read as one line",
        ),
    ],
    ids=["ipset-at-limit", "ipset-over", "ipset-over-in-bytes", "rules-at-limit", "rules-over"],
)
def test_over_long_lines(option, text, message):
    inputs = {"ipv4_rules": V4, "ipsets": SETS, option: text}
    if message is None:
        parse_wanted(inputs["ipv4_rules"], "", inputs["ipsets"], [])
    else:
        assert problems(**inputs) == [message]


@pytest.mark.parametrize("char, name", BREAKS, ids=IDS)
def test_saved_state_refuses_owned_lines_with_a_line_break(char, name):
    saved = f'*filter\n:pal-INPUT - [0:0]\n-A pal-INPUT -m comment --comment "a{char}b" -j ACCEPT\nCOMMIT\n'
    with pytest.raises(PalisadeError) as raised:
        parse_iptables_save(saved, 4, "pal-")
    assert str(raised.value) == f"iptables-save line 3: an owned rule or set contains {name}; it was not written by palisade.firewall"
    with pytest.raises(PalisadeError) as raised:
        parse_ipset_save(f"create pal-s4-a hash:net family inet comment\nadd pal-s4-a 192.0.2.1 comment \"a{char}b\"\n", "pal-")
    assert str(raised.value) == f"ipset save line 2: an owned rule or set contains {name}; it was not written by palisade.firewall"


def test_saved_state_splits_other_tools_lines_on_newline_only():
    saved = (
        "*filter\n:INPUT ACCEPT [0:0]\n:other - [0:0]\n:pal-INPUT - [0:0]\n"
        '-A other -m comment --comment "a\u2028-A pal-INPUT -j DROP" -j ACCEPT\n-A pal-INPUT -j RETURN\nCOMMIT\n'
    )
    live = parse_iptables_save(saved, 4, "pal-")
    assert live.tables["filter"].owned["pal-INPUT"].rules == ("-j RETURN",)
    owned, names = parse_ipset_save('create f2b hash:ip family inet comment\nadd f2b 192.0.2.1 comment "a\u2028create pal-x hash:net"\n', "pal-")
    assert owned == {} and names == {"f2b"}


@pytest.mark.parametrize(
    "state_dir, shown",
    [
        ("/var/lib/pal\nExecStart=/bin/evil", "'\\n='"),
        ("/var/lib/pal\u2028x", "'\\u2028'"),
        ("/var/lib/my pal", "' '"),
        ("/var/lib/%h", "'%'"),
    ],
)
def test_boot_unit_refuses_a_state_directory_that_would_break_its_lines(state_dir, shown):
    with pytest.raises(PalisadeError) as raised:
        boot.check_unit_path(state_dir)
    assert str(raised.value) == (
        f"Refusing the state directory {state_dir!r}: it contains {shown}; allowed are only the characters A-Z a-z 0-9 / . _ -."
        " Nothing was changed."
    )
    boot.check_unit_path("/var/lib/palisade-firewall")
