# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet reachability report: cells, the deciding rule of each end, unpoliced ends, network
sets, selection, comparison, determinism, the cost limit, and the page's escaping.

``PALISADE_UPDATE_GOLDEN=1`` rewrites tests/unit/golden/reachability/ (see its README)."""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import compile_host
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet, settle
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import flow_changes as fc
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import reachability as r
from ansible_collections.palisade.firewall.plugins.plugin_utils.report.reachability_html import render_page

GOLDEN = Path(__file__).parents[4] / "unit" / "golden" / "reachability"
UPDATE = os.environ.get("PALISADE_UPDATE_GOLDEN") == "1"

DB = {"palisade_labels": {"role": "db", "zone": "back"},
      "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.10", "2001:db8::10"]}]}
APP = {"palisade_labels": {"role": "app", "zone": "front"},
       "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.20", "2001:db8::20"]}]}
BARE = {"palisade_labels": {"role": "bare", "zone": "front"}, "ansible_host": "198.51.100.30"}  # no endpoint: not policed
OFFICE = {"name": "office", "labels": {"zone": "office"}, "nets": ["203.0.113.0/28"]}
FROM_APP = {"selector": "role == 'app'"}
DB_INGRESS = [{"action": "Allow", "protocol": "TCP", "source": FROM_APP, "destination": {"ports": [5432]}},
              {"action": "Allow", "protocol": "ICMP"}]
APP_EGRESS = [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [5432, 443]}}]
END_OF_TIER = "end of tier: no policy allowed ingress on db1-eth0 (default deny)"
ND = "ICMPv6 type 133, 134, 135, 136"  # neighbour discovery: always allowed on endpoint chains
FAILSAFE_BOTH = "179, 2379-2380, 6666-6667"  # tcp ports in both the inbound and the outbound failsafe lists


def fleet(db_ingress=None, app_egress=None):
    policies = [{"name": "db", "selector": "role == 'db'", "ingress": DB_INGRESS if db_ingress is None else db_ingress},
                {"name": "app", "selector": "role == 'app'", "egress": APP_EGRESS if app_egress is None else app_egress}]
    shared = {"palisade_policies": policies, "palisade_network_sets": [OFFICE]}
    hosts = [HostInput("db1", ("databases",), {**shared, **DB}), HostInput("app1", (), {**shared, **APP}), HostInput("bare1", (), {**shared, **BARE})]
    return settle(load_fleet(hosts))


def cell(report, source, target):
    (found,) = [c for c in report.cells if (c.source.name, c.target.name) == (source, target)]
    return found


def flow(report, source, target, family, service):
    """The flow of ``service`` (``TCP 443``: the merged range holding the port; else its label) on the family's first address pair."""
    path = next(p for p in cell(report, source, target).paths if p.family == family)
    name, _space, port = service.partition(" ")
    if name in ("TCP", "UDP") and port.isdigit():
        (found,) = [f for f in path.flows if f.service.label(family).startswith(name) and f.service.first <= int(port) <= f.service.last]
    else:
        (found,) = [f for f in path.flows if f.service.label(family) == service]
    return found


def test_an_allowed_cell_lists_its_services_and_both_ends_rules():
    report = r.reachability(fleet())
    assert r.cell_summary(cell(report, "app1", "db1")) == {"allow": f"TCP 179, 2379-2380, 5432, 6666-6667; {ND}", "unpoliced": ""}
    found = flow(report, "app1", "db1", 4, "TCP 5432")
    assert (found.result, found.egress, found.ingress) == (
        "allow", r.EndVerdict("allow", "policy app egress rule 0"), r.EndVerdict("allow", "policy db ingress rule 0"))


ENDS = [
    # (source, target, family, service, result, denied at, egress, ingress)
    ("app1", "db1", 4, "ICMP", "deny", "egress",
     ("deny", "end of tier: no policy allowed egress on app1-eth0 (default deny)"), ("allow", "policy db ingress rule 1")),
    ("app1", "db1", 4, "TCP 443", "deny", "ingress", ("allow", "policy app egress rule 0"), ("deny", END_OF_TIER)),
    ("db1", "app1", 4, "TCP 5432", "deny", "egress and ingress",
     ("deny", "no policy selects db1-eth0 for egress (default deny)"), ("deny", "no policy selects app1-eth0 for ingress (default deny)")),
    ("bare1", "db1", 4, "ICMP", "unpoliced", None, ("untouched", None), ("allow", "policy db ingress rule 1")),
    ("app1", "bare1", 4, "TCP 443", "unpoliced", None, ("allow", "policy app egress rule 0"), ("untouched", None)),
    ("[office]", "db1", 4, "ICMP", "allow", None, None, ("allow", "policy db ingress rule 1")),
    ("app1", "[office]", 4, "TCP 443", "allow", None, ("allow", "policy app egress rule 0"), None),
]


