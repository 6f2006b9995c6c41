# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rendering contract: hostile strings in policies never become lines of a rendered file.

Every case goes through the whole engine (inventory -> compile -> rendered files) and then
through the host's parser, which must see exactly the sets and rules the policies asked for.
"""

from __future__ import annotations

import ipaddress

import golden_cases
import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir
from ansible_collections.palisade.firewall.plugins.plugin_utils.render import text_contract
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.files import IPSETS_FILE, IPV4_FILE, IPV6_FILE, render_files, render_ipsets
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.text_contract import RenderError

ADMIN_SELECTOR = "role == 'admin'"
ADMIN_V4 = "pal-s4-350250576f627f61"  # the set of ADMIN_SELECTOR, holding 192.0.2.20
ADMIN_V6 = "pal-s6-350250576f627f61"

SEPARATORS = [
    ("LF", "\n", "<U+000A>"),
    ("CR", "\r", "<U+000D>"),
    ("VT", "\x0b", "<U+000B>"),
    ("FF", "\x0c", "<U+000C>"),
    ("FS", "\x1c", "<U+001C>"),
    ("GS", "\x1d", "<U+001D>"),
    ("RS", "\x1e", "<U+001E>"),
    ("NEL", "\x85", "<U+0085>"),
    ("LS", "\u2028", "<U+2028>"),
    ("PS", "\u2029", "<U+2029>"),
    ("NUL", "\x00", "<U+0000>"),
    ("CRLF", "\r\n", "<U+000D><U+000A>"),
]


def inventory(hostile_selector: str, host: str = "web1") -> dict:
    """web1 allows admin hosts, and TCP from whatever ``hostile_selector`` selects."""
    policies = [
        {
            "name": "web",
            "selector": "role == 'web'",
            "ingress": [
                {"action": "Allow", "source": {"selector": ADMIN_SELECTOR}},
                {"action": "Allow", "protocol": "TCP", "source": {"selector": hostile_selector}},
            ],
        }
    ]

    def entry(role: str, address: str) -> dict:
        return {
            "vars": {
                "palisade_labels": {"role": role},
                "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": [address]}],
                "palisade_policies": policies,
            }
        }

    return {"host": host, "hosts": {host: entry("web", "192.0.2.10"), "adm": entry("admin", "192.0.2.20")}}


def compiled_files(hostile_selector: str) -> dict:
    host, rulesets = golden_cases.compile_inventory(inventory(hostile_selector))
    files = render_files(rulesets, host=host, include_hooks=False)
    for name, text in files.items():  # the whole file is printable ASCII lines
        assert all(" " <= char <= "~" for char in text.replace("\n", "")), name
    return files


def set_blocks(text: str) -> dict:
    """``{set name: [its comment, create and add lines]}`` read the only way the tools read it."""
    blocks: dict = {}
    current = None
    for line in text.split("\n")[2:-1]:
        if line.startswith("# "):
            current = line[2:].split(" ", 1)[0]
        blocks.setdefault(current, []).append(line)
    return blocks


def host_view(files: dict) -> tuple:
    """What the host module would apply: ``({set: members}, {(family, table, chain): rules})``."""
    wanted = parse_wanted(files[IPV4_FILE], files[IPV6_FILE], files[IPSETS_FILE], [])
    sets = {name: item.members for name, item in wanted.ipsets.items()}
    chains = {
        (family, table, name): chain.rules
        for family, tables in wanted.tables.items()
        for table, chains_of_table in tables.items()
        for name, chain in chains_of_table.items()
    }
    return sets, chains


@pytest.mark.parametrize("label, separator, escaped", SEPARATORS, ids=[case[0] for case in SEPARATORS])
def test_selector_injection_stays_in_its_comment(label, separator, escaped):
    hostile = f'role == "x{separator}add {ADMIN_V4} 0.0.0.0/1{separator}#"'
    files = compiled_files(hostile)
    baseline = compiled_files("role == 'nobody'")
    blocks = set_blocks(files[IPSETS_FILE])
    hostile_sets = sorted(set(blocks) - {ADMIN_V4, ADMIN_V6})
    assert len(hostile_sets) == 2 and [name[:7] for name in hostile_sets] == ["pal-s4-", "pal-s6-"]
    v4, v6 = hostile_sets
    shown = f'selector role == "x{escaped}add {ADMIN_V4} 0.0.0.0/1{escaped}#"'
    assert blocks[v4] == [
        f"# {v4} (IPv4 hash:net): {shown}",
        f"create {v4} hash:net family inet hashsize 1024 maxelem 65536",
    ]
    assert blocks[v6] == [
        f"# {v6} (IPv6 hash:net): {shown}",
        f"create {v6} hash:net family inet6 hashsize 1024 maxelem 65536",
    ]
    assert blocks[ADMIN_V4] == [
        f"# {ADMIN_V4} (IPv4 hash:net): selector role == \"admin\"",
        f"create {ADMIN_V4} hash:net family inet hashsize 1024 maxelem 65536",
        f"add {ADMIN_V4} 192.0.2.20",
    ]
    sets, chains = host_view(files)
    assert sets == {ADMIN_V4: ("192.0.2.20",), ADMIN_V6: (), v4: (), v6: ()}
    assert chains[(4, "filter", "pal-pi-web")] == (
        f'-m comment --comment "policy web ingress rule 0" -m set --match-set {ADMIN_V4} src -g pal-allow',
        f'-p tcp -m comment --comment "policy web ingress rule 1" -m set --match-set {v4} src -g pal-allow',
    )
    # every other line is the one a harmless selector gives
    base_sets, base_chains = host_view(baseline)
    assert set(chains) == set(base_chains)
    assert len(files[IPV4_FILE].split("\n")) == len(baseline[IPV4_FILE].split("\n"))
    assert len(files[IPSETS_FILE].split("\n")) == len(baseline[IPSETS_FILE].split("\n"))


def test_over_long_selector_is_cut_in_its_comment():
    """A ~1,000-character selector would have put the tail of its comment line past ipset's 1,024 bytes."""
    padding = "y" * (1000 - len('role == ""') - len(" create pal-evil hash:net"))
    hostile = f'role == "{padding} create pal-evil hash:net"'
    files = compiled_files(hostile)
    blocks = set_blocks(files[IPSETS_FILE])
    sets, _chains = host_view(files)
    assert "pal-evil" not in files[IPSETS_FILE]
    v4 = next(name for name in blocks if name.startswith("pal-s4-") and name != ADMIN_V4)
    comment = blocks[v4][0]
    text = "selector " + hostile
    assert comment == f"# {v4} (IPv4 hash:net): {text[:252]}..."
    assert len(comment.encode()) == 2 + len(v4) + len(" (IPv4 hash:net): ") + 255
    assert sorted(sets) == sorted([ADMIN_V4, ADMIN_V6, v4, v4.replace("pal-s4-", "pal-s6-")])


