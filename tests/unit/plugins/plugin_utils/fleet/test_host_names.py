# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory host names become endpoint names, FelixConfiguration names, labels and ruleset
comments: a name a dynamic inventory made up with spaces, quotes or line breaks is refused."""

from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import ValidationError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.name_rules import check_host_name

EXPECTED = "expected 1-253 letters, digits, '-', '_', '.' and ':', starting and ending with a letter or digit"


def params(table):
    return [pytest.param(*values, id=case_id) for case_id, *values in table]


@pytest.mark.parametrize(
    "name",
    ["web1", "Web1.Example.COM", "web_1", "198.51.100.7", "2001:db8::7", "a", "a" * 253, "k8s-worker-03.dc1"],
)
def test_accepted_host_names(name):
    assert check_host_name(name) is None


REFUSED = [
    ("trailing newline", "web1\n"),
    ("space", "web 1"),
    ("quote", 'web"1'),
    ("comment marker", "web#1"),
    ("slash", "dc1/web1"),
    ("leading dash", "-web1"),
    ("trailing dot", "web1."),
    ("empty", ""),
    ("too long", "a" * 254),
    ("non-ASCII", "wéb1"),
    ("IPv6 scope", "fe80::1%eth0"),
]


@pytest.mark.parametrize("name", params(REFUSED))
def test_refused_host_names(name):
    assert check_host_name(name) == f"invalid inventory host name {name!r}: {EXPECTED}"


def test_fleet_reports_the_host_and_loads_no_endpoint_for_it():
    hosts = [
        HostInput("web1", (), {"palisade_auto_host_endpoint": True}),
        HostInput("web2\n-all", (), {"palisade_auto_host_endpoint": True}),
    ]
    with pytest.raises(ValidationError) as info:
        load_fleet(hosts)
    assert [str(p) for p in info.value.problems] == [f"inventory: invalid inventory host name 'web2\\n-all': {EXPECTED}"]
