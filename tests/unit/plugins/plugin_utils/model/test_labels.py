# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problems, Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.labels import automatic_labels, host_labels, load_labels

AUTOMATIC = [
    ("hostname only", "web1", [], {"palisade.io/hostname": "web1"}),
    (
        "groups become has() labels",
        "web1",
        ["web", "prod"],
        {"palisade.io/hostname": "web1", "group.palisade.io/prod": "", "group.palisade.io/web": ""},
    ),
    ("implicit groups skipped", "web1", ["all", "ungrouped"], {"palisade.io/hostname": "web1"}),
    ("group name not a label name is skipped", "web1", ["bad group!"], {"palisade.io/hostname": "web1"}),
    ("hostname not a label value is skipped", "web 1", ["web"], {"group.palisade.io/web": ""}),
]


@pytest.mark.parametrize("hostname, groups, expected", [case[1:] for case in AUTOMATIC], ids=[c[0] for c in AUTOMATIC])
def test_automatic_labels(hostname, groups, expected):
    assert automatic_labels(hostname, groups) == expected


MERGING = [
    (
        "palisade_labels only",
        {"palisade_labels": {"role": "web"}},
        {"palisade.io/hostname": "h1", "group.palisade.io/g": "", "role": "web"},
        [],
    ),
    (
        "parts merge in name order",
        {"palisade_labels__b": {"zone": "z1"}, "palisade_labels__a": {"role": "web"}},
        {"palisade.io/hostname": "h1", "group.palisade.io/g": "", "role": "web", "zone": "z1"},
        [],
    ),
    (
        "same value in two parts is fine",
        {"palisade_labels__a": {"role": "web"}, "palisade_labels__b": {"role": "web"}},
        {"palisade.io/hostname": "h1", "group.palisade.io/g": "", "role": "web"},
        [],
    ),
    (
        "palisade_labels wins over parts",
        {"palisade_labels__a": {"role": "web"}, "palisade_labels": {"role": "db"}},
        {"palisade.io/hostname": "h1", "group.palisade.io/g": "", "role": "db"},
        [],
    ),
    (
        "conflicting parts name both variables",
        {"palisade_labels__web": {"role": "web"}, "palisade_labels__zdb": {"role": "db"}},
        {"palisade.io/hostname": "h1", "group.palisade.io/g": "", "role": "web"},
        [
            "host h1: palisade_labels__zdb.role: conflicts with palisade_labels__web: role='web' there, 'db' here; "
            "set it in one of them, or settle it in palisade_labels"
        ],
    ),
    (
        "conflict settled by palisade_labels",
        {"palisade_labels__a": {"role": "web"}, "palisade_labels__b": {"role": "db"}, "palisade_labels": {"role": "x"}},
        {"palisade.io/hostname": "h1", "group.palisade.io/g": "", "role": "x"},
        [],
    ),
    (
        "automatic labels cannot be set by hand",
        {"palisade_labels": {"palisade.io/hostname": "other", "group.palisade.io/x": ""}},
        {"palisade.io/hostname": "h1", "group.palisade.io/g": ""},
        [
            "host h1: palisade_labels.palisade.io/hostname: label 'palisade.io/hostname' is set automatically from the inventory and cannot be set by hand",
            "host h1: palisade_labels.group.palisade.io/x: label 'group.palisade.io/x' is set automatically from the inventory and cannot be set by hand",
        ],
    ),
    (
        "bad keys and values",
        {"palisade_labels": {"Role!": "web", "role": "web server", "tier": 3, "-x": "y", "a/": "b"}},
        {"palisade.io/hostname": "h1", "group.palisade.io/g": ""},
        [
            "host h1: palisade_labels.Role!: invalid label key 'Role!': expected letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
            "host h1: palisade_labels.role: invalid label value 'web server': "
            "expected letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
            "host h1: palisade_labels.tier: label values must be strings, got an integer 3; quote it in YAML",
            "host h1: palisade_labels.-x: invalid label key '-x': expected letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
            "host h1: palisade_labels.a/: invalid label key 'a/': expected letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
        ],
    ),
    (
        "not a mapping",
        {"palisade_labels": ["role=web"]},
        {"palisade.io/hostname": "h1", "group.palisade.io/g": ""},
        ["host h1: palisade_labels: expected a mapping of label keys to values, got a list"],
    ),
    (
        "long value and prefixed key",
        {"palisade_labels": {"example.com/role": "web", "role": "x" * 64, "Bad.Prefix/k": "v"}},
        {"palisade.io/hostname": "h1", "group.palisade.io/g": "", "example.com/role": "web"},
        [
            f"host h1: palisade_labels.role: invalid label value '{'x' * 64}': 64 characters long; the limit is 63",
            "host h1: palisade_labels.Bad.Prefix/k: invalid label key 'Bad.Prefix/k': "
            "the prefix 'Bad.Prefix' must be a DNS subdomain (lower case, <= 253 characters)",
        ],
    ),
]


@pytest.mark.parametrize("variables, expected, errors", [case[1:] for case in MERGING], ids=[c[0] for c in MERGING])
def test_host_labels(variables, expected, errors):
    problems = Problems()
    labels = host_labels("h1", ["g"], variables, Where("host h1", problems))
    assert labels == expected
    assert [str(p) for p in problems.items] == errors


def test_label_key_name_part_limit():
    problems = Problems()
    load_labels({"k" * 64: "v"}, Where("x", problems))
    assert [str(p) for p in problems.items] == [
        f"x: {'k' * 64}: invalid label key '{'k' * 64}': the name part is 64 characters long; the limit is 63"
    ]