@pytest.mark.parametrize("source, target, family, service, result, denied_at, egress, ingress", ENDS,
                         ids=["deny at the source's egress", "deny at the destination's ingress", "deny at both ends",
                              "unpoliced source", "unpoliced destination", "network set as a source: ingress only",
                              "network set as a destination: egress only"])
def test_the_verdict_of_each_end(source, target, family, service, result, denied_at, egress, ingress):
    report = r.reachability(fleet())
    found = flow(report, source.strip("[]"), target.strip("[]"), family, service)
    assert (found.result, found.denied_at) == (result, denied_at)
    assert found.egress == (None if egress is None else r.EndVerdict(*egress))
    assert found.ingress == (None if ingress is None else r.EndVerdict(*ingress))


SUMMARIES = [
    ("bare1", "db1", {"allow": "", "unpoliced": "TCP 22, 179, 2379-2380, 6666-6667; UDP 68; ICMP"}),
    ("bare1", "office", {"allow": "", "unpoliced": "TCP any; UDP any; ICMP; other protocols"}),
    ("office", "db1", {"allow": "TCP 22, 179, 2379-2380, 6666-6667; UDP 68; ICMP", "unpoliced": ""}),
    ("db1", "office", {"allow": "TCP 179, 2379-2380, 6666-6667; UDP 53, 67", "unpoliced": ""}),
    ("app1", "office", {"allow": "TCP 179, 443, 2379-2380, 5432, 6666-6667; UDP 53, 67", "unpoliced": ""}),
]


@pytest.mark.parametrize("source, target, summary", SUMMARIES, ids=[f"{case[0]} -> {case[1]}" for case in SUMMARIES])
def test_cell_summaries(source, target, summary):
    assert r.cell_summary(cell(r.reachability(fleet()), source, target)) == summary


def test_no_cell_between_two_network_sets_nor_from_a_host_to_itself():
    report = r.reachability(fleet())
    assert cell(report, "office", "office").paths == ()
    assert cell(report, "db1", "db1").paths == ()
    assert [c["from"] + " -> " + c["to"] for c in r.report_data(report)["cells"]][:3] == [
        "host:app1 -> host:bare1", "host:app1 -> host:db1", "host:app1 -> network set:office"]


def test_an_unpoliced_host_is_marked_and_uses_its_ansible_host():
    report = r.reachability(fleet())
    (bare,) = [p for p in report.sources if p.name == "bare1"]
    assert (bare.policed, bare.places) == (False, (r.Place(ipaddress.ip_address("198.51.100.30"), r.NO_ENDPOINT),))
    assert "bare1 -> db1: nothing allowed | unpoliced: TCP 22, 179, 2379-2380, 6666-6667; UDP 68; ICMP" in r.text_report(report).splitlines()


def test_adjacent_ranges_with_the_same_outcome_are_one_range():
    report = r.reachability(fleet())
    path = next(p for p in cell(report, "bare1", "office").paths if p.family == 4)
    assert [f.service.label(4) for f in path.flows] == ["TCP 1-65535", "UDP 1-65535", "ICMP", "other protocols"]


SELECTIONS = [
    ("role == 'app'", "role == 'db'", ["app1 -> db1"]),
    ("has(zone)", "zone == 'back'", ["app1 -> db1", "bare1 -> db1", "office -> db1"]),
    (None, "zone == 'office'", ["app1 -> office", "bare1 -> office", "db1 -> office"]),
    ("has(group.palisade.io/databases)", None, ["db1 -> app1", "db1 -> bare1", "db1 -> office"]),
]


@pytest.mark.parametrize("sources, targets, pairs", SELECTIONS, ids=["one pair", "network set as a source", "network set as a destination", "by group"])
def test_from_and_to_select_by_labels(sources, targets, pairs):
    report = r.reachability(fleet(), sources, targets)
    assert [f"{c.source.name} -> {c.target.name}" for c in report.cells if c.paths] == pairs


ERRORS = [
    ({"sources": "role = 'db'"}, 'from: selector "role = \'db\'" column 6: a single "=" is not an operator; use "=="'),
    ({"targets": "role == 'nope'"}, "to: selector \"role == 'nope'\" matches no inventory host or network set (labels in the inventory: "
                                    "group.palisade.io/databases, palisade.io/hostname, role, zone)"),
    ({"group_by": "rack"}, "group_by: expected a label some inventory host has, got 'rack' (host labels: "
                           "group.palisade.io/databases, palisade.io/hostname, role, zone)"),
]


