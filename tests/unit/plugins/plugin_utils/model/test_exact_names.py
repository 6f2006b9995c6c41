# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name, label, port-name and log-prefix checks match the whole value: a trailing newline (what
a YAML ``|`` block scalar keeps) is refused, never a second spelling of the same name."""

from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problems, Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model import name_rules
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.catalog import load_catalog
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.settings_loader import load_settings_variables

INVALID_NAME = "expected lower case letters, digits, '-' and '.', starting and ending with a letter or digit"
LABEL_CHARS = "expected letters, digits, '-', '_' and '.', starting and ending with a letter or digit"


def params(table):
    return [pytest.param(*values, id=case_id) for case_id, *values in table]


CHECKS = [
    ("resource name", name_rules.check_resource_name, "web\n", f"invalid name 'web\\n': {INVALID_NAME}"),
    ("policy name", name_rules.check_policy_name, "web\n", f"invalid name 'web\\n': {INVALID_NAME}"),
    ("policy name with a tier", name_rules.check_policy_name, "default.web\n", f"invalid name 'default.web\\n': {INVALID_NAME}"),
    ("label key", name_rules.check_label_key, "role\n", f"invalid label key 'role\\n': {LABEL_CHARS}"),
    (
        "label key prefix",
        name_rules.check_label_key,
        "example.com\n/role",
        "invalid label key 'example.com\\n/role': the prefix 'example.com\\n' must be a DNS subdomain (lower case, <= 253 characters)",
    ),
    ("label value", name_rules.check_label_value, "web\n", f"invalid label value 'web\\n': {LABEL_CHARS}"),
    (
        "interface name",
        name_rules.check_interface_name,
        "eth0\n",
        "invalid interface name 'eth0\\n': expected '*' or 1-15 of letters, digits, '_', '.', '-'",
    ),
    (
        "endpoint port name",
        name_rules.check_endpoint_port_name,
        "http\n",
        "invalid port name 'http\\n': expected at most 15 lower case letters, digits and '-', with at least one letter",
    ),
]


@pytest.mark.parametrize(("check", "value", "expected"), params(CHECKS))
def test_trailing_newline_is_refused(check, value, expected):
    assert check(value) == expected
    assert check(value.replace("\n", "")) is None


def test_rule_port_name_with_a_trailing_newline_is_not_a_name():
    assert name_rules.is_rule_port_name("http")
    assert not name_rules.is_rule_port_name("http\n")


SETTINGS = [
    (
        "log prefix",
        {"palisade_log_prefix": "palisade\n"},
        "host h1: palisade_log_prefix: expected 1-27 characters of letters, digits, ':', '/', '_', '.' and '-', got a string 'palisade\\n'",
    ),
    (
        "interface prefix",
        {"palisade_interface_prefixes": ["cali\n"]},
        "host h1: palisade_interface_prefixes[0]: expected an interface name prefix (1-14 of letters, digits, '_', '.', '-'), got a string 'cali\\n'",
    ),
]


@pytest.mark.parametrize(("host_vars", "expected"), params(SETTINGS))
def test_settings_with_a_trailing_newline(host_vars, expected):
    problems = Problems()
    assert load_settings_variables(host_vars, Where("host h1", problems)) == {}
    assert [str(p) for p in problems.items] == [expected]


def test_block_scalar_policy_name_is_not_a_second_policy():
    problems = Problems()
    catalog = load_catalog([{"name": "web"}, {"name": "web\n"}], None, None, problems)
    assert [p.name for p in catalog.policies] == ["web"]
    assert [str(p) for p in problems.items] == [f"palisade_policies[1] (web\n): name: invalid name 'web\\n': {INVALID_NAME}"]


def test_block_scalar_rule_port_name():
    problems = Problems()
    rule = {"action": "Allow", "protocol": "TCP", "destination": {"ports": ["http\n"]}}
    load_catalog([{"name": "web", "ingress": [rule]}], None, None, problems)
    assert [str(p) for p in problems.items] == [
        "palisade_policies[0] (web): ingress[0].destination.ports[0]: invalid port 'http\\n': "
        "expected a port 1-65535, a range such as '8000:8080' or a port name"
    ]
