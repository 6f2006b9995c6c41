# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SSH connection the controller manages a host by, as the host sees it, and the tools check.

Private to the collection: this API may change at any time. Standard library only (Python 3.6+).

The lockout guard on the controller needs the connection as the host sees it (after NAT, jump
hosts and dual-stack mapping), which only the host knows: sshd puts it in ``SSH_CONNECTION``.
sudo drops that variable, so under become it is read from the session's processes (the first
ancestor that has it), which root may read.
"""

import ipaddress
import os
import re

SSH_CONNECTION = "SSH_CONNECTION"
MAX_ANCESTORS = 16
FIREWALL_TOOLS = ("iptables-save", "iptables-restore", "ip6tables-save", "ip6tables-restore", "ipset")
_DEV = re.compile(r"\sdev\s+(\S+)")


def parse_ssh_connection(value):
    """``client_ip client_port server_ip server_port`` -> a dict, or None when ``value`` is unset.

    Raises ValueError naming the value when it is not of that shape. ``zone`` is the client's
    IPv6 zone (the interface of a link-local address), else None.
    """
    if value is None or not value.strip():
        return None
    fields = value.split()
    if len(fields) != 4:
        raise ValueError("SSH_CONNECTION is %r: expected 'client_ip client_port server_ip server_port'" % value)
    client, client_zone = _address(fields[0], value)
    server, _zone = _address(fields[2], value)
    return {
        "client": client,
        "client_port": _port(fields[1], value),
        "server": server,
        "server_port": _port(fields[3], value),
        "zone": client_zone,
    }


def _address(text, value):
    """The address without its zone, IPv4-mapped IPv6 as IPv4; and the zone (or None)."""
    bare, _sep, zone = text.partition("%")
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        raise ValueError("SSH_CONNECTION is %r: %r is not an IP address" % (value, text)) from None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address), zone or None


def _port(text, value):
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError("SSH_CONNECTION is %r: %r is not a port" % (value, text))
    return int(text)


def parse_route_interface(output):
    """The ``dev`` of ``ip -o route get`` output, or None."""
    found = _DEV.search(" " + output)
    return found.group(1) if found else None


def session_ssh_connection(environ=None, proc="/proc", pid=None):
    """``SSH_CONNECTION`` of this process, else of its nearest ancestor that has it, else None."""
    environ = os.environ if environ is None else environ
    if environ.get(SSH_CONNECTION):
        return environ[SSH_CONNECTION]
    pid = os.getpid() if pid is None else pid
    for _step in range(MAX_ANCESTORS):
        pid = _parent(proc, pid)
        if pid is None or pid <= 1:
            return None
        value = _environ_value(proc, pid, SSH_CONNECTION)
        if value:
            return value
    return None


def _parent(proc, pid):
    try:
        with open(os.path.join(proc, str(pid), "stat"), "rb") as stat:
            text = stat.read().decode("ascii", "replace")
    except OSError:
        return None
    # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'
    fields = text[text.rfind(")") + 1:].split()
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


def _environ_value(proc, pid, name):
    try:
        with open(os.path.join(proc, str(pid), "environ"), "rb") as environ:
            entries = environ.read().split(b"\0")
    except OSError:
        return None
    prefix = name.encode("ascii") + b"="
    for entry in entries:
        if entry.startswith(prefix):
            return entry[len(prefix):].decode("utf-8", "replace")
    return None


def management_connection(route_interface, value):
    """The connection facts for the lockout guard, or None without ``SSH_CONNECTION``.

    ``route_interface(client)`` names the interface the host routes the client through, or None.
    Raises ValueError for a malformed ``SSH_CONNECTION``.
    """
    parsed = parse_ssh_connection(value)
    if parsed is None:
        return None
    zone = parsed.pop("zone")
    parsed["interface"] = zone or route_interface(parsed["client"])
    parsed["source"] = SSH_CONNECTION
    return parsed


def matches(connection, expected):
    """Whether the host sees the connection the controller checked (client, server, port)."""
    if connection is None or not expected:
        return False
    try:
        same_client = ipaddress.ip_address(connection["client"]) == ipaddress.ip_address(expected["client"])
        same_server = ipaddress.ip_address(connection["server"]) == ipaddress.ip_address(expected["server"])
    except (KeyError, ValueError):
        return False
    return same_client and same_server and connection.get("server_port") == expected.get("port")


def missing_tools(which):
    """The firewall tools ``which(tool)`` does not find, in a fixed order."""
    return [tool for tool in FIREWALL_TOOLS if which(tool) is None]
