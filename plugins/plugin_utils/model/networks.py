# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsing of IP addresses and networks from user input, with messages that say what to write.

Private to the collection: the engine's API may change at any time.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import type_name
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import IPAddress, IPNetwork


def _scope_problem(text: str) -> str | None:
    """Python (3.9+) reads ``fe80::1%eth0`` as an address with a scope ID; iptables and ipset
    do not, and a rule matches the address alone. So a scope is refused wherever an address or a
    network is read, rather than dropped in one place and rendered as is in another."""
    if "%" not in text:
        return None
    address, _percent, rest = text.partition("%")
    zone, slash, prefix = rest.partition("/")
    bare = f"{address}{slash}{prefix}"
    try:
        scoped = bool(zone) and ipaddress.ip_network(bare, strict=False).version == 6
    except ValueError:
        scoped = False
    if not scoped:
        return "expected an address or CIDR such as 198.51.100.0/24 or 2001:db8::/32"
    return f"IPv6 scope IDs ('%{zone}') cannot be matched by the firewall; did you mean {bare}?"


def parse_net(value: Any, where: Where, *, strict: bool) -> IPNetwork | None:
    """A CIDR or a plain address (a host network).

    ``strict`` rejects host bits set after the prefix (``10.0.0.1/24``): in a rule it almost
    always means the user mistyped the network, and Calico rejects it too.
    """
    if not isinstance(value, str):
        where.error(f"expected an IP network in CIDR notation, got {type_name(value)} {value!r}")
        return None
    text = value.strip()
    scope = _scope_problem(text)
    if scope:
        where.error(f"invalid IP network {value!r}: {scope}")
        return None
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        where.error(f"invalid IP network {value!r}: expected an address or CIDR such as 198.51.100.0/24 or 2001:db8::/32")
        return None
    if strict:
        where.error(f"invalid IP network {value!r}: host bits are set; did you mean {loose}?")
        return None
    return loose


def parse_ip(value: Any, where: Where) -> IPAddress | None:
    if not isinstance(value, str):
        where.error(f"expected an IP address, got {type_name(value)} {value!r}")
        return None
    scope = _scope_problem(value.strip())
    if scope:
        where.error(f"invalid IP address {value!r}: {scope.replace('an address or CIDR', 'an IPv4 or IPv6 address')}")
        return None
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        pass
    try:
        interface = ipaddress.ip_interface(value.strip())
    except ValueError:
        where.error(f"invalid IP address {value!r}: expected an IPv4 or IPv6 address such as 198.51.100.7")
        return None
    where.error(f"invalid IP address {value!r}: expected an address without a prefix length; did you mean {interface.ip}?")
    return None


def ip_or_none(value: Any) -> IPAddress | None:
    """An address if ``value`` is one (e.g. ``ansible_host``, which may also be a DNS name).

    Never an address with a scope ID (see ``_scope_problem``); ``scoped_ip_problem`` says why.
    """
    if not isinstance(value, str) or "%" in value:
        return None
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def is_catch_all(net: IPNetwork) -> bool:
    return net.prefixlen == 0


def scoped_ip_problem(value: Any) -> str | None:
    """Why ``value`` (``ansible_host``, say) cannot be used as an address, when it is an IP with a
    scope ID; ``None`` for anything else (an address, a DNS name)."""
    if not isinstance(value, str) or "%" not in value:
        return None
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    return _scope_problem(value.strip())
