# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Confirm probes: parsing with exact messages, and real tcp, udp and ping runs on loopback only."""

from __future__ import annotations

import errno
import socket
import threading

import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import probes as probes_module
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.commands import Runner
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import InputError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.probes import (
    Probe,
    ProbeResult,
    parse_probes,
    probes_to_dicts,
    run_probe,
    run_probes,
)

W = "palisade_confirm_probes"
LOOPBACKS = [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]
LOOPBACK_IDS = ["ipv4", "ipv6"]


def one(spec: dict) -> Probe:
    return parse_probes([spec])[0]


def problems(value) -> list:
    with pytest.raises(InputError) as raised:
        parse_probes(value)
    return raised.value.problems


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, expected",
    [
        (
            {"protocol": "tcp", "address": "198.51.100.7", "port": 443},
            Probe("tcp 198.51.100.7:443", "tcp", "198.51.100.7", 443, 3.0, None),
        ),
        (
            {"protocol": "UDP", "address": "2001:DB8:0::0001", "port": "53"},
            Probe("udp [2001:db8::1]:53", "udp", "2001:db8::1", 53, 3.0, "palisade-probe"),
        ),
        ({"protocol": "Icmp", "address": "198.51.100.1"}, Probe("icmp 198.51.100.1", "icmp", "198.51.100.1", None, 3.0, None)),
        ({"protocol": "icmp", "address": "2001:db8::1"}, Probe("icmp 2001:db8::1", "icmp", "2001:db8::1", None, 3.0, None)),
        (
            {"name": "api", "protocol": "tcp", "address": "api.example.com", "port": 6443, "timeout": "10"},
            Probe("api", "tcp", "api.example.com", 6443, 10.0, None),
        ),
        (
            {"protocol": "udp", "address": "ntp1.example.com.", "port": 123, "timeout": 0.5, "payload": "hello"},
            Probe("udp ntp1.example.com.:123", "udp", "ntp1.example.com.", 123, 0.5, "hello"),
        ),
        ({"protocol": "tcp", "address": "db-1", "port": 1, "timeout": 60}, Probe("tcp db-1:1", "tcp", "db-1", 1, 60.0, None)),
        ({"protocol": "tcp", "address": "x", "port": 65535, "timeout": "2.5"}, Probe("tcp x:65535", "tcp", "x", 65535, 2.5, None)),
        (
            {"protocol": "icmp", "address": "198.51.100.1", "port": None, "payload": None, "name": None},
            Probe("icmp 198.51.100.1", "icmp", "198.51.100.1", None, 3.0, None),
        ),
        ({"protocol": "icmp", "address": "a" * 63 + ".b"}, Probe(f"icmp {'a' * 63}.b", "icmp", "a" * 63 + ".b", None, 3.0, None)),
        # host: the design's name for the address
        ({"host": "198.51.100.5", "port": 2379, "protocol": "tcp"}, Probe("tcp 198.51.100.5:2379", "tcp", "198.51.100.5", 2379, 3.0, None)),
        ({"protocol": "icmp", "host": "db-1", "address": None}, Probe("icmp db-1", "icmp", "db-1", None, 3.0, None)),
    ],
)
def test_good_probes_are_normalised(spec, expected):
    assert one(spec) == expected


def test_no_probes():
    assert parse_probes(None) == []
    assert parse_probes([]) == []


def test_plain_dicts_parse_back_to_the_same_probes():
    probes = parse_probes(
        [
            {"protocol": "TCP", "address": "2001:db8::0:7", "port": "443"},
            {"name": "dns", "protocol": "udp", "address": "ns1.example.com", "port": 53, "timeout": 1},
            {"protocol": "icmp", "address": "198.51.100.1"},
        ]
    )
    assert probes_to_dicts(probes) == [
        {"name": "tcp [2001:db8::7]:443", "protocol": "tcp", "address": "2001:db8::7", "port": 443, "timeout": 3.0, "payload": None},
        {"name": "dns", "protocol": "udp", "address": "ns1.example.com", "port": 53, "timeout": 1.0, "payload": "palisade-probe"},
        {"name": "icmp 198.51.100.1", "protocol": "icmp", "address": "198.51.100.1", "port": None, "timeout": 3.0, "payload": None},
    ]
    assert parse_probes(probes_to_dicts(probes)) == probes


