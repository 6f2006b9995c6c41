# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Confirm probes: checks run from the host after new rules are applied; one failing rolls them back.

Private to the collection: this API may change at any time.

The user lists them in ``palisade_confirm_probes``; ``parse_probes`` turns that list into
``Probe`` values and reports every mistake at once, each naming its place
(``palisade_confirm_probes[1].port: ...``), so the controller can refuse a bad list before any
host is touched. ``probes_to_dicts`` gives the normalised list back as plain data, which is how
it travels to the host as module arguments (``parse_probes`` reads it back unchanged).

On the host, ``run_probe`` never raises for a network outcome: a name that does not resolve, a
refused connection or a silent peer is a failed ``ProbeResult`` whose ``detail`` says what
happened, because the caller's next step (keep or roll back) only needs yes or no and a reason
to show. What each protocol checks:

- ``tcp``: the three-way handshake with ``address:port`` completes. A closed port (refused), an
  unreachable network or silence until the timeout fails.
- ``udp``: ``payload`` is sent from a connected socket and any reply datagram counts. A reply is
  required because silence cannot tell a dropped datagram from a served one: without a reply a
  DROP rule and a working service look the same, so probe a service that answers (DNS, NTP, an
  echo service). An ICMP port unreachable (seen as ECONNREFUSED on the connected socket) fails
  at once as "port unreachable".
- ``icmp``: ``ping -4|-6 -n -c 1 -W <whole seconds> <address>`` (iputils) through
  ``commands.Runner``, so tests can fake it; exit status 0 is success. Older iputils take only
  whole seconds for ``-W``, hence the rounding up; the family flag comes from the address.

A DNS name is resolved on the host when the probe runs (``socket.getaddrinfo``); its addresses
are tried in the resolver's order until one passes. The timeout bounds the network part of the
whole probe (all addresses together), not the resolver, which follows the host's own settings.
Errors about the host's own output (EPERM from a local rule dropping the packet) are reported
as such, since right after new rules are applied that is a likely cause.
"""

import difflib
import errno
import ipaddress
import math
import re
import socket
import time
from typing import Optional

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.commands import Runner
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import InputError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.records import record

PROTOCOLS = ("tcp", "udp", "icmp")
FIELDS = ("name", "protocol", "address", "port", "timeout", "payload")
ADDRESS_ALIAS = "host"  # the design's name for the address; either may be given, not both
DEFAULT_TIMEOUT = 3.0
MAX_TIMEOUT = 60.0
DEFAULT_PAYLOAD = "palisade-probe"
MAX_NAME_LENGTH = 253
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_PING_ERROR = re.compile(r"^From (\S+) icmp_seq=\d+ (.+)$", re.MULTILINE)
_SOCKET_TYPES = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM, "icmp": socket.SOCK_DGRAM}
_ERRNO_DETAILS = {
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ECONNRESET: "connection reset",
    errno.EADDRNOTAVAIL: "no local address to send from",
    errno.EPERM: "sending not permitted (an output rule on this host drops it?)",
    errno.EACCES: "sending not permitted (an output rule on this host drops it?)",
}
_KINDS = ((bool, "a bool"), (str, "a str"), (int, "an int"), (float, "a float"), (dict, "a mapping"), ((list, tuple), "a list"))
_BAD = object()  # what a field parser returns after reporting a problem (None can be a valid value)
_PING_MISSING = "ping is not installed on this host (package iputils-ping on Debian and Ubuntu, iputils on Fedora and RHEL)"


class ProbeSpecError(InputError):
    """An ``InputError`` whose heading names the variable: "the wanted ruleset" would mislead here."""

    def __init__(self, problems, where):
        super().__init__(problems)
        if len(self.problems) > 1:
            self.args = (f"{len(self.problems)} problems in {where}:\n" + "\n".join(f"- {p}" for p in self.problems),)


# -- values ----------------------------------------------------------------------------------


@record(frozen=True)
class Probe:
    """One check, normalised: lower-case protocol, compressed IP literal, float timeout."""

    name: str
    protocol: str
    address: str
    port: Optional[int]
    timeout: float
    payload: Optional[str]

    @property
    def target(self) -> str:
        """``tcp 198.51.100.7:443``, ``udp [2001:db8::1]:53``, ``icmp 198.51.100.1``: the default name."""
        return target_label(self.protocol, self.address, self.port)

    def describe(self) -> str:
        return f"probe {self.name!r} ({self.target}, timeout {seconds_text(self.timeout)} s)"

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "protocol": self.protocol,
            "address": self.address,
            "port": self.port,
            "timeout": self.timeout,
            "payload": self.payload,
        }


@record(frozen=True)
class ProbeResult:
    """How one probe went: ``detail`` is for the user, ``seconds`` is the whole probe's wall time."""

    probe: Probe
    ok: bool
    detail: str
    seconds: float

    def describe(self) -> str:
        return f"{self.probe.describe()}: {'passed' if self.ok else 'failed'}, {self.detail}"

    def as_dict(self) -> dict:
        return {"probe": self.probe.as_dict(), "ok": self.ok, "detail": self.detail, "seconds": round(self.seconds, 3)}


