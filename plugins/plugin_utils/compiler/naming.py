# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names of owned chains and ipsets: one prefix, within kernel limits, stable across runs.

Private to the collection: the engine's API may change at any time.

Stable names are what make a second run a no-op and a diff readable: a name depends only on
what it stands for (an interface, a policy, a selector's canonical form), never on order or
time. Names too long for the kernel keep a readable head and end in a hash of the full name.
"""

from __future__ import annotations

import hashlib

PREFIX = "pal-"
MAX_CHAIN = 28  # iptables: chain names must be under 29 characters
MAX_SET = 31  # ipset: IPSET_MAXNAMELEN - 1
SET_HASH_LENGTH = 16  # pal-s4- + 16 = 23 characters: room for a "-tmp" suffix while swapping
WILDCARD = ":any"  # ':' never appears in interface names, so this cannot clash with one


def digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def chain_name(kind: str, name: str) -> str:
    """``pal-<kind>-<name>``, or a truncated name plus ``_<hash>`` when too long."""
    full = f"{PREFIX}{kind}-{name}"
    if len(full) <= MAX_CHAIN:
        return full
    head = full[: MAX_CHAIN - 9]
    return f"{head}_{digest(full, 8)}"


def endpoint_chain(kind: str, interface: str) -> str:
    """Per-endpoint chains: ``pal-fh-eth0``; the ``*`` endpoint's are ``pal-fh:any``."""
    if interface == "*":
        return f"{PREFIX}{kind}{WILDCARD}"
    return chain_name(kind, interface)


def policy_chain(direction: str, policy: str) -> str:
    """``pal-pi-<policy>`` (ingress) or ``pal-po-<policy>`` (egress)."""
    return chain_name("pi" if direction == "Ingress" else "po", policy)


def set_name(kind: str, family: int, key: str) -> str:
    """``pal-<kind><family>-<hash of key>``: kind ``s`` selector, ``n`` nets, ``p`` named ports."""
    return f"{PREFIX}{kind}{family}-{digest(key, SET_HASH_LENGTH)}"


# Fixed chains.
INPUT = f"{PREFIX}INPUT"
OUTPUT = f"{PREFIX}OUTPUT"
FORWARD = f"{PREFIX}FORWARD"
PREROUTING = f"{PREFIX}PREROUTING"
FROM_ENDPOINT = f"{PREFIX}from-host-endpoint"
TO_ENDPOINT = f"{PREFIX}to-host-endpoint"
FROM_ENDPOINT_FORWARD = f"{PREFIX}from-hep-forward"
TO_ENDPOINT_FORWARD = f"{PREFIX}to-hep-forward"
FAILSAFE_IN = f"{PREFIX}failsafe-in"
FAILSAFE_OUT = f"{PREFIX}failsafe-out"
WORKLOAD_TO_HOST = f"{PREFIX}wl-to-host"
ALLOW = f"{PREFIX}allow"
PASS = f"{PREFIX}pass"
