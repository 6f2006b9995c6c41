# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IR as iptables and ipset arguments: one pure function per IR element.

Private to the collection: the engine's API may change at any time.

Why it looks the way it does:

- Every string is spelled the way ``iptables-save``/``ip6tables-save`` and ``ipset save`` print
  it (base options ``-s -d -i -o -p`` first, protocol names only where libxtables knows them
  without ``/etc/protocols``, ``--limit 10/min``, ``--mark V`` without a full mask, states in
  kernel bit order, save-style quoting), so that the apply step can compare what a host runs
  with what was rendered by plain text. The few places where the kernel tools print something
  else are listed in ``SAVE_DIFFERENCES``.
- iptables-nft merges two plain ``-m tcp`` port matches of one rule into one (keeping only the
  last port of a side), so the plain form is used only for a lone single port per side; every
  other port test is a ``-m multiport`` match, which is never merged.
- Anything the kernel tools would reject, or would silently read differently from the IR's
  semantics, raises ``RenderError``: the IR comes from the compiler, never from users, so such a
  value is a bug to surface before any host sees the file.
"""

from __future__ import annotations

from collections import OrderedDict

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import IPAddress, IPNetwork
from ansible_collections.palisade.firewall.plugins.plugin_utils.render import text_contract
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.text_contract import RenderError

# Names libxtables prints (and reads) for these numbers even without /etc/protocols; any other
# protocol is written as its number (iptables-save may print a name from /etc/protocols).
PROTOCOL_NAMES: Mapping[int, str] = {
    1: "icmp",
    6: "tcp",
    17: "udp",
    58: "ipv6-icmp",
    132: "sctp",
    136: "udplite",
}
ICMP_PROTOCOL: Mapping[int, int] = {4: 1, 6: 58}
PLAIN_PORT_MODULES: Mapping[int, str] = {6: "tcp", 17: "udp", 132: "sctp"}
MULTIPORT_PROTOCOLS = frozenset({6, 17, 33, 132, 136})  # tcp udp dccp sctp udplite
IPSET_PORT_PROTOCOLS: Mapping[int, str] = {6: "tcp", 17: "udp", 132: "sctp", 136: "udplite"}
CT_STATE_ORDER: tuple[str, ...] = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED")
BUILTIN_CHAIN_NAMES = frozenset({"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"})

MAX_COMMENT_BYTES = 255  # xt_comment keeps 256 bytes including the NUL; longer is cut by the kernel
MAX_LOG_PREFIX_BYTES = 29  # LOG keeps 30 bytes including the NUL
MAX_CHAIN_NAME = 28  # XT_EXTENSION_MAXNAMELEN - 1
MAX_SET_NAME = 31  # IPSET_MAXNAMELEN - 1
MULTIPORT_SLOTS = 15  # XT_MULTI_PORTS; a range takes two
LOG_LEVEL = 5  # notice
ELLIPSIS = "..."
FULL_MASK = 0xFFFFFFFF
MIN_HASHSIZE = 1024  # ipset's default
MIN_MAXELEM = 65536  # ipset's default

# Where a rendered rule and what the save tools print can differ (the apply step normalises these).
SAVE_DIFFERENCES = (
    "protocols other than icmp/tcp/udp/ipv6-icmp/sctp/udplite are numbers here; iptables-save "
    "prints the /etc/protocols name when the host has one (e.g. -p 47 is saved as -p gre)",
    "hook rules are written '-I CHAIN 1 -j TARGET'; iptables-save lists them as '-A CHAIN -j TARGET'",
    "ipset save omits /32 and /128 on hash:net members (as here) and adds bucketsize and initval "
    "to the create line, and lists members in hash order",
)

_NO_QUOTE = re.compile(r"^[A-Za-z0-9_-]+\Z")
_INTERFACE = re.compile(r"^[A-Za-z0-9_.-]{1,15}\Z")
_OBJECT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/@+-]*\Z")  # a leading '-' would read as an option
TARGET_NAMES = frozenset({"ACCEPT", "DROP", "RETURN", "QUEUE", "REJECT", "LOG", "MARK", "CT"})
_RATE = re.compile(r"^\s*(\d+)\s*(?:/\s*([A-Za-z]+))?\s*$")
_LIMIT_SCALE = 10000  # XT_LIMIT_SCALE
_RATE_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
_SAVED_RATE_UNITS = (("day", 86400), ("hour", 3600), ("min", 60), ("sec", 1))


# -- text ----------------------------------------------------------------------------------


def quote(value: str) -> str:
    """One argument as iptables-save writes it: bare when plain, else double-quoted.

    iptables-restore's parser reads a backslash inside double quotes as "take the next character
    literally", and iptables-save escapes ``"``, ``\\`` and ``'``; doing the same keeps rendered
    and saved text equal.
    """
    if _NO_QUOTE.match(value):
        return value
    escaped = "".join("\\" + char if char in "\"\\'" else char for char in value)
    return f'"{escaped}"'


def one_line(text: str) -> str:
    """Free text on one line: every character outside the rendering contract (``text_contract``)
    is written as ``<U+XXXX>``, so that no line separator or control character reaches a file."""
    return text_contract.escape(text)


def cap_bytes(text: str, limit: int, *, mark_cut: bool) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes on a character boundary.

    Doing the cut here, as the kernel would, keeps the rendered text equal to what the save
    tools print; ``mark_cut`` ends a cut comment with "..." so a reader knows it was cut.
    """
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    keep = limit - len(ELLIPSIS) if mark_cut else limit
    cut = raw[:keep].decode("utf-8", errors="ignore")
    return cut + ELLIPSIS if mark_cut else cut