def target_label(protocol: str, address: str, port) -> str:
    host = f"[{address}]" if ":" in address and port is not None else address
    return f"{protocol} {host}" if port is None else f"{protocol} {host}:{port}"


def seconds_text(value: float) -> str:
    """``3`` for 3.0, ``0.25`` for 0.25: how a timeout reads in messages."""
    return f"{round(value, 3):g}"


def probes_to_dicts(probes) -> list:
    """Plain data for module arguments; ``parse_probes`` reads it back to the same probes."""
    return [probe.as_dict() for probe in probes]


# -- parsing ---------------------------------------------------------------------------------


def parse_probes(value, where: str = "palisade_confirm_probes") -> list:
    """The probes of a user's list; ``ProbeSpecError`` (an ``InputError``) lists every problem.

    ``None`` means no probes. A field given as ``null`` counts as not given, so the output of
    ``probes_to_dicts`` (which writes every field) parses back unchanged.
    """
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ProbeSpecError([f"{where}: expected a list of probes, got {_kind(value)}"], where)
    problems = []
    probes = [_parse_probe(item, f"{where}[{index}]", problems) for index, item in enumerate(value)]
    if problems:
        raise ProbeSpecError(problems, where)
    return probes


def _parse_probe(item, place: str, problems: list):
    if not isinstance(item, dict):
        problems.append(f"{place}: expected a mapping with protocol and address, got {_kind(item)}")
        return None
    for key in item:
        if key not in FIELDS and key != ADDRESS_ALIAS:
            problems.append(f"{place}: unknown field {str(key)!r}{_hint(str(key))}")
    given = {key: item[key] for key in FIELDS if item.get(key) is not None}
    address_field = "address"
    if item.get(ADDRESS_ALIAS) is not None:
        if "address" in given:
            problems.append(f"{place}: {ADDRESS_ALIAS} and address are two names for one field: give one of them")
            return None
        given["address"], address_field = item[ADDRESS_ALIAS], ADDRESS_ALIAS
    protocol = _parse_protocol(given, place, problems)
    address = _parse_address(given, place, problems, address_field)
    port = _parse_port(given, protocol, place, problems)
    timeout = _parse_timeout(given, place, problems)
    payload = _parse_payload(given, protocol, place, problems)
    name = _parse_name(given, place, problems)
    if None in (protocol, address) or any(value is _BAD for value in (port, timeout, payload, name)):
        return None
    return Probe(name or target_label(protocol, address, port), protocol, address, port, timeout, payload)


def _hint(key: str) -> str:
    close = difflib.get_close_matches(key.lower(), FIELDS, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known fields: {', '.join(sorted(FIELDS))})"


def _parse_protocol(given: dict, place: str, problems: list):
    if "protocol" not in given:
        problems.append(f"{place}: missing field 'protocol' (tcp, udp or icmp)")
        return None
    value = given["protocol"]
    if isinstance(value, str) and value.lower() in PROTOCOLS:
        return value.lower()
    problems.append(f"{place}.protocol: expected tcp, udp or icmp, got {_show(value)}")
    return None