TCP = {"protocol": "tcp", "address": "198.51.100.7", "port": 443}
UDP = {"protocol": "udp", "address": "198.51.100.7", "port": 53}
ICMP = {"protocol": "icmp", "address": "198.51.100.1"}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("tcp 1.2.3.4:22", [f"{W}: expected a list of probes, got a str"]),
        ({"protocol": "tcp"}, [f"{W}: expected a list of probes, got a mapping"]),
        (["tcp"], [f"{W}[0]: expected a mapping with protocol and address, got a str"]),
        ([TCP, TCP, None], [f"{W}[2]: expected a mapping with protocol and address, got null"]),
        ([[TCP]], [f"{W}[0]: expected a mapping with protocol and address, got a list"]),
        ([dict(TCP, adress="x")], [f"{W}[0]: unknown field 'adress' (did you mean 'address'?)"]),
        ([dict(TCP, Port=1)], [f"{W}[0]: unknown field 'Port' (did you mean 'port'?)"]),
        ([dict(TCP, dport=1)], [f"{W}[0]: unknown field 'dport' (did you mean 'port'?)"]),
        ([dict(TCP, action="Allow")], [f"{W}[0]: unknown field 'action' (known fields: address, name, payload, port, protocol, timeout)"]),
        ([{"address": "198.51.100.7", "port": 22}], [f"{W}[0]: missing field 'protocol' (tcp, udp or icmp)"]),
        ([dict(TCP, protocol="sctp")], [f"{W}[0].protocol: expected tcp, udp or icmp, got 'sctp'"]),
        ([dict(TCP, protocol=6)], [f"{W}[0].protocol: expected tcp, udp or icmp, got 6"]),
        ([dict(TCP, protocol="tcp ")], [f"{W}[0].protocol: expected tcp, udp or icmp, got 'tcp '"]),
        ([{"protocol": "icmp"}], [f"{W}[0]: missing field 'address' (an IPv4 or IPv6 address or a DNS name)"]),
        ([dict(ICMP, address="")], [f"{W}[0].address: expected an IPv4 or IPv6 address or a DNS name, got ''"]),
        ([dict(ICMP, address="198.51.100.300")], [f"{W}[0].address: expected an IPv4 or IPv6 address or a DNS name, got '198.51.100.300'"]),
        (
            [dict(ICMP, address="198.51.100.0/24")],
            [f"{W}[0].address: expected an IPv4 or IPv6 address or a DNS name, got '198.51.100.0/24'"],
        ),
        ([dict(ICMP, address="my_host")], [f"{W}[0].address: expected an IPv4 or IPv6 address or a DNS name, got 'my_host'"]),
        (
            [dict(ICMP, address="-db.example.com")],
            [f"{W}[0].address: expected an IPv4 or IPv6 address or a DNS name, got '-db.example.com'"],
        ),
        (
            [dict(ICMP, address="db..example.com")],
            [f"{W}[0].address: expected an IPv4 or IPv6 address or a DNS name, got 'db..example.com'"],
        ),
        (
            [dict(ICMP, address="a" * 64 + ".com")],
            [f"{W}[0].address: expected an IPv4 or IPv6 address or a DNS name, got '{'a' * 64}.com'"],
        ),
        ([dict(ICMP, address=["198.51.100.1"])], [f"{W}[0].address: expected an IPv4 or IPv6 address or a DNS name, got a list"]),
        ([dict(ICMP, address=("a" * 62 + ".") * 4 + "com")], [f"{W}[0].address: a DNS name has at most 253 characters, got one of 255"]),
        (
            [dict(ICMP, address="fe80::1%eth0")],
            [f"{W}[0].address: addresses with a zone index ('%eth0') are not supported, got 'fe80::1%eth0'"],
        ),
        ([dict(TCP, host="198.51.100.8")], [f"{W}[0]: host and address are two names for one field: give one of them"]),
        ([{"protocol": "icmp", "host": "198.51.100.0/24"}], [f"{W}[0].host: expected an IPv4 or IPv6 address or a DNS name, got '198.51.100.0/24'"]),
        ([{"protocol": "icmp", "host": "fe80::1%eth0"}], [f"{W}[0].host: addresses with a zone index ('%eth0') are not supported, got 'fe80::1%eth0'"]),
        ([{"protocol": "tcp", "address": "198.51.100.7"}], [f"{W}[0]: missing field 'port' (tcp probes need a port from 1 to 65535)"]),
        ([{"protocol": "udp", "address": "198.51.100.7"}], [f"{W}[0]: missing field 'port' (udp probes need a port from 1 to 65535)"]),
        ([dict(TCP, port=70000)], [f"{W}[0].port: expected an integer from 1 to 65535, got 70000"]),
        ([dict(TCP, port=0)], [f"{W}[0].port: expected an integer from 1 to 65535, got 0"]),
        ([dict(TCP, port=True)], [f"{W}[0].port: expected an integer from 1 to 65535, got true"]),
        ([dict(TCP, port=443.0)], [f"{W}[0].port: expected an integer from 1 to 65535, got 443.0"]),
        ([dict(TCP, port="https")], [f"{W}[0].port: expected an integer from 1 to 65535, got 'https'"]),
        ([dict(TCP, port="-1")], [f"{W}[0].port: expected an integer from 1 to 65535, got '-1'"]),
        ([dict(TCP, port=" 443")], [f"{W}[0].port: expected an integer from 1 to 65535, got ' 443'"]),
        ([dict(ICMP, port=7)], [f"{W}[0].port: icmp probes have no port"]),
        ([dict(TCP, timeout=0)], [f"{W}[0].timeout: expected a number of seconds above 0 and at most 60, got 0"]),
        ([dict(TCP, timeout=-1.5)], [f"{W}[0].timeout: expected a number of seconds above 0 and at most 60, got -1.5"]),
        ([dict(TCP, timeout=61)], [f"{W}[0].timeout: expected a number of seconds above 0 and at most 60, got 61"]),
        ([dict(TCP, timeout=float("nan"))], [f"{W}[0].timeout: expected a number of seconds above 0 and at most 60, got nan"]),
        ([dict(TCP, timeout=False)], [f"{W}[0].timeout: expected a number of seconds above 0 and at most 60, got false"]),
        ([dict(TCP, timeout="3s")], [f"{W}[0].timeout: expected a number of seconds above 0 and at most 60, got '3s'"]),
        ([dict(TCP, payload="x")], [f"{W}[0].payload: only udp probes send a payload"]),
        ([dict(ICMP, payload="x")], [f"{W}[0].payload: only udp probes send a payload"]),
        ([dict(UDP, payload="")], [f"{W}[0].payload: expected a non-empty string, got ''"]),
        ([dict(UDP, payload=42)], [f"{W}[0].payload: expected a non-empty string, got 42"]),
        ([dict(TCP, name="")], [f"{W}[0].name: expected a non-empty string, got ''"]),
        ([dict(TCP, name={"a": 1})], [f"{W}[0].name: expected a non-empty string, got a mapping"]),
        (
            [TCP, {"protocol": "udp", "address": "198.51.100.7", "port": 70000}],
            [f"{W}[1].port: expected an integer from 1 to 65535, got 70000"],
        ),
    ],
)
def test_bad_probes(value, expected):
    assert problems(value) == expected


