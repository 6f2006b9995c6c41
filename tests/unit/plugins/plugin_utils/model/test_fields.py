# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The field readers every loader builds on: aliases, unknown fields, typed getters, errors."""

from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problem, Problems, ValidationError, Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import (
    as_int,
    canonical_fields,
    get_bool,
    get_list,
    get_mapping,
    get_str,
    is_decimal,
    require_mapping,
    snake_case,
    type_name,
)


def where() -> Where:
    return Where("src", Problems())


def messages(at: Where) -> list[str]:
    return [str(problem) for problem in at.problems.items]


def params(table):
    """A module-level table of (case id, *values) as pytest params."""
    return [pytest.param(*values, id=case_id) for case_id, *values in table]


# --- snake_case: the alias of every camelCase field users may type ----------------------------

SNAKE_CASE = [
    ("interfaceName", "interfaceName", "interface_name"),
    ("expectedIPs", "expectedIPs", "expected_ips"),
    ("notICMP", "notICMP", "not_icmp"),
    ("preDNAT", "preDNAT", "pre_dnat"),
    ("doNotTrack", "doNotTrack", "do_not_track"),
    ("applyOnForward", "applyOnForward", "apply_on_forward"),
    ("notNets", "notNets", "not_nets"),
    ("notPorts", "notPorts", "not_ports"),
    ("ipVersion", "ipVersion", "ip_version"),
    ("notProtocol", "notProtocol", "not_protocol"),
    ("serviceAccountSelector", "serviceAccountSelector", "service_account_selector"),
    ("failsafeInboundHostPorts", "failsafeInboundHostPorts", "failsafe_inbound_host_ports"),
    ("defaultEndpointToHostAction", "defaultEndpointToHostAction", "default_endpoint_to_host_action"),
    ("apiVersion", "apiVersion", "api_version"),
    ("already snake", "name", "name"),
]


@pytest.mark.parametrize(("name", "expected"), params(SNAKE_CASE))
def test_snake_case(name, expected):
    assert snake_case(name) == expected


# --- canonical_fields ------------------------------------------------------------------------

RULE_LIKE = ("action", "source", "destination", "ipVersion", "notICMP")
EXPECTED_RULE_LIKE = "(expected one of: action, destination, ipVersion, notICMP, source)"

CANONICAL_OK = [
    ("camelCase as is", {"ipVersion": 4}, {"ipVersion": 4}),
    ("snake_case alias", {"ip_version": 4, "not_icmp": {}}, {"ipVersion": 4, "notICMP": {}}),
    ("empty", {}, {}),
]


@pytest.mark.parametrize(("value", "expected"), params(CANONICAL_OK))
def test_canonical_fields_accepts(value, expected):
    at = where()
    assert canonical_fields(value, RULE_LIKE, at) == expected
    assert messages(at) == []


CANONICAL_ERRORS = [
    (
        "typo with hint",
        {"destinaton": {}},
        [f"src: destinaton: unknown field; did you mean 'destination'? {EXPECTED_RULE_LIKE}"],
    ),
    (
        "wrong case gets a hint",
        {"IPVERSION": 4},
        [f"src: IPVERSION: unknown field; did you mean 'ipVersion'? {EXPECTED_RULE_LIKE}"],
    ),
    (
        "snake-ish typo gets the snake spelling",
        {"ip_versoin": 4},
        [f"src: ip_versoin: unknown field; did you mean 'ip_version'? {EXPECTED_RULE_LIKE}"],
    ),
    ("nothing close: no hint", {"zzz": 1}, [f"src: zzz: unknown field {EXPECTED_RULE_LIKE}"]),
    (
        "both spellings",
        {"ipVersion": 4, "ip_version": 6},
        ["src: ip_version: given twice, as 'ipVersion' and 'ip_version'"],
    ),
    ("non-string key", {1: "x"}, ["src: field names must be strings, got an integer 1"]),
]


@pytest.mark.parametrize(("value", "expected"), params(CANONICAL_ERRORS))
def test_canonical_fields_reports(value, expected):
    at = where()
    canonical_fields(value, RULE_LIKE, at)
    assert messages(at) == expected


def test_canonical_fields_drops_ignored_fields_in_both_spellings():
    at = where()
    result = canonical_fields(
        {"action": "Allow", "logSeverityScreen": "Info", "log_file_path": "/x"}, RULE_LIKE, at, ignored=("logSeverityScreen", "logFilePath")
    )
    assert result == {"action": "Allow"}
    assert messages(at) == []


def test_canonical_fields_reports_every_problem_of_a_mapping():
    at = where()
    canonical_fields({"actoin": "Allow", "sourc": {}, "ipVersion": 4, "ip_version": 4}, RULE_LIKE, at)
    assert messages(at) == [
        f"src: actoin: unknown field; did you mean 'action'? {EXPECTED_RULE_LIKE}",
        f"src: sourc: unknown field; did you mean 'source'? {EXPECTED_RULE_LIKE}",
        "src: ip_version: given twice, as 'ipVersion' and 'ip_version'",
    ]


# --- typed getters ---------------------------------------------------------------------------

