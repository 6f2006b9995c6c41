# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the inventory templates only what may need it: a shared fleet-wide value without
template syntax is never templated, a template is templated for every host."""

from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.inventory import (
    SharedValues,
    fleet_inputs_from_task_vars,
    has_template,
)


class FakeHostVarsVars(dict):
    """Like Ansible's HostVarsVars: raw variables in ``_vars``, templated on item access."""

    def __init__(self, raw, calls, host):
        super().__init__(raw)
        self._vars = raw
        self._calls = calls
        self._host = host

    def __getitem__(self, name):
        self._calls.append((self._host, name))
        value = self._vars[name]
        return f"templated for {self._host}" if isinstance(value, str) and "{{" in value else value


POLICIES = [{"name": "web", "selector": "role == 'web'", "ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}]}]


def task_vars(raw_by_host):
    calls: list = []
    return {
        "groups": {"all": list(raw_by_host), "ungrouped": list(raw_by_host)},
        "hostvars": {host: FakeHostVarsVars(raw, calls, host) for host, raw in raw_by_host.items()},
    }, calls


def test_a_shared_list_without_template_syntax_is_never_templated():
    raw = {f"h{n}": {"palisade_policies": POLICIES, "palisade_labels": {"role": "web"}, "other": "{{ x }}"} for n in range(3)}
    variables, calls = task_vars(raw)
    inputs = fleet_inputs_from_task_vars(variables)
    assert calls == []
    assert [i.variables["palisade_policies"] for i in inputs] == [POLICIES] * 3
    assert all(i.variables["palisade_policies"] is POLICIES for i in inputs)


def test_a_template_is_templated_for_every_host():
    raw = {f"h{n}": {"palisade_policies": "{{ base + extra }}"} for n in range(3)}
    variables, calls = task_vars(raw)
    inputs = fleet_inputs_from_task_vars(variables)
    assert calls == [("h0", "palisade_policies"), ("h1", "palisade_policies"), ("h2", "palisade_policies")]
    assert [i.variables["palisade_policies"] for i in inputs] == ["templated for h0", "templated for h1", "templated for h2"]


def test_only_the_variables_the_engine_reads_are_read():
    raw = {"h0": {"palisade_labels": "{{ labels }}", "palisade_applied": "{{ big }}", "unrelated": "{{ y }}"}}
    variables, calls = task_vars(raw)
    [host] = fleet_inputs_from_task_vars(variables)
    assert calls == [("h0", "palisade_labels")]
    assert host.other_names == ("palisade_applied",)


def test_a_view_without_raw_variables_is_used_as_it_is():
    plain = {"palisade_labels": {"role": "web"}}
    assert SharedValues().view(plain) is plain


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", False),
        ("{{ x }}", True),
        ("{% if x %}y{% endif %}", True),
        ("{# note #}", True),
        ("a { b } c", False),
        (80, False),
        (None, False),
        (True, False),
        ([{"name": "x", "ports": [80, "{{ port }}"]}], True),
        ({"{{ key }}": "v"}, True),
        ({"k": ["a", ("b", {"c": "d"})]}, False),
        (object(), True),
    ],
)
def test_what_counts_as_template_syntax(value, expected):
    assert has_template(value) is expected


def test_a_value_nested_past_the_scan_depth_counts_as_a_template():
    deep: list = []
    for _level in range(100):
        deep = [deep]
    assert has_template(deep) is True