def _parse_address(given: dict, place: str, problems: list, field: str = "address"):
    """A compressed IP literal, or a DNS name as given; ``None`` after reporting a problem.
    ``field`` is the name the user gave it (``address`` or ``host``), for the messages."""
    if "address" not in given:
        problems.append(f"{place}: missing field 'address' (an IPv4 or IPv6 address or a DNS name)")
        return None
    value = given["address"]
    if isinstance(value, str) and "%" in value:
        problems.append(f"{place}.{field}: addresses with a zone index ('%eth0') are not supported, got {_show(value)}")
        return None
    if isinstance(value, str):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
        if len(value) > MAX_NAME_LENGTH:
            problems.append(f"{place}.{field}: a DNS name has at most {MAX_NAME_LENGTH} characters, got one of {len(value)}")
            return None
        if _is_dns_name(value):
            return value
    problems.append(f"{place}.{field}: expected an IPv4 or IPv6 address or a DNS name, got {_show(value)}")
    return None


def _is_dns_name(value: str) -> bool:
    """Letters, digits and inner hyphens in dot-separated labels; an all-digit last label is a mistyped IPv4 address."""
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    return all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def _parse_port(given: dict, protocol, place: str, problems: list):
    if "port" not in given:
        if protocol in ("tcp", "udp"):
            problems.append(f"{place}: missing field 'port' ({protocol} probes need a port from 1 to 65535)")
            return _BAD
        return None
    if protocol == "icmp":
        problems.append(f"{place}.port: icmp probes have no port")
        return _BAD
    port = _integer(given["port"])
    if port is None or not 1 <= port <= 65535:
        problems.append(f"{place}.port: expected an integer from 1 to 65535, got {_show(given['port'])}")
        return _BAD
    return port


def _parse_timeout(given: dict, place: str, problems: list):
    if "timeout" not in given:
        return DEFAULT_TIMEOUT
    timeout = _number(given["timeout"])
    if timeout is None or not 0 < timeout <= MAX_TIMEOUT:
        problems.append(
            f"{place}.timeout: expected a number of seconds above 0 and at most {seconds_text(MAX_TIMEOUT)}, got {_show(given['timeout'])}"
        )
        return _BAD
    return timeout


def _parse_payload(given: dict, protocol, place: str, problems: list):
    if "payload" not in given:
        return DEFAULT_PAYLOAD if protocol == "udp" else None
    value = given["payload"]
    if protocol in ("tcp", "icmp"):
        problems.append(f"{place}.payload: only udp probes send a payload")
        return _BAD
    if not isinstance(value, str) or not value:
        problems.append(f"{place}.payload: expected a non-empty string, got {_show(value)}")
        return _BAD
    return value


def _parse_name(given: dict, place: str, problems: list):
    if "name" not in given:
        return ""
    value = given["name"]
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{place}.name: expected a non-empty string, got {_show(value)}")
        return _BAD
    return value


def _integer(value):
    """An int, or a string of digits (templating gives strings); booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return float(value)
    return None


def _kind(value) -> str:
    """What a value is, in the words of YAML users: ``a str``, ``a list``, ``null``."""
    if value is None:
        return "null"
    for kind, name in _KINDS:
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


def _show(value) -> str:
    """A value as a message shows it: quoted strings, plain numbers, the kind of anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, (int, float)):
        return repr(value)
    return _kind(value)


# -- running ---------------------------------------------------------------------------------


def run_probes(probes, runner=None, stop_at_first_failure: bool = True) -> list:
    """Run probes in order; by default the first failure ends the run (the rules go back anyway)."""
    runner = runner if runner is not None else Runner()
    results = []
    for probe in probes:
        result = run_probe(probe, runner)
        results.append(result)
        if stop_at_first_failure and not result.ok:
            break
    return results


