# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ansible-playbook palisade.firewall.reachability`` over a small inventory; no host is contacted."""

from __future__ import annotations

import json

import pytest
from test_resolve import HERE, ansible_playbook, failure_result

INVENTORIES = HERE / "inventories" / "reachability"
NEW = INVENTORIES / "new"
OLD = INVENTORIES / "old"


def reachability(*extra: str, inventory=NEW):
    args = ["-i", str(inventory)]
    for item in extra:
        args += ["-e", item]
    return ansible_playbook("palisade.firewall.reachability", *args)


def shown(run) -> list[str]:
    """The report lines the debug task printed."""
    start = run.stdout.index('"msg": [') + len('"msg": [')
    return [json.loads(line.strip().rstrip(",")) for line in run.stdout[start:run.stdout.index("]\n}", start)].strip().splitlines()]


def test_the_databases_on_5432_and_the_page_with_its_json(tmp_path):
    page = tmp_path / "report.html"
    run = reachability(f"output={page}", "to=role=='db'")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = shown(run)
    assert lines[0] == "reachability: 5 sources, 2 destinations (4 hosts, 1 network set), 8 pairs, 356 verdicts from 166 packets simulated"
    assert "app-1 -> db-1: TCP 179, 2379-2380, 5432, 6666-6667; ICMPv6 type 133, 134, 135, 136" in lines
    assert "legacy-1 -> db-2: nothing allowed | unpoliced: TCP 22, 179, 2379-2380, 6666-6667; UDP 68; ICMP" in lines
    assert lines[-1] == f"written: {page}, {tmp_path / 'report.json'}"
    data = json.loads((tmp_path / "report.json").read_text())
    who = sorted(cell["from"] for cell in data["cells"] if "5432" in cell["allow"].split(";")[0])
    assert who == ["host:app-1", "host:app-1"]
    text = page.read_text()
    assert '<script type="application/json" id="reachability-data">' in text and "http" not in text.replace('http-equiv', '')


def test_the_same_inventory_gives_the_same_bytes(tmp_path):
    outputs = []
    for name in ("one", "two"):
        page = tmp_path / f"{name}.html"
        run = reachability(f"output={page}", "group_by=tier")
        assert run.returncode == 0, run.stdout + run.stderr
        outputs.append((page.read_bytes(), (tmp_path / f"{name}.json").read_bytes(), shown(run)[:-1]))
    assert outputs[0] == outputs[1]


def test_compare_shows_only_what_changed(tmp_path):
    page = tmp_path / "changes.html"
    run = reachability(f"compare={OLD}", f"output={page}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert shown(run)[:-1] == [
        "reachability changes: 6 pairs change (808 verdicts on the old inventory, 774 on the new)",
        "",
        "from      to    change  services",
        "app-1     db-1  lost    TCP 5433",
        "app-1     db-2  lost    TCP 5433",
        "legacy-1  db-1  gained  unpoliced: ICMP",
        "legacy-1  db-2  gained  unpoliced: ICMP",
        "[office]  db-1  gained  ICMP",
        "[office]  db-2  gained  ICMP",
    ]
    data = json.loads((tmp_path / "changes.json").read_text())
    assert data["kind"] == "reachability comparison"
    assert [(c["from"], c["to"], c["gained"], c["lost"]) for c in data["cells"]][:1] == [("host:app-1", "host:db-1", "", "TCP 5433")]
    assert 'class="cell lost"' in page.read_text()


ERRORS = [
    ([json.dumps({"from": "role = 'db'"})], 'from: selector "role = \'db\'" column 6: a single "=" is not an operator; use "=="'),
    (["to=rol=='db'"], "to: selector \"rol=='db'\" matches no inventory host or network set (labels in the inventory: group.palisade.io/app,"
                       " group.palisade.io/db, group.palisade.io/legacy, palisade.io/hostname, role, tier, zone)"),
    (["group_by=rack"], "group_by: expected a label some inventory host has, got 'rack' (host labels: group.palisade.io/app, group.palisade.io/db,"
                        " group.palisade.io/legacy, palisade.io/hostname, role, tier)"),
    ([f"compare={INVENTORIES / 'missing'}"],
     f"compare: expected the path of an inventory (a file or directory) to compare with, but '{INVENTORIES / 'missing'}' does not exist"),
    (["output=/nonexistent-dir/report.html"], "output: the directory '/nonexistent-dir' does not exist (expected a path in an existing directory)"),
    (["output=/tmp/report.txt"], "output: expected the path of an HTML file to write, ending in .html, got '/tmp/report.txt'"),
]


ERROR_IDS = ["bad selector", "unknown label", "unknown group_by", "missing compare", "missing directory", "not html"]


@pytest.mark.parametrize("extra, message", ERRORS, ids=ERROR_IDS)
def test_bad_input_names_the_variable(extra, message):
    run = reachability(*extra)
    assert run.returncode == 2, run.stdout + run.stderr
    assert failure_result(run.stdout + run.stderr, "localhost")["msg"] == message
