# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name and label rules shared by every resource (Kubernetes/Calico metadata rules).

Private to the collection: the engine's API may change at any time.

Each check returns ``None`` when the value is fine, or the sentence that explains what was
expected, so callers can attach it to the right field.
"""

from __future__ import annotations

import re

# Every pattern here is applied with ``fullmatch``: ``re.match`` with ``$`` accepts one trailing
# newline, so a YAML block scalar (``name: |``) would pass and name something else than it shows.

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN_RE = re.compile(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*")
_POLICY_NAME_RE = re.compile(rf"({_DNS_LABEL}\.)?{_DNS_LABEL}")
_LABEL_NAME_RE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_INTERFACE_RE = re.compile(r"[a-zA-Z0-9_.-]{1,15}")
_PORT_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_RULE_PORT_NAME_RE = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
_HOST_NAME_RE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.:]*[A-Za-z0-9])?")
MAX_HOST_NAME = 253


def check_resource_name(name: str) -> str | None:
    """Names of endpoints and network sets: a DNS-1123 subdomain of at most 253 characters."""
    if len(name) > 253:
        return f"is {len(name)} characters long; the limit is 253"
    if not _DNS_SUBDOMAIN_RE.fullmatch(name):
        return (
            f"invalid name {name!r}: expected lower case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        )
    return None


def check_policy_name(name: str) -> str | None:
    """Policy names: like resource names, with at most one dot (Calico's tier prefix)."""
    problem = check_resource_name(name)
    if problem:
        return problem
    if not _POLICY_NAME_RE.fullmatch(name):
        return f"invalid policy name {name!r}: at most one '.' is allowed"
    return None


def check_label_key(key: str, what: str = "label key") -> str | None:
    """A qualified name: optional DNS-subdomain prefix (<= 253) and '/', then a name (<= 63).

    Annotation keys follow the same rule (``what="annotation key"``)."""
    if not key:
        return f"{what} is empty"
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return f"invalid {what} {key!r}: the prefix before '/' is empty"
        if len(prefix) > 253 or not _DNS_SUBDOMAIN_RE.fullmatch(prefix):
            return f"invalid {what} {key!r}: the prefix {prefix!r} must be a DNS subdomain (lower case, <= 253 characters)"
    if len(name) > 63:
        return f"invalid {what} {key!r}: the name part is {len(name)} characters long; the limit is 63"
    if not _LABEL_NAME_RE.fullmatch(name):
        return (
            f"invalid {what} {key!r}: expected letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    return None


def check_label_value(value: str) -> str | None:
    """Empty, or <= 63 characters of letters, digits, '-', '_' and '.', alphanumeric at both ends."""
    if value == "":
        return None
    if len(value) > 63:
        return f"invalid label value {value!r}: {len(value)} characters long; the limit is 63"
    if not _LABEL_NAME_RE.fullmatch(value):
        return (
            f"invalid label value {value!r}: expected letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    return None


def check_interface_name(name: str) -> str | None:
    if name == "*" or _INTERFACE_RE.fullmatch(name):
        return None
    return f"invalid interface name {name!r}: expected '*' or 1-15 of letters, digits, '_', '.', '-'"


def check_endpoint_port_name(name: str) -> str | None:
    """Names in an endpoint's ``ports``: a Kubernetes port name (<= 15, lower case, a letter)."""
    if len(name) > 15 or not _PORT_NAME_RE.fullmatch(name) or not re.search("[a-z]", name):
        return (
            f"invalid port name {name!r}: expected at most 15 lower case letters, digits and '-', "
            "with at least one letter"
        )
    return None


def is_rule_port_name(text: str) -> bool:
    """Whether a string in a rule's ``ports`` can be a named port."""
    return bool(_RULE_PORT_NAME_RE.fullmatch(text))


def check_host_name(name: str) -> str | None:
    """Inventory host names go into endpoint names, FelixConfiguration names, labels, messages and
    ruleset comments. A dynamic inventory can produce any string, so they are checked like DNS
    names (any case, with '_' and, for IPv6 literals, ':'); never a space, quote or line break."""
    if len(name) <= MAX_HOST_NAME and _HOST_NAME_RE.fullmatch(name):
        return None
    return (
        f"invalid inventory host name {name!r}: expected 1-{MAX_HOST_NAME} letters, digits, '-', '_', '.' and ':', "
        "starting and ending with a letter or digit"
    )