def test_longest_possible_lines_are_under_the_tool_limits():
    longest_comment = 2 + text_contract.MAX_FREE_COMMENT_BYTES + len(" (IPv4 hash:ip,port): ") + 31
    assert longest_comment < text_contract.IPSET_MAX_LINE_BYTES
    longest_header = len("# Generated by palisade.firewall for host : IPv4 and IPv6 sets for ipset restore.") + text_contract.MAX_HOST_BYTES
    assert longest_header < text_contract.IPSET_MAX_LINE_BYTES < text_contract.RESTORE_MAX_LINE_BYTES


@pytest.mark.parametrize(
    "host, shown",
    [
        ("web1", "web1"),
        ("evil\u2028add pal-x 0.0.0.0/1", "evil<U+2028>add pal-x 0.0.0.0/1"),
        ("h" * 300, "h" * 252 + "..."),
        ("\u00e9" * 40, "<U+00E9>" * 31 + "..."),
        ("bidi\u202e", "bidi<U+202E>"),
    ],
    ids=["plain", "separator", "long", "long-escapes", "bidi-override"],
)
def test_header_host_name_is_escaped_and_capped(host, shown):
    files = render_files(golden_cases.empty_case(), host=host)
    assert max(len(line.encode()) for text in files.values() for line in text.split("\n")) <= 342
    assert files[IPSETS_FILE].split("\n")[0] == f"# Generated by palisade.firewall for host {shown}: IPv4 and IPv6 sets for ipset restore."
    assert files[IPV4_FILE].split("\n")[0] == f"# Generated by palisade.firewall for host {shown}: IPv4 rules for iptables-restore --noflush."
    assert files[IPV6_FILE].split("\n")[0] == f"# Generated by palisade.firewall for host {shown}: IPv6 rules for ip6tables-restore --noflush."


