# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Never lock yourself out: ``site.yml`` on real lab hosts, over real SSH.

The tests run in file order on one lab of three hosts (web-1, web-2, web-3 on h1..h3) and one
project: a good first apply; a policy that blocks the controller's SSH, refused, then applied
with ``palisade_allow_lockout`` and rolled back by the host (while another tool changes its
rules meanwhile); a failing probe; confirmation, persistence and the boot restore; SIGKILL of
``ansible-playbook`` right after the apply; two runs at once; an unreachable host stopping the
later batches. The host side is observed from inside its namespace (``lab.exec``), which no
firewall rule can cut.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))

from palisade_lab import Lab  # noqa: E402
from project import ansible_env, ansible_playbook, connect_inventory, write_site_files  # noqa: E402

COLLECTIONS = ROOT / ".build" / "collections"
HOSTS = {"web-1": "h1", "web-2": "h2", "web-3": "h3"}
FAMILY = {"web-1": 6, "web-2": 4, "web-3": 4}  # the controller reaches web-1 over IPv6, the others over IPv4
WINDOW = 8
STATE = "/var/lib/palisade"
APPLY_TASK = "Apply the owned ruleset and ipsets (rolled back by the host unless confirmed in time)"

FOREIGN = """
iptables -N f2b-sshd
iptables -A f2b-sshd -s 203.0.113.250/32 -j REJECT --reject-with icmp-port-unreachable
iptables -A f2b-sshd -j RETURN
iptables -A INPUT -p tcp --dport 22 -j f2b-sshd
ip6tables -N f2b-sshd
ip6tables -A INPUT -p tcp --dport 22 -j f2b-sshd
ipset create other-tool hash:ip
"""


def web_policy(*ports: int) -> dict:
    return {
        "name": "web",
        "selector": "role == 'web'",
        "order": 10,
        "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": list(ports)}}, {"action": "Allow", "protocol": "ICMP"}],
        "egress": [{"action": "Allow"}],
    }


BLOCK_SSH = {
    "name": "block-ssh",
    "selector": "role == 'web'",
    "order": 1,
    "ingress": [{"action": "Deny", "protocol": "TCP", "destination": {"ports": [22]}}],
}


def write_project(root: Path, lab: Lab, policies: list, **settings) -> Path:
    inventory = root / "inventory"
    (inventory / "host_vars").mkdir(parents=True, exist_ok=True)
    (inventory / "group_vars").mkdir(exist_ok=True)
    hosts = {"all": {"children": {"web": {"hosts": {name: {"ansible_host": lab.address(h, FAMILY[name])} for name, h in HOSTS.items()}}}}}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    group_vars = {"palisade_policies": policies, "palisade_rollback_timeout": WINDOW, "palisade_boot_restore": "systemd", **settings}
    (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(group_vars))
    for name, host in HOSTS.items():
        host_vars = {
            "palisade_labels": {"role": "web"},
            "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": [lab.address(host), lab.address(host, 6)]}],
        }
        (inventory / "host_vars" / f"{name}.yml").write_text(yaml.safe_dump(host_vars))
    connect_inventory(inventory, lab)
    write_site_files(root)
    return root


@pytest.fixture(scope="module")
def lab():
    with Lab("palrb", hosts=3, subnet4="203.0.113.128/25", subnet6="2001:db8:208::/64") as instance:
        for host in instance.hosts:
            instance.exec(host, ["sh", "-ec", FOREIGN])
        yield instance


@pytest.fixture(scope="module")
def project(lab, tmp_path_factory):
    return write_project(tmp_path_factory.mktemp("project"), lab, [web_policy(8080)])


def run_site(project: Path, lab: Lab, *args: str):
    result = ansible_playbook(project, lab, COLLECTIONS, "site.yml", *args)
    return result, result.stdout + result.stderr


