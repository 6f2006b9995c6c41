# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ansible-playbook site.yml`` against three real lab hosts, over real SSH.

The tests run in file order on one lab and one project: first apply, then idempotence, check
mode, a policy change, removal, and bad input. Every host carries foreign state (a
DOCKER-USER-like chain, a fail2ban-like chain, a nat rule) from the start, which must come
through every step byte for byte.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))

from demo import FLOWS, LISTEN  # noqa: E402  (the example's flows, as the demo checks them)
from expectations import PolicyOracle  # noqa: E402
from palisade_lab import Lab  # noqa: E402
from project import ansible_playbook, connect_inventory, write_site_files  # noqa: E402
from traffic import Probe, probe, start_listeners, table  # noqa: E402

COLLECTIONS = ROOT / ".build" / "collections"
EXAMPLE = ROOT / "examples" / "inventory" / "group_vars" / "all" / "firewall.yml"
HOSTS = {"my-host": "h1", "etcd-1": "h2", "admin-1": "h3"}
GROUPS = {"my-host": "k8s_workers", "etcd-1": "etcd", "admin-1": "management"}
LABELS = {"my-host": {"role": "k8s-worker"}, "etcd-1": {"role": "etcd"}, "admin-1": {"role": "management"}}

FOREIGN = """
iptables -N DOCKER-USER
iptables -A DOCKER-USER -s 198.51.100.200/32 -j DROP
iptables -A DOCKER-USER -j RETURN
iptables -A FORWARD -j DOCKER-USER
iptables -N f2b-sshd
iptables -A f2b-sshd -s 203.0.113.250/32 -j REJECT --reject-with icmp-port-unreachable
iptables -A f2b-sshd -j RETURN
iptables -A INPUT -p tcp --dport 22 -j f2b-sshd
iptables -t nat -A POSTROUTING -s 10.88.0.0/16 ! -o eth0 -j MASQUERADE
ip6tables -N f2b-sshd
ip6tables -A f2b-sshd -s 2001:db8:ffff::1/128 -j REJECT
ip6tables -A INPUT -p tcp --dport 22 -j f2b-sshd
ipset create other-tool hash:ip
ipset add other-tool 198.51.100.201
"""


@pytest.fixture(scope="module")
def lab():
    with Lab("palit", hosts=3, subnet4="203.0.113.128/25", subnet6="2001:db8:205::/64") as instance:
        for host in instance.hosts:
            instance.exec(host, ["sh", "-ec", FOREIGN])
        yield instance


def write_project(root: Path, lab: Lab, policies: dict, endpoints: bool = True, extra: dict | None = None) -> Path:
    inventory = root / "inventory"
    (inventory / "group_vars").mkdir(parents=True, exist_ok=True)
    (inventory / "host_vars").mkdir(exist_ok=True)
    hosts = {"all": {"children": {GROUPS[name]: {"hosts": {name: {"ansible_host": lab.address(h)}}} for name, h in HOSTS.items()}}}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump({**policies, **(extra or {})}))
    for name, host in HOSTS.items():
        host_vars = {"palisade_labels": LABELS[name]}
        if endpoints and name != "admin-1":
            host_vars["palisade_host_endpoints"] = [{"interfaceName": "eth0", "expectedIPs": [lab.address(host), lab.address(host, 6)]}]
        (inventory / "host_vars" / f"{name}.yml").write_text(yaml.safe_dump(host_vars))
    connect_inventory(inventory, lab)
    write_site_files(root)
    return root


def example_policies(lab: Lab) -> dict:
    """The example's policies, with the management set on this lab's addresses."""
    policies = yaml.safe_load(EXAMPLE.read_text())
    policies["palisade_network_sets"][0]["nets"] = [
        f"{lab.address('controller')}/32",
        f"{lab.address('h3')}/32",
        f"{lab.address('controller', 6)}/128",
        f"{lab.address('h3', 6)}/128",
    ]
    return policies


def saved(lab: Lab) -> dict[str, str]:
    """Each host's whole firewall state, without counters or save-time comments."""
    states = {}
    for host in lab.hosts:
        text = ""
        for command in (["iptables-save"], ["ip6tables-save"], ["ipset", "save"]):
            output = lab.exec(host, command).stdout
            text += "\n".join(line for line in output.splitlines() if not line.startswith("#"))
            text = re.sub(r"\[\d+:\d+\]", "[0:0]", text)
        states[host] = text
    return states


def foreign(state: str) -> list[str]:
    """The lines of a saved state that the collection does not own."""
    return [line for line in state.splitlines() if "pal-" not in line]


def run_site(project: Path, lab: Lab, *args: str):
    result = ansible_playbook(project, lab, COLLECTIONS, "site.yml", *args)
    return result, result.stdout + result.stderr


def recap_changed(output: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)}


@pytest.fixture(scope="module")
def project(lab, tmp_path_factory):
    return write_project(tmp_path_factory.mktemp("project"), lab, example_policies(lab))


@pytest.fixture(scope="module")
def before(lab):
    return saved(lab)