def test_every_problem_is_reported_at_once_in_order():
    with pytest.raises(InputError) as raised:
        parse_probes(
            [
                {"protocol": "sctp", "adress": "x", "port": True, "payload": 1},
                "tcp 198.51.100.7:22",
                dict(ICMP, port=7, timeout="0"),
                TCP,
            ]
        )
    assert str(raised.value) == (
        "8 problems in palisade_confirm_probes:\n"
        f"- {W}[0]: unknown field 'adress' (did you mean 'address'?)\n"
        f"- {W}[0].protocol: expected tcp, udp or icmp, got 'sctp'\n"
        f"- {W}[0]: missing field 'address' (an IPv4 or IPv6 address or a DNS name)\n"
        f"- {W}[0].port: expected an integer from 1 to 65535, got true\n"
        f"- {W}[0].payload: expected a non-empty string, got 1\n"
        f"- {W}[1]: expected a mapping with protocol and address, got a str\n"
        f"- {W}[2].port: icmp probes have no port\n"
        f"- {W}[2].timeout: expected a number of seconds above 0 and at most 60, got '0'"
    )


def test_one_problem_is_the_whole_message_and_the_place_can_be_renamed():
    with pytest.raises(InputError) as raised:
        parse_probes([dict(TCP, port=0)], where="hostvars['web1'].palisade_confirm_probes")
    assert str(raised.value) == "hostvars['web1'].palisade_confirm_probes[0].port: expected an integer from 1 to 65535, got 0"


