# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turning the user's description of a packet into a simulator ``Packet``.

Private to the collection: the engine's API may change at any time.

Users think in inventory names ("from admin-1 to my-host on TCP 22"), so ``src`` and ``dst``
may name an inventory host; it stands for the host's address in the packet's IP family.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import Fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.networks import ip_or_none
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import IPAddress
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.rule_loader import PROTOCOL_NUMBERS
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.simulator import Packet

CT_STATES = ("NEW", "ESTABLISHED", "RELATED", "INVALID")


class RequestError(PalisadeError):
    """A packet description that cannot be simulated; says which option and why."""


def build_packet(fleet: Fleet, options: Mapping[str, Any]) -> Packet:
    src_text, dst_text = options["src"], options["dst"]
    family = _family(fleet, src_text, dst_text)
    protocol = _protocol(options["protocol"])
    ct_state = (options.get("ct_state") or "NEW").upper()
    if ct_state not in CT_STATES:
        raise RequestError(f"ct_state: expected one of {', '.join(CT_STATES)}, got {options.get('ct_state')!r}")
    try:
        return Packet(
            src=_address(fleet, "src", src_text, family),
            dst=_address(fleet, "dst", dst_text, family),
            protocol=protocol,
            src_port=options.get("src_port"),
            dst_port=options.get("dst_port"),
            icmp_type=options.get("icmp_type"),
            icmp_code=options.get("icmp_code"),
            in_interface=options.get("in_interface") or None,
            out_interface=options.get("out_interface") or None,
            ct_state=ct_state,
            syn=options.get("syn"),
        )
    except ValueError as err:
        raise RequestError(str(err)) from err


def _protocol(value: Any) -> int:
    if isinstance(value, int) or (isinstance(value, str) and value.isdecimal()):
        number = int(value)
        if 1 <= number <= 255:
            return number
    if isinstance(value, str):
        for name, number in PROTOCOL_NUMBERS.items():
            if name.lower() == value.lower():
                return number
    raise RequestError(f"protocol: expected TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255, got {value!r}")


def _family(fleet: Fleet, src: str, dst: str) -> int:
    """From whichever side is a literal address; IPv4 when both are host names."""
    families = {address.version for address in (ip_or_none(src), ip_or_none(dst)) if address is not None}
    if len(families) > 1:
        raise RequestError(f"src {src} and dst {dst} are of different IP families")
    return families.pop() if families else 4


def _address(fleet: Fleet, option: str, text: str, family: int) -> IPAddress:
    address = ip_or_none(text)
    if address is not None:
        return address
    host = fleet.hosts.get(text)
    if host is None:
        raise RequestError(f"{option}: {text!r} is neither an IP address nor an inventory host")
    candidates = [a for endpoint in host.endpoints for a in endpoint.addresses]
    if host.ansible_host is not None:
        candidates.append(host.ansible_host)
    for candidate in candidates:
        if candidate.version == family:
            return candidate
    raise RequestError(f"{option}: inventory host {text!r} has no known IPv{family} address (give its endpoints expectedIPs, or pass an address)")


# --- many packets at once ------------------------------------------------------------------

# The fields of one item of ``packets`` and the type each must have (Ansible validates the
# single-packet options; items of a list are checked here, so that an error can say which).
PACKET_FIELDS: dict[str, type] = {
    "host": str, "in_interface": str, "out_interface": str, "src": str, "dst": str, "protocol": str,
    "src_port": int, "dst_port": int, "icmp_type": int, "icmp_code": int, "ct_state": str, "syn": bool,
}
REQUIRED_FIELDS = ("src", "dst", "protocol")
MAX_PACKETS = 100_000


def packet_requests(items: Any, default_host: str | None) -> list[dict[str, Any]]:
    """Each item of ``packets`` as the options of one packet, with its host; errors say ``packets[i].field``."""
    if not isinstance(items, list):
        raise RequestError(f"packets: expected a list of packets, got {type(items).__name__}")
    if len(items) > MAX_PACKETS:
        raise RequestError(f"packets: {len(items)} packets; the limit is {MAX_PACKETS} per task")
    return [_packet_request(item, f"packets[{index}]", default_host) for index, item in enumerate(items)]


def _packet_request(item: Any, where: str, default_host: str | None) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise RequestError(f"{where}: expected a mapping of packet fields, got {type(item).__name__}")
    unknown = sorted(str(key) for key in item if key not in PACKET_FIELDS)
    if unknown:
        raise RequestError(f"{where}: unknown field(s) {', '.join(unknown)}; expected {', '.join(PACKET_FIELDS)}")
    options = {key: _field(item[key], key, kind, where) for key, kind in PACKET_FIELDS.items() if item.get(key) is not None}
    options.setdefault("host", default_host)
    if options["host"] is None:
        raise RequestError(f"{where}.host: required when the task has no host option")
    missing = [key for key in REQUIRED_FIELDS if key not in options]
    if missing:
        raise RequestError(f"{where}: missing required field(s) {', '.join(missing)}")
    return options


def _field(value: Any, key: str, kind: type, where: str) -> Any:
    if kind is int and isinstance(value, str) and value.isdecimal():
        return int(value)  # from a templated or INI-typed source
    if kind is str and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # protocol: 6
    if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RequestError(f"{where}.{key}: expected {_KIND_NAMES[kind]}, got {value!r}")
    return value


_KIND_NAMES = {str: "a string", int: "a whole number", bool: "true or false"}


def build_packets(fleet: Fleet, requests: list[dict[str, Any]]) -> list[Packet]:
    """``build_packet`` for each request, an error naming the item it is about."""
    packets = []
    for index, options in enumerate(requests):
        if options["host"] not in fleet.hosts:
            raise RequestError(f"packets[{index}]: host: {options['host']!r} is not an inventory host")
        try:
            packets.append(build_packet(fleet, options))
        except RequestError as err:
            raise RequestError(f"packets[{index}]: {err}") from err
    return packets
