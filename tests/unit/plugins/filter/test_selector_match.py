# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the ``palisade.firewall.selector_match`` filter: results and the errors users see.

The selector language itself is tested with the engine (test_selector.py); here we check that
the filter passes results through, refuses arguments Calico could not see as labels, and names
itself in every error.
"""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.palisade.firewall.plugins.filter.selector_match import FilterModule

selector_match = FilterModule().filters()["selector_match"]

PREFIX = "palisade.firewall.selector_match: "

# (labels, selector, expected result)
RESULT_CASES = [
    ({"role": "web"}, 'role == "web"', True),
    ({"role": "db"}, 'role == "web"', False),
    ({}, 'role != "web"', True),
    ({}, 'role == "web"', False),
    ({"role": "web", "env": "prod"}, "role == 'web' && env in {'prod', 'staging'}", True),
    ({"role": "web", "env": "dev"}, "role == 'web' && env in {'prod', 'staging'}", False),
    ({}, "", True),
    ({"decommissioned": ""}, "!has(decommissioned)", False),
]

# (labels, selector, the whole error message)
ERROR_CASES = [
    ({}, "role == web", PREFIX + 'selector "role == web" column 9: expected a quoted string'),
    ({}, "has(a", PREFIX + 'selector "has(a" column 6: expected ")"'),
    (
        {},
        'role == "web"\n',
        PREFIX
        + 'selector "role == "web"\\n" column 14: line breaks are not allowed in a selector '
        + '(a YAML "|" block keeps them; write the selector on one line or use ">-")',
    ),
    (["role=web"], "all()", PREFIX + "the input must be a mapping of label names to string values, got a list"),
    ("role=web", "all()", PREFIX + "the input must be a mapping of label names to string values, got a string"),
    (None, "all()", PREFIX + "the input must be a mapping of label names to string values, got null"),
    ({"rack": 12}, "all()", PREFIX + 'label "rack" is an integer (12), not a string; quote it in YAML: rack: "12"'),
    (
        {"canary": True},
        "all()",
        PREFIX + 'label "canary" is a boolean (true), not a string; quote it in YAML: canary: "true"',
    ),
    ({"weight": 0.5}, "all()", PREFIX + 'label "weight" is a float (0.5), not a string; quote it in YAML: weight: "0.5"'),
    ({"owner": None}, "all()", PREFIX + 'label "owner" is null, not a string; quote it in YAML: owner: ""'),
    ({"zones": ["a"]}, "all()", PREFIX + 'label "zones" is a list, not a string; label values must be strings'),
    ({1: "x"}, "all()", PREFIX + "label names must be strings, got an integer (1)"),
    ({}, None, PREFIX + "the selector must be a string, got null"),
    ({}, 5, PREFIX + "the selector must be a string, got an integer"),
    ({}, ["role == 'web'"], PREFIX + "the selector must be a string, got a list"),
]


def test_filter_is_registered() -> None:
    assert list(FilterModule().filters()) == ["selector_match"]


@pytest.mark.parametrize(("labels", "selector", "expected"), RESULT_CASES)
def test_result(labels: dict[str, str], selector: str, expected: bool) -> None:
    assert selector_match(labels, selector) is expected


@pytest.mark.parametrize(("labels", "selector", "message"), ERROR_CASES)
def test_error_message(labels: Any, selector: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as excinfo:
        selector_match(labels, selector)
    assert str(excinfo.value) == message


def test_engine_error_is_not_chained() -> None:
    # Ansible prints the cause chain; the engine's message is already in ours.
    with pytest.raises(AnsibleFilterError) as excinfo:
        selector_match({}, "role == web")
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__suppress_context__ is True