@pytest.mark.parametrize(
    "spec, text",
    [
        (dict(TCP, name="api", port=6443), "probe 'api' (tcp 198.51.100.7:6443, timeout 3 s)"),
        (dict(UDP, address="2001:db8::1", timeout=0.25), "probe 'udp [2001:db8::1]:53' (udp [2001:db8::1]:53, timeout 0.25 s)"),
        (dict(ICMP, name="gateway", timeout="10"), "probe 'gateway' (icmp 198.51.100.1, timeout 10 s)"),
        (dict(ICMP, address="gw.example.com"), "probe 'icmp gw.example.com' (icmp gw.example.com, timeout 3 s)"),
    ],
)
def test_describe(spec, text):
    assert one(spec).describe() == text


def test_a_result_describes_itself_and_is_plain_data():
    result = ProbeResult(one(dict(TCP, name="api")), False, "connection refused", 0.0123456)
    assert result.describe() == "probe 'api' (tcp 198.51.100.7:443, timeout 3 s): failed, connection refused"
    assert result.as_dict() == {
        "probe": one(dict(TCP, name="api")).as_dict(),
        "ok": False,
        "detail": "connection refused",
        "seconds": 0.012,
    }


# -- running on loopback ---------------------------------------------------------------------


@pytest.fixture(params=LOOPBACKS, ids=LOOPBACK_IDS)
def loopback(request):
    return request.param


@pytest.fixture
def tcp_listener(loopback):
    family, host = loopback
    with socket.socket(family, socket.SOCK_STREAM) as server:
        server.bind((host, 0))
        server.listen(8)
        yield host, server.getsockname()[1]


@pytest.fixture
def tcp_closed_port(loopback):
    """A port bound but not listening: nothing else can take it, and a SYN to it gets a reset."""
    family, host = loopback
    with socket.socket(family, socket.SOCK_STREAM) as holder:
        holder.bind((host, 0))
        yield host, holder.getsockname()[1]


@pytest.fixture
def tcp_full_backlog(loopback):
    """A listener whose accept queue is full: the kernel drops further SYNs, so a connect only times out."""
    family, host = loopback
    with socket.socket(family, socket.SOCK_STREAM) as server:
        server.bind((host, 0))
        server.listen(0)
        port = server.getsockname()[1]
        clients = []
        try:
            for _round in range(8):
                client = socket.socket(family, socket.SOCK_STREAM)
                clients.append(client)
                client.settimeout(0.1)
                try:
                    client.connect((host, port))
                except socket.timeout:
                    break
            else:
                pytest.fail("the accept queue never filled up")
            yield host, port
        finally:
            for client in clients:
                client.close()


class UdpServer:
    """A UDP socket on loopback that answers every datagram with ``reply`` (None: stays silent)."""

    def __init__(self, family, host, reply=b"pong"):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.05)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.reply = reply
        self.received = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            self.received.append(data)
            if self.reply is not None:
                self.sock.sendto(self.reply, peer)

    def stop(self):
        self.stopping.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def udp_echo(loopback):
    server = UdpServer(*loopback)
    yield server
    server.stop()


@pytest.fixture
def udp_silent(loopback):
    server = UdpServer(*loopback, reply=None)
    yield server
    server.stop()