GETTERS = [
    ("str ok", get_str, {"f": "x"}, "x", []),
    ("str absent", get_str, {}, None, []),
    ("str null", get_str, {"f": None}, None, []),
    ("str wrong type", get_str, {"f": 5}, None, ["src: f: expected a string, got an integer"]),
    ("list ok", get_list, {"f": [1]}, [1], []),
    ("list absent", get_list, {}, [], []),
    ("list tuple", get_list, {"f": (1, 2)}, [1, 2], []),
    ("list from a string", get_list, {"f": "a"}, [], ["src: f: expected a list, got a string"]),
    ("list from a mapping", get_list, {"f": {}}, [], ["src: f: expected a list, got a mapping"]),
    ("mapping ok", get_mapping, {"f": {"a": 1}}, {"a": 1}, []),
    ("mapping absent", get_mapping, {}, {}, []),
    ("mapping from a list", get_mapping, {"f": []}, {}, ["src: f: expected a mapping, got a list"]),
    ("bool ok", get_bool, {"f": True}, True, []),
    ("bool absent", get_bool, {}, False, []),
    ("bool from a string", get_bool, {"f": "yes"}, False, ["src: f: expected true or false, got a string 'yes'"]),
    ("bool from an integer", get_bool, {"f": 1}, False, ["src: f: expected true or false, got an integer 1"]),
]


@pytest.mark.parametrize(("getter", "fields", "expected", "problems"), params(GETTERS))
def test_getters(getter, fields, expected, problems):
    at = where()
    assert getter(fields, "f", at) == expected
    assert messages(at) == problems


def test_get_str_required():
    at = where()
    assert get_str({}, "f", at, required=True) is None
    assert messages(at) == ["src: f: is required"]


REQUIRE_MAPPING = [
    ("mapping", {"a": 1}, {"a": 1}, []),
    ("list", [1], None, ["src: expected a rule, got a list"]),
    ("null", None, None, ["src: expected a rule, got null"]),
]


@pytest.mark.parametrize(("value", "expected", "problems"), params(REQUIRE_MAPPING))
def test_require_mapping(value, expected, problems):
    at = where()
    assert require_mapping(value, at, "a rule") == expected
    assert messages(at) == problems


AS_INT = [
    ("int", 22, 22, []),
    ("digit string", "22", 22, []),
    ("low bound", 1, 1, []),
    ("high bound", 65535, 65535, []),
    ("below", 0, None, ["src: port 0 is out of range 1-65535"]),
    ("above", 65536, None, ["src: port 65536 is out of range 1-65535"]),
    ("digit string above", "70000", None, ["src: port 70000 is out of range 1-65535"]),
    ("negative", -1, None, ["src: port -1 is out of range 1-65535"]),
    ("boolean", True, None, ["src: expected a port (1-65535), got a boolean True"]),
    ("float", 22.5, None, ["src: expected a port (1-65535), got a number 22.5"]),
    ("word", "ssh", None, ["src: expected a port (1-65535), got a string 'ssh'"]),
    ("unicode digit", "²", None, ["src: expected a port (1-65535), got a string '²'"]),
]


@pytest.mark.parametrize(("value", "expected", "problems"), params(AS_INT))
def test_as_int(value, expected, problems):
    at = where()
    assert as_int(value, at, "a port", 1, 65535) == expected
    assert messages(at) == problems


def test_as_int_drops_the_article_of_an_out_of_range_value():
    at = where()
    as_int(300, at, "an ICMP type", 0, 254)
    assert messages(at) == ["src: ICMP type 300 is out of range 0-254"]


@pytest.mark.parametrize(("text", "expected"), [("22", True), ("", False), ("²", False), ("-1", False), ("2a", False)])
def test_is_decimal(text, expected):
    assert is_decimal(text) is expected


TYPE_NAMES = [
    ("null", None, "null"),
    ("boolean", False, "a boolean"),
    ("integer", 3, "an integer"),
    ("float", 3.5, "a number"),
    ("string", "x", "a string"),
    ("mapping", {}, "a mapping"),
    ("list", [], "a list"),
    ("tuple", (), "a list"),
    ("other", object(), "object"),
]


@pytest.mark.parametrize(("value", "expected"), params(TYPE_NAMES))
def test_type_name(value, expected):
    assert type_name(value) == expected


# --- errors: where a problem is, and how a run reports them ----------------------------------


def test_where_builds_field_paths():
    at = Where("palisade_policies[3] (web)", Problems())
    at.at("ingress", 0, "source", "nets", 2).error("bad")
    at.error("whole entry")
    assert messages(at) == [
        "palisade_policies[3] (web): ingress[0].source.nets[2]: bad",
        "palisade_policies[3] (web): whole entry",
    ]


def test_warnings_are_kept_apart_from_errors():
    problems = Problems()
    Where("src", problems).at("f").warn("odd")
    assert not problems
    assert [str(p) for p in problems.warnings] == ["src: f: odd"]
    problems.raise_if_any()  # warnings never end a run


def test_error_count_counts_errors_only():
    at = where()
    at.warn("w")
    at.error("e")
    assert at.error_count() == 1


def test_validation_error_lists_every_problem():
    problems = Problems()
    problems.add("a", "x", "first")
    problems.add("b", "", "second")
    with pytest.raises(ValidationError) as info:
        problems.raise_if_any()
    assert str(info.value) == "2 problems in the firewall configuration:\n- a: x: first\n- b: second"
    assert info.value.problems == [Problem("a", "x", "first"), Problem("b", "", "second")]


def test_validation_error_with_one_problem_is_that_problem():
    assert str(ValidationError([Problem("a", "x", "only")])) == "a: x: only"