def run_probe(probe: Probe, runner=None) -> ProbeResult:
    """Run one probe; every network outcome, a resolver failure included, is a result, never an exception."""
    started = time.monotonic()
    try:
        addresses = _resolve(probe)
    except OSError as error:
        reason = getattr(error, "strerror", None) or str(error)
        return ProbeResult(probe, False, f"could not resolve name {probe.address!r}: {reason}", time.monotonic() - started)
    check = _CHECKS[probe.protocol]
    deadline = time.monotonic() + probe.timeout
    details = []
    for index, (family, sockaddr) in enumerate(addresses):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            details.append(f"{len(addresses) - index} more address(es) not tried: the timeout was used up")
            break
        ok, detail = check(probe, family, sockaddr, remaining, runner)
        details.append(detail if _is_literal(probe.address) else f"{sockaddr[0]}: {detail}")
        if ok:
            return ProbeResult(probe, True, details[-1], time.monotonic() - started)
    return ProbeResult(probe, False, "; ".join(details), time.monotonic() - started)


def _is_literal(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _resolve(probe: Probe) -> list:
    """``(family, sockaddr)`` pairs in the resolver's order, each address once; raises ``OSError``."""
    flags = socket.AI_NUMERICHOST if _is_literal(probe.address) else 0
    found = socket.getaddrinfo(probe.address, probe.port or 0, 0, _SOCKET_TYPES[probe.protocol], 0, flags)
    addresses, seen = [], set()
    for family, _type, _proto, _canonical, sockaddr in found:
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in seen:
            seen.add(sockaddr[0])
            addresses.append((family, sockaddr))
    if not addresses:
        raise OSError(f"no IPv4 or IPv6 address for {probe.address!r}")
    return addresses


# per socket protocol: what an ICMP port unreachable means, and how a pass reads
_SOCKET_OUTCOMES = {"tcp": ("connection refused", "connected"), "udp": ("port unreachable", "reply received")}


def _check_socket(probe: Probe, family, sockaddr, timeout: float, runner):
    """tcp passes when the handshake completes; udp when a reply to the payload arrives."""
    refused, passed = _SOCKET_OUTCOMES[probe.protocol]
    with socket.socket(family, _SOCKET_TYPES[probe.protocol]) as sock:
        sock.settimeout(timeout)
        started = time.monotonic()
        try:
            sock.connect(sockaddr)
            if probe.protocol == "udp":
                sock.send(probe.payload.encode("utf-8"))
                sock.recv(65535)
        except socket.timeout:
            return False, f"no answer within {seconds_text(timeout)} s"
        except OSError as error:
            if error.errno == errno.ECONNREFUSED:
                return False, refused
            return False, _os_error_detail(error)
        return True, f"{passed} in {time.monotonic() - started:.3f} s"


def _check_icmp(probe: Probe, family, sockaddr, timeout: float, runner):
    runner = runner if runner is not None else Runner()
    wait = max(1, math.ceil(timeout))
    version = "-4" if family == socket.AF_INET else "-6"
    started = time.monotonic()
    call = runner.run(["ping", version, "-n", "-c", "1", "-W", str(wait), sockaddr[0]], check=False)
    if call.rc == 0:
        return True, f"reply received in {time.monotonic() - started:.3f} s"
    if call.rc == 127:
        return False, _PING_MISSING
    error = _PING_ERROR.search(call.stdout or "")
    if call.rc == 1 and error:
        return False, f"{error.group(2).strip()} (reported by {error.group(1)})"
    if call.rc == 1 and not (call.stderr or "").strip():
        return False, f"no answer within {wait} s"
    output = (call.stderr or "").strip() or (call.stdout or "").strip() or "(no output)"
    return False, f"ping failed (exit status {call.rc}): {output.splitlines()[-1]}"


_CHECKS = {"tcp": _check_socket, "udp": _check_socket, "icmp": _check_icmp}


def _os_error_detail(error: OSError) -> str:
    known = _ERRNO_DETAILS.get(error.errno)
    if known:
        return known
    return error.strerror or str(error)