def saved(lab: Lab, host: str) -> str:
    """The host's whole firewall state, without counters, save-time comments or hash seeds."""
    text = ""
    for command in (["iptables-save"], ["ip6tables-save"], ["ipset", "save"]):
        output = lab.exec(host, command).stdout
        text += "".join(line + "\n" for line in output.splitlines() if not line.startswith("#"))
    return re.sub(r" initval 0x[0-9a-f]+", "", re.sub(r"\[\d+:\d+\]", "[0:0]", text))


def without_empty_tables(state: str) -> str:
    """The state without tables that hold nothing but built-in chain headers."""
    return re.sub(r"^\*\w+\n(?::[A-Z]+ \w+ \[0:0\]\n)*COMMIT\n", "", state, flags=re.M)


def owned(state: str) -> list[str]:
    return [line for line in state.splitlines() if "pal-" in line]


def persisted(lab: Lab, host: str) -> str:
    """The host's record of applied files with their times; "" for a host that has none yet."""
    script = (f"if [ -d {STATE}/applied ]; then cat {STATE}/applied/*; ls -l --time-style=+%s {STATE}/applied; "
              f"elif [ -e {STATE}/applied ]; then echo 'not a directory' >&2; exit 1; fi")
    return lab.exec(host, ["sh", "-c", script]).stdout


def results_of(output: str, task: str = APPLY_TASK) -> dict[str, dict]:
    """The verbose (-v) results of one task, per host, over every batch."""
    found = {}
    for section in output.split(f"TASK [palisade.firewall.host_firewall : {task}]")[1:]:
        section = section.split("\nTASK [", 1)[0]
        for match in re.finditer(r"^(?:ok|changed|fatal): \[([^\]]+)\](?:: FAILED!)? => (\{.*\})$", section, re.M):
            found[match.group(1)] = json.loads(match.group(2))
    return found


def test_first_apply_confirms_well_inside_the_window_and_persists(lab, project):
    before = persisted(lab, "h1")
    result, output = run_site(project, lab, "-v")
    assert result.returncode == 0, output
    results = results_of(output)
    assert set(results) == set(HOSTS), output
    for name, item in results.items():
        assert item["rollback"]["outcome"] == "confirmed", item
        assert item["rollback"]["timings"]["confirm"] < WINDOW / 2, item["rollback"]
        assert item["persisted"]["method"] == "systemd", item
    state = saved(lab, "h1")
    assert "-A pal-pi-web" in state and "--dport 8080" in state
    assert persisted(lab, "h1") != before
    assert "--dport 8080" in lab.exec("h1", ["cat", f"{STATE}/applied/ipv4.rules"]).stdout
    unit = lab.exec("h1", ["cat", "/etc/systemd/system/palisade-firewall.service"]).stdout
    assert f"ExecStart={STATE}/boot/palisade-restore" in unit


def test_a_policy_cutting_ssh_is_refused_naming_it_and_nothing_changes(lab, project):
    write_project(project, lab, [BLOCK_SSH, web_policy(8080)], palisade_failsafe_inbound_host_ports=[])
    states = {host: saved(lab, host) for host in lab.hosts}
    files = persisted(lab, "h1")
    result, output = run_site(project, lab)
    assert result.returncode != 0, output
    flat = " ".join(output.split())
    assert "refusing to apply the new firewall rules" in flat, output
    connection = f"TCP {lab.address('controller', 6)} -> {lab.address('h1', 6)} port 22 arriving on eth0 (from SSH_CONNECTION on the host)"
    assert "block-ssh" in flat and connection in flat, output
    assert "palisade_allow_lockout: true" in flat and "Nothing was changed." in flat
    assert {host: saved(lab, host) for host in lab.hosts} == states
    assert persisted(lab, "h1") == files


