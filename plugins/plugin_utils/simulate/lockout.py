# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lockout guard: would a host's new rules cut the connection the controller manages it by?

Private to the collection: the engine's API may change at any time.

A ruleset that drops the controller's SSH leaves the host unreachable for every later task,
including the one that would fix it. So before the apply, the compiled rulesets (exactly what
the host would get, not the policies) are asked, with the simulator that
``palisade.firewall.explain`` uses, what they do to the management connection.

The question is about a NEW connection, not the session open now: Ansible opens new
connections (tasks without ControlPersist, retries, the next play), and conntrack may first see
the current session after the apply, mid-stream, as NEW. A connection that the collection's
rules leave ``untouched`` (no owned rule decides) is not blocked by them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import CompiledHost
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.resolution import EndpointPolicies
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import IPAddress
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.simulator import (
    ALLOW,
    DENY,
    UNTOUCHED,
    Outcome,
    Packet,
    explain,
)

TCP = 6
EPHEMERAL_PORT = 40000  # any client port: no owned rule looks at the client's port of SSH
DEFAULT_SSH_PORT = 22
SSH_CONNECTION = "SSH_CONNECTION"
INVENTORY = "inventory"
WILDCARD = "*"

# Which verdict of several candidate interfaces is reported: the one that matters most.
_RANK = {DENY: 2, ALLOW: 1, UNTOUCHED: 0}

# Names tried for "an interface without an endpoint of its own" (see ``candidate_interfaces``).
_STAND_INS = tuple(f"{base}{number}" for base in ("eth", "ens", "net", "mgmt") for number in range(16))

_SOURCES = {
    SSH_CONNECTION: "from SSH_CONNECTION on the host",
    INVENTORY: "guessed from the inventory, as the host reported no SSH_CONNECTION",
}


class LockoutError(PalisadeError):
    """The management connection cannot be checked; names the host and the values."""


@dataclass(frozen=True)
class ManagementConnection:
    """The connection the controller manages a host by, as the host sees it.

    ``interface`` None means unknown: every interface it may arrive on is checked. ``source``
    says where the facts came from (``SSH_CONNECTION`` or ``inventory``), for messages.
    """

    client: str
    server: str
    port: int
    interface: str | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "server": self.server,
            "port": self.port,
            "interface": self.interface,
            "source": self.source,
        }


