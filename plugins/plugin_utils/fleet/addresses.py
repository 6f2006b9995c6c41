# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which addresses an endpoint has, as other hosts' rule selectors see it.

Private to the collection: the engine's API may change at any time.

Calico only uses ``expectedIPs``. An inventory usually knows more, so the fallbacks are: the
interface's addresses from the host's facts (gathered or cached), then ``ansible_host`` when it
is an IP. An endpoint whose addresses stay unknown is reported by the resolver, never treated
as an empty allow-list in silence.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.model.networks import ip_or_none
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import HostEndpoint, IPAddress

FROM_EXPECTED_IPS = "expectedIPs"
FROM_FACTS = "facts"
FROM_ANSIBLE_HOST = "ansible_host"
UNKNOWN = "unknown"


def endpoint_addresses(endpoint: HostEndpoint, host_vars: Mapping[str, Any]) -> tuple[tuple[IPAddress, ...], str]:
    """The endpoint's addresses and where they came from (one of the constants above)."""
    if endpoint.expected_ips:
        return _sorted(endpoint.expected_ips), FROM_EXPECTED_IPS
    facts = host_vars.get("ansible_facts")
    if isinstance(facts, Mapping) and endpoint.interface_name is not None:
        found = _facts_addresses(facts, endpoint.interface_name)
        if found:
            return _sorted(found), FROM_FACTS
    ansible_host = ip_or_none(host_vars.get("ansible_host"))
    if ansible_host is not None:
        return (ansible_host,), FROM_ANSIBLE_HOST
    return (), UNKNOWN


def _facts_addresses(facts: Mapping[str, Any], interface: str) -> set[IPAddress]:
    if interface == "*":
        return _usable([*_fact_list(facts, "all_ipv4_addresses"), *_fact_list(facts, "all_ipv6_addresses")])
    # Ansible stores interface facts under the name with '-', '.' and ':' turned into '_'.
    key = interface.replace("-", "_").replace(".", "_").replace(":", "_")
    info = facts.get(key)
    if not isinstance(info, Mapping):
        return set()
    texts: list[Any] = []
    ipv4 = info.get("ipv4")
    if isinstance(ipv4, Mapping):
        texts.append(ipv4.get("address"))
    for extra in _fact_list(info, "ipv4_secondaries"):
        if isinstance(extra, Mapping):
            texts.append(extra.get("address"))
    for entry in _fact_list(info, "ipv6"):
        if isinstance(entry, Mapping):
            texts.append(entry.get("address"))
    return _usable(texts)


def _fact_list(facts: Mapping[str, Any], key: str) -> list[Any]:
    """A list fact, or nothing when it is absent or not a list (hand-written or stale cached
    facts): such a fact gives no addresses, as a non-mapping interface fact gives none."""
    value = facts.get(key)
    return list(value) if isinstance(value, (list, tuple)) else []


def _usable(texts: Iterable[Any]) -> set[IPAddress]:
    """Addresses another host could reach this one by: not loopback, not link-local."""
    found = set()
    for text in texts:
        address = ip_or_none(text.split("%")[0] if isinstance(text, str) else text)
        if address is not None and not address.is_loopback and not address.is_link_local:
            found.add(address)
    return found


def _sorted(addresses: Iterable[IPAddress]) -> tuple[IPAddress, ...]:
    return tuple(sorted(set(addresses), key=lambda a: (a.version, int(a))))


def split_families(addresses: Iterable[IPAddress]) -> tuple[tuple[ipaddress.IPv4Address, ...], tuple[ipaddress.IPv6Address, ...]]:
    v4 = tuple(a for a in addresses if isinstance(a, ipaddress.IPv4Address))
    v6 = tuple(a for a in addresses if isinstance(a, ipaddress.IPv6Address))
    return v4, v6