def comment_text(comment: str) -> str:
    """A rule comment as it can live in the kernel: one line of printable ASCII, at most 255 bytes."""
    return text_contract.free_text(comment, MAX_COMMENT_BYTES)


def address_text(address: IPAddress) -> str:
    """An address as inet_ntop (and so every save tool) prints it.

    Python prints IPv4-mapped and IPv4-compatible IPv6 addresses in hex (``::ffff:102:304``);
    glibc prints the embedded IPv4 address dotted (``::ffff:1.2.3.4``).
    """
    if address.version == 6:
        mapped = address.ipv4_mapped  # type: ignore[union-attr]
        if mapped is not None:
            return f"::ffff:{mapped}"
        value = int(address)
        if value >> 32 == 0 and value >> 16 != 0:
            return f"::{ipaddress.IPv4Address(value)}"
    return str(address)


def net_text(net: IPNetwork) -> str:
    """``address/prefix``, the way iptables-save prints ``-s``/``-d`` (always with a prefix)."""
    return f"{address_text(net.network_address)}/{net.prefixlen}"


def check_name(name: str, what: str, limit: int) -> str:
    """Chain, target and set names go unquoted into restore files: no spaces, no quotes."""
    if not name or len(name) > limit or not _OBJECT_NAME.match(name):
        raise RenderError(
            f"invalid {what} name {name!r}: expected 1-{limit} of letters, digits and _.:/@+-, "
            "starting with a letter, digit or '_'"
        )
    return name


def check_chain_name(name: str) -> str:
    """An owned chain: a valid name that is not one of the kernel's built-in chains."""
    if name in BUILTIN_CHAIN_NAMES:
        raise RenderError(f"{name} is a built-in chain; the collection only owns its own chains")
    if name in TARGET_NAMES:
        raise RenderError(f"{name} is a target name; a chain cannot have it")
    return check_name(name, "chain", MAX_CHAIN_NAME)