def test_with_the_override_the_host_rolls_back_alone_and_keeps_foreign_changes(lab, project):
    write_project(project, lab, [BLOCK_SSH, web_policy(8080)], palisade_failsafe_inbound_host_ports=[], palisade_allow_lockout=True)
    snapshot = saved(lab, "h1")
    others = {host: saved(lab, host) for host in ("h2", "h3")}
    files = persisted(lab, "h1")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "ansible-playbook"), "site.yml"],
        cwd=project, env=ansible_env(lab, COLLECTIONS), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    applied_at = wait_until(lambda: "block-ssh" in saved(lab, "h1"), 60, "the new rules to be applied on h1")
    # another tool changes its own rules while the window is open
    lab.exec("h1", ["iptables", "-A", "f2b-sshd", "-s", "203.0.113.251/32", "-j", "DROP"])
    lab.exec("h1", ["ipset", "add", "other-tool", "203.0.113.252"])
    restored_at = wait_until(lambda: owned(saved(lab, "h1")) == owned(snapshot), WINDOW + 10, "the host to roll back")
    print(f"lockout: rolled back {restored_at - applied_at:.1f} s after the apply (window {WINDOW} s)")
    assert restored_at - applied_at < WINDOW + 2, f"rolled back {restored_at - applied_at:.1f} s after the apply"
    output = process.communicate(timeout=300)[0]
    assert process.returncode != 0, output
    flat = " ".join(output.split())
    assert "The new rules were rolled back: no confirmation from the controller over a new connection" in flat, output
    assert "equal the snapshot taken before the apply (checked again after reconnecting)" in flat, output
    assert "web-1: The new rules were rolled back" in flat, "the run's report lists the host"
    after = saved(lab, "h1")
    expected = snapshot.replace("-A f2b-sshd -j RETURN\n", "-A f2b-sshd -j RETURN\n-A f2b-sshd -s 203.0.113.251/32 -j DROP\n", 1)
    expected = expected.replace("create other-tool hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12\n",
                                "create other-tool hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12\nadd other-tool 203.0.113.252\n")
    assert after == expected
    assert persisted(lab, "h1") == files, "the persisted rules must not change"
    assert {host: saved(lab, host) for host in ("h2", "h3")} == others, "the later batches must not run"


def test_the_next_run_works(lab, project):
    write_project(project, lab, [web_policy(8080, 8081)])
    result, output = run_site(project, lab)
    assert result.returncode == 0, output
    assert "8080,8081" in saved(lab, "h1")


def test_rules_that_cut_the_open_session_during_the_apply_roll_back_too(lab, project):
    # Untracked (raw table) rules drop the host's SSH replies, so even the session that applies
    # them dies before the apply reports back; the controller waits out the window, reconnects
    # and reports what the host did.
    cut = {
        "name": "cut-ssh-replies",
        "selector": "role == 'web'",
        "order": 1,
        "doNotTrack": True,
        "applyOnForward": True,
        "egress": [{"action": "Deny", "protocol": "TCP", "source": {"ports": [22]}}],
    }
    write_project(project, lab, [cut, web_policy(8080, 8081)], palisade_allow_lockout=True, palisade_failsafe_inbound_host_ports=[])
    before = saved(lab, "h1")
    files = persisted(lab, "h1")
    result, output = run_site(project, lab, "-v")
    assert result.returncode != 0, output
    assert results_of(output)["web-1"]["rollback"]["timings"]["attempts"] == 0, "the apply itself must have lost its connection"
    flat = " ".join(output.split())
    assert "The new rules were rolled back: no confirmation from the controller over a new connection" in flat, output
    assert "(checked again after reconnecting)" in flat
    # (under nf_tables the raw table the rules needed stays, emptied)
    assert without_empty_tables(saved(lab, "h1")) == without_empty_tables(before)
    assert persisted(lab, "h1") == files