@pytest.mark.parametrize("options, message", ERRORS, ids=["bad selector", "selects nothing", "unknown group label"])
def test_bad_options_name_the_option(options, message):
    with pytest.raises(PalisadeError) as error:
        r.reachability(fleet(), **options)
    assert str(error.value) == message


def test_above_the_limit_it_refuses_naming_the_numbers():
    with pytest.raises(PalisadeError) as error:
        r.reachability(fleet(), limit=100)
    assert str(error.value) == (
        "reachability: 4 sources x 4 destinations (12 pairs with addresses) would need 472 verdicts, more than the 100 a report"
        " works out; select fewer hosts with -e from=SELECTOR and -e to=SELECTOR (for example -e \"to=role=='db'\")")
    assert r.reachability(fleet(), limit=472).verdicts == 472


def test_an_end_walks_each_class_of_packets_once():
    app2 = {**APP, "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.21"]}]}
    shared = {"palisade_policies": [{"name": "db", "selector": "role == 'db'", "ingress": DB_INGRESS}]}
    hosts = load_fleet([HostInput("db1", (), {**shared, **DB}), HostInput("app1", (), {**shared, **APP}), HostInput("app2", (), {**shared, **app2})])
    ends = r._Ends({"db1": compile_host(FleetIndex(hosts), "db1")})  # pylint: disable=protected-access
    db = ipaddress.ip_address("198.51.100.10")
    verdicts = []
    for peer, port in (("198.51.100.20", 5432), ("198.51.100.21", 5432), ("198.51.100.20", 5433), ("198.51.100.21", 5434), ("203.0.113.9", 5432)):
        at = ends.at("db1", fc.INGRESS, "eth0", db, ipaddress.ip_address(peer))
        flow = fc.FlowClass(fc.INGRESS, "eth0", db, fc.Peer("peer", ipaddress.ip_address(peer)), fc.Service(6, port, port))
        verdicts.append((ends.verdict(at, flow, 40000).verdict, ends.simulated))
    # app2 is in app1's sets: its 5432 is app1's walk; 5433 and 5434 are one class of db1's rules
    # (no rule names either); an address in no set is a class of its own
    assert verdicts == [("allow", 1), ("allow", 1), ("deny", 2), ("deny", 2), ("deny", 3)]


def test_group_by_orders_hosts_by_the_label_then_name_then_network_sets():
    report = r.reachability(fleet(), group_by="zone")
    assert [p.name for p in report.sources] == ["db1", "app1", "bare1", "office"]
    assert [p.name for p in r.reachability(fleet()).sources] == ["app1", "bare1", "db1", "office"]


def test_the_representative_packet_is_new_from_an_ephemeral_port_no_rule_names():
    rulesets = [h.ruleset(4) for h in (compile_host(FleetIndex(fleet()), "db1"),)]
    assert fc.ephemeral_port(rulesets) == fc.EPHEMERAL


def test_compare_shows_only_the_cells_that_change():
    old = r.reachability(fleet(db_ingress=DB_INGRESS[:1]))  # no ICMP rule yet
    new = r.reachability(fleet())
    changes = r.compare(old, new)
    assert [(c.source, c.target, r.change_summary(c)) for c in changes] == [
        ("host:bare1", "host:db1", {"gained": "unpoliced: ICMP", "lost": ""}),
        ("network set:office", "host:db1", {"gained": "ICMP", "lost": ""}),
    ]
    backwards = r.compare(old=new, new=old)
    assert [r.change_summary(c) for c in backwards] == [{"gained": "", "lost": "unpoliced: ICMP"}, {"gained": "", "lost": "ICMP"}]
    assert r.text_comparison(old, new, changes).splitlines()[2:] == [
        "from      to   change  services",
        "bare1     db1  gained  unpoliced: ICMP",
        "[office]  db1  gained  ICMP",
    ]
    assert r.compare(new, new) == []
    assert r.text_comparison(new, new, []).splitlines()[1] == "no reachability changes"


def test_compare_subtracts_port_ranges():
    wide = [{"action": "Allow", "protocol": "TCP", "destination": {"ports": ["5000:6000"]}}]
    narrow = [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [5432]}}]
    old = r.reachability(fleet(db_ingress=wide, app_egress=wide), "role == 'app'", "role == 'db'")
    new = r.reachability(fleet(db_ingress=narrow, app_egress=narrow), "role == 'app'", "role == 'db'")
    (change,) = r.compare(old, new)
    assert r.change_summary(change) == {"gained": "", "lost": "TCP 5000-5431, 5433-6000"}


