# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Words of one iptables rule: splitting, the canonical form used to compare rules, targets.

Private to the collection: this API may change at any time.

A rule is compared by its canonical form, so that the wanted text (as rendered) and what
``iptables-save`` prints compare equal whenever the kernel holds the same rule. The known
differences between the two, and nothing else, are normalised:

- word splitting and quoting: ``--comment foo`` and ``--comment "foo"`` are the same words
  (``iptables-save`` quotes only words with characters outside ``[A-Za-z0-9_-]``);
- protocols: ``-p 47`` and ``-p gre`` (``iptables-save`` prints names from /etc/protocols);
  the canonical form keeps the names the renderer writes (tcp, udp, icmp, ipv6-icmp, sctp,
  udplite) and writes every other protocol as its number;
- ``-p all`` (or ``-p 0``), which iptables-save leaves out;
- addresses: ``-s 10.0.0.1`` and ``-s 10.0.0.1/32``, and IPv6 spellings (``2001:DB8::/32``);
- whitespace.
"""

import ipaddress
import socket

# Protocol names the renderer writes (iptables-save prints these the same way); other
# protocols are compared, and shown, by number.
PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp", 136: "udplite"}
# Names iptables knows without /etc/protocols (libxtables' own table) and common aliases.
KNOWN_PROTOCOLS = {
    "icmp": 1,
    "igmp": 2,
    "tcp": 6,
    "udp": 17,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "icmpv6": 58,
    "ipv6-icmp": 58,
    "mh": 135,
    "ipv6-mh": 135,
    "sctp": 132,
    "udplite": 136,
    "dccp": 33,
}
PROTOCOL_OPTIONS = frozenset({"-p", "--protocol"})
ADDRESS_OPTIONS = frozenset({"-s", "--source", "--src", "-d", "--destination", "--dst"})
JUMP_OPTIONS = {"-j": "jump", "--jump": "jump", "-g": "goto", "--goto": "goto"}
SET_OPTIONS = frozenset({"--match-set", "--add-set", "--del-set", "--map-set"})
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+.,:/!=@%^*~[]<>?&|;()")


def split_arguments(text: str) -> list:
    """Split a rule into words the way iptables-restore does.

    Whitespace separates words; a double quote opens a quoted word, inside which a backslash
    escapes the next character and the closing quote ends the word. Single quotes and
    backslashes outside double quotes are ordinary characters. An unclosed quote takes the rest.
    """
    words = []
    current = []
    in_word = False
    quoted = False
    escaped = False
    for char in text:
        if quoted:
            if escaped:
                current.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
                words.append("".join(current))
                current = []
                in_word = False
            else:
                current.append(char)
        elif char == '"':
            quoted = True
            in_word = True
        elif char in " \t\r\n":
            if in_word:
                words.append("".join(current))
                current = []
                in_word = False
        else:
            current.append(char)
            in_word = True
    if in_word:
        words.append("".join(current))
    return words


def quote(word: str) -> str:
    """A word as iptables-restore reads it back: quoted (with escapes) when it needs to be."""
    if word and all(char in _SAFE for char in word):
        return word
    escaped = "".join("\\" + char if char in "\"\\'" else char for char in word)
    return f'"{escaped}"'


def join_arguments(words) -> str:
    return " ".join(quote(word) for word in words)


def protocol_number(word: str):
    """The number of a protocol name or number, or None when unknown."""
    lowered = word.lower()
    if lowered.isdigit():
        return int(lowered)
    if lowered in KNOWN_PROTOCOLS:
        return KNOWN_PROTOCOLS[lowered]
    try:
        return socket.getprotobyname(lowered)
    except OSError:
        return None


def canonical_protocol(word: str) -> str:
    number = protocol_number(word)
    if number is None:
        return word.lower()
    return PROTOCOL_NAMES.get(number, str(number))


def canonical_address(word: str) -> str:
    """``10.0.0.1`` -> ``10.0.0.1/32`` (as iptables-save prints it); IPv6 in compressed form."""
    parts = []
    for part in word.split(","):
        try:
            network = ipaddress.ip_network(part, strict=False)
        except ValueError:
            parts.append(part)  # a host name or something else: compared as written
        else:
            parts.append(str(network))
    return ",".join(parts)


def canonical_words(arguments: str) -> tuple:
    """The words of a rule with the known differences normalised (see the module docstring)."""
    words = split_arguments(arguments)
    result = []
    index = 0
    while index < len(words):
        word = words[index]
        value = words[index + 1] if index + 1 < len(words) else None
        if word in PROTOCOL_OPTIONS and value is not None:
            protocol = canonical_protocol(value)
            if protocol in ("all", "0") and result[-1:] != ["!"]:
                index += 2  # every protocol: iptables-save leaves it out
                continue
            result += [word, protocol]
            index += 2
        elif word in ADDRESS_OPTIONS and value is not None:
            result += [word, canonical_address(value)]
            index += 2
        else:
            result.append(word)
            index += 1
    return tuple(result)


def canonical_rule(arguments: str) -> str:
    """The canonical text of a rule's arguments: what diffs show and comparisons use."""
    return join_arguments(canonical_words(arguments))


def target_of(words):
    """``(kind, chain)`` of a rule's ``-j``/``-g`` (kind ``jump`` or ``goto``), or None."""
    for index, word in enumerate(words[:-1]):
        if word in JUMP_OPTIONS:
            return JUMP_OPTIONS[word], words[index + 1]
    return None


def set_references(words) -> list:
    """Names of the ipsets a rule uses (``-m set --match-set NAME``, ``-j SET --add-set NAME``)."""
    return [words[index + 1] for index, word in enumerate(words[:-1]) if word in SET_OPTIONS]


def hook_words(target: str) -> tuple:
    """The words of a hook rule: a plain jump to an owned chain."""
    return ("-j", target)
