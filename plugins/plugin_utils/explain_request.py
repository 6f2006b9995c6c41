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
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet import Fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.networks import ip_or_none
from ansible_collections.palisade.firewall.plugins.plugin_utils.resources import IPAddress
from ansible_collections.palisade.firewall.plugins.plugin_utils.rule_loader import PROTOCOL_NUMBERS
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulator import Packet

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
