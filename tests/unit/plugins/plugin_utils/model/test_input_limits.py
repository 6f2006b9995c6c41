# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input that used to crash the engine (OverflowError, RecursionError, int() of a huge digit
string) gives a located error instead: the limits on numbers and nesting depth."""

from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problems, ValidationError, Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.catalog import load_catalog
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import MAX_NESTING, as_int, nesting_problem
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import MAX_DEPTH, SelectorError, parse_selector

HUGE = "(an integer of more than 18 digits)"
DEEP = f"lists and mappings are nested more than {MAX_NESTING} levels deep; the limit is {MAX_NESTING}"
V3 = "projectcalico.org/v3"


def params(table):
    return [pytest.param(*values, id=case_id) for case_id, *values in table]


def nested(depth, leaf=None):
    value = leaf
    for _level in range(depth):
        value = [value]
    return value


def policy_errors(**fields):
    problems = Problems()
    catalog = load_catalog([{"name": "web", **fields}], None, None, problems)
    assert catalog.policies == ()
    return [str(p) for p in problems.items]


# --- numbers --------------------------------------------------------------------------------

ORDER = "expected a number from -1e15 to 1e15"
ORDERS = [
    ("10**400", 10**400, f"palisade_policies[0] (web): order: order {HUGE} is out of range: {ORDER}"),
    ("-10**400", -(10**400), f"palisade_policies[0] (web): order: order {HUGE} is out of range: {ORDER}"),
    ("just past the limit", 10**15 + 1, f"palisade_policies[0] (web): order: order 1000000000000001 is out of range: {ORDER}"),
    ("a large float", 1e300, f"palisade_policies[0] (web): order: order 1e+300 is out of range: {ORDER}"),
]


@pytest.mark.parametrize(("order", "expected"), params(ORDERS))
def test_order_out_of_range(order, expected):
    assert policy_errors(order=order) == [expected]


@pytest.mark.parametrize("order", [10**15, -(10**15), 1e15])
def test_order_at_the_limit(order):
    problems = Problems()
    catalog = load_catalog([{"name": "web", "order": order}], None, None, problems)
    assert not problems and catalog.policies[0].order == float(order)


INTEGERS = [
    ("huge integer", 10**400, ["src: port (an integer of more than 18 digits) is out of range 1-65535"]),
    ("huge digit string", "9" * 5000, ["src: port (an integer of more than 18 digits) is out of range 1-65535"]),
    ("zero-padded digit string", "0" * 30 + "22", []),
    ("negative huge integer", -(10**5000), ["src: port (an integer of more than 18 digits) is out of range 1-65535"]),
]


@pytest.mark.parametrize(("value", "expected"), params(INTEGERS))
def test_as_int_never_raises(value, expected):
    problems = Problems()
    result = as_int(value, Where("src", problems), "a port", 1, 65535)
    assert [str(p) for p in problems.items] == expected
    assert result == (None if expected else 22)


RULE = {"action": "Allow", "protocol": "TCP"}
RULE_NUMBERS = [
    (
        "port range of huge numbers",
        {**RULE, "destination": {"ports": [f"{'9' * 5000}:{'9' * 5000}"]}},
        "ingress[0].destination.ports[0]: invalid port range '{value}': ports are 1-65535",
    ),
    ("huge port", {**RULE, "destination": {"ports": [10**400]}}, f"ingress[0].destination.ports[0]: port {HUGE} is out of range 1-65535"),
    ("huge protocol number", {"action": "Allow", "protocol": 10**400}, f"ingress[0].protocol: protocol number {HUGE} is out of range 1-255"),
    (
        "huge ICMP type",
        {"action": "Allow", "protocol": "ICMP", "icmp": {"type": "9" * 5000}},
        f"ingress[0].icmp.type: ICMP type {HUGE} is out of range 0-254",
    ),
    (
        "huge ICMP code",
        {"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8, "code": 10**400}},
        f"ingress[0].icmp.code: ICMP code {HUGE} is out of range 0-255",
    ),
]


@pytest.mark.parametrize(("rule", "expected"), params(RULE_NUMBERS))
def test_rule_numbers_out_of_range(rule, expected):
    value = f"{'9' * 5000}:{'9' * 5000}"
    assert policy_errors(ingress=[rule]) == [f"palisade_policies[0] (web): {expected.format(value=value)}"]


def test_failsafe_and_endpoint_ports_out_of_range():
    variables = {
        "palisade_failsafe_inbound_host_ports": [{"protocol": "tcp", "port": "9" * 5000}],
        "palisade_host_endpoints": [{"interfaceName": "eth0", "ports": [{"name": "http", "protocol": "TCP", "port": 10**400}]}],
    }
    with pytest.raises(ValidationError) as info:
        load_fleet([HostInput("h1", (), variables)])
    assert [str(p) for p in info.value.problems] == [
        f"host h1: palisade_failsafe_inbound_host_ports[0].port: port {HUGE} is out of range 0-65535",
        f"host h1: palisade_host_endpoints[0].ports[0].port: port {HUGE} is out of range 1-65535",
    ]


# --- selector nesting -----------------------------------------------------------------------

TOO_DEEP = f"parentheses are nested more than {MAX_DEPTH} levels deep; the limit is {MAX_DEPTH}"


def parenthesised(depth):
    return "(" * depth + "has(a)" + ")" * depth


def test_selector_at_the_depth_limit_parses():
    assert parse_selector(parenthesised(MAX_DEPTH)).canonical == "has(a)"
    assert parse_selector("!(" * MAX_DEPTH + "has(a)" + ")" * MAX_DEPTH).matches({}) is False


SELECTORS = [
    ("one past the limit", parenthesised(MAX_DEPTH + 1), MAX_DEPTH + 1),
    ("250 levels (used to raise RecursionError)", parenthesised(250), MAX_DEPTH + 1),
    ("negations", "!(" * 300 + "has(a)" + ")" * 300, 2 * MAX_DEPTH + 2),
]


@pytest.mark.parametrize(("text", "column"), params(SELECTORS))
def test_selector_too_deep(text, column):
    with pytest.raises(SelectorError) as info:
        parse_selector(text)
    assert (info.value.column, info.value.expected) == (column, TOO_DEEP)


def test_selector_too_deep_in_a_policy():
    text = parenthesised(250)
    assert policy_errors(selector=text) == [f'palisade_policies[0] (web): selector: selector "{text}" column 101: {TOO_DEEP}']


# --- document nesting -----------------------------------------------------------------------


def test_nesting_problem():
    assert nesting_problem(nested(MAX_NESTING)) is None
    assert nesting_problem(nested(MAX_NESTING + 1)) == DEEP
    assert nesting_problem({"a": nested(MAX_NESTING - 1)}) is None
    assert nesting_problem({"a": nested(MAX_NESTING)}) == DEEP
    assert nesting_problem(nested(100_000)) == DEEP
    assert nesting_problem("text") is None


def document(name="web"):
    return {"apiVersion": V3, "kind": "GlobalNetworkPolicy", "metadata": {"name": name}, "spec": {}}


def test_nested_document_lists_within_the_limit_load():
    problems = Problems()
    catalog = load_catalog(None, None, [nested(MAX_NESTING - 3, document())], problems)
    assert not problems and [p.name for p in catalog.policies] == ["web"]


CATALOG_DEEP = [
    ("palisade_resources lists (used to raise RecursionError)", None, None, [nested(5000, document())], "palisade_resources"),
    ("palisade_policies", [{"name": "web", "order": nested(5000)}], None, None, "palisade_policies"),
    ("palisade_network_sets", None, [{"name": "lan", "nets": nested(5000)}], None, "palisade_network_sets"),
]


@pytest.mark.parametrize(("policies", "network_sets", "resources", "variable"), params(CATALOG_DEEP))
def test_catalog_refuses_deep_nesting(policies, network_sets, resources, variable):
    problems = Problems()
    catalog = load_catalog(policies, network_sets, resources, problems)
    assert catalog.policies == () and catalog.network_sets == ()
    assert [str(p) for p in problems.items] == [f"{variable}: {DEEP}"]


def test_fleet_refuses_deep_nesting_before_comparing_hosts():
    resources = [nested(5000, document())]
    hosts = [HostInput("h1", (), {"palisade_resources": resources}), HostInput("h2", (), {"palisade_resources": [nested(5000)]})]
    with pytest.raises(ValidationError) as info:
        load_fleet(hosts)
    assert [str(p) for p in info.value.problems] == [f"palisade_resources: {DEEP}"]


def test_fleet_refuses_deeply_nested_host_variables():
    variables = {
        "palisade_labels": {"role": nested(5000)},
        "palisade_host_endpoints": [{"interfaceName": "eth0", "labels": {"a": nested(5000)}}],
        "palisade_auto_host_endpoint": True,
    }
    with pytest.raises(ValidationError) as info:
        load_fleet([HostInput("h1", (), variables)])
    assert [str(p) for p in info.value.problems] == [f"host h1: palisade_labels: {DEEP}", f"host h1: palisade_host_endpoints: {DEEP}"]
