# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply settings every host of a run is checked for on the controller, with exact messages."""

from __future__ import annotations

import pytest
from ansible.module_utils.common.validation import check_type_int

from ansible_collections.palisade.firewall.plugins.plugin_utils.action_support import apply_settings

# what the apply takes today, after the conversions of Ansible's argument specs
GOOD = [
    {},
    {"palisade_rollback_timeout": 5, "palisade_lock_timeout": 0},
    {"palisade_rollback_timeout": "30", "palisade_lock_timeout": " 60 "},  # as -e passes them
    {"palisade_rollback_timeout": "45", "palisade_lock_timeout": "1_000"},
    {"palisade_lock_timeout": -1},  # the lock takes it as 0
    {"palisade_confirm_probes": [{"protocol": "tcp", "address": "198.51.100.7", "port": 2379}]},
    {"palisade_confirm_probes": None},  # no probes, as the default
    {"palisade_confirm_probes": [], "palisade_state_dir": "/var/lib/palisade", "palisade_boot_restore": "none"},
    {"palisade_state_dir": "~/palisade"},  # expanded on the controller, as type: path does
    {"palisade_persist": "yes", "palisade_allow_lockout": False, "palisade_allow_unsafe_apply": "False", "palisade_install_packages": 1},
    {"palisade_persist": " Yes ", "palisade_allow_lockout": "off"},
]

BAD = [
    ({"palisade_rollback_timeout": 2}, "host h2: palisade_rollback_timeout: must be at least 5 seconds, got 2"),
    ({"palisade_rollback_timeout": "soon"},
     "host h2: palisade_rollback_timeout: expected an integer (seconds, at least 5), got a string 'soon'"),
    ({"palisade_rollback_timeout": True},
     "host h2: palisade_rollback_timeout: expected an integer (seconds, at least 5), got a boolean True"),
    ({"palisade_rollback_timeout": 30.5},
     "host h2: palisade_rollback_timeout: expected an integer (seconds, at least 5), got a number 30.5"),
    ({"palisade_rollback_timeout": None},
     "host h2: palisade_rollback_timeout: expected an integer (seconds, at least 5), got null (leave the variable unset for the default)"),
    ({"palisade_lock_timeout": "a minute"}, "host h2: palisade_lock_timeout: expected an integer (seconds), got a string 'a minute'"),
    ({"palisade_persist": None}, "host h2: palisade_persist: expected true or false, got null (leave the variable unset for the default)"),
    ({"palisade_state_dir": None},
     "host h2: palisade_state_dir: expected an absolute path, got null (leave the variable unset for the default)"),
    ({"palisade_confirm_probes": {"protocol": "tcp"}},
     "host h2: palisade_confirm_probes: expected a list of probes, got a mapping"),
    ({"palisade_confirm_probes": [{"protocol": "tcp", "address": "198.51.100.7"}]},
     "host h2: palisade_confirm_probes[0]: missing field 'port' (tcp probes need a port from 1 to 65535)"),
    ({"palisade_state_dir": "/tmp/my dir"},
     "host h2: palisade_state_dir: '/tmp/my dir': it contains ' '; allowed are only the characters A-Z a-z 0-9 / . _ -"),
    ({"palisade_state_dir": "var/lib/palisade"}, "host h2: palisade_state_dir: 'var/lib/palisade': it must be an absolute path"),
    ({"palisade_state_dir": ["/var"]}, "host h2: palisade_state_dir: expected an absolute path, got a list ['/var']"),
    ({"palisade_boot_restore": "bogus"}, "host h2: palisade_boot_restore: expected one of auto, systemd, none, got a string 'bogus'"),
    ({"palisade_persist": "maybe"}, "host h2: palisade_persist: expected true or false, got a string 'maybe'"),
    ({"palisade_allow_lockout": [True]}, "host h2: palisade_allow_lockout: expected true or false, got a list [True]"),
]


@pytest.mark.parametrize("variables", GOOD)
def test_valid_settings_pass(monkeypatch, variables):
    monkeypatch.setenv("HOME", "/srv/home")
    assert apply_settings.problems(["h1"], {"h1": variables}) == []


@pytest.mark.parametrize("variables,message", BAD, ids=[message.split(": ")[1] + f"-{i}" for i, (_v, message) in enumerate(BAD)])
def test_each_bad_setting_is_named_with_its_host(variables, message):
    assert [str(problem) for problem in apply_settings.problems(["h1", "h2"], {"h1": {}, "h2": variables})] == [message]


def test_every_problem_of_every_host_is_listed():
    found = apply_settings.problems(["h1", "h2"], {"h1": {"palisade_rollback_timeout": 1}, "h2": {"palisade_boot_restore": "x", "palisade_persist": "x"}})
    assert [str(problem) for problem in found] == [
        "host h1: palisade_rollback_timeout: must be at least 5 seconds, got 1",
        "host h2: palisade_boot_restore: expected one of auto, systemd, none, got a string 'x'",
        "host h2: palisade_persist: expected true or false, got a string 'x'",
    ]


@pytest.mark.parametrize("value", [30.0, 0.0])
def test_a_float_is_an_integer_where_this_ansible_takes_it_as_one(value):
    """ansible-core 2.18 and later convert 30.0 for ``type: int``; 2.16 and 2.17 refuse it, and
    so does their apply action: the check follows the Ansible it runs in."""
    try:
        check_type_int(value)
        taken = True
    except TypeError:
        taken = False
    found = apply_settings.problems(["h1"], {"h1": {"palisade_lock_timeout": value}})
    assert found == ([] if taken else [apply_settings.Problem("host h1", "", f"palisade_lock_timeout: expected an integer (seconds), got a number {value!r}")])