def limit_rate(rate: str) -> str:
    """A ``--limit`` rate spelled as iptables-save prints it (``10/minute`` -> ``10/min``).

    The kernel keeps only the period between packets, so the save tools print the largest unit
    that expresses it without much rounding; this repeats that computation.
    """
    match = _RATE.match(rate)
    if not match:
        raise RenderError(f"invalid log rate {rate!r}: expected a number, '/' and a unit, e.g. '10/minute'")
    count = int(match.group(1))
    seconds = _rate_unit_seconds(match.group(2) or "second", rate)
    period = _LIMIT_SCALE * seconds // count if count else 0
    if period < seconds:  # iptables' own "rate too fast" test (and a zero rate)
        raise RenderError(f"invalid log rate {rate!r}: expected 1 to 10000 per second, or fewer per longer unit")
    chosen = 0
    for index in range(1, len(_SAVED_RATE_UNITS)):
        unit_scale = _SAVED_RATE_UNITS[index][1] * _LIMIT_SCALE
        if period > unit_scale or unit_scale // period < unit_scale % period:
            break
        chosen = index
    name, unit_seconds = _SAVED_RATE_UNITS[chosen]
    return f"{unit_seconds * _LIMIT_SCALE // period}/{name}"


def _rate_unit_seconds(unit: str, rate: str) -> int:
    """iptables accepts any prefix of second/minute/hour/day, in any case."""
    lowered = unit.lower()
    for name, seconds in reversed(_RATE_UNITS):
        if name.startswith(lowered):
            return seconds
    raise RenderError(f"invalid log rate {rate!r}: the unit must be second, minute, hour or day")


def hex_mark(value: int, mask: int | None = None) -> str:
    """Lower-case hex as the save tools print marks; a value beyond 32 bits is a compiler bug."""
    for number in (value, mask):
        if number is not None and not 0 <= number <= FULL_MASK:
            raise RenderError(f"mark {number:#x} does not fit in 32 bits")
    if mask is None:
        return f"{value:#x}"
    return f"{value:#x}/{mask:#x}"


# -- rules ---------------------------------------------------------------------------------


def set_kinds(ruleset: ir.Ruleset) -> dict[str, str]:
    """The name -> kind map ``rule_arguments`` needs to write set matches."""
    return {item.name: item.kind for item in ruleset.ipsets}


def rule_arguments(rule: ir.Rule, family: int, *, set_kinds: Mapping[str, str] | None = None) -> str:
    """Everything after ``-A CHAIN`` for one rule: matches, comment, target.

    ``set_kinds`` maps every ipset the rule names to its kind (see ``set_kinds()``), because a
    ``hash:ip,port`` set is looked up with ``src,src``/``dst,dst``.
    """
    _check_family(family)
    match = rule.match
    words = _base_arguments(match, family)
    words += _comment_arguments(rule.comment)
    words += _conntrack_arguments(match)
    words += _mark_arguments(match.marks)
    words += _extra_net_arguments(match, family)
    words += _set_arguments(match.sets, set_kinds or {})
    words += _port_arguments(match)
    words += _icmp_arguments(match, family)
    words += verdict_arguments(rule.verdict, family)
    return " ".join(words)


def _check_family(family: int) -> None:
    if family not in (4, 6):
        raise RenderError(f"IP family must be 4 or 6, not {family!r}")


def _bang(negate: bool) -> list[str]:
    return ["!"] if negate else []


def _base_arguments(match: ir.Match, family: int) -> list[str]:
    """``-s -d -i -o -p``: iptables-save prints these first and in this order."""
    words: list[str] = []
    for side, option in (("src", "-s"), ("dst", "-d")):
        first = _base_net(match.nets, side, family)
        if first is not None:
            words += _bang(first.negate) + [option, net_text(first.net)]
    for interface, option in ((match.in_interface, "-i"), (match.out_interface, "-o")):
        if interface is not None:
            words += _bang(interface.negate) + [option, interface_text(interface)]
    if match.protocol is not None:
        words += _bang(match.protocol_negate) + ["-p", protocol_text(match.protocol)]
    elif match.protocol_negate:
        raise RenderError("protocol_negate is set without a protocol")
    return words