def test_services_differing_between_families_are_named_by_family():
    v4_only = [{"action": "Allow", "protocol": "TCP", "source": {"nets": ["198.51.100.0/24"]}, "destination": {"ports": [5432]}}]
    report = r.reachability(fleet(db_ingress=v4_only), "role == 'app'", "role == 'db'")
    assert r.cell_summary(report.cells[0])["allow"] == f"TCP 179, 2379-2380, 5432, 6666-6667 (IPv4); TCP {FAILSAFE_BOTH} (IPv6); {ND}"


def outputs(report):
    data = r.report_data(report)
    return r.text_report(report), r.to_json(data), render_page(data, "reachability")


def test_two_runs_give_the_same_bytes():
    assert outputs(r.reachability(fleet())) == outputs(r.reachability(fleet()))


def test_the_outputs_do_not_depend_on_the_hash_seed():
    script = ("import sys; sys.path[:0] = sys.argv[1:]\n"
              "import test_reachability as t\n"
              "print(''.join(t.outputs(t.r.reachability(t.fleet(), group_by='zone'))))\n")
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent), *sys.path], env=env, capture_output=True, text=True, check=True)
        runs.append(done.stdout)
    assert runs[0] == runs[1] == "".join(outputs(r.reachability(fleet(), group_by="zone"))) + "\n"


HOSTILE = '</script><script>alert("x")</script>&amp;<b>'


def hostile_report():
    """Names and labels validation would refuse, straight into the engine: the page must still hold."""
    source = r.Party(r.HOST, f"a{HOSTILE}", {"role": HOSTILE}, (r.Place(ipaddress.ip_address("198.51.100.1"), "eth0"),))
    target = r.Party(r.NETWORK_SET, f"n{HOSTILE}", {HOSTILE: "x"}, (r.Place(ipaddress.ip_address("203.0.113.1"), None),))
    flows = (r.Flow(4, fc.Service(6, 80, 80), r.EndVerdict("allow", f"policy {HOSTILE} egress rule 0"), None),)
    cells = (r.Cell(source, target, (r.Path(4, source.places[0], target.places[0], flows),)),)
    return r.Report((source,), (target,), cells, "role", 1, 1)


def test_hostile_names_and_labels_are_escaped_in_the_page():
    data = r.report_data(hostile_report())
    page = render_page(data, f"title {HOSTILE}")
    assert HOSTILE not in page and "<b>" not in page
    assert page.count("</script>") == 2  # the JSON block's and the script's own ends
    assert page.count("<script") == 2
    assert "&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;&lt;b&gt;" in page
    block = re.search(r'<script type="application/json" id="reachability-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in block and ">" not in block and "&" not in block
    assert json.loads(block) == data


def test_the_page_is_self_contained():
    page = render_page(r.report_data(r.reachability(fleet())), "reachability")
    assert not re.search(r"""(src|href)\s*=|https?://|@import|url\(""", page)


def golden_outputs():
    report = r.reachability(fleet(), group_by="zone")
    old = r.reachability(fleet(db_ingress=DB_INGRESS[:1]), group_by="zone")
    changes = r.compare(old, report)
    comparison = r.comparison_data(old, report, changes)
    return {
        "report.txt": r.text_report(report),
        "report.html": render_page(r.report_data(report), "palisade.firewall reachability"),
        "compare.txt": r.text_comparison(old, report, changes),
        "compare.html": render_page(comparison, "palisade.firewall reachability changes"),
    }


@pytest.mark.parametrize("name", sorted(golden_outputs()))
def test_golden(name):
    actual = golden_outputs()[name]
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run with PALISADE_UPDATE_GOLDEN=1 and review it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path} differs (PALISADE_UPDATE_GOLDEN=1 rewrites it):\n" + "".join(
        difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), f"{path} (golden)", "rendered"))


def test_no_stale_golden_files():
    if not UPDATE:
        assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(golden_outputs())


def test_the_older_inventory_of_a_comparison_may_hold_none_of_the_selected_hosts():
    old = r.reachability(fleet(), "role == 'cache'", None, "rack", baseline=True)
    assert (old.sources, old.cells) == ((), ())
    new = r.reachability(fleet(), "role == 'app'", "role == 'db'")
    (change,) = r.compare(old, new)
    assert (change.source, change.target, r.change_summary(change)) == (
        "host:app1", "host:db1", {"gained": f"TCP 179, 2379-2380, 5432, 6666-6667; {ND}", "lost": ""})
