# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verify the converged hosts over SSH, with real traffic between them.

testinfra runs each test once per host (it connects by SSH itself); cross-host traffic is
addressed by IP. Addresses are the molecule lab's (198.51.100.128/25, 2001:db8:206::/64).
"""

from __future__ import annotations

import os

import pytest
import testinfra

ADDRESS = {
    "my-host": ("198.51.100.139", "2001:db8:206::11"),
    "etcd-1": ("198.51.100.140", "2001:db8:206::12"),
    "admin-1": ("198.51.100.141", "2001:db8:206::13"),
}
LISTENER = (
    "import socket,sys,os\n"
    "for fam,addr in ((socket.AF_INET,'0.0.0.0'),(socket.AF_INET6,'::')):\n"
    "  for port in map(int,sys.argv[1:]):\n"
    "    s=socket.socket(fam);s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    "    if fam==socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,1)\n"
    "    s.bind((addr,port));s.listen(8);globals()['keep_%d_%d'%(fam,port)]=s\n"
    "open('/tmp/pal-molecule-listening','w').write(str(os.getpid()))\n"
    "import time\nwhile True: time.sleep(60)\n"
)
WORKLOAD_LISTENER = (
    "import socket,time\n"
    "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    "s.bind(('0.0.0.0',9000));s.listen(4)\n"
    "open('/tmp/pal-wl-listening','w').write('1')\n"
    "time.sleep(30)\n"
)
CONNECT = "import socket,sys;s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=1);print('open')"


def name(host) -> str:
    return host.backend.get_hostname()


def other(host_name: str):
    """Another inventory host, for the far end of a cross-host check."""
    return testinfra.get_host(f"ansible://{host_name}?ansible_inventory={os.environ['MOLECULE_INVENTORY_FILE']}")


def listen(host, *ports: int) -> None:
    host.run("test -s /tmp/pal-molecule-listening && kill $(cat /tmp/pal-molecule-listening); rm -f /tmp/pal-molecule-listening")
    host.run(f"cat > /tmp/pal-molecule-listener.py <<'EOF'\n{LISTENER}EOF")
    host.run(f"setsid nohup python3 /tmp/pal-molecule-listener.py {' '.join(map(str, ports))} </dev/null >/dev/null 2>&1 &")
    host.run("for i in $(seq 50); do test -s /tmp/pal-molecule-listening && break; sleep 0.1; done")


def connects(host, address: str, port: int) -> bool:
    return host.run(f"python3 -c \"{CONNECT}\" {address} {port}").stdout.strip() == "open"


def test_hooks_once_per_family(host):
    if name(host) == "admin-1":
        assert "pal-" not in host.check_output("iptables-save")
        return
    for tool in ("iptables-save", "ip6tables-save"):
        assert host.check_output(tool).count("-A INPUT -j pal-INPUT") == 1


def test_failsafe_ssh_open_under_deny_everything(host):
    """etcd-1 is under a policy that denies everything; SSH still works (we are connected by
    it right now, over a NEW connection per command) because of the failsafe rules."""
    if name(host) == "etcd-1":
        assert host.run("true").rc == 0
        assert "lock-everything-down" in host.check_output("iptables-save -t filter")


@pytest.mark.parametrize("family", [0, 1], ids=["IPv4", "IPv6"])
def test_real_traffic_between_hosts(host, family):
    if name(host) == "admin-1":
        listen(other("my-host"), 10250, 8080)
        worker = ADDRESS["my-host"][family]
        assert connects(host, worker, 10250), "policy allows kubelet from anywhere"
        assert not connects(host, worker, 8080), "default deny at the end of the tier"
        assert host.run(f"ping -c1 -W1 {worker}").rc == 0, "ICMP is allowed"
        etcd = ADDRESS["etcd-1"][family]
        assert not connects(host, etcd, 443), "etcd-1 denies everything but failsafe"
        assert connects(host, etcd, 22), "failsafe SSH"


def test_workload_interface_behaves_as_designed(host):
    """A cali* interface on my-host: workload -> host gets default_endpoint_to_host_action
    (Drop) even on a port the policy allows; host -> workload is never policed."""
    if name(host) != "my-host":
        return
    setup = (
        "ip netns del wl 2>/dev/null; ip link del cali1 2>/dev/null; "
        "ip netns add wl && ip link add cali1 type veth peer name wl0 && ip link set wl0 netns wl && "
        "ip addr add 203.0.113.253/30 dev cali1 && ip link set cali1 up && "
        "ip netns exec wl ip addr add 203.0.113.254/30 dev wl0 && ip netns exec wl ip link set wl0 up && "
        "ip netns exec wl ip link set lo up"
    )
    assert host.run(setup).rc == 0
    try:
        listen(host, 10250)
        from_workload = host.run(f"ip netns exec wl python3 -c \"{CONNECT}\" 203.0.113.253 10250")
        assert from_workload.stdout.strip() != "open", "workload -> host is dropped"
        host.run(f"cat > /tmp/pal-wl-listener.py <<'EOF'\n{WORKLOAD_LISTENER}EOF")
        host.run("ip netns exec wl setsid nohup python3 /tmp/pal-wl-listener.py </dev/null >/dev/null 2>&1 &")
        host.run("for i in $(seq 50); do test -s /tmp/pal-wl-listening && break; sleep 0.1; done")
        assert connects(host, "203.0.113.254", 9000), "host -> workload is not policed"
    finally:
        host.run("ip netns del wl; ip link del cali1; rm -f /tmp/pal-wl-listening")