def _base_net(nets: Sequence[ir.NetMatch], side: str, family: int) -> ir.NetMatch | None:
    """The first net of a side goes into ``-s``/``-d``; the others need ``-m iprange``."""
    on_side = _side_nets(nets, side, family)
    return on_side[0] if on_side else None


def _side_nets(nets: Sequence[ir.NetMatch], side: str, family: int) -> list[ir.NetMatch]:
    """The nets of one side that test something.

    A catch-all (``0.0.0.0/0``, ``::/0``) matches every packet of its family, so it is left
    out, as iptables-save leaves out ``-s 0.0.0.0/0``. Its negation matches nothing, and
    iptables-nft refuses ``! -s 0.0.0.0/0``: the compiler must drop such a rule itself.
    """
    kept = []
    for net_match in nets:
        if net_match.side not in ("src", "dst"):
            raise RenderError(f"net match side must be 'src' or 'dst', not {net_match.side!r}")
        if net_match.net.version != family:
            raise RenderError(f"IPv{net_match.net.version} net {net_match.net} in an IPv{family} rule")
        if net_match.side != side:
            continue
        if net_match.net.prefixlen == 0:
            if net_match.negate:
                raise RenderError(f"'not {net_match.net}' matches nothing; the compiler should drop the rule")
            continue
        kept.append(net_match)
    return kept


def interface_text(interface: ir.Interface) -> str:
    """``eth0``, or ``cali+`` for a prefix; IFNAMSIZ counts the ``+``."""
    name = interface.name
    if not _INTERFACE.match(name) or (interface.prefix and len(name) > 14):
        raise RenderError(
            f"invalid interface name {name!r}: expected 1-15 of letters, digits, '_', '.', '-' "
            "(1-14 for a prefix)"
        )
    return name + "+" if interface.prefix else name


def protocol_text(number: int) -> str:
    """A name that libxtables knows by itself, or the number."""
    if not 1 <= number <= 255:
        raise RenderError(f"protocol must be 1-255, not {number!r} (iptables reads 0 as 'any')")
    return PROTOCOL_NAMES.get(number, str(number))


def _comment_arguments(comment: str) -> list[str]:
    text = comment_text(comment)
    return ["-m", "comment", "--comment", quote(text)] if text else []


def _conntrack_arguments(match: ir.Match) -> list[str]:
    words: list[str] = []
    if match.ct_states:
        unknown = sorted(set(match.ct_states) - set(CT_STATE_ORDER))
        if unknown:
            raise RenderError(f"unknown conntrack state(s) {', '.join(unknown)}")
        states = ",".join(s for s in CT_STATE_ORDER if s in match.ct_states)
        words += ["-m", "conntrack"] + _bang(match.ct_negate) + ["--ctstate", states]
    elif match.ct_negate:
        raise RenderError("ct_negate is set without conntrack states")
    if match.not_dnat:
        words += ["-m", "conntrack", "!", "--ctstate", "DNAT"]
    return words


def _mark_arguments(marks: Iterable[ir.MarkTest]) -> list[str]:
    """``--mark V`` alone when the mask is all ones, as the save tools print it."""
    words: list[str] = []
    for test in marks:
        text = hex_mark(test.value) if test.mask == FULL_MASK else hex_mark(test.value, test.mask)
        words += ["-m", "mark"] + _bang(test.negate) + ["--mark", text]
    return words


def _extra_net_arguments(match: ir.Match, family: int) -> list[str]:
    """Second and later nets of a side, as address ranges (a CIDR is a range)."""
    words: list[str] = []
    for side, option in (("src", "--src-range"), ("dst", "--dst-range")):
        for net_match in _side_nets(match.nets, side, family)[1:]:
            first, last = net_match.net.network_address, net_match.net.broadcast_address
            span = f"{address_text(first)}-{address_text(last)}"
            words += ["-m", "iprange"] + _bang(net_match.negate) + [option, span]
    return words