def test_tcp_handshake_passes(tcp_listener):
    host, port = tcp_listener
    result = run_probe(one({"protocol": "tcp", "address": host, "port": port, "timeout": 1}))
    assert result.ok, result.detail
    assert result.detail.startswith("connected in ") and result.detail.endswith(" s")
    assert 0 <= result.seconds < 1


def test_tcp_closed_port_is_refused(tcp_closed_port):
    host, port = tcp_closed_port
    result = run_probe(one({"protocol": "tcp", "address": host, "port": port, "timeout": 1}))
    assert (result.ok, result.detail) == (False, "connection refused")


def test_tcp_silence_times_out(tcp_full_backlog):
    host, port = tcp_full_backlog
    result = run_probe(one({"protocol": "tcp", "address": host, "port": port, "timeout": 0.3}))
    assert (result.ok, result.detail) == (False, "no answer within 0.3 s")
    assert 0.3 <= result.seconds < 1


def test_udp_reply_passes_and_the_payload_is_sent(udp_echo):
    probe = one({"protocol": "udp", "address": udp_echo.host, "port": udp_echo.port, "timeout": 1})
    custom = one({"protocol": "udp", "address": udp_echo.host, "port": udp_echo.port, "timeout": 1, "payload": "ping é"})
    results = run_probes([probe, custom])
    assert [result.ok for result in results] == [True, True], [result.detail for result in results]
    assert all(result.detail.startswith("reply received in ") for result in results)
    assert udp_echo.received == [b"palisade-probe", "ping é".encode("utf-8")]


def test_udp_without_a_listener_is_port_unreachable(loopback):
    family, host = loopback
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    result = run_probe(one({"protocol": "udp", "address": host, "port": port, "timeout": 1}))
    assert (result.ok, result.detail) == (False, "port unreachable")
    assert result.seconds < 0.5


def test_udp_without_a_reply_fails(udp_silent):
    result = run_probe(one({"protocol": "udp", "address": udp_silent.host, "port": udp_silent.port, "timeout": 0.2}))
    assert (result.ok, result.detail) == (False, "no answer within 0.2 s")
    assert udp_silent.received == [b"palisade-probe"]


def test_icmp_runs_the_real_ping(loopback):
    family, host = loopback
    runner = Runner()
    result = run_probe(one({"protocol": "icmp", "address": host, "timeout": 0.5}), runner)
    assert result.ok, result.detail
    assert result.detail.startswith("reply received in ")
    version = "-4" if family == socket.AF_INET else "-6"
    assert [call.argv for call in runner.calls] == [("ping", version, "-n", "-c", "1", "-W", "1", host)]


class FakePing(Runner):
    def __init__(self, rc, stdout="", stderr=""):
        super().__init__(search_path="")
        self.answer = (rc, stdout, stderr)

    def execute(self, argv, stdin):
        return self.answer


@pytest.mark.parametrize(
    "answer, detail",
    [
        ((127, "", "ping: command not found in /usr/sbin (install the ping package)"), probes_module._PING_MISSING),
        ((1, "PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.\n\n--- 127.0.0.1 ping statistics ---\n", ""), "no answer within 3 s"),
        (
            (1, "PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.\nFrom 192.0.2.1 icmp_seq=1 Destination Host Unreachable\n", ""),
            "Destination Host Unreachable (reported by 192.0.2.1)",
        ),
        (
            (1, "PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.\n", "ping: sendmsg: Operation not permitted\n"),
            "ping failed (exit status 1): ping: sendmsg: Operation not permitted",
        ),
        ((2, "", "ping: connect: Network is unreachable\n"), "ping failed (exit status 2): ping: connect: Network is unreachable"),
        ((2, "", ""), "ping failed (exit status 2): (no output)"),
    ],
)
def test_icmp_failures_say_what_ping_said(answer, detail):
    result = run_probe(one({"protocol": "icmp", "address": "127.0.0.1", "timeout": 2.5}), FakePing(*answer))
    assert (result.ok, result.detail) == (False, detail)


def test_a_missing_ping_is_named():
    result = run_probe(one({"protocol": "icmp", "address": "::1"}), FakePing(127))
    assert result.detail == "ping is not installed on this host (package iputils-ping on Debian and Ubuntu, iputils on Fedora and RHEL)"


