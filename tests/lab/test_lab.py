# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab of real hosts (lab/palisade_lab.py): SSH, isolation, traffic, dead end, teardown.

Needs root (network namespaces) and sshd, ssh, socat, ping, nsenter, unshare, iptables. Missing
tools or a missing root are failures, not skips: CI runs as root and installs them (.ci/run).
The lab is "plt" on 203.0.113.0/25 and 2001:db8:203::/64 and a second one-host lab "plt2" on
203.0.113.128/25 and 2001:db8:203:1::/64, so both coexist with a demo lab on 198.51.100.0/24.
Only namespaces these labs created are ever deleted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
import lab_host  # noqa: E402
import palisade_lab  # noqa: E402
from palisade_lab import Lab, LabError  # noqa: E402

NAME, SUBNET4, SUBNET6 = "plt", "203.0.113.0/25", "2001:db8:203::/64"
OTHER = ("plt2", "203.0.113.128/25", "2001:db8:203:1::/64")
TOOLS = ("ip", "nsenter", "unshare", "sshd", "ssh", "ssh-keygen", "ssh-keyscan", "socat", "ping", "iptables-save")
TIMINGS: dict[str, float] = {}
PORT = {("tcp", 4): 7004, ("tcp", 6): 7006, ("udp", 4): 7014, ("udp", 6): 7016}
UDP_CLIENT = ("import socket, sys; a = sys.argv[1]; s = socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET,"
              " socket.SOCK_DGRAM); s.settimeout(0.5)\n"
              "for attempt in range(8):\n"
              "    s.sendto(b'x', (a, int(sys.argv[2])))\n"
              "    try:\n"
              "        print(s.recv(200).decode()); break\n"
              "    except socket.timeout:\n"
              "        continue\n"
              "else:\n"
              "    sys.exit('no answer to 8 datagrams in 4 s')")


def require_root_and_tools() -> None:
    missing = [t for t in TOOLS if not shutil.which(t, path=lab_host.SEARCH_PATH)]
    if missing:
        pytest.fail(f"missing tools {', '.join(missing)}: apt-get install openssh-server openssh-client socat "
                    "iputils-ping iptables iproute2 (see .ci/run)")
    if os.geteuid() != 0:
        pytest.fail("the lab needs root (network namespaces): run `make labtest` as root")


@pytest.fixture(scope="module")
def lab_holder():
    """Brings the lab up once; a failure is stored and re-raised by each test (FAILED, not ERROR)."""
    holder: dict = {}
    lab = None
    try:
        require_root_and_tools()
        lab = Lab(NAME, hosts=3, subnet4=SUBNET4, subnet6=SUBNET6)
        start = time.monotonic()
        lab.up(replace=True)  # a test-only name: a leftover of a killed run may be replaced
        TIMINGS["up, 3 hosts"] = time.monotonic() - start
        holder["lab"] = lab
    except BaseException as e:  # noqa: BLE001 (pytest.fail raises a BaseException)
        holder["error"] = f"{type(e).__name__}: {e}"
    yield holder
    if lab is not None:
        lab.down()


def started(holder) -> Lab:
    if "error" in holder:
        pytest.fail(f"lab did not come up: {holder['error']}")
    return holder["lab"]


def test_bad_subnets_and_names_are_refused():
    for kwargs in ({"subnet4": "192.0.2.0/24"}, {"subnet6": "fd00::/64"}, {"subnet4": "10.0.0.0/24"}):
        with pytest.raises(LabError, match="must be IPv"):
            Lab("pltx", **kwargs)
    with pytest.raises(LabError, match="1-11 characters"):
        Lab("much-too-long-name")


def test_addresses(lab_holder):
    lab = started(lab_holder)
    assert lab.hosts == ["h1", "h2", "h3"]
    assert [lab.address(h) for h in lab.hosts] == ["203.0.113.11", "203.0.113.12", "203.0.113.13"]
    assert [lab.address(h, 6) for h in lab.hosts] == ["2001:db8:203::11", "2001:db8:203::12", "2001:db8:203::13"]
    assert (lab.address("controller"), lab.address("fabric")) == ("203.0.113.1", "203.0.113.126")
    inventory = lab.inventory_path.read_text()
    assert "ansible_host: 203.0.113.12" in inventory and '"2001:db8:203::13"' in inventory
    assert f"control_path_dir = {lab.state_dir}/cp" in lab.ansible_cfg_path.read_text()