def _set_arguments(sets: Iterable[ir.SetRef], kinds: Mapping[str, str]) -> list[str]:
    words: list[str] = []
    for ref in sets:
        if ref.side not in ("src", "dst"):
            raise RenderError(f"set match side must be 'src' or 'dst', not {ref.side!r}")
        kind = kinds.get(ref.name)
        if kind is None:
            raise RenderError(f"rule matches ipset {ref.name!r}, which the ruleset does not define")
        flags = ref.side if kind == "hash:net" else f"{ref.side},{ref.side}"
        words += ["-m", "set"] + _bang(ref.negate) + ["--match-set", ref.name, flags]
    return words


def _port_arguments(match: ir.Match) -> list[str]:
    """One plain ``-m tcp --sport A --dport B`` for lone single ports, multiport otherwise.

    Source tests come before destination tests, as a reader expects.
    """
    flags = _syn_arguments(match)
    if not match.src_ports and not match.dst_ports:
        return ["-m", "tcp"] + flags if flags else []
    protocol = match.protocol
    if protocol is None or match.protocol_negate or protocol not in MULTIPORT_PROTOCOLS:
        raise RenderError("port matches need a positive protocol of tcp, udp, sctp, udplite or dccp")
    plain: list[str] = []
    multi: dict[str, list[str]] = {"src": [], "dst": []}
    sides = (("src", "--sport", "--sports", match.src_ports), ("dst", "--dport", "--dports", match.dst_ports))
    for side, single_option, multi_option, ports_list in sides:
        for ports in ports_list:
            _check_ports(ports)
        lone = _lone_port(ports_list, protocol)
        if lone is not None:
            plain += _bang(ports_list[0].negate) + [single_option, str(lone)]
            continue
        for ports in ports_list:
            multi[side] += ["-m", "multiport"] + _bang(ports.negate) + [multi_option, port_list_text(ports)]
    if plain:
        return multi["src"] + ["-m", PLAIN_PORT_MODULES[protocol]] + plain + flags + multi["dst"]
    return multi["src"] + multi["dst"] + (["-m", "tcp"] + flags if flags else [])


def _syn_arguments(match: ir.Match) -> list[str]:
    """``! --syn`` as iptables-save prints it, so that the live rule compares equal."""
    if not match.not_syn:
        return []
    if match.protocol != 6 or match.protocol_negate:
        raise RenderError("a SYN test needs the protocol tcp")
    return ["!", "--tcp-flags", "FIN,SYN,RST,ACK", "SYN"]


def _lone_port(ports_list: Sequence[ir.Ports], protocol: int) -> int | None:
    """The single port of a side tested by one single-port ``Ports``, if that is the case."""
    if len(ports_list) != 1 or protocol not in PLAIN_PORT_MODULES:
        return None
    spans = ports_list[0].spans
    if len(spans) == 1 and spans[0].first == spans[0].last:
        return spans[0].first
    return None


def _check_ports(ports: ir.Ports) -> None:
    if not ports.spans:
        raise RenderError("a port match has no ports")
    slots = 0
    for span in ports.spans:
        if not 0 <= span.first <= span.last <= 65535:
            raise RenderError(f"invalid port range {span.first}-{span.last}")
        slots += 1 if span.first == span.last else 2
    if slots > MULTIPORT_SLOTS:
        raise RenderError(f"a port match takes {slots} multiport slots; the limit is {MULTIPORT_SLOTS}")


def port_list_text(ports: ir.Ports) -> str:
    """``22,80:90``; multiport refuses ``5:5``, so a one-port span is written as the port."""
    return ",".join(
        str(span.first) if span.first == span.last else f"{span.first}:{span.last}" for span in ports.spans
    )