@dataclass(frozen=True)
class LockoutCheck:
    """The guard's answer for one host.

    ``verdict`` and ``decided_by`` are those of the interface that matters most (a deny before
    an allow before untouched). ``message`` is the refusal when ``blocked``, else one line.
    """

    connection: ManagementConnection
    blocked: bool
    verdict: str
    decided_by: str | None
    interface_checked: tuple[str, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for Ansible results."""
        return {
            "blocked": self.blocked,
            "verdict": self.verdict,
            "decided_by": self.decided_by,
            "interface_checked": list(self.interface_checked),
            "message": self.message,
            "connection": self.connection.to_dict(),
        }


@dataclass(frozen=True)
class _Candidate:
    interface: str
    outcome: Outcome
    stand_in: bool  # the name stands for every interface without an endpoint of its own


# --- the check -----------------------------------------------------------------------------


def check_lockout(compiled: CompiledHost, connection: ManagementConnection) -> LockoutCheck:
    """Simulate a NEW TCP connection from the controller on each interface it may arrive by.

    With the interface unknown the answer is conservative: blocked if any candidate blocks.
    Refusing a safe apply costs a rerun with the interface known (or ``palisade_allow_lockout``);
    applying an unsafe one costs the host.
    """
    client, server = _connection_addresses(compiled.host, connection)
    port = _port(compiled.host, connection.port)
    names, stand_in = candidate_interfaces(compiled, connection.interface)
    candidates = [
        _Candidate(name, explain(compiled.rulesets, _packet(compiled.host, client, server, port, name)), name == stand_in)
        for name in names
    ]
    worst = max(candidates, key=lambda c: _RANK[c.outcome.verdict])  # the first of the worst
    blocked = worst.outcome.verdict == DENY
    message = _refusal(compiled, connection, worst, candidates) if blocked else _summary(connection, candidates)
    return LockoutCheck(connection, blocked, worst.outcome.verdict, worst.outcome.decided_by, tuple(names), message)


def candidate_interfaces(compiled: CompiledHost, interface: str | None) -> tuple[list[str], str | None]:
    """The interfaces to simulate on, and which of them (if any) is a stand-in name.

    A known interface is the only candidate. Unknown: every named endpoint's interface, plus
    one stand-in name for "any interface without an endpoint of its own" when that case can
    decide differently, which is when a ``*`` endpoint polices such interfaces, or when there
    are no named endpoints at all (the answer is then ``untouched`` or the ``*`` endpoint's).
    Without a ``*`` endpoint such interfaces are never policed, so they cannot block.
    """
    if interface is not None:
        return [interface], None
    endpoints = compiled.resolution.endpoints
    named = sorted({_interface(item) for item in endpoints} - {WILDCARD, ""})
    if named and not any(_interface(item) == WILDCARD for item in endpoints):
        return named, None
    stand_in = _stand_in(compiled, named)
    return named + [stand_in], stand_in


def _interface(item: EndpointPolicies) -> str:
    return item.endpoint.interface_name or ""


def _stand_in(compiled: CompiledHost, claimed: Sequence[str]) -> str:
    """A plausible name that no endpoint claims and that is not a workload interface or ``lo``."""
    prefixes = compiled.resolution.host.settings.interface_prefixes
    for name in _STAND_INS:
        if name not in claimed and not name.startswith(prefixes):
            return name
    raise LockoutError(
        f"host {compiled.host}: no interface name is free to stand for interfaces without an endpoint "
        f"(endpoints claim {', '.join(claimed)}; workload prefixes {', '.join(prefixes)}): report the connection's interface"
    )


def _packet(host: str, client: IPAddress, server: IPAddress, port: int, interface: str) -> Packet:
    try:
        return Packet(
            src=client, dst=server, protocol=TCP, src_port=EPHEMERAL_PORT, dst_port=port, in_interface=interface, ct_state="NEW"
        )
    except ValueError as err:
        raise LockoutError(f"host {host}: the management connection cannot be checked: {err}") from err


def _connection_addresses(host: str, connection: ManagementConnection) -> tuple[IPAddress, IPAddress]:
    client, server = normalise_address(connection.client), normalise_address(connection.server)
    if client is None or server is None:
        raise LockoutError(
            f"host {host}: the management connection needs IP addresses, got client {connection.client!r} "
            f"and server {connection.server!r} (from {connection.source})"
        )
    if client.version != server.version:
        raise LockoutError(
            f"host {host}: the management connection mixes IP families: client {client} is IPv{client.version}, "
            f"server {server} is IPv{server.version} (from {connection.source})"
        )
    return client, server


def _port(host: str, value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if isinstance(value, bool) or not 1 <= port <= 65535:
        raise LockoutError(f"host {host}: the management port must be a number from 1 to 65535, got {value!r}")
    return port


def normalise_address(value: Any) -> IPAddress | None:
    """An address as the host's rules see it, or None when ``value`` is not an IP literal.

    An IPv6 zone (``fe80::1%eth0``) is dropped, since rules match the address alone, and an
    IPv4-mapped address (``::ffff:198.51.100.7``, what a dual-stack sshd reports for IPv4
    clients) is the IPv4 address, since the packet is IPv4 on the wire.
    """
    if not isinstance(value, str):
        return None
    try:
        address = ipaddress.ip_address(value.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# --- messages ------------------------------------------------------------------------------


def _describe(connection: ManagementConnection) -> str:
    return f"TCP {connection.client} -> {connection.server} port {connection.port}"


def _refusal(
    compiled: CompiledHost, connection: ManagementConnection, worst: _Candidate, candidates: Sequence[_Candidate]
) -> str:
    """One paragraph: what is refused, the connection and where it came from, what decided, how to fix."""
    host = compiled.host
    source = _SOURCES.get(connection.source, f"from {connection.source}")
    parts = [
        f"host {host}: refusing to apply the new firewall rules, because they would cut the management connection "
        f"the controller uses. A new connection {_describe(connection)} arriving on {worst.interface} ({source}) "
        f'would be denied; the deciding rule is "{worst.outcome.decided_by}".',
    ]
    if connection.interface is None:
        parts.append(_candidates_sentence(candidates))
    policies = _ingress_policies(compiled, worst.interface)
    if policies and not (worst.outcome.decided_by or "").startswith("policy "):
        endpoint, names = policies
        parts.append(f"Policies selecting {endpoint} for ingress, none of which allows it: {', '.join(names)}.")
    parts.append(
        f"To keep access, allow that connection in a policy selecting {host}, or keep TCP port {connection.port} in "
        "palisade_failsafe_inbound_host_ports, or set palisade_allow_lockout: true to apply anyway (the apply then "
        "relies on the automatic rollback). Nothing was changed."
    )
    return " ".join(parts)


def _candidates_sentence(candidates: Sequence[_Candidate]) -> str:
    """With the interface unknown: which interfaces were checked, and what a stand-in name means."""
    text = f"The interface it arrives on is unknown, so every candidate was checked: {', '.join(c.interface for c in candidates)}"
    stand_in = next((c.interface for c in candidates if c.stand_in), None)
    if stand_in is not None:
        text += f" ({stand_in} standing for any interface without an endpoint of its own)"
    return text + "."


def _ingress_policies(compiled: CompiledHost, interface: str) -> tuple[str, tuple[str, ...]] | None:
    """The endpoint that polices ``interface`` and its ingress policies, when it has any.

    An end-of-tier deny names only the endpoint; the policies are where the fix goes.
    """
    endpoints = compiled.resolution.endpoints
    item = next((e for e in endpoints if _interface(e) == interface), None)
    item = item or next((e for e in endpoints if _interface(e) == WILDCARD), None)
    if item is None or not item.ingress:
        return None
    return item.endpoint.name, tuple(policy.name for policy in item.ingress)


def _fate(outcome: Outcome) -> str:
    if outcome.verdict == ALLOW:
        return f"allowed by {outcome.decided_by}"
    if outcome.note is not None:
        return f"untouched ({outcome.note})"
    return "untouched (no rule of the collection decides it)"


def _summary(connection: ManagementConnection, candidates: Sequence[_Candidate]) -> str:
    if connection.interface is not None:
        (only,) = candidates
        return f"safe: {_describe(connection)} arriving on {only.interface} (from {connection.source}) is {_fate(only.outcome)}"
    fates = "; ".join(f"on {c.interface} {_fate(c.outcome)}" for c in candidates)
    return f"safe: {_describe(connection)} (from {connection.source}, interface unknown): {fates}"


# --- where the connection comes from -------------------------------------------------------


def connection_from_facts(host: str, facts: Mapping[str, Any] | None, host_vars: Mapping[str, Any]) -> ManagementConnection:
    """The connection the host reported (module ``management_connection``), else the inventory's.

    The host's report is authoritative: it is the connection in use, seen after any NAT or jump
    host. The inventory fallback is a best guess made on the controller: the address and port
    Ansible connects to, and the controller's own source address towards it.
    """
    if facts:
        return _from_report(host, facts)
    return _from_inventory(host, host_vars)


def _from_report(host: str, facts: Mapping[str, Any]) -> ManagementConnection:
    client, server = normalise_address(facts.get("client")), normalise_address(facts.get("server"))
    if client is None or server is None:
        raise LockoutError(
            f"host {host}: the reported management connection needs IP addresses, got client "
            f"{facts.get('client')!r} and server {facts.get('server')!r}"
        )
    port = _port(host, facts.get("server_port", DEFAULT_SSH_PORT))
    return ManagementConnection(str(client), str(server), port, facts.get("interface") or None, facts.get("source") or SSH_CONNECTION)


def _from_inventory(host: str, host_vars: Mapping[str, Any]) -> ManagementConnection:
    name = host_vars.get("ansible_host") or host_vars.get("ansible_ssh_host") or host
    port = _port(host, host_vars.get("ansible_port") or host_vars.get("ansible_ssh_port") or DEFAULT_SSH_PORT)
    server = normalise_address(name) or resolve_address(host, str(name), port)
    client = source_address(host, server, port)
    return ManagementConnection(str(client), str(server), port, None, INVENTORY)


def resolve_address(host: str, name: str, port: int) -> IPAddress:
    """The first address the controller's resolver gives for ``name``: the one SSH would try first."""
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:
        raise LockoutError(f"host {host}: cannot resolve {name!r} on the controller to check the management connection: {err}") from err
    for info in infos:
        address = normalise_address(str(info[4][0]))
        if address is not None:
            return address
    raise LockoutError(f"host {host}: {name!r} resolves to no IP address on the controller")


def source_address(host: str, server: IPAddress, port: int) -> IPAddress:
    """The controller's own address towards ``server``, as the kernel would choose it.

    Connecting a UDP socket only selects the route and source address; no packet is sent.
    """
    family = socket.AF_INET if server.version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((str(server), port))
            found = normalise_address(probe.getsockname()[0])
    except OSError as err:
        raise LockoutError(f"host {host}: the controller has no route to {server} to check the management connection: {err}") from err
    if found is None:
        raise LockoutError(f"host {host}: the controller's source address towards {server} is not an IP address")
    return found
