# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GlobalNetworkPolicy validation: semantics (c) and checks 1-10 of (h), with exact messages.

Policies are written as ``palisade_policies`` entries (name + spec fields, flattened) and loaded
through ``load_catalog``, as the role does; manifests are covered in test_catalog.py.
"""

from __future__ import annotations

import math

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problems, Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.catalog import load_catalog
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import canonical_fields
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.policy_loader import POLICY_SPEC_FIELDS, load_policy
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import EGRESS, INGRESS, GlobalNetworkPolicy, Rule
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import parse_selector

WEB = "palisade_policies[0] (web)"
POLICY_FIELDS = (
    "(expected one of: applyOnForward, doNotTrack, egress, ingress, name, namespaceSelector, order, performanceHints, "
    "preDNAT, selector, serviceAccountSelector, tier, types)"
)
ALLOW = {"action": "Allow"}
INVALID_NAME = "expected lower case letters, digits, '-' and '.', starting and ending with a letter or digit"


def load(*policies):
    problems = Problems()
    catalog = load_catalog(list(policies), None, None, problems)
    return catalog, problems


def errors_of(*policies):
    return [str(problem) for problem in load(*policies)[1].items]


def warnings_of(*policies):
    return [str(problem) for problem in load(*policies)[1].warnings]


def policy(**fields):
    """A ``palisade_policies`` entry named web."""
    return {"name": "web", **fields}


def loaded(**fields):
    """The one policy ``policy(**fields)`` loads to; fails on any problem."""
    catalog, problems = load(policy(**fields))
    assert [str(p) for p in problems.items] == []
    (result,) = catalog.policies
    return result


def params(table):
    return [pytest.param(*values, id=case_id) for case_id, *values in table]


# --- name (h 9, 34) --------------------------------------------------------------------------

NAME_ERRORS = [
    ("missing", {}, ["palisade_policies[0]: name: is required"]),
    ("not a string", {"name": 7}, ["palisade_policies[0]: name: expected a string, got an integer"]),
    (
        "upper case",
        {"name": "Web"},
        [f"palisade_policies[0] (Web): name: invalid name 'Web': {INVALID_NAME}"],
    ),
    (
        "underscore",
        {"name": "web_1"},
        [f"palisade_policies[0] (web_1): name: invalid name 'web_1': {INVALID_NAME}"],
    ),
    (
        "ends with a dash",
        {"name": "web-"},
        [f"palisade_policies[0] (web-): name: invalid name 'web-': {INVALID_NAME}"],
    ),
    ("two dots", {"name": "a.b.c"}, ["palisade_policies[0] (a.b.c): name: invalid policy name 'a.b.c': at most one '.' is allowed"]),
    ("254 characters", {"name": "a" * 254}, [f"palisade_policies[0] ({'a' * 254}): name: is 254 characters long; the limit is 253"]),
]


@pytest.mark.parametrize(("entry", "expected"), params(NAME_ERRORS))
def test_name_errors(entry, expected):
    assert errors_of(entry) == expected


@pytest.mark.parametrize("name", ["web", "a", "tier1.web", "web-2", "a" * 253])
def test_valid_names(name):
    catalog, problems = load({"name": name})
    assert not problems
    assert [p.name for p in catalog.policies] == [name]


# --- selector (h 1, 2, 10) -------------------------------------------------------------------

SELECTOR_ERRORS = [
    (
        "does not parse",
        {"selector": "role = 'x'"},
        [f'{WEB}: selector: selector "role = \'x\'" column 6: a single "=" is not an operator; use "=="'],
    ),
    ("global()", {"selector": "global()"}, [f"{WEB}: selector: global() can only be used in a rule's namespaceSelector"]),
    ("not a string", {"selector": ["role == 'x'"]}, [f"{WEB}: selector: expected a selector string, got a list"]),
    ("too long", {"selector": "a == '" + "x" * 1100 + "'"}, [f"{WEB}: selector: selector is 1107 characters long; the limit is 1024"]),
]


@pytest.mark.parametrize(("fields", "expected"), params(SELECTOR_ERRORS))
def test_selector_errors(fields, expected):
    assert errors_of(policy(**fields)) == expected


@pytest.mark.parametrize(
    ("fields", "expected"), [({}, ""), ({"selector": ""}, ""), ({"selector": None}, ""), ({"selector": "has(a)"}, "has(a)")]
)
def test_selector_defaults_to_all(fields, expected):
    assert loaded(**fields).selector == parse_selector(expected)


# --- order -----------------------------------------------------------------------------------

ORDER = [
    ("absent is None", {}, None),
    ("integer", {"order": 10}, 10.0),
    ("zero", {"order": 0}, 0.0),
    ("negative", {"order": -5}, -5.0),
    ("float", {"order": 1.5}, 1.5),
]


@pytest.mark.parametrize(("fields", "expected"), params(ORDER))
def test_order(fields, expected):
    assert loaded(**fields).order == expected


ORDER_ERRORS = [
    ("string", {"order": "1"}, [f"{WEB}: order: expected a number, got a string '1'"]),
    ("boolean", {"order": True}, [f"{WEB}: order: expected a number, got a boolean True"]),
    ("list", {"order": [1]}, [f"{WEB}: order: expected a number, got a list [1]"]),
    ("nan", {"order": math.nan}, [f"{WEB}: order: expected a finite number, got nan"]),
    ("infinity", {"order": math.inf}, [f"{WEB}: order: expected a finite number, got inf"]),
]


@pytest.mark.parametrize(("fields", "expected"), params(ORDER_ERRORS))
def test_order_errors(fields, expected):
    assert errors_of(policy(**fields)) == expected


def test_policies_are_sorted_by_order_then_name_with_absent_order_last():
    catalog, problems = load(
        {"name": "no-order-b"},
        {"name": "ten", "order": 10},
        {"name": "no-order-a"},
        {"name": "one-b", "order": 1},
        {"name": "one-a", "order": 1.0},
        {"name": "minus", "order": -1},
        {"name": "a-x", "order": 5},
        {"name": "a.x", "order": 5},
        {"name": "ab", "order": 5},
    )
    assert not problems
    # Equal orders sort by plain byte-wise name comparison: '-' < '.' < 'b' ((j) 5).
    assert [p.name for p in catalog.policies] == ["minus", "one-a", "one-b", "a-x", "a.x", "ab", "ten", "no-order-a", "no-order-b"]
    assert catalog.policies[-1].sort_key == (math.inf, "no-order-b")


# --- types: defaulting and errors (c, h 6, 8) ------------------------------------------------

TYPES_DEFAULTS = [
    ("no rules at all", {}, (INGRESS,)),
    ("ingress rules only", {"ingress": [ALLOW]}, (INGRESS,)),
    ("egress rules only", {"egress": [ALLOW]}, (EGRESS,)),
    ("both", {"ingress": [ALLOW], "egress": [ALLOW]}, (INGRESS, EGRESS)),
    ("empty list is defaulted", {"types": [], "egress": [ALLOW]}, (EGRESS,)),
    ("null is defaulted", {"types": None, "ingress": [ALLOW], "egress": [ALLOW]}, (INGRESS, EGRESS)),
    ("explicit Egress without rules", {"types": ["Egress"]}, (EGRESS,)),
    ("explicit both, any order", {"types": ["Egress", "Ingress"]}, (INGRESS, EGRESS)),
    ("explicit Ingress with egress rules", {"types": ["Ingress"], "egress": [ALLOW]}, (INGRESS,)),
]


@pytest.mark.parametrize(("fields", "expected"), params(TYPES_DEFAULTS))
def test_types(fields, expected):
    assert loaded(**fields).types == expected


TYPES_ERRORS = [
    (
        "lower case",
        {"types": ["ingress"]},
        [f"{WEB}: types[0]: invalid type 'ingress': expected Ingress or Egress; did you mean 'Ingress'?"],
    ),
    ("unknown", {"types": ["Forward"]}, [f"{WEB}: types[0]: invalid type 'Forward': expected Ingress or Egress"]),
    ("duplicate", {"types": ["Egress", "Egress"]}, [f"{WEB}: types[1]: 'Egress' is given more than once"]),
    ("a string", {"types": "Ingress"}, [f"{WEB}: types: expected a list of Ingress and/or Egress, got a string"]),
    ("a mapping", {"types": {"Ingress": True}}, [f"{WEB}: types: expected a list of Ingress and/or Egress, got a mapping"]),
    (
        "every bad item",
        {"types": ["egress", "Ingress", "Ingress", 1]},
        [
            f"{WEB}: types[0]: invalid type 'egress': expected Ingress or Egress; did you mean 'Egress'?",
            f"{WEB}: types[2]: 'Ingress' is given more than once",
            f"{WEB}: types[3]: invalid type 1: expected Ingress or Egress",
        ],
    ),
]


@pytest.mark.parametrize(("fields", "expected"), params(TYPES_ERRORS))
def test_types_errors(fields, expected):
    assert errors_of(policy(**fields)) == expected


IGNORED_RULES = [
    (
        "egress rules, types Ingress",
        {"types": ["Ingress"], "egress": [ALLOW]},
        [f"{WEB}: egress: these rules are ignored: types is ['Ingress'], which does not include Egress"],
    ),
    (
        "ingress rules, types Egress",
        {"types": ["Egress"], "ingress": [ALLOW]},
        [f"{WEB}: ingress: these rules are ignored: types is ['Egress'], which does not include Ingress"],
    ),
    ("defaulted types ignore nothing", {"ingress": [ALLOW], "egress": [ALLOW]}, []),
]


@pytest.mark.parametrize(("fields", "expected"), params(IGNORED_RULES))
def test_rules_outside_types_are_a_warning(fields, expected):
    assert errors_of(policy(**fields)) == []
    assert warnings_of(policy(**fields)) == expected


# --- preDNAT, doNotTrack, applyOnForward (h 4, 5, 6, 7) --------------------------------------

STAGE_OK = [
    ("applyOnForward", {"applyOnForward": True}, (True, False, False)),
    ("preDNAT", {"applyOnForward": True, "preDNAT": True, "ingress": [ALLOW]}, (True, True, False)),
    (
        "doNotTrack with both directions",
        {"applyOnForward": True, "doNotTrack": True, "ingress": [ALLOW], "egress": [ALLOW]},
        (True, False, True),
    ),
    ("snake_case aliases", {"apply_on_forward": True, "pre_dnat": True}, (True, True, False)),
    ("do_not_track alias", {"apply_on_forward": True, "do_not_track": True}, (True, False, True)),
    ("explicit false", {"applyOnForward": False, "preDNAT": False, "doNotTrack": False}, (False, False, False)),
]


@pytest.mark.parametrize(("fields", "expected"), params(STAGE_OK))
def test_stage_flags(fields, expected):
    result = loaded(**fields)
    assert (result.apply_on_forward, result.pre_dnat, result.do_not_track) == expected


STAGE_ERRORS = [
    (
        "preDNAT and doNotTrack",
        {"applyOnForward": True, "preDNAT": True, "doNotTrack": True},
        [f"{WEB}: preDNAT and doNotTrack cannot both be true"],
    ),
    (
        "preDNAT with egress rules (types defaulted: reported once)",
        {"applyOnForward": True, "preDNAT": True, "egress": [ALLOW]},
        [f"{WEB}: egress: a preDNAT policy cannot have egress rules"],
    ),
    (
        "preDNAT with Egress type",
        {"applyOnForward": True, "preDNAT": True, "types": ["Ingress", "Egress"]},
        [f"{WEB}: types: a preDNAT policy cannot have the Egress type"],
    ),
    (
        "preDNAT with egress rules and Egress type",
        {"applyOnForward": True, "preDNAT": True, "types": ["Egress"], "egress": [ALLOW]},
        [f"{WEB}: egress: a preDNAT policy cannot have egress rules", f"{WEB}: types: a preDNAT policy cannot have the Egress type"],
    ),
    ("preDNAT without applyOnForward", {"preDNAT": True}, [f"{WEB}: applyOnForward: must be true when preDNAT is true"]),
    (
        "doNotTrack without applyOnForward",
        {"doNotTrack": True, "applyOnForward": False},
        [f"{WEB}: applyOnForward: must be true when doNotTrack is true"],
    ),
    (
        "all at once",
        {"preDNAT": True, "doNotTrack": True, "egress": [ALLOW]},
        [
            f"{WEB}: preDNAT and doNotTrack cannot both be true",
            f"{WEB}: egress: a preDNAT policy cannot have egress rules",
            f"{WEB}: applyOnForward: must be true when preDNAT is true",
        ],
    ),
    ("flag not a boolean", {"applyOnForward": "yes"}, [f"{WEB}: applyOnForward: expected true or false, got a string 'yes'"]),
    ("flag as a number", {"pre_dnat": 1}, [f"{WEB}: preDNAT: expected true or false, got an integer 1"]),
]


@pytest.mark.parametrize(("fields", "expected"), params(STAGE_ERRORS))
def test_stage_errors(fields, expected):
    assert errors_of(policy(**fields)) == expected


# --- refusals: tier, workload scoping --------------------------------------------------------

REFUSALS = [
    ("tier", {"tier": "security"}, [f"{WEB}: tier: 'security' is not supported: every policy is in the 'default' tier"]),
    (
        "namespaceSelector",
        {"namespaceSelector": "team == 'a'"},
        [f"{WEB}: namespaceSelector: scopes a policy to Kubernetes workloads; a policy with it never selects a host endpoint"],
    ),
    (
        "serviceAccountSelector",
        {"serviceAccountSelector": "all()"},
        [f"{WEB}: serviceAccountSelector: scopes a policy to Kubernetes workloads; a policy with it never selects a host endpoint"],
    ),
    (
        "snake_case namespace_selector",
        {"namespace_selector": "all()"},
        [f"{WEB}: namespaceSelector: scopes a policy to Kubernetes workloads; a policy with it never selects a host endpoint"],
    ),
]


@pytest.mark.parametrize(("fields", "expected"), params(REFUSALS))
def test_refusals(fields, expected):
    assert errors_of(policy(**fields)) == expected


@pytest.mark.parametrize(
    "fields",
    [
        {"tier": "default"},
        {"tier": ""},
        {"namespaceSelector": ""},
        {"serviceAccountSelector": ""},
        {"performanceHints": ["AssumeNeededOnEveryNode"]},
    ],
    ids=["tier default", "empty tier", "empty namespaceSelector", "empty serviceAccountSelector", "performanceHints"],
)
def test_accepted_no_ops(fields):
    assert loaded(**fields).name == "web"


# --- fields, rule lists ----------------------------------------------------------------------

FIELD_ERRORS = [
    ("typo ingres", {"ingres": [ALLOW]}, [f"{WEB}: ingres: unknown field; did you mean 'ingress'? {POLICY_FIELDS}"]),
    ("typo selecter", {"selecter": "all()"}, [f"{WEB}: selecter: unknown field; did you mean 'selector'? {POLICY_FIELDS}"]),
    ("spec nested", {"spec": {}}, [f"{WEB}: spec: unknown field {POLICY_FIELDS}"]),
    (
        "both spellings",
        {"applyOnForward": True, "apply_on_forward": True},
        [f"{WEB}: apply_on_forward: given twice, as 'applyOnForward' and 'apply_on_forward'"],
    ),
    ("ingress not a list", {"ingress": ALLOW}, [f"{WEB}: ingress: expected a list, got a mapping"]),
    ("1025 rules", {"egress": [ALLOW] * 1025}, [f"{WEB}: egress: 1025 rules; the limit is 1024"]),
    (
        "rule problems carry the rule's path",
        {"ingress": [ALLOW, {"action": "Allow", "protocol": "tcp"}]},
        [
            f"{WEB}: ingress[1].protocol: invalid protocol 'tcp': expected TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255; did you mean 'TCP'?"
        ],
    ),
    (
        "entry not a mapping",
        None,
        ["palisade_policies[0]: expected a policy (a mapping with name, selector, ingress, egress, ...), got null"],
    ),
]


@pytest.mark.parametrize(("fields", "expected"), params(FIELD_ERRORS))
def test_field_errors(fields, expected):
    entry = policy(**fields) if fields is not None else None
    assert errors_of(entry) == expected


def test_every_problem_of_a_policy_is_reported():
    entry = {
        "name": "Web",
        "selector": "role ==",
        "order": "first",
        "types": ["ingress"],
        "ingress": [{"action": "Allow", "destination": {"ports": [22]}}],
        "egres": [],
        "tier": "t",
    }
    source = "palisade_policies[0] (Web)"
    assert errors_of(entry) == [
        f"{source}: egres: unknown field; did you mean 'egress'? {POLICY_FIELDS}",
        f"{source}: name: invalid name 'Web': {INVALID_NAME}",
        f'{source}: selector: selector "role ==" column 8: expected a quoted string',
        f"{source}: order: expected a number, got a string 'first'",
        f"{source}: ingress[0].destination.ports: ports need the rule's protocol to be TCP, UDP or SCTP; the rule has no protocol",
        f"{source}: types[0]: invalid type 'ingress': expected Ingress or Egress; did you mean 'Ingress'?",
        f"{source}: tier: 't' is not supported: every policy is in the 'default' tier",
    ]


def test_a_policy_loads_to_the_model():
    result = loaded(
        selector="role == 'k8s-worker'",
        order=0,
        ingress=[{"action": "Allow", "protocol": "ICMP"}],
        egress=[{"action": "Deny"}],
        applyOnForward=True,
    )
    assert result == GlobalNetworkPolicy(
        name="web",
        selector=parse_selector("role == 'k8s-worker'"),
        types=(INGRESS, EGRESS),
        order=0.0,
        ingress=(Rule("Allow", protocol=result.ingress[0].protocol),),
        egress=(Rule("Deny"),),
        apply_on_forward=True,
        origin=WEB,
    )
    assert str(result.ingress[0].protocol) == "ICMP"


def test_load_policy_directly_reports_name_to_its_own_place():
    problems = Problems()
    where = Where("doc", problems)
    fields = canonical_fields({"selector": "all()"}, POLICY_SPEC_FIELDS, where.at("spec"))
    assert load_policy(None, fields, where.at("spec"), where.at("metadata", "name"), "doc") is None
    assert [str(p) for p in problems.items] == ["doc: metadata.name: is required"]


# --- performanceHints: no effect here, validated as Calico does -----------------------------

HINTS_OK = [
    ("absent", {}),
    ("empty", {"performanceHints": []}),
    ("the known hint", {"performanceHints": ["AssumeNeededOnEveryNode"]}),
]


@pytest.mark.parametrize("fields", params(HINTS_OK))
def test_performance_hints(fields):
    assert loaded(**fields).name == "web"


HINTS_ERRORS = [
    (
        "unknown",
        {"performanceHints": ["AssumeNeededEverywhere"]},
        [f"{WEB}: performanceHints[0]: invalid performance hint 'AssumeNeededEverywhere': expected AssumeNeededOnEveryNode"],
    ),
    (
        "twice",
        {"performanceHints": ["AssumeNeededOnEveryNode", "AssumeNeededOnEveryNode"]},
        [f"{WEB}: performanceHints[1]: 'AssumeNeededOnEveryNode' is given more than once"],
    ),
    ("not a list", {"performanceHints": "AssumeNeededOnEveryNode"}, [f"{WEB}: performanceHints: expected a list, got a string"]),
    ("not a string", {"performanceHints": [{}]}, [f"{WEB}: performanceHints[0]: invalid performance hint {{}}: expected AssumeNeededOnEveryNode"]),
]


@pytest.mark.parametrize(("fields", "expected"), params(HINTS_ERRORS))
def test_performance_hint_errors(fields, expected):
    assert errors_of(policy(**fields)) == expected