def test_a_failing_probe_rolls_back_at_once_naming_it(lab, project):
    probes = [
        {"name": "controller", "protocol": "icmp", "address": lab.address("controller")},
        {"name": "backend", "protocol": "tcp", "address": lab.address("h2"), "port": 9999, "timeout": 2},
    ]
    write_project(project, lab, [web_policy(8080, 8082)], palisade_confirm_probes=probes)
    before = saved(lab, "h1")
    files = persisted(lab, "h1")
    started = time.monotonic()
    result, output = run_site(project, lab)
    assert result.returncode != 0, output
    assert time.monotonic() - started < 60
    flat = " ".join(output.split())
    assert f"The new rules were rolled back: probe 'backend' (tcp {lab.address('h2')}:9999, timeout 2 s) failed: no answer within 2 s" in flat, output
    assert saved(lab, "h1") == before
    assert persisted(lab, "h1") == files


def test_good_probes_confirm_and_the_boot_restore_brings_back_the_owned_state(lab, project):
    probes = [
        {"name": "controller", "protocol": "icmp", "address": lab.address("controller", 6)},
        {"name": "ssh on web-2", "protocol": "tcp", "address": lab.address("h2"), "port": 22},
        {"name": "udp echo", "protocol": "udp", "address": lab.address("controller"), "port": udp_echo(lab.address("controller"))},
    ]
    write_project(project, lab, [web_policy(8080, 8083)], palisade_confirm_probes=probes)
    result, output = run_site(project, lab, "-v")
    assert result.returncode == 0, output
    item = results_of(output)["web-1"]
    assert [probe["ok"] for probe in item["rollback"]["probes"]] == [True, True, True], item
    assert item["rollback"]["timings"]["confirm"] < WINDOW / 2
    live = owned(saved(lab, "h1"))
    assert any("8083" in line for line in live)
    # a reboot, as far as the firewall is concerned
    lab.exec("h1", ["sh", "-ec", "for t in iptables ip6tables; do for x in filter raw mangle nat; do $t -t $x -F; $t -t $x -X; done; done; ipset destroy"])
    assert owned(saved(lab, "h1")) == []
    command = re.search(r"^ExecStart=(\S+)$", lab.exec("h1", ["cat", "/etc/systemd/system/palisade-firewall.service"]).stdout, re.M).group(1)
    done = lab.exec("h1", [command])
    assert "restored" in done.stdout
    assert owned(saved(lab, "h1")) == live
    # and the next run finds nothing to change
    result, output = run_site(project, lab)
    assert result.returncode == 0, output
    assert re.search(r"^web-1\s+: ok=\d+\s+changed=0 ", output, re.M), output


def test_sigkill_of_ansible_playbook_right_after_the_apply_rolls_back(lab, project):
    write_project(project, lab, [web_policy(8080, 8084)])
    before = saved(lab, "h1")
    files = persisted(lab, "h1")
    runs_before = run_ids(lab)
    env = ansible_env(lab, COLLECTIONS)
    # Every new SSH connection takes 3 s more (the same options as Ansible's defaults otherwise),
    # so the kill surely lands before the confirming connection reaches the host.
    env["ANSIBLE_SSH_ARGS"] = "-C -o ControlMaster=auto -o ControlPersist=60s -o ProxyCommand='sh -c \"sleep 3; exec socat - TCP6:[%h]:%p\"'"  # web-1: IPv6
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "ansible-playbook"), "site.yml"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    wait_until(lambda: run_ids(lab) - runs_before, 120, "a run to be armed on h1")
    applied_at = wait_until(lambda: "8084" in saved(lab, "h1"), 5, "the new rules to be applied on h1")
    kill_tree(process.pid)
    process.communicate(timeout=30)
    runs = f"for f in {STATE}/runs/*/result.json {STATE}/runs/*/watchdog.log; do echo == $f; cat $f; done"
    restored_at = wait_until(
        lambda: owned(saved(lab, "h1")) == owned(before), WINDOW + 10, "the host to roll back by itself",
        lambda: lab.exec("h1", ["sh", "-c", runs], check=False).stdout + "\n" + "\n".join(owned(saved(lab, "h1"))),
    )
    print(f"SIGKILL: rolled back {restored_at - applied_at:.1f} s after the apply (window {WINDOW} s)")
    assert restored_at - applied_at < WINDOW + 2
    assert saved(lab, "h1") == before
    assert persisted(lab, "h1") == files
    outcomes = lab.exec("h1", ["sh", "-c", f"cat {STATE}/runs/*/result.json"]).stdout
    assert '"outcome": "rolled_back"' in outcomes and "no confirmation from the controller" in outcomes, outcomes


