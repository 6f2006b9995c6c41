# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet-wide resources: policies, network sets, manifest host endpoints, Felix settings.

Private to the collection: the engine's API may change at any time.

Two spellings reach this module: the compact variables (``palisade_policies``,
``palisade_network_sets``) and Calico manifests (``palisade_resources``). Both load into the
same model; a name defined twice, in either spelling, is an error naming both places.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.palisade.firewall.plugins.plugin_utils.endpoint_loader import (
    HOST_ENDPOINT_SPEC_FIELDS,
    NETWORK_SET_SPEC_FIELDS,
    check_name,
    load_host_endpoint,
    load_network_set,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problems, Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.fields import (
    canonical_fields,
    get_list,
    get_mapping,
    get_str,
    require_mapping,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.labels import load_labels
from ansible_collections.palisade.firewall.plugins.plugin_utils.policy_loader import POLICY_SPEC_FIELDS, load_policy
from ansible_collections.palisade.firewall.plugins.plugin_utils.resources import (
    GlobalNetworkPolicy,
    GlobalNetworkSet,
    HostEndpoint,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.settings_loader import load_felix_configuration

POLICIES_VAR = "palisade_policies"
NETWORK_SETS_VAR = "palisade_network_sets"
RESOURCES_VAR = "palisade_resources"

API_VERSIONS = ("projectcalico.org/v3", "crd.projectcalico.org/v1")
KINDS = ("GlobalNetworkPolicy", "GlobalNetworkSet", "HostEndpoint", "FelixConfiguration")
NAMESPACED_KINDS = {"NetworkPolicy": "GlobalNetworkPolicy", "NetworkSet": "GlobalNetworkSet"}
MANIFEST_FIELDS = ("apiVersion", "kind", "metadata", "spec")
METADATA_FIELDS = ("name", "labels", "annotations", "namespace")
SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")


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
        problems.add(variable, "", f"expected a list, got {type(value).__name__}")
        return []
    return value


def _entry_source(variable: str, index: int, item: Any) -> str:
    name = item.get("name") if isinstance(item, Mapping) else None
    return f"{variable}[{index}]" + (f" ({name})" if isinstance(name, str) else "")


def _load_compact_policy(builder: _Builder, index: int, item: Any) -> None:
    source = _entry_source(POLICIES_VAR, index, item)
    where = Where(source, builder.problems)
    raw = require_mapping(item, where, "a policy (a mapping with name, selector, ingress, egress, ...)")
    if raw is None:
        return
    fields = canonical_fields(raw, ("name", *POLICY_SPEC_FIELDS), where)
    name = get_str(fields, "name", where)
    policy = load_policy(name, fields, where, where.at("name"), source)
    if policy is not None and builder.claim("GlobalNetworkPolicy", policy.name, source, where.at("name")):
        builder.policies.append(policy)


def _load_compact_network_set(builder: _Builder, index: int, item: Any) -> None:
    source = _entry_source(NETWORK_SETS_VAR, index, item)
    where = Where(source, builder.problems)
    raw = require_mapping(item, where, "a network set (a mapping with name, labels and nets)")
    if raw is None:
        return
    fields = canonical_fields(raw, ("name", "labels", *NETWORK_SET_SPEC_FIELDS), where)
    name = get_str(fields, "name", where)
    labels = load_labels(fields.get("labels"), where.at("labels"), reserved_ok=True)
    if not check_name(name, where.at("name")) or name is None:
        return
    network_set = load_network_set(name, labels, fields, where, where.at("labels"), source)
    if network_set is not None and builder.claim("GlobalNetworkSet", name, source, where.at("name")):
        builder.network_sets.append(network_set)


def _load_document(builder: _Builder, source: str, document: Any) -> None:
    if document is None:
        return  # an empty YAML document, e.g. after a leading '---'
    where = Where(source, builder.problems)
    raw = require_mapping(document, where, "a Calico manifest (apiVersion, kind, metadata, spec)")
    if raw is None:
        return
    kind = raw.get("kind")
    if isinstance(kind, str) and (kind == "List" or kind.endswith("List")) and "items" in raw:
        for index, item in enumerate(get_list(raw, "items", where)):
            _load_document(builder, f"{source} item {index + 1}", item)
        return
    fields = canonical_fields(raw, MANIFEST_FIELDS, where, ignored=("status",))
    if not _check_header(fields, where):
        return
    kind = fields["kind"]
    metadata = canonical_fields(get_mapping(fields, "metadata", where), METADATA_FIELDS, where.at("metadata"), ignored=SERVER_METADATA)
    name = get_str(metadata, "name", where.at("metadata"))
    source = f"{source} ({kind} {name})" if isinstance(name, str) else f"{source} ({kind})"
    where = Where(source, builder.problems)
    if metadata.get("namespace"):
        where.at("metadata", "namespace").error(f"{kind} is not namespaced; remove the namespace")
    _MANIFEST_LOADERS[kind](builder, name, metadata, get_mapping(fields, "spec", where), where, source)


def _check_header(fields: Mapping[str, Any], where: Where) -> bool:
    api_version = fields.get("apiVersion")
    kind = fields.get("kind")
    ok = True
    if api_version not in API_VERSIONS:
        where.at("apiVersion").error(f"expected {' or '.join(API_VERSIONS)}, got {api_version!r}")
        ok = False
    if kind in NAMESPACED_KINDS:
        where.at("kind").error(f"namespaced {kind} only applies to Kubernetes workloads; use {NAMESPACED_KINDS[kind]}")
        ok = False
    elif kind not in KINDS:
        where.at("kind").error(f"expected one of {', '.join(KINDS)}, got {kind!r}")
        ok = False
    return ok


def _manifest_policy(builder: _Builder, name: str | None, metadata: Mapping[str, Any], spec: Mapping[str, Any], where: Where, source: str) -> None:
    load_labels(metadata.get("labels"), where.at("metadata", "labels"), reserved_ok=True)
    fields = canonical_fields(spec, POLICY_SPEC_FIELDS, where.at("spec"))
    policy = load_policy(name, fields, where.at("spec"), where.at("metadata", "name"), source)
    if policy is not None and builder.claim("GlobalNetworkPolicy", policy.name, source, where.at("metadata", "name")):
        builder.policies.append(policy)


def _manifest_network_set(builder: _Builder, name: str | None, metadata: Mapping[str, Any], spec: Mapping[str, Any], where: Where, source: str) -> None:
    labels = load_labels(metadata.get("labels"), where.at("metadata", "labels"), reserved_ok=True)
    fields = canonical_fields(spec, NETWORK_SET_SPEC_FIELDS, where.at("spec"))
    if not check_name(name, where.at("metadata", "name")) or name is None:
        return
    network_set = load_network_set(name, labels, fields, where.at("spec"), where.at("metadata", "labels"), source)
    if network_set is not None and builder.claim("GlobalNetworkSet", name, source, where.at("metadata", "name")):
        builder.network_sets.append(network_set)


def _manifest_host_endpoint(builder: _Builder, name: str | None, metadata: Mapping[str, Any], spec: Mapping[str, Any], where: Where, source: str) -> None:
    labels = load_labels(metadata.get("labels"), where.at("metadata", "labels"))
    fields = canonical_fields(spec, HOST_ENDPOINT_SPEC_FIELDS, where.at("spec"))
    if not check_name(name, where.at("metadata", "name")) or name is None:
        return
    endpoint = load_host_endpoint(name, labels, fields, where.at("spec"), source)
    if endpoint is not None and builder.claim("HostEndpoint", name, source, where.at("metadata", "name")):
        builder.host_endpoints.append(endpoint)


def _manifest_felix(builder: _Builder, name: str | None, metadata: Mapping[str, Any], spec: Mapping[str, Any], where: Where, source: str) -> None:
    settings = load_felix_configuration(spec, where.at("spec"))
    if name is None:
        where.at("metadata", "name").error("is required: 'default' or 'node.<inventory host>'")
        return
    if builder.claim("FelixConfiguration", name, source, where.at("metadata", "name")):
        builder.felix[name] = settings


_MANIFEST_LOADERS: dict[str, Callable[..., None]] = {
    "GlobalNetworkPolicy": _manifest_policy,
    "GlobalNetworkSet": _manifest_network_set,
    "HostEndpoint": _manifest_host_endpoint,
    "FelixConfiguration": _manifest_felix,
}