def test_a_name_that_does_not_resolve_fails_cleanly():
    result = run_probe(one({"protocol": "tcp", "address": "nonexistent.invalid", "port": 80, "timeout": 0.5}))
    assert not result.ok
    assert result.detail.startswith("could not resolve name 'nonexistent.invalid': ")


def test_resolver_failure_detail(monkeypatch):
    def no_name(*args):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_name)
    result = run_probe(one({"protocol": "icmp", "address": "db.example.com"}), FakePing(0))
    assert (result.ok, result.detail) == (False, "could not resolve name 'db.example.com': Name or service not known")


def test_a_name_tries_its_addresses_in_order(monkeypatch):
    """127.0.0.1 refuses (bound, not listening), ::1 accepts on the same port; details name the address."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        found = [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
        ]
        monkeypatch.setattr(socket, "getaddrinfo", lambda name, *args: found if name == "db.example.com" else [])
        probe = one({"protocol": "tcp", "address": "db.example.com", "port": port, "timeout": 1})
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as server:
            try:
                server.bind(("::1", port))
            except OSError:
                pytest.skip(f"port {port} is taken on ::1")
            server.listen(1)
            passed = run_probe(probe)
        failed = run_probe(probe)
    assert passed.ok and passed.detail.startswith("::1: connected in "), passed.detail
    assert (failed.ok, failed.detail) == (False, "127.0.0.1: connection refused; ::1: connection refused")


class FailingSocket:
    """Stands in for ``socket.socket``: every connect fails with the given errno."""

    def __init__(self, number):
        self.number = number

    def __call__(self, *args):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def settimeout(self, value):
        pass

    def connect(self, address):
        raise OSError(self.number, errno.errorcode.get(self.number, "?") + " strerror")


@pytest.mark.parametrize(
    "protocol, number, detail",
    [
        ("tcp", errno.ECONNREFUSED, "connection refused"),
        ("udp", errno.ECONNREFUSED, "port unreachable"),
        ("tcp", errno.ENETUNREACH, "network unreachable"),
        ("udp", errno.EHOSTUNREACH, "host unreachable"),
        ("tcp", errno.ECONNRESET, "connection reset"),
        ("tcp", errno.EPERM, "sending not permitted (an output rule on this host drops it?)"),
        ("udp", errno.EACCES, "sending not permitted (an output rule on this host drops it?)"),
        ("tcp", errno.EADDRNOTAVAIL, "no local address to send from"),
        ("tcp", errno.EIO, "EIO strerror"),
    ],
)
def test_socket_errors_read_as_words(monkeypatch, protocol, number, detail):
    monkeypatch.setattr(socket, "socket", FailingSocket(number))
    result = run_probe(one({"protocol": protocol, "address": "127.0.0.1", "port": 9, "timeout": 1}))
    assert (result.ok, result.detail) == (False, detail)


def test_run_probes_stops_at_the_first_failure():
    answers = iter([(0, "", ""), (1, "", ""), (0, "", "")])

    class Ping(Runner):
        def execute(self, argv, stdin):
            return next(answers)

    probes = parse_probes([{"protocol": "icmp", "address": "127.0.0.1", "name": name, "timeout": 1} for name in ("a", "b", "c")])
    results = run_probes(probes, Ping(search_path=""))
    assert [(r.probe.name, r.ok, r.detail) for r in results] == [("a", True, results[0].detail), ("b", False, "no answer within 1 s")]


def test_run_probes_can_run_them_all():
    class Ping(Runner):
        def execute(self, argv, stdin):
            return (1, "", "") if argv[-1] == "127.0.0.1" else (0, "", "")

    probes = parse_probes([{"protocol": "icmp", "address": address, "timeout": 1} for address in ("127.0.0.1", "::1")])
    results = run_probes(probes, Ping(search_path=""), stop_at_first_failure=False)
    assert [(r.probe.address, r.ok) for r in results] == [("127.0.0.1", False), ("::1", True)]
    assert run_probes([]) == []
