# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet-wide resources: policies, network sets, manifest host endpoints, Felix settings.

Private to the collection: the engine's API may change at any time.

Two spellings reach this module: the compact variables (``palisade_policies``,
``palisade_network_sets``) and Calico manifests (``palisade_resources``). Both load into the
same model; a name defined twice, in either spelling, is an error naming both places.

Every entry is validated in full (one run reports every problem), and only entries without any
problem reach the ``Catalog``: a half-valid resource never reaches the compiler.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problems, Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.endpoint_loader import (
    HOST_ENDPOINT_SPEC_FIELDS,
    NETWORK_SET_SPEC_FIELDS,
    check_name,
    load_host_endpoint,
    load_network_set,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.fields import (
    canonical_fields,
    check_annotations,
    get_list,
    get_mapping,
    get_str,
    nesting_problem,
    require_mapping,
    type_name,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.labels import load_labels
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.name_rules import check_policy_name
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.policy_loader import POLICY_SPEC_FIELDS, load_policy
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import (
    GlobalNetworkPolicy,
    GlobalNetworkSet,
    HostEndpoint,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.settings_loader import load_felix_configuration

POLICIES_VAR = "palisade_policies"
NETWORK_SETS_VAR = "palisade_network_sets"
RESOURCES_VAR = "palisade_resources"

API_VERSIONS = ("projectcalico.org/v3", "crd.projectcalico.org/v1")
KINDS = ("GlobalNetworkPolicy", "GlobalNetworkSet", "HostEndpoint", "FelixConfiguration")
NAMESPACED_KINDS = {"NetworkPolicy": "GlobalNetworkPolicy", "NetworkSet": "GlobalNetworkSet"}
MANIFEST_FIELDS = ("apiVersion", "kind", "metadata", "spec")
METADATA_FIELDS = ("name", "labels", "annotations", "namespace")
LIST_FIELDS = ("apiVersion", "kind", "metadata", "items")
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
)
UNSUPPORTED_KINDS = {
    "Profile": "profiles are not supported: express their rules as a GlobalNetworkPolicy",
    "Tier": "tiers are not supported: every policy is in the 'default' tier",
}


@dataclass(frozen=True)
class Catalog:
    policies: tuple[GlobalNetworkPolicy, ...] = ()  # in evaluation order
    network_sets: tuple[GlobalNetworkSet, ...] = ()
    host_endpoints: tuple[HostEndpoint, ...] = ()  # from manifests; spec.node names the host
    felix: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> partial settings


@dataclass
class _Builder:
    problems: Problems
    policies: list[GlobalNetworkPolicy] = field(default_factory=list)
    network_sets: list[GlobalNetworkSet] = field(default_factory=list)
    host_endpoints: list[HostEndpoint] = field(default_factory=list)
    felix: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    seen: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, name) -> origin

    def claim(self, kind: str, name: str, origin: str, where: Where) -> bool:
        """Record a name; report a duplicate naming both places."""
        earlier = self.seen.get((kind, name))
        if earlier is not None:
            where.error(f"{kind} {name!r} is defined twice: here and in {earlier}")
            return False
        self.seen[(kind, name)] = origin
        return True

    def add(self, kind: str, name: str | None, resource: Any, origin: str, name_where: Where, errors_before: int) -> None:
        """Claim a valid ``name`` even for a resource found wrong (so that a duplicate shows up in
        the same run), and keep the resource only when no problem was found in its entry."""
        if name is None or not self.claim(kind, name, origin, name_where):
            return
        if resource is None or len(self.problems.items) > errors_before:
            return
        if kind == "GlobalNetworkPolicy":
            self.policies.append(resource)
        elif kind == "GlobalNetworkSet":
            self.network_sets.append(resource)
        elif kind == "HostEndpoint":
            self.host_endpoints.append(resource)
        else:
            self.felix[name] = resource


def load_catalog(policies: Any, network_sets: Any, resources: Any, problems: Problems) -> Catalog:
    builder = _Builder(problems)
    for index, item in enumerate(_as_list(POLICIES_VAR, policies, problems)):
        _load_compact_policy(builder, index, item)
    for index, item in enumerate(_as_list(NETWORK_SETS_VAR, network_sets, problems)):
        _load_compact_network_set(builder, index, item)
    for index, item in enumerate(_as_list(RESOURCES_VAR, resources, problems)):
        _load_document(builder, f"{RESOURCES_VAR} document {index + 1}", item)
    return Catalog(
        policies=tuple(sorted(builder.policies, key=lambda p: p.sort_key)),
        network_sets=tuple(sorted(builder.network_sets, key=lambda s: s.name)),
        host_endpoints=tuple(builder.host_endpoints),
        felix=dict(builder.felix),
    )


def _as_list(variable: str, value: Any, problems: Problems) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(variable, "", f"expected a list, got {type_name(value)}")
        return []
    problem = nesting_problem(value)
    if problem:
        problems.add(variable, "", problem)
        return []
    return value


def _name_where(value: Any, name: str | None, where: Where) -> Where:
    """Where a loader should report a missing or invalid name.

    A name given with the wrong type was already reported by ``get_str``; the loader would only
    add "is required" to it, so its report goes to a sink nobody reads.
    """
    if value is not None and name is None:
        return Where(where.source, Problems(), where.path)
    return where


def _entry_source(variable: str, index: int, item: Any) -> str:
    name = item.get("name") if isinstance(item, Mapping) else None
    return f"{variable}[{index}]" + (f" ({name})" if isinstance(name, str) else "")


def _valid_name(name: str | None, check: Callable[[str], str | None]) -> str | None:
    """``name`` if it passes ``check`` (which reports nothing: the loaders did that)."""
    return name if name is not None and check(name) is None else None


def _load_compact_policy(builder: _Builder, index: int, item: Any) -> None:
    source = _entry_source(POLICIES_VAR, index, item)
    where = Where(source, builder.problems)
    raw = require_mapping(item, where, "a policy (a mapping with name, selector, ingress, egress, ...)")
    if raw is None:
        return
    before = where.error_count()
    fields = canonical_fields(raw, ("name", *POLICY_SPEC_FIELDS), where)
    name = get_str(fields, "name", where)
    policy = load_policy(name, fields, where, _name_where(fields.get("name"), name, where.at("name")), source)
    builder.add("GlobalNetworkPolicy", _valid_name(name, check_policy_name), policy, source, where.at("name"), before)


def _load_compact_network_set(builder: _Builder, index: int, item: Any) -> None:
    source = _entry_source(NETWORK_SETS_VAR, index, item)
    where = Where(source, builder.problems)
    raw = require_mapping(item, where, "a network set (a mapping with name, labels and nets)")
    if raw is None:
        return
    before = where.error_count()
    fields = canonical_fields(raw, ("name", "labels", *NETWORK_SET_SPEC_FIELDS), where)
    name = get_str(fields, "name", where)
    name_ok = check_name(name, _name_where(fields.get("name"), name, where.at("name")))
    labels = load_labels(fields.get("labels"), where.at("labels"), reserved_ok=True)
    network_set = load_network_set(name or "", labels, fields, where, where.at("labels"), source)
    builder.add("GlobalNetworkSet", name if name_ok else None, network_set, source, where.at("name"), before)


def _load_document(builder: _Builder, source: str, document: Any) -> None:
    if document is None:
        return  # an empty YAML document, e.g. after a leading '---'
    if isinstance(document, list):
        # Several files' documents, e.g. [lookup(a) | from_yaml_all, lookup(b) | from_yaml_all].
        for index, item in enumerate(document):
            _load_document(builder, f"{source} item {index + 1}", item)
        return
    where = Where(source, builder.problems)
    before = where.error_count()
    raw = require_mapping(document, where, "a Calico manifest (apiVersion, kind, metadata, spec)")
    if raw is None:
        return
    kind = raw.get("kind")
    if isinstance(kind, str) and kind.endswith("List"):
        # kubectl/calicoctl output: "List" or "<Kind>List" with the documents in items.
        items = get_list(canonical_fields(raw, LIST_FIELDS, where), "items", where)
        for index, item in enumerate(items):
            _load_document(builder, f"{source} item {index + 1}", item)
        return
    raw_metadata = raw.get("metadata")
    raw_name = raw_metadata.get("name") if isinstance(raw_metadata, Mapping) else None
    if isinstance(kind, str) and kind:
        # Name the document by kind and name from the start, so every message about it does.
        source = f"{source} ({kind} {raw_name})" if isinstance(raw_name, str) else f"{source} ({kind})"
        where = Where(source, builder.problems)
    fields = canonical_fields(raw, MANIFEST_FIELDS, where, ignored=("status",))
    if not _check_header(fields, where):
        return
    kind = fields["kind"]
    metadata = canonical_fields(get_mapping(fields, "metadata", where), METADATA_FIELDS, where.at("metadata"), ignored=SERVER_METADATA)
    name = get_str(metadata, "name", where.at("metadata"))
    # A name (or metadata) of the wrong type is reported already; "is required" would only repeat it.
    given = raw_metadata if raw_metadata is not None and not isinstance(raw_metadata, Mapping) else metadata.get("name")
    name_where = _name_where(given, name, where.at("metadata", "name"))
    if metadata.get("namespace"):
        where.at("metadata", "namespace").error(f"{kind} is not namespaced; remove the namespace")
    check_annotations(metadata.get("annotations"), where.at("metadata", "annotations"))
    spec = fields.get("spec")
    if spec is not None and not isinstance(spec, Mapping):
        where.at("spec").error(f"expected a mapping, got {type_name(spec)}")
        return
    valid_name, resource = _MANIFEST_LOADERS[kind](name, name_where, metadata, spec or {}, where, source)
    builder.add(kind, valid_name, resource, source, name_where, before)


def _check_header(fields: Mapping[str, Any], where: Where) -> bool:
    api_version = fields.get("apiVersion")
    kind = fields.get("kind")
    ok = True
    versions = " or ".join(API_VERSIONS)
    if api_version is None:
        where.at("apiVersion").error(f"is required: {versions}")
        ok = False
    elif api_version not in API_VERSIONS:
        where.at("apiVersion").error(f"expected {versions}, got {api_version!r}")
        ok = False
    kinds = ", ".join(KINDS)
    if kind is None:
        where.at("kind").error(f"is required: one of {kinds}")
        ok = False
    elif not isinstance(kind, str):
        where.at("kind").error(f"expected one of {kinds}, got {type_name(kind)}")
        ok = False
    elif kind in NAMESPACED_KINDS:
        where.at("kind").error(f"namespaced {kind} only applies to Kubernetes workloads; use {NAMESPACED_KINDS[kind]}")
        ok = False
    elif kind in UNSUPPORTED_KINDS:
        where.at("kind").error(UNSUPPORTED_KINDS[kind])
        ok = False
    elif kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        where.at("kind").error(f"expected one of {kinds}, got {kind!r}{hint}")
        ok = False
    return ok


# Each manifest loader validates the whole document (a bad name does not hide the spec's
# problems) and returns the name if it is valid, and the resource (None if it could not be built).


def _manifest_policy(
    name: str | None, name_where: Where, metadata: Mapping[str, Any], spec: Mapping[str, Any], where: Where, source: str
) -> tuple[str | None, GlobalNetworkPolicy | None]:
    load_labels(metadata.get("labels"), where.at("metadata", "labels"), reserved_ok=True)
    fields = canonical_fields(spec, POLICY_SPEC_FIELDS, where.at("spec"))
    policy = load_policy(name, fields, where.at("spec"), name_where, source)
    return _valid_name(name, check_policy_name), policy


def _manifest_network_set(
    name: str | None, name_where: Where, metadata: Mapping[str, Any], spec: Mapping[str, Any], where: Where, source: str
) -> tuple[str | None, GlobalNetworkSet | None]:
    name_ok = check_name(name, name_where)
    labels = load_labels(metadata.get("labels"), where.at("metadata", "labels"), reserved_ok=True)
    fields = canonical_fields(spec, NETWORK_SET_SPEC_FIELDS, where.at("spec"))
    network_set = load_network_set(name or "", labels, fields, where.at("spec"), where.at("metadata", "labels"), source)
    return (name if name_ok else None), network_set


def _manifest_host_endpoint(
    name: str | None, name_where: Where, metadata: Mapping[str, Any], spec: Mapping[str, Any], where: Where, source: str
) -> tuple[str | None, HostEndpoint | None]:
    name_ok = check_name(name, name_where)
    labels = load_labels(metadata.get("labels"), where.at("metadata", "labels"))
    fields = canonical_fields(spec, HOST_ENDPOINT_SPEC_FIELDS, where.at("spec"))
    endpoint = load_host_endpoint(name or "", labels, fields, where.at("spec"), source)
    return (name if name_ok else None), endpoint


def _manifest_felix(
    name: str | None, name_where: Where, metadata: Mapping[str, Any], spec: Mapping[str, Any], where: Where, source: str
) -> tuple[str | None, Mapping[str, Any]]:
    """Labels of a FelixConfiguration mean nothing to Felix and are not checked; its name is
    checked against the inventory by the fleet ('default' or 'node.<host>')."""
    settings = load_felix_configuration(spec, where.at("spec"))
    if name is None:
        name_where.error("is required: 'default' or 'node.<inventory host>'")
    return name, settings


_MANIFEST_LOADERS: dict[str, Callable[..., tuple[str | None, Any]]] = {
    "GlobalNetworkPolicy": _manifest_policy,
    "GlobalNetworkSet": _manifest_network_set,
    "HostEndpoint": _manifest_host_endpoint,
    "FelixConfiguration": _manifest_felix,
}