def test_two_runs_at_once_never_interleave(lab, project, tmp_path):
    second = write_project(tmp_path / "second", lab, [web_policy(8080, 8086)])
    write_project(project, lab, [web_policy(8080, 8085)])
    env = ansible_env(lab, COLLECTIONS)
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "site.yml", "--limit", "web-1"]
    runs = [subprocess.Popen(command, cwd=where, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for where in (project, second)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    state = saved(lab, "h1")
    assert ("8085" in state) != ("8086" in state), "exactly one run's rules, never a mix"
    # each run armed only after the other's watchdog had finished
    spans = windows(lab)
    assert len(spans) >= 2, spans
    last_two = sorted(spans)[-2:]
    assert last_two[0][1] <= last_two[1][0], f"windows overlap: {last_two}"


def windows(lab: Lab) -> list[tuple[float, float]]:
    """(armed, finished) times of the runs the host remembers."""
    script = f"for d in {STATE}/runs/*/; do [ -f $d/result.json ] && echo $(stat -c %.6Y $d/armed.json) $(stat -c %.6Y $d/result.json); done"
    return [tuple(float(x) for x in line.split()) for line in lab.exec("h1", ["sh", "-c", script]).stdout.splitlines()]


def test_an_unreachable_host_stops_the_later_batches(lab, project):
    write_project(project, lab, [web_policy(8080, 8087)])
    states = {host: saved(lab, host) for host in lab.hosts}
    # web-1's SSH port answers nothing (a rule of another tool, in its raw table)
    block = ["-t", "raw", "-I", "PREROUTING", "-p", "tcp", "--dport", "22", "-j", "DROP"]
    for tool in ("iptables", "ip6tables"):
        lab.exec("h1", [tool, *block])
    try:
        result, output = run_site(project, lab, "-e", '{"palisade_serial": [2, "100%"]}')  # serial is a play keyword: extra vars only
    finally:
        for tool in ("iptables", "ip6tables"):
            lab.exec("h1", [tool, "-t", "raw", "-D", *block[3:]])
    assert result.returncode != 0, output
    assert re.search(r"^web-1\s+: ok=\d+\s+changed=\d+\s+unreachable=1", output, re.M), output
    assert "web-1: unreachable, or failed earlier in this run" in output
    assert "8087" in saved(lab, "h2"), "web-2, in the same batch, applied"
    assert saved(lab, "h3") == states["h3"], "web-3's batch must not run"


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every process it started, as a controller crash would.

    Killing the main ``ansible-playbook`` process alone is not enough: its workers run in
    sessions of their own (so a Ctrl-C does not reach them), and a worker in the middle of the
    apply task would carry on, reconnect and confirm - a real confirmation, but not the crash
    this test is about.
    """
    for _round in range(3):  # a process forked while the tree was being read is caught next round
        tree = {pid}
        parents = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        grew = True
        while grew:
            found = {child for child, parent in parents.items() if parent in tree}
            grew = not found <= tree
            tree |= found
        for member in tree:
            try:
                os.kill(member, signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_ids(lab: Lab) -> set[str]:
    return set(lab.exec("h1", ["sh", "-c", f"ls {STATE}/runs 2>/dev/null || true"]).stdout.split())


def udp_echo(address: str) -> int:
    """A UDP echo service on the controller's lab address (a thread of this test process); its port."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((address, 0))

    def serve():
        while True:
            data, peer = server.recvfrom(512)
            server.sendto(data, peer)

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def wait_until(condition, timeout: float, what: str, diagnose=None) -> float:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}" + (f"\n{diagnose()}" if diagnose else ""))
        time.sleep(0.05)
    return time.monotonic()