def _icmp_arguments(match: ir.Match, family: int) -> list[str]:
    """``icmp`` then ``not_icmp``, each its own ``-m icmp`` match (never merged, even by nft)."""
    tests = [test for test in (match.icmp, match.not_icmp) if test is not None]
    if not tests:
        return []
    if match.protocol != ICMP_PROTOCOL[family] or match.protocol_negate:
        raise RenderError(f"an ICMP test in an IPv{family} rule needs protocol {ICMP_PROTOCOL[family]}")
    module, option = ("icmp", "--icmp-type") if family == 4 else ("icmp6", "--icmpv6-type")
    words: list[str] = []
    for test in tests:
        # iptables reads type 255 as "any type": the IR's test would silently widen.
        if not 0 <= test.type <= 254 or (test.code is not None and not 0 <= test.code <= 255):
            raise RenderError(f"invalid ICMP type/code {test.type}/{test.code}: type 0-254, code 0-255")
        value = str(test.type) if test.code is None else f"{test.type}/{test.code}"
        words += ["-m", module] + _bang(test.negate) + [option, value]
    return words


# -- verdicts and hooks --------------------------------------------------------------------


def verdict_arguments(verdict: ir.Verdict, family: int) -> list[str]:
    """The target (and, for a rate-limited log, the ``limit`` match that must come last)."""
    kind = verdict.kind
    simple = {"accept": "ACCEPT", "drop": "DROP", "return": "RETURN"}
    if kind in simple:
        return ["-j", simple[kind]]
    if kind == "reject":
        reply = "icmp-port-unreachable" if family == 4 else "icmp6-port-unreachable"
        return ["-j", "REJECT", "--reject-with", reply]
    if kind in ("jump", "goto"):
        if not verdict.target:
            raise RenderError(f"a {kind} verdict has no target")
        return ["-j" if kind == "jump" else "-g", check_chain_name(verdict.target)]
    if kind == "mark":
        return ["-j", "MARK", "--set-xmark", hex_mark(verdict.mark_value, verdict.mark_mask)]
    if kind == "log":
        return _log_arguments(verdict)
    if kind == "notrack":
        return ["-j", "CT", "--notrack"]
    raise RenderError(f"unknown verdict kind {kind!r}")


def _log_arguments(verdict: ir.Verdict) -> list[str]:
    words = ["-m", "limit", "--limit", limit_rate(verdict.log_rate)] if verdict.log_rate else []
    words += ["-j", "LOG"]
    if verdict.log_prefix:
        prefix = cap_bytes(one_line(verdict.log_prefix), MAX_LOG_PREFIX_BYTES, mark_cut=False)
        words += ["--log-prefix", quote(prefix)]
    return words + ["--log-level", str(LOG_LEVEL)]


def hook_arguments(hook: ir.Hook) -> str:
    """The whole restore line of a hook: ``-I INPUT 1 -j TARGET`` or ``-A INPUT -j TARGET``.

    Insert puts the collection's chain before everything else in the built-in chain (Calico's
    default), append after whatever other tools put there.
    """
    allowed = ir.BUILTIN_CHAINS.get(hook.table, ())
    if hook.builtin not in allowed:
        raise RenderError(f"the collection does not hook {hook.table} {hook.builtin} (allowed: {', '.join(allowed)})")
    target = check_chain_name(hook.target)
    if hook.position == "insert":
        return f"-I {hook.builtin} 1 -j {target}"
    if hook.position == "append":
        return f"-A {hook.builtin} -j {target}"
    raise RenderError(f"hook position must be 'insert' or 'append', not {hook.position!r}")


# -- ipsets --------------------------------------------------------------------------------


_MEMBER_CACHE: OrderedDict[tuple[str, str, int, str], list[str]] = OrderedDict()
MEMBER_CACHE_SIZE = 512