def test_ansible_ping_over_ssh(lab_holder):
    lab = started(lab_holder)
    ansible = Path(sys.executable).parent / "ansible"
    assert ansible.exists(), f"no {ansible}: run `make setup`"
    env = dict(os.environ, ANSIBLE_CONFIG=str(lab.ansible_cfg_path), ANSIBLE_NOCOLOR="1")
    start = time.monotonic()
    proc = subprocess.run([str(ansible), "all", "-i", str(lab.inventory_path), "-m", "ansible.builtin.ping"],
                          check=False, capture_output=True, text=True, env=env, timeout=60)
    TIMINGS["ansible all -m ping, 3 hosts"] = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for h in lab.hosts:
        assert f"{h} | SUCCESS" in proc.stdout, proc.stdout
    assert len(list((lab.state_dir / "cp").iterdir())) == 3, "expected one SSH control master per host"
    assert lab.ssh("h2", ["hostname"], family=6).stdout.strip() == "plt-h2"


def test_each_host_has_its_own_hostname_and_files(lab_holder):
    lab = started(lab_holder)
    assert [lab.exec(h, ["hostname"]).stdout.strip() for h in lab.hosts] == ["plt-h1", "plt-h2", "plt-h3"]
    marker = f"/root/palisade-lab-test-{os.getpid()}"
    lab.exec("h1", ["sh", "-c", f"echo mine > {marker}"])
    assert lab.exec("h1", ["cat", marker]).stdout == "mine\n"
    assert lab.exec("h2", ["test", "-e", marker], check=False).returncode == 1
    assert not os.path.exists(marker), "a host's write reached the machine"
    assert lab.exec("h1", ["test", "-e", "/.dockerenv"], check=False).returncode == 1
    assert lab.exec("h1", ["cat", "/etc/resolv.conf"]).stdout == ""
    assert "203.0.113.13 plt-h3 h3" in lab.exec("h1", ["cat", "/etc/hosts"]).stdout


def test_each_host_has_its_own_empty_ruleset(lab_holder):
    lab = started(lab_holder)
    for h in lab.hosts:
        for save in ("iptables-save", "ip6tables-save"):
            rules = lab.exec(h, [save]).stdout
            assert "-A " not in rules, f"{h} {save}:\n{rules}"
    lab.exec("h1", ["iptables", "-A", "INPUT", "-p", "tcp", "--dport", "9", "-m", "comment", "--comment",
                    "plt-test", "-j", "ACCEPT"])
    assert "plt-test" in lab.exec("h1", ["iptables-save"]).stdout
    assert "plt-test" not in lab.exec("h2", ["iptables-save"]).stdout


@pytest.fixture(scope="module")
def listeners(lab_holder):
    """socat servers in h2 that answer with h2's hostname (so an answer proves it came from h2)."""
    if "error" in lab_holder:
        return None
    lab = lab_holder["lab"]
    servers = [f"TCP4-LISTEN:{PORT['tcp', 4]},reuseaddr,fork", f"TCP6-LISTEN:{PORT['tcp', 6]},reuseaddr,fork",
               f"UDP4-RECVFROM:{PORT['udp', 4]},fork", f"UDP6-RECVFROM:{PORT['udp', 6]},fork"]
    lab.exec("h2", ["sh", "-c", " ".join(f"setsid socat {s} SYSTEM:hostname </dev/null >/dev/null 2>&1 &"
                                         for s in servers)])
    wanted = {f"{proto}:{port}" for (proto, _family), port in PORT.items()}
    deadline = time.monotonic() + 10
    while True:
        listening = {f"{row.split()[0]}:{row.split()[4].rsplit(':', 1)[1]}"
                     for row in lab.exec("h2", ["ss", "-Htlnu"]).stdout.splitlines() if row.strip()}
        if wanted <= listening:
            return lab
        if time.monotonic() > deadline:
            pytest.fail(f"socat listeners in h2 not up after 10 s: missing {sorted(wanted - listening)}")
        time.sleep(0.02)