@pytest.mark.parametrize(
    "text, expected",
    [
        ("plain ascii ~", "plain ascii ~"),
        ("tab\there", "tab<U+0009>here"),
        ("del\x7f", "del<U+007F>"),
        ("astral \U0001f600", "astral <U+1F600>"),
        ("nbsp\u00a0", "nbsp<U+00A0>"),
        ("zero width\u200b", "zero width<U+200B>"),
    ],
)
def test_escape(text, expected):
    assert text_contract.escape(text) == expected


def test_cap_never_splits_an_escape():
    assert text_contract.free_text("ab" + "\u2028" * 3, 13) == "ab<U+2028>..."
    assert text_contract.free_text("ab" + "\u2028" * 3, 12) == "ab..."
    assert text_contract.free_text("abc", 3) == "abc"
    assert text_contract.free_text("abcd", 3) == "..."


@pytest.mark.parametrize(
    "text, limit, words, message",
    [
        ("ok\nline 2\n", 10, None, None),
        ("", 10, None, None),
        ("no newline", 20, None, "f.rules: the rendered text does not end with a newline"),
        (
            "ok\nbad\u2028add x\n",
            20,
            None,
            "f.rules line 2: character <U+2028> is outside the rendering contract (printable ASCII only): bad<U+2028>add x",
        ),
        ("a\x00b\n", 20, None, "f.rules line 1: character <U+0000> is outside the rendering contract (printable ASCII only): a<U+0000>b"),
        ("a\rb\n", 20, None, "f.rules line 1: character <U+000D> is outside the rendering contract (printable ASCII only): a<U+000D>b"),
        ("x" * 11 + "\n", 10, None, "f.rules line 1: 11 bytes, more than the 10 the kernel tools read as one line: xxxxxxxxxxx"),
        ("a b c\n", 10, 2, "f.rules line 1: 3 words, more than the 2 iptables-restore accepts: a b c"),
    ],
)
def test_check_file(text, limit, words, message):
    if message is None:
        assert text_contract.check_file(text, "f.rules", max_line_bytes=limit, max_words=words) == text
    else:
        with pytest.raises(RenderError) as raised:
            text_contract.check_file(text, "f.rules", max_line_bytes=limit, max_words=words)
        assert str(raised.value) == message


def test_renderer_refuses_instead_of_emitting(monkeypatch):
    """A free-text escape missed upstream is caught by the final assertion, naming file and line."""
    monkeypatch.setattr(text_contract, "free_text", lambda text, limit: text)
    ipset = ir.IpSet("pal-s4-a", "hash:net", 4, (ir.NetMember(ipaddress.ip_network("192.0.2.0/24")),), "x\u2028add pal-s4-a 0.0.0.0/1")
    with pytest.raises(RenderError) as raised:
        render_ipsets([golden_cases.empty_case()[0].__class__(family=4, tables=(), hooks=(), ipsets=(ipset,))], host="h")
    assert str(raised.value) == (
        "ipsets.restore of host h line 3: character <U+2028> is outside the rendering contract (printable ASCII only):"
        " # pal-s4-a (IPv4 hash:net): x<U+2028>add pal-s4-a 0.0.0.0/1"
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("policy name", "web\n"),
        ("interface", "eth0\n"),
        ("label value", "web\n"),
    ],
)
def test_rule_words_with_a_trailing_newline_are_refused_at_validation(field, value):
    from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import ValidationError

    data = inventory("role == 'nobody'")
    for entry in data["hosts"].values():
        if field == "policy name":
            entry["vars"]["palisade_policies"] = [dict(entry["vars"]["palisade_policies"][0], name=value)]
        elif field == "interface":
            entry["vars"]["palisade_host_endpoints"][0]["interfaceName"] = value
        else:
            entry["vars"]["palisade_labels"]["role"] = value
    with pytest.raises(ValidationError):
        golden_cases.compile_inventory(data)
