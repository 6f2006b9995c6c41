# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real traffic between lab hosts: listeners on one host, probes from another.

Listeners are one small Python server per host (TCP accept and UDP echo on the given ports,
IPv4 and IPv6), started detached inside the host so it outlives the command that started it.
Probes run inside the client host and report whether the connection or the echo came back.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

from lab_host import HOST_PATH, LabError


class ProbeError(LabError):
    """A probe could not be sent: it says nothing about the firewall."""


SERVER = r"""
import json, os, selectors, socket, sys
# Linux's numbers where this Python lacks the names.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
spec = json.loads(sys.argv[1])

def echo(s):
    # Answer from the address the datagram came to, not the one routing would pick: on a host
    # with two interfaces the client only takes a reply from the address it sent to.
    data, ancillary, _flags, peer = s.recvmsg(2048, socket.CMSG_SPACE(32))
    reply = []
    for level, kind, value in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            reply = [(level, kind, bytes(4) + value[8:12] + bytes(4))]  # in_pktinfo: ifindex 0, spec_dst = the address
        elif level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO:
            reply = [(level, kind, value[:16] + bytes(4))]  # in6_pktinfo: the address, ifindex 0
    s.sendmsg([data], reply, 0, peer)

sel = selectors.DefaultSelector()
for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    for port in spec["tcp"]:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((address, port)); s.listen(64); s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "tcp")
    for port in spec["udp"]:
        s = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
        else:
            s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        s.bind((address, port)); s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "udp")
with open(spec["ready"], "w") as f:
    f.write(str(os.getpid()))
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if key.data == "tcp":
            try:
                c, _ = s.accept(); c.sendall(b"ok"); c.close()
            except OSError:
                pass
        else:
            try:
                echo(s)
            except OSError:
                pass
"""

PROBE = r"""
import json, socket, sys
spec = json.loads(sys.argv[1])
family = socket.AF_INET6 if ":" in spec["dst"] else socket.AF_INET
ok = False
try:
    if spec["protocol"] == "tcp":
        s = socket.socket(family, socket.SOCK_STREAM); s.settimeout(spec["timeout"])
        s.connect((spec["dst"], spec["port"])); ok = True  # the handshake completed
    else:
        s = socket.socket(family, socket.SOCK_DGRAM); s.settimeout(spec["timeout"])
        s.sendto(b"ping", (spec["dst"], spec["port"])); ok = s.recvfrom(64)[0] == b"ping"
except OSError:
    ok = False
print("open" if ok else "closed")
"""


@dataclass(frozen=True)
class Probe:
    """One expectation: from ``src`` host to ``dst`` address, protocol/port, allowed or not."""

    name: str
    src: str
    dst: str
    protocol: str  # tcp, udp, icmp
    port: int | None
    allowed: bool


def start_listeners(lab, host: str, tcp: list[int], udp: list[int]) -> None:
    """A detached server inside ``host``; waits until it is listening."""
    ready = f"/tmp/pal-listener-{host}.pid"
    spec = json.dumps({"tcp": tcp, "udp": udp, "ready": ready})
    script = f"/tmp/pal-listener-{host}.py"
    lab.exec(host, ["sh", "-c", f"cat > {script}"], input=SERVER)
    stop = f"if [ -s {ready} ]; then kill $(cat {ready}) 2>/dev/null; sleep 0.2; fi"  # our own earlier listener
    lab.exec(host, ["sh", "-c", f"{stop}; rm -f {ready}; setsid nohup python3 {script} '{spec}' </dev/null >/dev/null 2>&1 &"])
    lab.exec(host, ["sh", "-c", f"for i in $(seq 50); do [ -s {ready} ] && exit 0; sleep 0.1; done; exit 1"])


# What the probes and listeners run inside a host, with the Debian package that has it.
TOOLS = {"ping": "iputils-ping", "python3": "python3"}


def missing_tools() -> list[str]:
    """The probe tools this machine lacks (a lab host's root is the machine's), as "tool (package)"."""
    return [f"{name} ({package})" for name, package in TOOLS.items() if not shutil.which(name, path=HOST_PATH)]


def probe(lab, item: Probe, timeout: float = 1.0) -> bool:
    """Whether the traffic got through, really sent from inside ``item.src``.

    Only "no answer" counts as denied: a probe that could not run (a missing tool, a bad
    address) raises, so a broken probe is never reported as the firewall's verdict."""
    if item.protocol == "icmp":
        ping = ["ping", "-6" if ":" in item.dst else "-4", "-c", "1", "-W", str(max(1, int(timeout))), item.dst]
        result = lab.exec(item.src, ping, check=False)
        if result.returncode not in (0, 1):  # ping: 1 is "no reply", anything else an error
            raise ProbeError(f"{item.name}: ping could not run ({result.returncode}): {result.stderr.strip()}")
        return result.returncode == 0
    spec = json.dumps({"protocol": item.protocol, "dst": item.dst, "port": item.port, "timeout": timeout})
    result = lab.exec(item.src, ["python3", "-c", PROBE, spec], check=False)
    verdict = result.stdout.strip()
    if result.returncode or verdict not in ("open", "closed"):
        raise ProbeError(f"{item.name}: the probe could not run ({result.returncode}): {result.stderr.strip()}")
    return verdict == "open"


def run_probes(lab, probes: list[Probe]) -> list[tuple[Probe, bool]]:
    return [(item, probe(lab, item)) for item in probes]


def table(results: list[tuple[Probe, bool]], reasons: dict[str, str] | None = None) -> str:
    """A readable table: what the policy says, what really happened, whether they agree, why."""
    lines = [f"{'traffic':40} {'policy':8} {'seen':8} {'match':5} why"]
    for item, seen in results:
        expected = "allowed" if item.allowed else "denied"
        got = "allowed" if seen else "denied"
        mark = "yes" if seen == item.allowed else "NO"
        why = (reasons or {}).get(item.name, "")
        lines.append(f"{item.name:40} {expected:8} {got:8} {mark:5} {why}")
    return "\n".join(lines)
