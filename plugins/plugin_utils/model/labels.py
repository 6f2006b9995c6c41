# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host labels: validation, the automatic labels, and merging from inventory variables.

Private to the collection: the engine's API may change at any time.

Why ``palisade_labels__*``: Ansible replaces a dict variable defined in two groups instead of
merging it, so a host in groups ``web`` and ``prod`` would silently lose one group's labels.
Each group can instead set its own ``palisade_labels__<name>`` variable; they are merged here,
and two of them giving one key different values is an error naming both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import type_name
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.name_rules import check_label_key, check_label_value

HOSTNAME_LABEL = "palisade.io/hostname"
GROUP_LABEL_PREFIX = "group.palisade.io/"
LABELS_VAR = "palisade_labels"
LABELS_VAR_PREFIX = "palisade_labels__"
IMPLICIT_GROUPS = ("all", "ungrouped")


def load_labels(value: Any, where: Where, *, reserved_ok: bool = False) -> dict[str, str]:
    """A validated ``{key: value}`` mapping; invalid entries are reported and left out."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        where.error(f"expected a mapping of label keys to values, got {type_name(value)}")
        return {}
    labels: dict[str, str] = {}
    for key, label_value in value.items():
        here = where.at(str(key))
        if not isinstance(key, str):
            where.error(f"label keys must be strings, got {type_name(key)} {key!r}")
            continue
        problem = check_label_key(key)
        if problem is None and not reserved_ok:
            problem = _reserved_key_problem(key)
        if problem is None:
            problem = _value_problem(label_value)
        if problem:
            here.error(problem)
            continue
        labels[key] = label_value
    return labels


def _reserved_key_problem(key: str) -> str | None:
    if key == HOSTNAME_LABEL or key.startswith(GROUP_LABEL_PREFIX):
        return f"label {key!r} is set automatically from the inventory and cannot be set by hand"
    return None


def _value_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"label values must be strings, got {type_name(value)} {value!r}; quote it in YAML"
    return check_label_value(value)


def automatic_labels(hostname: str, groups: Sequence[str]) -> dict[str, str]:
    """``palisade.io/hostname`` and one ``group.palisade.io/<group>`` per inventory group.

    Group names that are not valid label names (Ansible allows more characters) are skipped:
    such a group cannot be selected by label, but the host still gets its other labels.
    """
    labels = {HOSTNAME_LABEL: hostname} if check_label_value(hostname) is None else {}
    for group in sorted(groups):
        key = GROUP_LABEL_PREFIX + group
        if group not in IMPLICIT_GROUPS and check_label_key(key) is None:
            labels[key] = ""
    return labels


def host_labels(hostname: str, groups: Sequence[str], host_vars: Mapping[str, Any], where: Where) -> dict[str, str]:
    """Automatic labels, then every ``palisade_labels__*`` variable, then ``palisade_labels``.

    A conflict between two ``palisade_labels__*`` variables is an error unless
    ``palisade_labels`` settles that key.
    """
    merged = automatic_labels(hostname, groups)
    final = load_labels(host_vars.get(LABELS_VAR), where.at(LABELS_VAR))
    from_parts: dict[str, tuple[str, str]] = {}  # key -> (value, variable that set it)
    for variable in sorted(k for k in host_vars if k.startswith(LABELS_VAR_PREFIX)):
        for key, value in load_labels(host_vars[variable], where.at(variable)).items():
            earlier = from_parts.get(key)
            if earlier is not None and earlier[0] != value and key not in final:
                where.at(variable, key).error(
                    f"conflicts with {earlier[1]}: {key}={earlier[0]!r} there, {value!r} here; "
                    f"set it in one of them, or settle it in {LABELS_VAR}"
                )
            from_parts.setdefault(key, (value, variable))
    merged.update({key: value for key, (value, _variable) in from_parts.items()})
    merged.update(final)
    return merged
