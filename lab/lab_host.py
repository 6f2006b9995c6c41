# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the lab runs on the machine: the sshd config and boot script of a host, and small helpers
for tools, processes and namespaces. Standard library only; used by palisade_lab.py."""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

ALLOWED = [ipaddress.ip_network(n) for n in ("198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_ENV = {"PATH": HOST_PATH, "HOME": "/root", "LANG": "C.UTF-8", "USER": "root", "LOGNAME": "root"}
SSH_COMMON = ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
              "-o ServerAliveInterval=1 -o ServerAliveCountMax=2")
NAME = re.compile(r"^[a-z][a-z0-9]{0,10}$")  # "<name>-ctl" must fit IFNAMSIZ (15 characters)
MARKER = ".palisade-lab"
SSHD_CONFIG = """\
Port 22
ListenAddress 0.0.0.0
ListenAddress ::
HostKey /etc/ssh/palisade-lab/ssh_host_ed25519_key
AuthorizedKeysFile /etc/ssh/palisade-lab/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile none
StrictModes no
UseDNS no
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
MaxStartups 100
MaxSessions 100
Subsystem sftp /usr/lib/openssh/sftp-server
"""
# What the collection leaves on a host (state directory, boot unit): whited out of the host's
# overlay root, so every lab host starts as a fresh machine whatever the machine itself holds.
# Root's ~/.bashrc and ~/.profile are Debian's defaults for the same reason: bash sources
# ~/.bashrc for every command sshd runs, and the machine's own may start slow tools (pyenv
# init took 0.3-0.6 s per SSH command here, more than the commands themselves).
FRESH_PATHS = ("/var/lib/palisade", "/etc/systemd/system/palisade-firewall.service",
               "/etc/systemd/system/multi-user.target.wants/palisade-firewall.service")
# Runs as PID 1 of the host's PID namespace, inside its network namespace, in a private mount
# namespace; ends by exec'ing sshd so that sshd is the host's PID 1.
BOOT = """\
set -eu
export PATH={path}
ip link set lo up
echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad
ip addr add {v4}/{len4} dev eth0
ip addr add {v6}/{len6} dev eth0 nodad
ip link set eth0 up
ip route add default via {gw4} dev eth0
ip -6 route add default via {gw6} dev eth0
hostname {hostname}
D={dir}; R="$D/mnt"; N="$R/root"
mount -t tmpfs -o mode=0755 lab-rw "$R"
mkdir "$R/up" "$R/wk" "$N"
for p in {fresh}; do mkdir -p "$R/up${{p%/*}}"; mknod "$R/up$p" c 0 0; done
mkdir -p "$R/up/root"
for f in bashrc profile; do
  if [ -f "/usr/share/base-files/dot.$f" ]; then cp "/usr/share/base-files/dot.$f" "$R/up/root/.$f"; else mknod "$R/up/root/.$f" c 0 0; fi
done
mount -t overlay -o lowerdir=/,upperdir="$R/up",workdir="$R/wk" lab-root "$N"
mount -t proc proc "$N/proc"
mount --rbind /sys "$N/sys"
mount --rbind /dev "$N/dev"
mount -t tmpfs -o mode=0755 lab-run "$N/run"
mount -t tmpfs -o mode=1777 lab-tmp "$N/tmp"
mkdir -m 0755 "$N/run/sshd"
rm -f "$N/.dockerenv"
cp "$D/hosts" "$N/etc/hosts"; : > "$N/etc/resolv.conf"; echo {hostname} > "$N/etc/hostname"
mkdir -p -m 0700 "$N/etc/ssh/palisade-lab" "$N/root"
cp "$D/sshd_config" "$D/ssh_host_ed25519_key" "$D/ssh_host_ed25519_key.pub" "$D/authorized_keys" "$N/etc/ssh/palisade-lab/"
chmod 0600 "$N/etc/ssh/palisade-lab/ssh_host_ed25519_key"
cd "$N"; mkdir .oldroot; pivot_root . .oldroot; cd /; umount -l /.oldroot; rmdir /.oldroot
exec "{sshd}" -D -e -f /etc/ssh/palisade-lab/sshd_config
"""


class LabError(RuntimeError):
    """A lab operation failed; the message says what and why."""


def tool(name: str) -> str:
    found = shutil.which(name, path=SEARCH_PATH)
    if not found:
        raise LabError(f"missing tool {name!r} (Debian packages: iproute2 util-linux openssh-server "
                       "openssh-client socat iputils-ping iptables ipset conntrack)")
    return found


def run(argv, input=None, check=True, timeout=30) -> subprocess.CompletedProcess:
    proc = subprocess.run([tool(argv[0]), *argv[1:]], input=input, check=False, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode:
        raise LabError(f"{shlex.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def offset6(k: int) -> int:
    """IPv6 offsets read like the IPv4 ones: host .11 is ::11."""
    return int(str(k), 16)


def proc_start(pid: int) -> int | None:
    """The kernel's start time of a PID (guards against PID reuse), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else int(fields[19])


def children_named(comm: str) -> dict[int, int]:
    """{parent PID: PID} of every process whose command name is comm (one pass over /proc)."""
    found: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat and stat[stat.index("(") + 1:stat.rindex(")")] == comm:
            found[int(stat.rsplit(")", 1)[1].split()[1])] = int(entry.name)
    return found


def ns_inode(ns: str) -> int | None:
    """Identity of a named network namespace (its nsfs inode), None when there is none."""
    try:
        return os.stat(f"/run/netns/{ns}").st_ino
    except OSError:
        return None
