# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the policy says should happen to traffic between inventory hosts, from the simulator.

The lab checks real traffic against these answers, so every traffic test is also a test of
the simulator (and of ``explain``) against the kernel. Inventory variables are read with
``ansible-inventory --list``, so group_vars and host_vars are merged exactly as Ansible does.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import Compiler
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.inventory import inventory_hosts
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.simulator import Packet, explain

PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1}


def inventory_inputs(inventory: Path, env: dict[str, str] | None = None) -> list[HostInput]:
    """Every host of an inventory with its merged variables, as the engine reads them."""
    command = [str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(inventory), "--list"]
    listing = json.loads(subprocess.run(command, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}).stdout)
    hostvars = listing.get("_meta", {}).get("hostvars", {})
    groups = {name: entry.get("hosts", []) for name, entry in listing.items() if name != "_meta" and isinstance(entry, dict)}
    groups["all"] = sorted(hostvars)
    return [HostInput(host, names, hostvars.get(host, {})) for host, names in inventory_hosts(groups).items()]


@dataclass(frozen=True)
class Expectation:
    allowed: bool
    reason: str


class PolicyOracle:
    """Answers "should this packet from host A reach host B?" for one inventory."""

    def __init__(self, inventory: Path) -> None:
        self.fleet = load_fleet(inventory_inputs(inventory))
        self.compiler = Compiler(FleetIndex(self.fleet))
        self._compiled: dict[str, object] = {}

    def _rulesets(self, host: str):
        if host not in self._compiled:
            self._compiled[host] = self.compiler.compile(host).rulesets
        return self._compiled[host]

    def expect(
        self, src_host: str | None, src: str, dst_host: str, dst: str, protocol: str, port: int | None, interface: str = "eth0", via: str | None = None
    ) -> Expectation:
        """NEW traffic: the sender's egress, the router's forwarding (``via``, in and out of
        ``interface``) and the receiver's ingress must all let it through. ``src_host`` None
        is a sender outside the inventory, whose egress nothing polices."""
        number = PROTOCOLS[protocol]
        icmp_type = None
        if protocol == "icmp":
            number, icmp_type = (58, 128) if ":" in dst else (1, 8)
        ports = {"src_port": 40000, "dst_port": port} if port is not None else {"icmp_type": icmp_type}
        base = {"src": ipaddress.ip_address(src), "dst": ipaddress.ip_address(dst), "protocol": number, **ports}
        sent = explain(self._rulesets(src_host), Packet(**base, out_interface=interface)) if src_host else None
        received = explain(self._rulesets(dst_host), Packet(**base, in_interface=interface))
        if sent is not None and sent.verdict == "deny":
            return Expectation(False, f"{src_host} egress: {sent.decided_by}")
        if via is not None:
            routed = explain(self._rulesets(via), Packet(**base, in_interface=interface, out_interface=interface))
            if routed.verdict == "deny":
                return Expectation(False, f"{via} forward: {routed.decided_by}")
        if received.verdict == "deny":
            return Expectation(False, f"{dst_host} ingress: {received.decided_by}")
        return Expectation(True, f"{dst_host} ingress: {received.decided_by or 'untouched'}")
