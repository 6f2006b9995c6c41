# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The script a lab host runs to send many probes at once, and how to run it there.

``PROBER`` runs inside the host (as root, with the host's own Python) and sends every probe
concurrently with asyncio: TCP connects from a bound source port (``open``: the handshake
completed, ``refused``: a reset came back, ``filtered``: nothing within the timeout), UDP to
an echo listener (``open`` or ``filtered``), ICMP echo through ``ping`` (``open`` or
``filtered``). A send the host's own OUTPUT chain drops fails with EPERM: ``filtered`` too.
Anything else (a bind that fails, an unknown error) is ``error: ...`` so that a
broken probe is never taken for the firewall's answer.
"""

from __future__ import annotations

import json
from typing import Any

PROBER = r"""
import asyncio, json, socket, struct, sys

TIMEOUT = 2.0

def family_of(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET

async def tcp(probe):
    loop = asyncio.get_running_loop()
    s = socket.socket(family_of(probe["dst"]), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setblocking(False)
    try:
        s.bind((probe["src"], probe["src_port"]))
        await asyncio.wait_for(loop.sock_connect(s, (probe["dst"], probe["dst_port"])), TIMEOUT)
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except (asyncio.TimeoutError, PermissionError):  # EPERM: the sender's own OUTPUT chain dropped it
        return "filtered"
    except OSError as err:
        return f"error: {err}"
    finally:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # no TIME_WAIT left behind
        s.close()

async def udp(probe):
    loop = asyncio.get_running_loop()
    s = socket.socket(family_of(probe["dst"]), socket.SOCK_DGRAM)
    s.setblocking(False)
    try:
        s.bind((probe["src"], probe["src_port"]))
        await loop.sock_connect(s, (probe["dst"], probe["dst_port"]))
        await loop.sock_sendall(s, b"probe")
        data = await asyncio.wait_for(loop.sock_recv(s, 64), TIMEOUT)
        return "open" if data == b"probe" else f"error: echo {data!r}"
    except ConnectionRefusedError:
        return "refused"
    except (asyncio.TimeoutError, PermissionError):  # EPERM: the sender's own OUTPUT chain dropped it
        return "filtered"
    except OSError as err:
        return f"error: {err}"
    finally:
        s.close()

async def icmp(probe):
    flag = "-6" if ":" in probe["dst"] else "-4"
    process = await asyncio.create_subprocess_exec(
        "ping", flag, "-n", "-c", "1", "-W", str(int(TIMEOUT)), "-I", probe["src"], probe["dst"],
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _out, err = await process.communicate()
    if process.returncode == 0:
        return "open"
    if process.returncode == 1 or b"Operation not permitted" in err:  # no reply, or dropped on the way out
        return "filtered"
    return f"error: ping {process.returncode}: {err.decode().strip()}"

async def main():
    probes = json.loads(sys.stdin.read())
    limit = asyncio.Semaphore(200)
    async def one(probe):
        async with limit:
            return await {"tcp": tcp, "udp": udp, "icmp": icmp}[probe["protocol"]](probe)
    print(json.dumps(await asyncio.gather(*(one(p) for p in probes))))

asyncio.run(main())
"""


def run_prober(lab: Any, host: str, probes: list[dict[str, Any]]) -> list[str]:
    """Send ``probes`` (dicts with src/dst addresses, protocol, ports) from inside ``host``."""
    done = lab.exec(host, ["python3", "-c", PROBER], input=json.dumps(probes), timeout=120)
    answers = json.loads(done.stdout)
    if len(answers) != len(probes):
        raise RuntimeError(f"{host}: {len(answers)} answers for {len(probes)} probes")
    return answers
