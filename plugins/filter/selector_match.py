# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``palisade.firewall.selector_match`` filter: does a label mapping match a Calico selector?

Private to the collection: only the filter's documented behaviour is public.

The filter is a thin shell around the engine (``plugin_utils/selector/parser.py``): it checks the
argument types, because Jinja gives Python values and YAML turns ``canary: true`` or
``rack: 12`` into a boolean or an integer that Calico would never see as a label value, and it
turns the engine's errors into Ansible filter errors that name the filter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from ansible.errors import AnsibleFilterError

from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import (
    SelectorError,
    parse_selector,
)

_PREFIX = "palisade.firewall.selector_match: "


def selector_match(labels: Any, selector: Any) -> bool:
    """Whether an endpoint with ``labels`` is selected by the Calico selector ``selector``."""
    _check_labels(labels)
    if not isinstance(selector, str):
        _fail(f"the selector must be a string, got {_type_name(selector)}")
    try:
        parsed = parse_selector(selector)
    except SelectorError as error:
        # The engine's message already says where and what; the cause would only repeat it.
        raise AnsibleFilterError(_PREFIX + str(error)) from None
    return parsed.matches(labels)


def _check_labels(labels: Any) -> None:
    """Refuse what Calico could not hold as labels, rather than let ``1 != "1"`` decide a match."""
    if not isinstance(labels, Mapping):
        _fail(
            "the input must be a mapping of label names to string values, "
            f"got {_type_name(labels)}"
        )
    for key, value in labels.items():
        if not isinstance(key, str):
            _fail(f"label names must be strings, got {_type_name(key)} ({key!r})")
        if not isinstance(value, str):
            _fail(_value_message(key, value))


def _value_message(key: str, value: Any) -> str:
    """YAML types unquoted scalars; show the quoted spelling that makes the value a string."""
    scalar = _yaml_scalar(value)
    if scalar is None:
        return f'label "{key}" is {_type_name(value)}, not a string; label values must be strings'
    shown = "null" if value is None else f"{_type_name(value)} ({scalar})"
    return f'label "{key}" is {shown}, not a string; quote it in YAML: {key}: "{scalar}"'


def _yaml_scalar(value: Any) -> str | None:
    """How the user most likely wrote ``value`` unquoted, or None if it was not a scalar."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


def _type_name(value: Any) -> str:
    """Type names in the YAML vocabulary users write in, with the article the messages need."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def _fail(message: str) -> NoReturn:
    raise AnsibleFilterError(_PREFIX + message)


class FilterModule:
    """Ansible's entry point for the collection's selector filter."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"selector_match": selector_match}
