# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ansible-playbook palisade.firewall.explain`` on the example inventory; no host is contacted."""

from __future__ import annotations

import pytest
import yaml
from test_resolve import EXAMPLES, ansible_playbook


def explain(*extra: str):
    args = []
    for item in extra:
        args += ["-e", item]
    return ansible_playbook("palisade.firewall.explain", *args, cwd=EXAMPLES)


CASES = [
    (
        "ssh from the management set",
        ["host=my-host", "in_interface=eth0", "src=198.51.100.7", "dst=my-host", "protocol=TCP", "dst_port=22"],
        "verdict: allow, decided by: failsafe inbound tcp 22",
    ),
    (
        "kubelet from anywhere",
        ["host=my-host", "in_interface=eth0", "src=203.0.113.50", "dst=my-host", "protocol=tcp", "dst_port=10250"],
        "verdict: allow, decided by: policy k8s-worker ingress rule 2",
    ),
    (
        "8080 denied at end of tier",
        ["host=my-host", "in_interface=eth0", "src=admin-1", "dst=198.51.100.11", "protocol=6", "dst_port=8080"],
        "verdict: deny, decided by: end of tier: no policy allowed ingress on my-host-eth0 (default deny)",
    ),
    (
        "egress to etcd over IPv6",
        ["host=my-host", "out_interface=eth0", "src=2001:db8:100::11", "dst=etcd-1", "protocol=TCP", "dst_port=2379"],
        "verdict: allow, decided by: failsafe outbound tcp 2379",
    ),
    (
        "interface without an endpoint",
        ["host=admin-1", "in_interface=eth0", "src=my-host", "dst=admin-1", "protocol=ICMP", "icmp_type=8"],
        "verdict: untouched (no owned rule decided; the kernel's other rules do)",
    ),
]


@pytest.mark.parametrize("extra, headline", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_explain_playbook(extra, headline):
    run = explain(*extra)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f'"{headline}"' in run.stdout


ERRORS = [
    (["host=nope", "src=198.51.100.7", "dst=198.51.100.11", "protocol=TCP", "dst_port=22", "in_interface=eth0"], "host: 'nope' is not an inventory host"),
    (
        ["host=my-host", "src=unknown-host", "dst=my-host", "protocol=TCP", "dst_port=22", "in_interface=eth0"],
        "src: 'unknown-host' is neither an IP address nor an inventory host",
    ),
    (
        ["host=my-host", "src=198.51.100.7", "dst=my-host", "protocol=GRE2", "in_interface=eth0"],
        "protocol: expected TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255, got 'GRE2'",
    ),
]


@pytest.mark.parametrize("extra, message", ERRORS, ids=["unknown host", "unknown src", "bad protocol"])
def test_explain_playbook_errors(extra, message):
    run = explain(*extra)
    assert run.returncode == 2
    assert message in run.stdout + run.stderr


def test_a_file_of_packets_gives_one_line_each_and_the_single_answers(tmp_path):
    """The CASES above as one file: the same verdicts, one line per packet, in order."""
    packets = []
    for _name, extra, _headline in CASES:
        item = dict(option.split("=", 1) for option in extra)
        packets.append(item)
    path = tmp_path / "packets.yml"
    path.write_text(yaml.safe_dump(packets))
    run = explain(f"packets_file={path}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert '"5 packets: 3 allow, 1 deny, 1 untouched"' in run.stdout
    for item, (_name, _extra, headline) in zip(packets, CASES):
        assert f'"{item["host"]}: ' in run.stdout
        assert headline.removeprefix("verdict: ") in run.stdout
    lines = [line.strip().strip('",') for line in run.stdout.splitlines() if line.strip().startswith(('"my-host: ', '"admin-1: '))]
    assert [line.split(": ", 1)[0] for line in lines] == [item["host"] for item in packets]


def test_a_bad_packet_in_the_file_names_its_index(tmp_path):
    path = tmp_path / "packets.json"
    path.write_text('[{"host": "my-host", "in_interface": "eth0", "src": "198.51.100.7", "dst": "my-host", "protocol": "TCP", "dst_port": 22},'
                    ' {"host": "my-host", "src": "198.51.100.7", "dst": "my-host", "protocol": "GRE2"}]')
    run = explain(f"packets_file={path}")
    assert run.returncode == 2
    assert "packets[1]: protocol: expected TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255, got 'GRE2'" in run.stdout + run.stderr
