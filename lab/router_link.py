# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A router in a four-host lab: ``h4`` forwards between the lab's bridge and a link of its own
to ``h3``'s second interface ``eth1``, so traffic from ``h1``/``h2`` to that address is forwarded.

Used by the differential test and the check-mode test of forwarded flows.
"""

from __future__ import annotations

import subprocess

from palisade_lab import Lab

ROUTER = "h4"
# h3's eth1 and the router's, on a link of their own (a /29 and a /64 outside the lab's subnets).
ETH1 = {"h3": ("198.51.100.193", "2001:db8:211::3"), ROUTER: ("198.51.100.194", "2001:db8:211::4")}
ETH1_NETS = ("198.51.100.192/29", "2001:db8:211::/64")


def build_topology(lab: Lab) -> None:
    """The router's link to h3's eth1, forwarding on the router, and routes that keep every
    path symmetric: h1 and h2 reach the link through the router; h3 answers from its eth1
    address through eth1 (a source rule), not straight over the bridge."""
    subprocess.run(["ip", "link", "add", "eth1", "netns", lab.namespace("h3"), "type", "veth", "peer", "name", "eth1",
                    "netns", lab.namespace(ROUTER)], check=True)
    for host, (ipv4, ipv6) in ETH1.items():
        lab.exec(host, ["sh", "-ec", f"ip addr add {ipv4}/29 dev eth1; ip addr add {ipv6}/64 dev eth1 nodad; ip link set eth1 up"])
    lab.exec(ROUTER, ["sh", "-ec", "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 "
                                   "net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0"])
    for host in ("h1", "h2"):
        lab.exec(host, ["sh", "-ec", f"ip route add {ETH1_NETS[0]} via {lab.address(ROUTER)}; "
                                     f"ip -6 route add {ETH1_NETS[1]} via {lab.address(ROUTER, 6)}"])
    ipv4, ipv6 = ETH1["h3"]
    router4, router6 = ETH1[ROUTER]
    lab.exec("h3", ["sh", "-ec", f"ip rule add from {ipv4} table 100; ip route add {ETH1_NETS[0]} dev eth1 table 100; "
                                 f"ip route add default via {router4} dev eth1 table 100; "
                                 f"ip -6 rule add from {ipv6} table 100; ip -6 route add {ETH1_NETS[1]} dev eth1 table 100; "
                                 f"ip -6 route add default via {router6} dev eth1 table 100"])