def ipset_lines(ipset: ir.IpSet) -> list[str]:
    """``create`` then one ``add`` per member, members sorted and without duplicates.

    A play renders the same selector sets for many hosts; sets that carry a content digest
    have their member texts cached (least recently used first out), so each is formatted once.

    ``hash:net`` cannot hold a /0, so a catch-all member is stored as its two /1 halves (what
    Felix does too); sizes leave room to grow, and never go below ipset's own defaults.
    """
    name = check_name(ipset.name, "ipset", MAX_SET_NAME)
    if ipset.family not in (4, 6):
        raise RenderError(f"ipset {name}: family must be 4 or 6, not {ipset.family!r}")
    members = _cached_members(ipset)
    hashsize, maxelem = ipset_sizes(len(members))
    family = "inet" if ipset.family == 4 else "inet6"
    create = f"create {name} {ipset.kind} family {family} hashsize {hashsize} maxelem {maxelem}"
    return [create] + [f"add {name} {member}" for member in members]


def _cached_members(ipset: ir.IpSet) -> list[str]:
    key = (ipset.name, ipset.kind, ipset.family, ipset.digest)
    if ipset.digest and key in _MEMBER_CACHE:
        _MEMBER_CACHE.move_to_end(key)
        return _MEMBER_CACHE[key]
    if ipset.kind == "hash:net":
        members = _net_members(ipset)
    elif ipset.kind == "hash:ip,port":
        members = _ip_port_members(ipset)
    else:
        raise RenderError(f"ipset {ipset.name}: unsupported kind {ipset.kind!r}")
    if ipset.digest:
        _MEMBER_CACHE[key] = members
        if len(_MEMBER_CACHE) > MEMBER_CACHE_SIZE:
            _MEMBER_CACHE.popitem(last=False)
    return members


def ipset_sizes(count: int) -> tuple[int, int]:
    """Initial buckets for every member, and room for twice as many members."""
    return max(MIN_HASHSIZE, _next_power_of_two(count)), max(MIN_MAXELEM, _next_power_of_two(2 * count))


def _next_power_of_two(value: int) -> int:
    return 1 << max(0, value - 1).bit_length()


def _net_members(ipset: ir.IpSet) -> list[str]:
    nets: set[IPNetwork] = set()
    for member in ipset.members:
        if not isinstance(member, ir.NetMember):
            raise RenderError(f"ipset {ipset.name}: a hash:net set holds nets, not {member!r}")
        _check_member_family(ipset, member.net)
        nets.update(member.net.subnets() if member.net.prefixlen == 0 else (member.net,))
    ordered = sorted(nets, key=lambda n: (int(n.network_address), n.prefixlen))
    return [_net_member_text(net) for net in ordered]


def _net_member_text(net: IPNetwork) -> str:
    """ipset save prints host networks without the prefix length."""
    if net.prefixlen == net.max_prefixlen:
        return address_text(net.network_address)
    return net_text(net)


def _ip_port_members(ipset: ir.IpSet) -> list[str]:
    entries: set[tuple[int, int, int, str]] = set()
    for member in ipset.members:
        if not isinstance(member, ir.IpPortMember):
            raise RenderError(f"ipset {ipset.name}: a hash:ip,port set holds address/port pairs, not {member!r}")
        _check_member_family(ipset, member.address)
        if member.address.prefixlen != member.address.max_prefixlen:
            raise RenderError(f"ipset {ipset.name}: {member.address} is not a single address")
        protocol = IPSET_PORT_PROTOCOLS.get(member.protocol)
        if protocol is None or not 0 <= member.port <= 65535:
            raise RenderError(f"ipset {ipset.name}: invalid protocol/port {member.protocol}/{member.port}")
        address = member.address.network_address
        entries.add((int(address), member.protocol, member.port, f"{address_text(address)},{protocol}:{member.port}"))
    return [text for *_key, text in sorted(entries)]


def _check_member_family(ipset: ir.IpSet, net: IPNetwork) -> None:
    if net.version != ipset.family:
        raise RenderError(f"ipset {ipset.name} (IPv{ipset.family}) has the IPv{net.version} member {net}")