def check_traffic(lab: Lab, project: Path) -> None:
    for name, (tcp, udp) in LISTEN.items():
        start_listeners(lab, HOSTS[name], tcp, udp)
    oracle = PolicyOracle(project / "inventory")
    results, reasons = [], {}
    for src, dst, protocol, port in FLOWS:
        for family in (4, 6):
            src_ip, dst_ip = lab.address(HOSTS[src], family), lab.address(HOSTS[dst], family)
            expected = oracle.expect(src, src_ip, dst, dst_ip, protocol, port)
            item = Probe(f"{src} -> {dst} {protocol}/{port} IPv{family}", HOSTS[src], dst_ip, protocol, port, expected.allowed)
            results.append((item, probe(lab, item)))
            reasons[item.name] = expected.reason
    report = table(results, reasons)
    print(report)
    assert all(seen == item.allowed for item, seen in results), report
    assert {item.allowed for item, _outcome in results} == {True, False}, "the flows must include both allowed and denied traffic"


def test_apply_and_real_traffic_matches_policy(lab, project, before):
    result, output = run_site(project, lab)
    assert result.returncode == 0, output
    after = saved(lab)
    for host in lab.hosts:
        assert foreign(after[host]) == foreign(before[host]), f"foreign state changed on {host}"
    assert after["h3"] == before["h3"], "admin-1 has no endpoint: nothing may be owned there"
    assert after["h1"].count("-A INPUT -j pal-INPUT") == 2, "one hook per family"
    check_traffic(lab, project)


def test_second_run_changes_nothing(lab, project):
    state = saved(lab)
    result, output = run_site(project, lab)
    assert result.returncode == 0, output
    assert set(recap_changed(output).values()) == {0}, output
    assert saved(lab) == state


def test_an_unchanged_run_costs_one_call_per_host_and_compiles_each_host_once(lab, project):
    result, output = run_site(project, lab, "-vvv")
    assert result.returncode == 0, output
    calls = Counter(re.findall(r"^<([^>]+)> SSH: EXEC ", output, re.M))
    addresses = {str(lab.address(host, 4)) for host in lab.hosts}
    assert dict(calls) == {address: 1 for address in addresses}, output
    blocks = output.split("TASK [")[1:]
    fleet = [block for block in blocks if block.startswith("Validate every inventory host and compile the hosts of this run, once]")]
    batches = [block for block in blocks if block.startswith("palisade.firewall.host_firewall : Compile the hosts of this batch")]
    assert len(fleet) == 1 and fleet[0].count("ok: [") == 1, fleet
    assert len(batches) == 3 and all("skipping: [" in block and "ok: [" not in block for block in batches), batches


def test_check_diff_shows_the_change_and_changes_nothing(lab, project):
    changed = example_policies(lab)
    changed["palisade_policies"][0]["ingress"].append({"action": "Allow", "protocol": "TCP", "destination": {"ports": [8080]}})
    write_project(project, lab, changed)
    state = saved(lab)
    result, output = run_site(project, lab, "--check", "--diff")
    assert result.returncode == 0, output
    assert "+-A pal-pi-k8s-worker" in output and "8080" in output, output
    assert saved(lab) == state


def test_policy_change_touches_only_the_affected_chains(lab, project, before):
    state = saved(lab)
    result, output = run_site(project, lab)
    assert result.returncode == 0, output
    after = saved(lab)
    assert recap_changed(output) == {"my-host": 1, "etcd-1": 0, "admin-1": 0}, output
    changed_lines = set(after["h1"].splitlines()) ^ set(state["h1"].splitlines())
    assert changed_lines and all("pal-pi-k8s-worker" in line for line in changed_lines), changed_lines
    assert after["h2"] == state["h2"]
    for host in lab.hosts:
        assert foreign(after[host]) == foreign(before[host])
    check_traffic(lab, project)


def test_removing_everything_returns_hosts_to_their_state_before(lab, project, before):
    write_project(project, lab, {"palisade_policies": [], "palisade_network_sets": []}, endpoints=False)
    result, output = run_site(project, lab)
    assert result.returncode == 0, output
    assert saved(lab) == before


def test_bad_input_fails_before_any_host_is_touched(lab, project):
    write_project(project, lab, example_policies(lab), extra={"palisade_failsafe_inbound_ports": []})
    state = saved(lab)
    result, output = run_site(project, lab)
    assert result.returncode != 0
    assert "palisade_failsafe_inbound_ports: unknown variable; did you mean 'palisade_failsafe_inbound_host_ports'?" in output
    assert "Apply the owned ruleset" not in output
    assert saved(lab) == state


def test_missing_tool_fails_naming_it(lab, project):
    write_project(project, lab, example_policies(lab))
    state = saved(lab)
    # The host's mount namespace is private: hide ipset there only.
    lab.exec("h1", ["sh", "-ec", "touch /tmp/not-ipset && chmod 644 /tmp/not-ipset && mount --bind /tmp/not-ipset /usr/sbin/ipset"])
    try:
        result, output = run_site(project, lab)
    finally:
        lab.exec("h1", ["umount", "/usr/sbin/ipset"], check=False)
    assert result.returncode != 0
    assert "my-host lacks ipset: install the iptables and ipset packages" in output, output
    after = saved(lab)
    # Canary batches run in inventory order (etcd-1, my-host, admin-1): etcd-1's batch came
    # first and applied; my-host's failed before its rules were touched; admin-1's never ran.
    assert after["h1"] == state["h1"]
    applying = output.split("PLAY [Apply the firewall in canary batches]", 1)[1]
    assert not re.search(r"^(ok|changed|fatal): \[admin-1\]", applying, re.M), "admin-1's batch must not run"
