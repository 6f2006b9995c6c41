# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading and validating GlobalNetworkPolicy specs.

Private to the collection: the engine's API may change at any time.

Takes the fields of a spec already keyed by canonical names (the caller knows whether they came
flattened from ``palisade_policies`` or from a manifest's ``spec``) and applies Calico's rules:
``types`` defaulting, the preDNAT/doNotTrack constraints, and refusal of what only makes sense
for Kubernetes workloads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import get_bool, get_list, number_text, type_name
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.name_rules import check_policy_name
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import EGRESS, INGRESS, GlobalNetworkPolicy, Rule
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.rule_loader import load_rule, load_selector
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import parse_selector

POLICY_SPEC_FIELDS = (
    "order",
    "selector",
    "types",
    "ingress",
    "egress",
    "applyOnForward",
    "preDNAT",
    "doNotTrack",
    "tier",
    "namespaceSelector",
    "serviceAccountSelector",
    "performanceHints",
)
MAX_RULES = 1024
# Calico's performanceHints: advice to Felix's calculation graph, which has no counterpart here;
# validated as Calico does (known values, each once) so that a typo is not accepted in silence.
PERFORMANCE_HINTS = ("AssumeNeededOnEveryNode",)
# Calico's order is any float64. Bounded so that an integer order is exact as a float (below
# 2**53, two different orders never compare equal) and so that no integer is too large to convert.
MAX_ORDER = 10**15


def load_policy(name: str | None, fields: Mapping[str, Any], where: Where, name_where: Where, origin: str) -> GlobalNetworkPolicy | None:
    """Build a policy from canonical spec fields; report every problem to ``where``.

    Returns ``None`` when anything about the policy is wrong, so that no half-valid policy
    reaches the compiler.
    """
    before = where.error_count()
    name_ok = _check_name(name, name_where)
    selector_value = fields.get("selector")
    selector = parse_selector("") if selector_value is None or selector_value == "" else load_selector(selector_value, where.at("selector"))
    order = _load_order(fields.get("order"), where.at("order"))
    ingress = _load_rules(fields, "ingress", where)
    egress = _load_rules(fields, "egress", where)
    types = _load_types(fields.get("types"), where.at("types"), has_ingress=bool(ingress), has_egress=bool(egress))
    flags = {flag: get_bool(fields, flag, where) for flag in ("applyOnForward", "preDNAT", "doNotTrack")}
    _check_tier(fields.get("tier"), where.at("tier"))
    _check_performance_hints(fields, where)
    _check_workload_scoping(fields, where)
    if where.error_count() > before or not name_ok or selector is None or types is None or ingress is None or egress is None:
        return None
    policy = GlobalNetworkPolicy(
        name=name or "",
        selector=selector,
        types=types,
        order=order,
        ingress=ingress,
        egress=egress,
        apply_on_forward=flags["applyOnForward"],
        pre_dnat=flags["preDNAT"],
        do_not_track=flags["doNotTrack"],
        origin=origin,
    )
    _check_stage_constraints(policy, where, types_given=bool(fields.get("types")))
    if where.error_count() > before:
        return None
    _warn_ignored_rules(policy, where)
    return policy


def _check_name(name: str | None, where: Where) -> bool:
    if name is None:
        where.error("is required")
        return False
    problem = check_policy_name(name)
    if problem:
        where.error(problem)
        return False
    return True


def _load_order(value: Any, where: Where) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        where.error(f"expected a number, got {type_name(value)} {value!r}")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        where.error(f"expected a finite number, got {value!r}")
        return None
    if not -MAX_ORDER <= value <= MAX_ORDER:
        shown = number_text(value) if isinstance(value, int) else repr(value)
        where.error(f"order {shown} is out of range: expected a number from -1e15 to 1e15")
        return None
    return float(value)


def _load_rules(fields: Mapping[str, Any], name: str, where: Where) -> tuple[Rule, ...] | None:
    items = get_list(fields, name, where)
    if len(items) > MAX_RULES:
        where.at(name).error(f"{len(items)} rules; the limit is {MAX_RULES}")
    rules = [load_rule(item, where.at(name, index)) for index, item in enumerate(items)]
    if any(rule is None for rule in rules):
        return None
    return tuple(rule for rule in rules if rule is not None)


def _load_types(value: Any, where: Where, *, has_ingress: bool, has_egress: bool) -> tuple[str, ...] | None:
    """Calico's defaulting: egress rules only => Egress; both => both; otherwise Ingress."""
    if value is None or value == []:
        if has_egress and has_ingress:
            return (INGRESS, EGRESS)
        return (EGRESS,) if has_egress else (INGRESS,)
    if not isinstance(value, list):
        where.error(f"expected a list of Ingress and/or Egress, got {type_name(value)}")
        return None
    seen: list[str] = []
    ok = True
    for index, item in enumerate(value):
        if item not in (INGRESS, EGRESS):
            hint = next((t for t in (INGRESS, EGRESS) if isinstance(item, str) and t.lower() == item.lower()), None)
            suffix = f"; did you mean {hint!r}?" if hint else ""
            where.at(index).error(f"invalid type {item!r}: expected Ingress or Egress{suffix}")
            ok = False
        elif item in seen:
            where.at(index).error(f"{item!r} is given more than once")
            ok = False
        else:
            seen.append(item)
    return tuple(t for t in (INGRESS, EGRESS) if t in seen) if ok else None


def _check_tier(value: Any, where: Where) -> None:
    if value not in (None, "", "default"):
        where.error(f"{value!r} is not supported: every policy is in the 'default' tier")


def _check_performance_hints(fields: Mapping[str, Any], where: Where) -> None:
    seen: set[str] = set()
    for index, hint in enumerate(get_list(fields, "performanceHints", where)):
        here = where.at("performanceHints", index)
        if not isinstance(hint, str) or hint not in PERFORMANCE_HINTS:
            here.error(f"invalid performance hint {hint!r}: expected {', '.join(PERFORMANCE_HINTS)}")
        elif hint in seen:
            here.error(f"{hint!r} is given more than once")
        else:
            seen.add(hint)


def _check_workload_scoping(fields: Mapping[str, Any], where: Where) -> None:
    for name in ("namespaceSelector", "serviceAccountSelector"):
        if fields.get(name):
            where.at(name).error(
                "scopes a policy to Kubernetes workloads; a policy with it never selects a host endpoint"
            )


def _check_stage_constraints(policy: GlobalNetworkPolicy, where: Where, *, types_given: bool) -> None:
    if policy.pre_dnat and policy.do_not_track:
        where.error("preDNAT and doNotTrack cannot both be true")
    if policy.pre_dnat and policy.egress:
        where.at("egress").error("a preDNAT policy cannot have egress rules")
    if policy.pre_dnat and EGRESS in policy.types and types_given:
        # When types was left out, Egress comes from the egress rules, already reported above.
        where.at("types").error("a preDNAT policy cannot have the Egress type")
    if (policy.pre_dnat or policy.do_not_track) and not policy.apply_on_forward:
        flag = "preDNAT" if policy.pre_dnat else "doNotTrack"
        where.at("applyOnForward").error(f"must be true when {flag} is true")


def _warn_ignored_rules(policy: GlobalNetworkPolicy, where: Where) -> None:
    for direction, rules in ((INGRESS, policy.ingress), (EGRESS, policy.egress)):
        if rules and direction not in policy.types:
            where.at(direction.lower()).warn(
                f"these rules are ignored: types is {list(policy.types)}, which does not include {direction}"
            )
