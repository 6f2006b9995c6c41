# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rule words: iptables-restore's splitting, quoting, and the normalisations used to compare rules."""

from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import rules


@pytest.mark.parametrize(
    "text, words",
    [
        ("-p tcp  -m tcp --dport 22 -j ACCEPT", ["-p", "tcp", "-m", "tcp", "--dport", "22", "-j", "ACCEPT"]),
        ('-m comment --comment "clear the pass mark" -j RETURN', ["-m", "comment", "--comment", "clear the pass mark", "-j", "RETURN"]),
        (r'--comment "say \"hi\" \\ o\'k"', ["--comment", 'say "hi" \\ o\'k']),
        ("--comment it's", ["--comment", "it's"]),
        ('--comment ""', ["--comment", ""]),
        ('--comment "unclosed', ["--comment", "unclosed"]),
        ("\t-j  DROP \n", ["-j", "DROP"]),
        ("", []),
    ],
)
def test_split_like_iptables_restore(text, words):
    assert rules.split_arguments(text) == words


@pytest.mark.parametrize(
    "word, text",
    [
        ("foo", "foo"),
        ("0x0/0x2000000", "0x0/0x2000000"),
        ("RELATED,ESTABLISHED", "RELATED,ESTABLISHED"),
        ("clear the mark", '"clear the mark"'),
        ('say "hi"', r'"say \"hi\""'),
        ("o'k", r'"o\'k"'),
        ("", '""'),
    ],
)
def test_quote_reads_back(word, text):
    assert rules.quote(word) == text
    assert rules.split_arguments(text) == [word]


@pytest.mark.parametrize(
    "rendered, saved",
    [
        ("-p 47 -j ACCEPT", "-p gre -j ACCEPT"),
        ("! -p 47 -j ACCEPT", "! -p gre -j ACCEPT"),
        ("-p ipv6-icmp -j ACCEPT", "-p icmpv6 -j ACCEPT"),
        ("-p tcp -j ACCEPT", "-p TCP -j ACCEPT"),
        ("-p tcp -j ACCEPT", "-p 6 -j ACCEPT"),
        ("-p all -j ACCEPT", "-j ACCEPT"),
        ("-s 10.0.0.0/8 -p 0 -j ACCEPT", "-s 10.0.0.0/8 -j ACCEPT"),
        ('-m comment --comment "foo" -j ACCEPT', "-m comment --comment foo -j ACCEPT"),
        ("-s 203.0.113.7 -j DROP", "-s 203.0.113.7/32 -j DROP"),
        ("-d 2001:DB8:0::1/128 -j DROP", "-d 2001:db8::1/128 -j DROP"),
        ("! -s 2001:db8:dead::/48  -j DROP", "! -s 2001:db8:dead::/48 -j DROP"),
    ],
)
def test_known_differences_compare_equal(rendered, saved):
    assert rules.canonical_words(rendered) == rules.canonical_words(saved)


@pytest.mark.parametrize(
    "one, other",
    [
        ("-p tcp -j ACCEPT", "-p udp -j ACCEPT"),
        ("-s 203.0.113.7/32 -j DROP", "-s 203.0.113.0/24 -j DROP"),
        ('--comment "a b"', '--comment "a  b"'),
        ("-p tcp -m tcp --dport 22 -j ACCEPT", "-p tcp --dport 22 -j ACCEPT"),
        ("! -p all -j ACCEPT", "-j ACCEPT"),
    ],
)
def test_real_differences_stay(one, other):
    assert rules.canonical_words(one) != rules.canonical_words(other)


def test_canonical_rule_shows_renderer_protocols_by_name_and_others_by_number():
    assert rules.canonical_rule("-p gre -m comment --comment x -j ACCEPT") == "-p 47 -m comment --comment x -j ACCEPT"
    assert rules.canonical_rule("-p icmpv6 -j ACCEPT") == "-p ipv6-icmp -j ACCEPT"
    assert rules.canonical_rule("-p nosuchproto -j ACCEPT") == "-p nosuchproto -j ACCEPT"


@pytest.mark.parametrize(
    "text, target",
    [
        ("-j pal-INPUT", ("jump", "pal-INPUT")),
        ("-i eth0 -g pal-fh-eth0", ("goto", "pal-fh-eth0")),
        ('-m comment --comment "-j pal-x" -j ACCEPT', ("jump", "ACCEPT")),
        ("--jump DOCKER", ("jump", "DOCKER")),
        ("-p tcp", None),
    ],
)
def test_target_of(text, target):
    assert rules.target_of(rules.split_arguments(text)) == target


def test_set_references():
    words = rules.split_arguments("-m set --match-set pal-s4-a src -m set ! --match-set pal-p4-b dst,dst -j SET --add-set f2b x")
    assert rules.set_references(words) == ["pal-s4-a", "pal-p4-b", "f2b"]
