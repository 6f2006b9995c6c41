# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""palisade.firewall.apply_ruleset against the real kernel, in throwaway network namespaces.

Needs root, iptables/ip6tables, ipset and iproute2 (like test_kernel_accepts_golden.py). Each
test makes its own namespace ``pal-apply-<pid>-<n>`` and deletes it afterwards; no other
namespace is touched. The backend runs inside the namespace through ``apply_driver.py`` (which
returns every command it ran), and the module itself through its real entry point.

The backend runs with the interpreter in ``PALISADE_HOST_PYTHON`` when set (for example a
Python 3.8, the oldest that hosts may have), else with the one running the tests.

The golden files are exactly what the role gives the module: rendered with hooks for the kernel
test, so their hook lines (the last lines of each table) are split off into hook dicts here.
"""

from __future__ import annotations

import difflib
import fcntl
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netns import SEARCH_PATH, namespace, tool
from netns import run as run_tool
from netns import run_in as run_tool_in

import ansible_collections.palisade.firewall.plugins.module_utils._palisade as backend

ROOT = Path(__file__).parents[2]
DRIVER = Path(__file__).with_name("apply_driver.py")
MODULE = ROOT / "plugins" / "modules" / "apply_ruleset.py"
COLLECTIONS = Path(backend.__file__).parents[6]
TOOLS = ("ip", "ipset", "iptables-restore", "ip6tables-restore", "iptables-save", "ip6tables-save")
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in [str(COLLECTIONS), os.environ.get("PYTHONPATH", "")] if p), PATH=SEARCH_PATH)
HOST_PYTHON = os.environ.get("PALISADE_HOST_PYTHON") or sys.executable
_spec = importlib.util.spec_from_file_location("palisade_fakes", ROOT / "tests" / "unit" / "plugins" / "module_utils" / "palisade_fakes.py")
fakes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fakes)
EMPTY = {"ipv4_rules": "", "ipv6_rules": "", "ipsets": "", "hooks": []}

# Other tools' state: Docker (DOCKER-USER jumped from FORWARD, FORWARD policy DROP), fail2ban
# (f2b-sshd with a REJECT, jumped from INPUT for port 22, and an ipset), a nat MASQUERADE.
FOREIGN = {
    "iptables": """*nat
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 198.51.100.0/24 -o eth0 -j MASQUERADE
COMMIT
*filter
:FORWARD DROP [0:0]
:DOCKER-USER - [0:0]
:DOCKER - [0:0]
:f2b-sshd - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -j DOCKER
-A DOCKER-USER -j RETURN
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A f2b-sshd -s 203.0.113.99/32 -j REJECT --reject-with icmp-port-unreachable
-A f2b-sshd -j RETURN
-A INPUT -p tcp -m tcp --dport 22 -j f2b-sshd
-A OUTPUT -m set --match-set f2b-blacklist dst -j DROP
COMMIT
""",
    "ip6tables": """*nat
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 2001:db8:1::/64 -o eth0 -j MASQUERADE
COMMIT
*filter
:FORWARD DROP [0:0]
:DOCKER-USER - [0:0]
:f2b-sshd - [0:0]
-A FORWARD -j DOCKER-USER
-A DOCKER-USER -j RETURN
-A f2b-sshd -s 2001:db8:bad::1/128 -j REJECT --reject-with icmp6-port-unreachable
-A f2b-sshd -j RETURN
-A INPUT -p tcp -m tcp --dport 22 -j f2b-sshd
COMMIT
""",
}


def require_kernel_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool, path=SEARCH_PATH) is None]
    if missing:
        pytest.fail(f"missing tools {', '.join(missing)}: install the packages iptables, ipset and iproute2")
    if os.geteuid() != 0:
        pytest.skip("needs root: it creates network namespaces (run `make kernel` as root)")


def run(command: list, stdin: str | None = None) -> str:
    return run_tool(command, stdin, ENV)


def run_in(ns: str, command: list, stdin: str | None = None) -> str:
    return run_tool_in(ns, command, stdin, ENV)


@pytest.fixture
def ns() -> Iterator[str]:
    """A fresh network namespace; deleted afterwards only because this test created it."""
    require_kernel_tools()
    with namespace("pal-apply") as name:
        yield name


def driver_command(ns: str) -> list:
    return [tool("ip"), "netns", "exec", ns, HOST_PYTHON, str(DRIVER)]


def drive(ns: str, state_dir, inputs=None, op="apply", **options) -> dict:
    """Run the backend inside ``ns``: its result (or error) and the commands it ran."""
    request = {"op": op, "inputs": inputs, "state_dir": str(state_dir), **options}
    done = subprocess.run(driver_command(ns), input=json.dumps(request), capture_output=True, text=True, check=False, env=ENV)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def apply_ok(ns, state_dir, inputs, **options) -> dict:
    result = drive(ns, state_dir, inputs, **options)
    assert "error" not in result, result["error"]["message"]
    assert result["warnings"] == []
    return result


def dump(ns: str) -> dict:
    """What the save tools print, without timestamps and counters."""
    out = {}
    for name, command in (("iptables", ["iptables-save"]), ("ip6tables", ["ip6tables-save"]), ("ipset", ["ipset", "save"])):
        text = run_in(ns, command)
        text = "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))
        out[name] = re.sub(r"\[\d+:\d+\]", "[0:0]", text)
    return out


def without_owned(state: dict) -> dict:
    """The state with every owned line (chains, their rules, hooks, owned sets) left out."""
    owned = re.compile(r"^(:pal-|-A pal-|create pal-|add pal-)|-[jg] pal-")
    return {name: "".join(line + "\n" for line in text.splitlines() if not owned.search(line)) for name, text in state.items()}


def add_foreign(ns: str) -> None:
    run_in(ns, ["ipset", "create", "f2b-blacklist", "hash:ip"])
    run_in(ns, ["ipset", "add", "f2b-blacklist", "203.0.113.99"])
    for command, text in FOREIGN.items():
        run_in(ns, [f"{command}-restore", "--noflush"], text)


def golden(case: str) -> dict:
    return fakes.golden_inputs(case)


def changed_policy() -> dict:
    """web-features after one policy changed: a port of one IPv4 rule and a member of one set."""
    inputs = golden("inventory-web-features")
    inputs["ipv4_rules"] = inputs["ipv4_rules"].replace("--dport 8080 -m limit", "--dport 8081 -m limit")
    inputs["ipsets"] = inputs["ipsets"].replace("add pal-s4-350250576f627f61 198.51.100.30", "add pal-s4-350250576f627f61 198.51.100.31")
    return inputs


def nonempty(changes: dict) -> dict:
    return {key: value for key, value in changes.items() if value}


# -- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", fakes.GOLDEN_CASES)
def test_golden_case_applies_once_and_then_nothing_runs(ns, tmp_path, case):
    inputs = golden(case)
    first = apply_ok(ns, tmp_path, inputs)
    owns_something = bool(inputs["hooks"]) or "create " in inputs["ipsets"] or ":pal-" in inputs["ipv4_rules"] + inputs["ipv6_rules"]
    assert first["changed"] is owns_something
    state = dump(ns)
    # each hook once, inserts first then appends, in the order given (nothing else is in these chains)
    chains = {(h["family"], h["table"], h["chain"]) for h in inputs["hooks"]}
    for family, table, chain in chains:
        saved = run_in(ns, [f"{'ip6tables' if family == 6 else 'iptables'}-save", "-t", table])
        hooks = [h for h in inputs["hooks"] if (h["family"], h["table"], h["chain"]) == (family, table, chain)]
        ordered = [h for h in hooks if h["position"] == "insert"] + [h for h in hooks if h["position"] == "append"]
        assert [line for line in saved.splitlines() if line.startswith(f"-A {chain} ")] == [f"-A {chain} -j {h['target']}" for h in ordered]
    second = apply_ok(ns, tmp_path, inputs)
    assert second["changed"] is False and second["commands"] == []
    assert all(call["reads_only"] for call in second["calls"]), second["calls"]
    assert second["before"] == second["after"]
    assert dump(ns) == state
    # the snapshot renders back into inputs that describe the same state
    snapshot = drive(ns, tmp_path, op="snapshot")["inputs"]
    again = apply_ok(ns, tmp_path, snapshot, check_mode=True)
    assert again["changed"] is False


def test_first_apply_creates_the_owned_state_with_hooks_once(ns, tmp_path):
    inputs = golden("inventory-web-features")
    result = apply_ok(ns, tmp_path, inputs)
    assert result["changed"] and result["restored"]
    assert len(result["changes"]["chains_added"]) == 38 and len(result["changes"]["sets_added"]) == 12
    saved = run_in(ns, ["iptables-save", "-t", "filter"]).splitlines()
    assert [line for line in saved if line.startswith(("-A INPUT", "-A FORWARD", "-A OUTPUT"))] == [
        "-A INPUT -j pal-INPUT",
        "-A FORWARD -j pal-FORWARD",
        "-A OUTPUT -j pal-OUTPUT",
    ]
    assert '-A pal-pi-web-ingress -p gre -m comment --comment "policy web-ingress ingress rule 10" -g pal-allow' in saved
    assert "add pal-s4-350250576f627f61 198.51.100.30" in run_in(ns, ["ipset", "save"])
    assert sorted(os.listdir(tmp_path / "applied")) == ["hooks.json", "ipsets.restore", "ipv4.rules", "ipv6.rules"]
    assert (tmp_path / "applied" / "ipv4.rules").read_text() == inputs["ipv4_rules"]


def test_foreign_state_survives_apply_policy_change_and_removal(ns, tmp_path):
    add_foreign(ns)
    before = dump(ns)
    apply_ok(ns, tmp_path, golden("inventory-web-features"))
    applied = dump(ns)
    assert without_owned(applied) == before
    # the hooks went above the other tools' rules
    assert "-A INPUT -j pal-INPUT\n-A INPUT -p tcp -m tcp --dport 22 -j f2b-sshd\n" in applied["iptables"]
    assert "-A FORWARD -j pal-FORWARD\n-A FORWARD -j DOCKER-USER\n-A FORWARD -o docker0 -j DOCKER\n" in applied["iptables"]
    apply_ok(ns, tmp_path, changed_policy())
    assert without_owned(dump(ns)) == before
    removed = apply_ok(ns, tmp_path, EMPTY)
    assert removed["changed"] and removed["after"] == ""
    assert dump(ns) == before  # byte for byte: iptables-save, ip6tables-save, ipset save


def test_a_policy_change_changes_only_what_it_affects(ns, tmp_path):
    apply_ok(ns, tmp_path, golden("inventory-web-features"))
    result = apply_ok(ns, tmp_path, changed_policy(), diff=True)
    assert nonempty(result["changes"]) == {
        "chains_changed": ["ipv4 filter pal-pi-web-ingress"],
        "sets_changed": ["ipv4 pal-s4-350250576f627f61"],
    }
    assert result["commands"] == [
        "ipset restore",
        "ipset restore",
        "iptables-restore --test --noflush -w 10",
        "iptables-restore --noflush -w 10",
    ]
    diff = [
        line
        for line in difflib.unified_diff(result["before"].splitlines(), result["after"].splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert diff == [
        '--A pal-pi-web-ingress -p tcp -m comment --comment "policy web-ingress ingress rule 0" -m tcp --dport 8080'
        ' -m limit --limit 5/sec -j LOG --log-prefix "web-fw: " --log-level 5',
        '+-A pal-pi-web-ingress -p tcp -m comment --comment "policy web-ingress ingress rule 0" -m tcp --dport 8081'
        ' -m limit --limit 5/sec -j LOG --log-prefix "web-fw: " --log-level 5',
        "-add pal-s4-350250576f627f61 198.51.100.30",
        "+add pal-s4-350250576f627f61 198.51.100.31",
    ]
    assert "add pal-s4-350250576f627f61 198.51.100.31" in run_in(ns, ["ipset", "save"])
    assert apply_ok(ns, tmp_path, changed_policy())["changed"] is False


def test_stale_chain_and_set_go_and_duplicated_hooks_become_one(ns, tmp_path):
    add_foreign(ns)
    inputs = golden("inventory-web-features")
    apply_ok(ns, tmp_path, inputs)
    run_in(ns, ["ipset", "create", "pal-s4-old", "hash:ip"])
    run_in(
        ns,
        ["iptables-restore", "--noflush"],
        "*filter\n:pal-old - [0:0]\n"
        "-A pal-old -m set --match-set pal-s4-old src -j DROP\n-A INPUT -j pal-old\n-I DOCKER-USER 1 -j pal-old\n"
        "-A INPUT -j pal-INPUT\n-A INPUT -j pal-INPUT\n"
        '-A INPUT -i eth0 -m comment --comment "an old hook" -j pal-INPUT\nCOMMIT\n',
    )
    run_in(ns, ["ip6tables", "-I", "OUTPUT", "1", "-p", "udp", "-j", "ACCEPT"])  # another tool inserts above the hook
    result = apply_ok(ns, tmp_path, inputs)
    assert nonempty(result["changes"]) == {
        "chains_removed": ["ipv4 filter pal-old"],
        "hooks_moved": ["ipv6 filter OUTPUT -j pal-OUTPUT (insert)"],
        "hooks_removed": [
            "ipv4 filter INPUT -j pal-INPUT (duplicate)",
            "ipv4 filter INPUT -j pal-INPUT (duplicate)",
            "ipv4 filter INPUT -j pal-old",
            'ipv4 filter INPUT -i eth0 -m comment --comment "an old hook" -j pal-INPUT',
        ],
        "references_removed": ["ipv4 filter DOCKER-USER -j pal-old"],
        "sets_removed": ["ipv4 pal-s4-old"],
    }
    state = dump(ns)
    assert "pal-old" not in state["iptables"] and "pal-s4-old" not in state["ipset"]
    assert [line for line in state["iptables"].splitlines() if line.startswith("-A INPUT")] == [
        "-A INPUT -j pal-INPUT",
        "-A INPUT -p tcp -m tcp --dport 22 -j f2b-sshd",
    ]
    assert [line for line in state["ip6tables"].splitlines() if line.startswith("-A OUTPUT")] == [
        "-A OUTPUT -j pal-OUTPUT",
        "-A OUTPUT -p udp -j ACCEPT",
    ]
    assert "-A DOCKER-USER -j RETURN" in state["iptables"]
    assert apply_ok(ns, tmp_path, inputs)["changed"] is False


def test_rules_the_kernel_rejects_fail_clearly_and_leave_the_state_as_it_was(ns, tmp_path):
    add_foreign(ns)
    apply_ok(ns, tmp_path, golden("inventory-web-features"))
    state = dump(ns)

    # refused by --test (an unknown match), nothing else differs: nothing ran but the test
    bad_match = golden("inventory-web-features")
    bad_match["ipv4_rules"] = bad_match["ipv4_rules"].replace("-A pal-allow -m comment", "-A pal-allow -m nosuchmatch -m comment")
    result = drive(ns, tmp_path, bad_match)
    message = result["error"]["message"]
    assert result["error"]["changed"] is False
    assert message.startswith("`iptables-restore --test --noflush -w 10` failed (exit status 2): iptables-restore v")
    assert "Couldn't load match `nosuchmatch'" in message
    assert "-A pal-allow -m nosuchmatch" in message  # the offending line of the transaction is quoted
    assert message.endswith("Nothing was changed.")
    assert dump(ns) == state

    # a jump to an undefined chain passes nf_tables' --test; the real restore refuses it (atomically),
    # after a set was already swapped in: the set is put back
    bad_jump = changed_policy()
    bad_jump["ipv4_rules"] = bad_jump["ipv4_rules"].replace(
        '"workload to host: default_endpoint_to_host_action Accept" -j ACCEPT', '"workload to host" -j NOSUCHCHAIN'
    )
    result = drive(ns, tmp_path, bad_jump)
    message = result["error"]["message"]
    assert message.startswith("`iptables-restore --noflush -w 10` failed (exit status")
    assert "Chain 'NOSUCHCHAIN' does not exist" in message
    assert message.endswith("The owned state was put back as it was before this run.")
    assert dump(ns) == state

    # IPv6 refused after IPv4 was restored: IPv4 is put back too
    bad_v6 = changed_policy()
    bad_v6["ipv6_rules"] = bad_v6["ipv6_rules"].replace("-j ACCEPT\nCOMMIT", "-j NOSUCHCHAIN\nCOMMIT")
    result = drive(ns, tmp_path, bad_v6)
    assert "`ip6tables-restore --noflush -w 10` failed" in result["error"]["message"]
    assert [" ".join(c["argv"]) for c in result["calls"] if not c["reads_only"]][:6] == [
        "ipset restore",
        "ipset restore",
        "iptables-restore --test --noflush -w 10",
        "ip6tables-restore --test --noflush -w 10",
        "iptables-restore --noflush -w 10",
        "ip6tables-restore --noflush -w 10",
    ]
    assert result["error"]["message"].endswith("The owned state was put back as it was before this run.")
    assert dump(ns) == state
    assert (tmp_path / "applied" / "ipv4.rules").read_text() == golden("inventory-web-features")["ipv4_rules"]


def test_snapshot_applied_back_restores_the_owned_state_exactly(ns, tmp_path):
    add_foreign(ns)
    apply_ok(ns, tmp_path, golden("ir-verdicts-hooks"))  # raw, mangle and filter; inserted and appended hooks
    original = dump(ns)
    snapshot = drive(ns, tmp_path, op="snapshot")["inputs"]
    assert {hook["position"] for hook in snapshot["hooks"]} == {"insert", "append"}
    apply_ok(ns, tmp_path, golden("inventory-router-forwarding"))
    assert dump(ns) != original
    back = apply_ok(ns, tmp_path, snapshot)
    assert back["changed"]
    assert dump(ns) == original
    assert drive(ns, tmp_path, op="snapshot")["inputs"] == snapshot


def test_removal_leaves_only_empty_builtin_tables_it_made(ns, tmp_path):
    """nf_tables keeps a table once iptables-nft made it; emptied, it holds only ACCEPT built-in chains."""
    before = dump(ns)
    apply_ok(ns, tmp_path, golden("inventory-router-forwarding"))
    apply_ok(ns, tmp_path, EMPTY)
    after = dump(ns)
    assert before == {"iptables": "", "ip6tables": "", "ipset": ""}
    for name in ("iptables", "ip6tables"):
        assert not re.search(r"^-A |^:(?!(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ACCEPT \[0:0\])", after[name], re.M), after[name]


def test_a_second_run_waits_for_the_lock_or_gives_up_clearly(ns, tmp_path):
    inputs = golden("inventory-web-features")
    tmp_path.mkdir(exist_ok=True)
    fd = os.open(tmp_path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\n".encode())
    try:
        result = drive(ns, tmp_path, inputs, lock_timeout=1)
        assert result["error"]["type"] == "LockTimeout"
        assert result["error"]["message"] == (
            f"another palisade.firewall apply holds the lock {tmp_path}/lock (held by PID {os.getpid()});"
            " gave up after waiting 1 s (lock_timeout)"
        )
        assert result["calls"] == [] and dump(ns)["iptables"] == ""
        request = json.dumps({"op": "apply", "inputs": inputs, "state_dir": str(tmp_path), "lock_timeout": 20})
        waiting = subprocess.Popen(driver_command(ns), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV)
        waiting.stdin.write(request)  # the driver reads it all before it takes the lock
        waiting.stdin.close()
        time.sleep(1)
        assert waiting.poll() is None  # still waiting for the lock
        assert dump(ns)["iptables"] == ""
    finally:
        os.close(fd)
    output = waiting.stdout.read()
    assert waiting.wait(timeout=20) == 0
    result = json.loads(output)
    assert result["changed"] is True and "error" not in result


def test_concurrent_runs_never_interleave(ns, tmp_path):
    inputs = golden("inventory-router-forwarding")
    request = json.dumps({"op": "apply", "inputs": inputs, "state_dir": str(tmp_path), "lock_timeout": 20})
    runs = [subprocess.Popen(driver_command(ns), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV) for _run in range(3)]
    results = [json.loads(run.communicate(request, timeout=30)[0]) for run in runs]
    assert all("error" not in result for result in results)
    assert sorted(result["changed"] for result in results) == [False, False, True]
    saved = run_in(ns, ["iptables-save"])
    assert saved.count("-A INPUT -j pal-INPUT\n") == 1 and saved.count("-A PREROUTING -j pal-PREROUTING\n") == 2  # raw, mangle


def test_the_module_entry_point(ns, tmp_path):
    def module(args, check=False, diff=False):
        path = tmp_path / "args.json"
        path.write_text(
            json.dumps(
                {"ANSIBLE_MODULE_ARGS": {**args, "state_dir": str(tmp_path / "state"), "_ansible_check_mode": check, "_ansible_diff": diff}}
            )
        )
        done = subprocess.run(
            [tool("ip"), "netns", "exec", ns, sys.executable, str(MODULE), str(path)], capture_output=True, text=True, check=False, env=ENV
        )
        return json.loads(done.stdout)

    inputs = golden("inventory-web-features")
    checked = module(inputs, check=True, diff=True)
    assert checked["changed"] is True and checked["restored"] is False and "failed" not in checked
    assert checked["diff"]["before"] == "" and "chain pal-pi-web-ingress\n" in checked["diff"]["after"]
    assert checked["commands"][-1] == "ip6tables-restore --noflush -w 60"
    assert dump(ns) == {"iptables": "", "ip6tables": "", "ipset": ""} and not (tmp_path / "state").exists()
    applied = module(inputs)
    assert applied["changed"] is True and applied["restored"] is True and "diff" not in applied
    assert applied["record"] == str(tmp_path / "state" / "applied")
    assert module(inputs, diff=True)["changed"] is False
    failed = module(dict(inputs, ipv4_rules=inputs["ipv4_rules"].replace("-j ACCEPT\nCOMMIT", "-j NOSUCHCHAIN\nCOMMIT")))
    assert failed["failed"] is True and "Chain 'NOSUCHCHAIN' does not exist" in failed["msg"]
    assert failed["command"] == "iptables-restore --noflush -w 60" and failed["changed"] is False


def test_through_ansible_playbook_with_a_bare_python(ns, tmp_path):
    """Ansible ships the module and its module_utils to a Python with nothing else installed."""
    interpreter = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    (tmp_path / "vars.json").write_text(json.dumps(golden("inventory-web-features")))
    (tmp_path / "play.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  vars_files: [vars.json]\n  tasks:\n"
        "    - palisade.firewall.apply_ruleset:\n"
        "        ipv4_rules: '{{ ipv4_rules }}'\n        ipv6_rules: '{{ ipv6_rules }}'\n"
        "        ipsets: '{{ ipsets }}'\n        hooks: '{{ hooks }}'\n"
        f"        state_dir: {tmp_path}/state\n"
        "        allow_unsafe_apply: true\n"  # connection local cannot confirm: applied without rollback
    )

    def playbook(*flags):
        command = [
            tool("ip"),
            "netns",
            "exec",
            ns,
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={interpreter}",
            "play.yml",
            *flags,
        ]
        env = dict(ENV, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    checked = playbook("--check", "--diff")
    assert "+chain pal-pi-web-ingress\n" in checked and "changed=1" in checked
    assert dump(ns)["iptables"] == ""
    applied = playbook()
    assert "changed=1" in applied and "Applied WITHOUT rollback because allow_unsafe_apply is true" in applied
    assert "changed=0" in playbook("--diff")