@pytest.mark.parametrize("proto", ["tcp", "udp", "icmp"])
@pytest.mark.parametrize("family", [4, 6])
def test_traffic_between_hosts(lab_holder, listeners, proto, family):
    lab = started(lab_holder)
    dst = lab.address("h2", family)
    if proto == "icmp":
        proc = lab.exec("h1", ["ping", f"-{family}", "-c1", "-W2", dst], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return
    if proto == "tcp":
        argv = ["socat", "-T2", "-u", f"TCP{family}:{dst if family == 4 else f'[{dst}]'}:{PORT['tcp', family]}", "-"]
    else:
        argv = ["python3", "-c", UDP_CLIENT, dst, str(PORT["udp", family])]
    proc = lab.exec("h1", argv, check=False, timeout=10)
    assert (proc.returncode, proc.stdout.strip()) == (0, "plt-h2"), proc.stderr


def test_hosts_cannot_leave_the_lab(lab_holder):
    lab = started(lab_holder)
    route = lab.exec("h1", ["ip", "route", "get", "192.0.2.1"]).stdout
    assert f"via {lab.address('fabric')} dev eth0" in route, route
    fabric_forwarding = palisade_lab.run(["ip", "netns", "exec", lab.fabric, "cat", "/proc/sys/net/ipv4/ip_forward",
                                          "/proc/sys/net/ipv6/conf/all/forwarding"]).stdout.split()
    assert fabric_forwarding == ["0", "0"]
    ping = lab.exec("h1", ["ping", "-c1", "-W1", "192.0.2.1"], check=False)
    assert ping.returncode != 0, ping.stdout
    tcp = lab.exec("h1", ["python3", "-c", "import socket; socket.create_connection(('192.0.2.1', 22), 1)"], check=False)
    assert tcp.returncode != 0, "TCP to 192.0.2.1 got through"


def test_cli_exec_status_and_refusal(lab_holder):
    started(lab_holder)
    cli = [sys.executable, str(REPO / "lab" / "palisade_lab.py")]
    proc = subprocess.run([*cli, "exec", "--name", NAME, "h3", "--", "sh", "-c", "hostname; exit 3"],
                          check=False, capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout) == (3, "plt-h3\n"), proc.stderr
    proc = subprocess.run([*cli, "status", "--name", NAME], check=False, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.count("answers on v4, answers on v6") == 3, proc.stdout
    proc = subprocess.run([*cli, "up", "--name", NAME, "--hosts", "1", "--subnet4", SUBNET4, "--subnet6", SUBNET6],
                          check=False, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "already exists" in proc.stderr, proc.stderr


def test_down_removes_exactly_its_own_namespaces(lab_holder, capsys):
    lab = started(lab_holder)
    other = Lab(OTHER[0], hosts=1, subnet4=OTHER[1], subnet6=OTHER[2])
    try:
        start = time.monotonic()
        other.up(replace=True)
        TIMINGS["up, 1 host (second lab)"] = time.monotonic() - start
        before = _namespaces()
        ours = {lab.fabric, *(lab.namespace(h) for h in lab.hosts)}
        assert ours | {"plt2-fab", "plt2-h1"} <= before
        start = time.monotonic()
        lab.down()
        TIMINGS["down, 3 hosts"] = time.monotonic() - start
        after = _namespaces()
        assert after == before - ours, f"removed {before - after}, expected {ours}"
        assert not os.path.exists(f"/sys/class/net/{lab.ctl}") and not lab.state_dir.exists()
        leftovers = [p for p in os.listdir("/proc") if p.isdigit() and f"{lab.state_dir}/".encode() in _cmdline(p)]
        assert not leftovers, f"processes of the removed lab remain: {[(p, _cmdline(p)) for p in leftovers]}"
        lab.down()  # idempotent
        assert other.exec("h1", ["hostname"]).stdout.strip() == "plt2-h1"
        assert other.answers("h1", 4) and other.answers("h1", 6)
    finally:
        start = time.monotonic()
        other.down()
        TIMINGS["down, 1 host (second lab)"] = time.monotonic() - start
    assert not _namespaces() & {"plt2-fab", "plt2-h1"}
    with capsys.disabled():
        print("\nlab timings: " + "; ".join(f"{k} {v:.2f} s" for k, v in TIMINGS.items()))


def test_hosts_start_fresh_whatever_the_machine_holds():
    """A lab host's root is an overlay of the machine's: what the collection leaves on a host
    (state directory, boot unit) is hidden, so a test never reads an earlier run's leftovers."""
    require_root_and_tools()
    planted = [p for p in palisade_lab.FRESH_PATHS if not os.path.lexists(p)]
    for path in planted:  # only paths the machine does not have, removed again below
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if path.endswith(".service"):
            Path(path).write_text("[Unit]\n")
        else:
            os.mkdir(path)
            Path(path, "planted").write_text("leftover\n")
    other = Lab(OTHER[0], hosts=1, subnet4=OTHER[1], subnet6=OTHER[2])
    try:
        other.up(replace=True)
        for path in palisade_lab.FRESH_PATHS:
            assert os.path.lexists(path), path
            seen = other.exec("h1", ["ls", "-d", path], check=False)
            assert seen.returncode == 2 and "No such file or directory" in seen.stderr, (path, seen)
        other.exec("h1", ["sh", "-c", "mkdir -p /var/lib/palisade/applied && echo mine > /var/lib/palisade/applied/x"])
        assert other.exec("h1", ["cat", "/var/lib/palisade/applied/x"]).stdout == "mine\n"
        assert not os.path.exists("/var/lib/palisade/applied/x"), "a host's write reached the machine"
    finally:
        other.down()
        for path in reversed(planted):
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.unlink(path)


def _namespaces() -> set[str]:
    return {line.split()[0] for line in palisade_lab.run(["ip", "netns", "list"]).stdout.splitlines() if line.strip()}


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
