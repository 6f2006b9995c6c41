# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compile action's lockout check through a real ansible-playbook run; no host is contacted."""

from __future__ import annotations

import json

from test_resolve import HERE, ansible_playbook

INVENTORY = HERE / "inventories" / "lockout" / "hosts.yml"
PLAYBOOK = HERE / "lockout_check.yml"


def compile_hosts(out_dir, *args: str) -> dict:
    run = ansible_playbook("-i", str(INVENTORY), str(PLAYBOOK), "-e", f"out_dir={out_dir}", *args)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads((out_dir / "hosts.json").read_text())


def test_each_host_gets_its_lockout_answer(tmp_path):
    hosts = compile_hosts(tmp_path)
    web1, web2 = hosts["web1"]["lockout"], hosts["web2"]["lockout"]
    assert (web1["blocked"], web1["verdict"], web1["decided_by"]) == (True, "deny", "end of tier: no policy allowed ingress on web1-eth0 (default deny)")
    assert web1["connection"] == {"client": "198.51.100.1", "server": "198.51.100.10", "port": 22, "interface": "eth0", "source": "SSH_CONNECTION"}
    assert web1["message"].startswith("host web1: refusing to apply the new firewall rules")
    assert web2 == {
        "blocked": True,
        "verdict": "deny",
        "decided_by": "end of tier: no policy allowed ingress on web2-eth0 (default deny)",
        "interface_checked": ["eth0"],
        "message": web2["message"],
        "connection": {"client": "127.0.0.1", "server": "127.0.0.1", "port": 2222, "interface": None, "source": "inventory"},
    }
    assert "(guessed from the inventory, as the host reported no SSH_CONNECTION)" in web2["message"]
    assert hosts["web3"]["lockout"]["message"] == (
        "safe: TCP 127.0.0.1 -> 127.0.0.1 port 22 (from inventory, interface unknown): on eth0 allowed by failsafe inbound tcp 22"
    )


def test_without_the_option_there_is_no_lockout_key(tmp_path):
    hosts = compile_hosts(tmp_path, "-e", "lockout_check=false")
    assert sorted(hosts) == ["web1", "web2", "web3"]
    assert all("lockout" not in host for host in hosts.values())
