#!/usr/bin/env python3
# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab of real hosts on one Linux machine: network namespaces with their own sshd (no containers).

Each host is a network namespace plus private mount, UTS and PID namespaces whose PID 1 is a real
``sshd``; its root is an overlay of the machine's root on a tmpfs, so its files are its own. Hosts
hang off a bridge in a fabric namespace (forwarding off: the hosts' default route is a dead end);
the controller (the root namespace) joins the bridge by one veth and reaches hosts by real SSH.
Standard library only. Needs root. See lab/README.md.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab_host import (ALLOWED, BOOT, FRESH_PATHS, HOST_ENV, HOST_PATH, MARKER, NAME, SSH_COMMON,  # noqa: E402,F401
                      SSHD_CONFIG, LabError, children_named, ns_inode, offset6, proc_start, run, tool)


class Lab:
    """One lab, identified by its name. ``with Lab(...) as lab:`` brings it up and down."""

    def __init__(self, name="pal", hosts=3, subnet4="198.51.100.0/24", subnet6="2001:db8:100::/64",
                 state_dir=None):
        if not NAME.match(name):
            raise LabError(f"lab name {name!r}: 1-11 characters [a-z0-9], starting with a letter")
        self.name = name
        self.state_dir = Path(state_dir or f"/tmp/palisade-lab-{name}").absolute()
        self._procs: list[subprocess.Popen] = []
        self.subnet4 = ipaddress.ip_network(subnet4)
        self.subnet6 = ipaddress.ip_network(subnet6)
        for net, version in ((self.subnet4, 4), (self.subnet6, 6)):
            if net.version != version or not any(net.version == a.version and net.subnet_of(a) for a in ALLOWED):
                raise LabError(f"subnet {net}: must be IPv{version} inside "
                               + ", ".join(str(a) for a in ALLOWED if a.version == version))
        self.gw_offset = self.subnet4.num_addresses - 2
        if not 1 <= hosts <= min(200, self.gw_offset - 11) or self.subnet6.prefixlen > 112:
            raise LabError(f"{hosts} hosts do not fit {self.subnet4} / {self.subnet6} (hosts are .11 up)")
        self.hosts = [f"h{i}" for i in range(1, hosts + 1)]
        self.fabric, self.ctl = f"{name}-fab", f"{name}-ctl"
        self.state_path = self.state_dir / "state.json"
        self.inventory_path = self.state_dir / "inventory.yml"
        self.ansible_cfg_path = self.state_dir / "ansible.cfg"
        self.key_path = self.state_dir / "id_ed25519"
        self.control_path_dir = self.state_dir / "cp"

    @classmethod
    def load(cls, name="pal", state_dir=None) -> "Lab":
        """The lab as its state file describes it (hosts, subnets); defaults when it is not up."""
        lab = cls(name, state_dir=state_dir)
        state = lab._read_state()
        if state and state.get("hosts"):
            lab = cls(name, len(state["hosts"]), state["subnet4"], state["subnet6"], state_dir)
        return lab

    # -- addresses --------------------------------------------------------------------------
    def namespace(self, host: str) -> str:
        return f"{self.name}-{host}"

    def _offset(self, host: str) -> int:
        if host == "controller":
            return 1
        if host == "fabric":
            return self.gw_offset
        if host not in self.hosts:
            raise LabError(f"lab {self.name}: no host {host!r} (hosts: {', '.join(self.hosts)})")
        return 10 + int(host[1:])

    def address(self, host: str, family: int = 4) -> str:
        """Address of h1..hN, 'controller' or 'fabric' (the dead-end gateway); family 4 or 6."""
        k = self._offset(host)
        net = self.subnet4 if family == 4 else self.subnet6
        return str(net.network_address + (k if family == 4 else offset6(k)))

    # -- state ------------------------------------------------------------------------------
    def _read_state(self) -> dict | None:
        try:
            return json.loads((self.state_dir / "state.json").read_text())
        except (OSError, ValueError):
            return None

    def _save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2) + "\n")
        tmp.replace(self.state_path)

    def exists(self) -> list[str]:
        """What of this lab exists on the machine (empty: nothing)."""
        found = [str(self.state_path)] if self.state_path.exists() else []
        found += [f"netns {ns}" for ns in [self.fabric] + [self.namespace(h) for h in self.hosts] if ns_inode(ns)]
        return found + ([f"link {self.ctl}"] if os.path.exists(f"/sys/class/net/{self.ctl}") else [])

    def _check_subnets_free(self) -> None:
        for flag, net in (("-4", self.subnet4), ("-6", self.subnet6)):
            for route in json.loads(run(["ip", "-j", flag, "route", "show", "table", "all"]).stdout or "[]"):
                dst = route.get("dst", "default")
                if dst == "default" or route.get("type") in ("broadcast", "multicast") or dst.startswith("fe80"):
                    continue
                if ipaddress.ip_network(dst, strict=False).overlaps(net):
                    raise LabError(f"subnet {net} overlaps route {dst} dev {route.get('dev')}: "
                                   "another lab or the machine uses it; pick other subnets")

    # -- up ---------------------------------------------------------------------------------
    def up(self, replace: bool = False) -> "Lab":
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces)")
        for name in ("ip", "unshare", "nsenter", "sshd", "ssh", "ssh-keygen", "ssh-keyscan"):
            tool(name)  # a clear "missing tool" now rather than a broken host later
        existing = self.exists()
        if existing and replace:
            self.down()
            existing = self.exists()
            if existing:
                raise LabError(f"lab {self.name}: --replace left things it did not create: {', '.join(existing)}")
        elif existing:
            raise LabError(f"lab {self.name} already exists ({', '.join(existing)}): "
                           f"run `down --name {self.name}` first, or `up --replace`")
        self._check_subnets_free()
        if self.state_dir.exists():
            if not (self.state_dir / MARKER).exists():
                raise LabError(f"state dir {self.state_dir} exists and is not a lab's: pick another --state-dir")
            shutil.rmtree(self.state_dir)
        self.state_dir.mkdir(mode=0o700, parents=True)
        (self.state_dir / MARKER).touch()
        self.control_path_dir.mkdir(mode=0o700)
        self.state = {"name": self.name, "subnet4": str(self.subnet4), "subnet6": str(self.subnet6),
                      "namespaces": {}, "link": None, "hosts": {}, "pids": []}
        self._save()
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        return self

    def _netns_add(self, ns: str) -> None:
        run(["ip", "netns", "add", ns])
        self.state["namespaces"][ns] = ns_inode(ns)  # recorded only once it is ours
        self._save()

    def _build(self) -> None:
        keygens = [subprocess.Popen([tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", f"palisade-lab-{self.name}",
                                     "-f", str(self.key_path)])]
        for h in self.hosts:
            (self.state_dir / h / "mnt").mkdir(parents=True)
            keygens.append(subprocess.Popen([tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", self.namespace(h),
                                             "-f", str(self.state_dir / h / "ssh_host_ed25519_key")]))
        len4, len6 = self.subnet4.prefixlen, self.subnet6.prefixlen
        self._netns_add(self.fabric)
        run(["ip", "netns", "exec", self.fabric, "sh", "-c",
             "echo 0 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/ipv6/conf/all/forwarding;"
             "echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad"])
        run(["ip", "link", "add", self.ctl, "type", "veth", "peer", "name", "ctl", "netns", self.fabric])
        self.state["link"] = {"name": self.ctl, "ifindex": int(Path(f"/sys/class/net/{self.ctl}/ifindex").read_text())}
        self._save()
        for h in self.hosts:
            self._netns_add(self.namespace(h))
        fabric = ["link add br0 type bridge forward_delay 0 mcast_snooping 0", "link set lo up", "link set br0 up",
                  f"addr add {self.address('fabric')}/{len4} dev br0",
                  f"addr add {self.address('fabric', 6)}/{len6} dev br0 nodad", "link set ctl master br0 up"]
        for h in self.hosts:
            fabric += [f"link add {h} type veth peer name eth0 netns {self.namespace(h)}", f"link set {h} master br0 up"]
        run(["ip", "-n", self.fabric, "-batch", "-"], input="\n".join(fabric) + "\n")
        run(["ip", "-batch", "-"], input=f"addr add {self.address('controller')}/{len4} dev {self.ctl}\n"
                                         f"addr add {self.address('controller', 6)}/{len6} dev {self.ctl} nodad\n"
                                         f"link set {self.ctl} up\n")
        if any(p.wait() for p in keygens):
            raise LabError("ssh-keygen failed")
        pub = self.key_path.with_suffix(".pub").read_text()
        etc_hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n" + "".join(
            f"{self.address(h, fam)} {self.namespace(h)} {h}\n" for fam in (4, 6) for h in self.hosts)
        for h in self.hosts:
            d = self.state_dir / h
            (d / "sshd_config").write_text(SSHD_CONFIG)
            (d / "authorized_keys").write_text(pub)
            (d / "hosts").write_text(etc_hosts)
            script = BOOT.format(path=HOST_PATH, v4=self.address(h), v6=self.address(h, 6), len4=len4, len6=len6,
                                 gw4=self.address("fabric"), gw6=self.address("fabric", 6),
                                 hostname=self.namespace(h), dir=shlex.quote(str(d)), sshd=tool("sshd"),
                                 fresh=" ".join(FRESH_PATHS))
            with open(d / "sshd.log", "ab") as log:
                p = subprocess.Popen([tool("ip"), "netns", "exec", self.namespace(h), tool("unshare"), "--mount", "--uts",
                                      "--pid", "--fork", "--kill-child=SIGKILL", "--mount-proc", "--propagation",
                                      "private", "sh", "-c", script], stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=HOST_ENV, start_new_session=True)
            self._procs.append(p)
            self.state["pids"].append([p.pid, proc_start(p.pid)])
            self.state["hosts"][h] = {"namespace": self.namespace(h), "ipv4": self.address(h),
                                      "ipv6": self.address(h, 6), "launcher_pid": p.pid, "sshd_pid": None}
        self._save()
        self._wait_ready()
        for h, pid in self._sshd_pids().items():
            self.state["hosts"][h]["sshd_pid"] = pid
            self.state["pids"].append([pid, proc_start(pid)])
        self._save()
        self._write_ansible_files()

    def _sshd_pids(self) -> dict[str, int | None]:
        """Each host's PID 1 (its launcher's child) once the boot script has exec'd sshd, else None."""
        children = children_named("sshd")
        return {h: children.get(p.pid) for h, p in zip(self.hosts, self._procs)}

    def _wait_ready(self, timeout: float = 20.0) -> None:
        """Until every boot script has exec'd sshd (so addresses exist: no ARP waits), then until
        ssh-keyscan gets a host key on every v4 and v6 address."""
        pending = {self.address(h, fam): h for h in self.hosts for fam in (4, 6)}
        deadline = time.monotonic() + timeout
        while pending:
            for h, p in zip(self.hosts, self._procs):
                if p.poll() is not None:
                    log = (self.state_dir / h / "sshd.log").read_text(errors="replace").strip()
                    raise LabError(f"host {h} died while starting (exit {p.returncode}): {log[-2000:]}")
            if time.monotonic() > deadline:
                raise LabError(f"sshd did not answer ssh-keyscan within {timeout:.0f} s on {', '.join(pending)}")
            if not all(self._sshd_pids().values()):
                time.sleep(0.01)
                continue
            scan = run(["ssh-keyscan", "-T", "1", "-t", "ed25519", *pending], check=False)
            for line in scan.stdout.splitlines():
                pending.pop(line.split(" ", 1)[0], None)
            if pending:
                time.sleep(0.02)

    def _write_ansible_files(self) -> None:
        q = json.dumps  # a JSON string is a valid YAML scalar
        lines = [f"# lab {self.name}: written by lab/palisade_lab.py up, removed by down", "lab:", "  hosts:"]
        for h in self.hosts:
            lines += [f"    {h}:", f"      ansible_host: {self.address(h)}", f"      lab_ipv6: {q(self.address(h, 6))}",
                      f"      lab_namespace: {self.namespace(h)}", "      ansible_user: root",
                      f"      ansible_ssh_private_key_file: {q(str(self.key_path))}",
                      f"      ansible_ssh_common_args: {q(SSH_COMMON)}",
                      "      ansible_python_interpreter: /usr/bin/python3"]
        self.inventory_path.write_text("\n".join(lines) + "\n")
        self.ansible_cfg_path.write_text(
            f"[defaults]\ninventory = {self.inventory_path}\ntimeout = 10\nhost_key_checking = False\n\n"
            f"[ssh_connection]\npipelining = True\ncontrol_path_dir = {self.control_path_dir}\n")

    # -- down -------------------------------------------------------------------------------
    def down(self) -> None:
        """Remove what this lab's state file records, and only that. Idempotent."""
        state = self._read_state()
        if state is None:
            if self.state_dir.is_dir() and (self.state_dir / MARKER).exists():
                shutil.rmtree(self.state_dir, ignore_errors=True)
            return
        masters = []  # Ansible's SSH control masters: asked to exit (not killed), then awaited
        for sock in self.control_path_dir.iterdir() if self.control_path_dir.is_dir() else ():
            status = run(["ssh", "-o", f"ControlPath={sock}", "-O", "check", "lab"], check=False, timeout=5)
            found = re.search(r"pid=(\d+)", status.stderr)
            if found and run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "lab"], check=False).returncode == 0:
                masters.append((int(found[1]), proc_start(int(found[1]))))
        namespaces = {ns: ino for ns, ino in state["namespaces"].items() if ino and ns_inode(ns) == ino}
        pids = [(pid, start) for pid, start in state["pids"] if pid and start and proc_start(pid) == start]
        for ns in namespaces:
            for pid in run(["ip", "netns", "pids", ns], check=False).stdout.split():
                pids.append((int(pid), proc_start(int(pid))))
        for pid, start in pids:
            if start is not None and proc_start(pid) == start:
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while any(start is not None and proc_start(pid) == start for pid, start in pids + masters) \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        for p in self._procs:  # reap our own launchers (API use); the CLI's were reparented
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._procs.clear()
        link = state.get("link")
        if link and os.path.exists(f"/sys/class/net/{link['name']}"):
            if int(Path(f"/sys/class/net/{link['name']}/ifindex").read_text()) == link["ifindex"]:
                run(["ip", "link", "del", link["name"]], check=False)
        for ns in namespaces:
            run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- use --------------------------------------------------------------------------------
    def sshd_pid(self, host: str) -> int:
        state = self._read_state() or {}
        pid = state.get("hosts", {}).get(host, {}).get("sshd_pid")
        if not pid:
            raise LabError(f"lab {self.name}: host {host!r} is not up (state {self.state_path})")
        return pid

    def exec_argv(self, host: str, argv) -> list[str]:
        return [tool("nsenter"), "-t", str(self.sshd_pid(host)), "-n", "-m", "-u", "-p", "-r", "-w", *argv]

    def exec(self, host: str, argv, input=None, check=True, timeout=60) -> subprocess.CompletedProcess:
        """Run argv inside a host (no SSH); output captured as text."""
        proc = subprocess.run(self.exec_argv(host, argv), input=input or "", check=False, capture_output=True, text=True,
                              env=HOST_ENV, timeout=timeout)
        if check and proc.returncode:
            raise LabError(f"{host}: {shlex.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def ssh_argv(self, host: str, argv, family: int = 4) -> list[str]:
        return [tool("ssh"), "-i", str(self.key_path), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                *shlex.split(SSH_COMMON), "-o", "LogLevel=ERROR", f"root@{self.address(host, family)}", shlex.join(argv)]

    def ssh(self, host: str, argv, input=None, check=True, family: int = 4, timeout=60) -> subprocess.CompletedProcess:
        """Run argv on a host over real SSH."""
        proc = subprocess.run(self.ssh_argv(host, argv, family), input=input or "", check=False, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode:
            raise LabError(f"ssh {host}: {shlex.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def answers(self, host: str, family: int = 4) -> bool:
        scan = run(["ssh-keyscan", "-T", "1", "-t", "ed25519", self.address(host, family)], check=False)
        return bool(scan.stdout.strip())

    def __enter__(self) -> "Lab":
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()


def main(args=None) -> int:
    parser = argparse.ArgumentParser(prog="palisade_lab.py", description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmds = {c: sub.add_parser(c) for c in ("up", "down", "exec", "status")}
    for c in cmds.values():
        c.add_argument("--name", default="pal", help="the lab's identity (default: pal)")
        c.add_argument("--state-dir", help="default: /tmp/palisade-lab-NAME")
    cmds["up"].add_argument("--hosts", type=int, required=True)
    cmds["up"].add_argument("--subnet4", default="198.51.100.0/24")
    cmds["up"].add_argument("--subnet6", default="2001:db8:100::/64")
    cmds["up"].add_argument("--replace", action="store_true", help="tear the existing lab down first")
    cmds["exec"].add_argument("host")
    cmds["exec"].add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD...")
    opts = parser.parse_args(args)
    try:
        if opts.command == "up":
            lab = Lab(opts.name, opts.hosts, opts.subnet4, opts.subnet6, opts.state_dir)
            t = time.monotonic()
            lab.up(replace=opts.replace)
            print(f"lab {lab.name}: {len(lab.hosts)} hosts up in {time.monotonic() - t:.2f} s")
            print(f"  ANSIBLE_CONFIG={lab.ansible_cfg_path} ansible lab -m ansible.builtin.ping")
            return status(lab, probe=False)
        lab = Lab.load(opts.name, opts.state_dir)
        if opts.command == "down":
            t = time.monotonic()
            lab.down()
            print(f"lab {lab.name}: down in {time.monotonic() - t:.2f} s")
            return 0
        if opts.command == "status":
            return status(lab)
        cmd = opts.cmd[1:] if opts.cmd[:1] == ["--"] else opts.cmd
        if not cmd:
            parser.error("exec HOST -- CMD...")
        lab._offset(opts.host)
        return subprocess.run(lab.exec_argv(opts.host, cmd), check=False, env=HOST_ENV).returncode
    except LabError as e:
        print(f"palisade_lab: error: {e}", file=sys.stderr)
        return 1


def status(lab: Lab, probe: bool = True) -> int:
    state = lab._read_state()
    if not state:
        print(f"lab {lab.name}: not up (no {lab.state_path})")
        return 1
    print(f"lab {lab.name}: state {lab.state_dir}; controller {lab.ctl} {lab.address('controller')} "
          f"{lab.address('controller', 6)}; inventory {lab.inventory_path}")
    ok = True
    for h, info in state["hosts"].items():
        line = f"  {h:4} {info['namespace']:12} {info['ipv4']:15} {info['ipv6']:22} sshd pid {info['sshd_pid']}"
        if probe:
            v4, v6 = lab.answers(h, 4), lab.answers(h, 6)
            ok = ok and v4 and v6
            line += f": sshd {'answers' if v4 else 'DOWN'} on v4, {'answers' if v6 else 'DOWN'} on v6"
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `... | head`: the lab is up; only the listing was cut short
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
