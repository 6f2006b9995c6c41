# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet-wide catalog: manifests (headers, List, None documents), duplicates across
spellings, the seed's resources, and every problem of a run reported together."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problems
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.catalog import Catalog, load_catalog
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import (
    EGRESS,
    INGRESS,
    EntityRule,
    FailsafePort,
    GlobalNetworkPolicy,
    HostEndpoint,
    PortRange,
    Protocol,
    Rule,
)
from ansible_collections.palisade.firewall.plugins.plugin_utils.selector.parser import parse_selector

V3 = "projectcalico.org/v3"
DOC1 = "palisade_resources document 1"
KINDS = "GlobalNetworkPolicy, GlobalNetworkSet, HostEndpoint, FelixConfiguration"
MANIFEST_FIELDS = "(expected one of: apiVersion, kind, metadata, spec)"
INVALID_NAME = "expected lower case letters, digits, '-' and '.', starting and ending with a letter or digit"
LABEL_CHARS = "expected letters, digits, '-', '_' and '.', starting and ending with a letter or digit"


def manifest(kind="GlobalNetworkPolicy", name="web", spec=None, api_version=V3, **metadata):
    document = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, **metadata}}
    if spec is not None:
        document["spec"] = spec
    return document


def hep(name="my-host-eth0", **spec):
    return manifest("HostEndpoint", name, {"node": "my-host", "interfaceName": "eth0", **spec})


def load(policies=None, network_sets=None, resources=None):
    problems = Problems()
    catalog = load_catalog(policies, network_sets, resources, problems)
    return catalog, problems


def errors_of(policies=None, network_sets=None, resources=None):
    return [str(p) for p in load(policies, network_sets, resources)[1].items]


def params(table):
    return [pytest.param(*values, id=case_id) for case_id, *values in table]


# --- manifest headers ------------------------------------------------------------------------

HEADER_ERRORS = [
    (
        "apiVersion missing",
        {"kind": "GlobalNetworkPolicy", "metadata": {"name": "web"}},
        [f"{DOC1} (GlobalNetworkPolicy web): apiVersion: is required: projectcalico.org/v3 or crd.projectcalico.org/v1"],
    ),
    (
        "apiVersion of Kubernetes",
        manifest(api_version="networking.k8s.io/v1"),
        [
            f"{DOC1} (GlobalNetworkPolicy web): apiVersion: expected projectcalico.org/v3 or crd.projectcalico.org/v1, got 'networking.k8s.io/v1'"
        ],
    ),
    (
        "old apiVersion",
        manifest(api_version="v1"),
        [f"{DOC1} (GlobalNetworkPolicy web): apiVersion: expected projectcalico.org/v3 or crd.projectcalico.org/v1, got 'v1'"],
    ),
    ("kind missing", {"apiVersion": V3, "metadata": {"name": "web"}}, [f"{DOC1}: kind: is required: one of {KINDS}"]),
    ("kind not a string", {"apiVersion": V3, "kind": ["HostEndpoint"]}, [f"{DOC1}: kind: expected one of {KINDS}, got a list"]),
    (
        "kind with a typo",
        manifest(kind="GlobalNetworkpolicy"),
        [
            f"{DOC1} (GlobalNetworkpolicy web): kind: expected one of {KINDS}, got 'GlobalNetworkpolicy'; did you mean 'GlobalNetworkPolicy'?"
        ],
    ),
    ("unknown kind", manifest(kind="IPPool"), [f"{DOC1} (IPPool web): kind: expected one of {KINDS}, got 'IPPool'"]),
    (
        "namespaced NetworkPolicy",
        manifest(kind="NetworkPolicy"),
        [f"{DOC1} (NetworkPolicy web): kind: namespaced NetworkPolicy only applies to Kubernetes workloads; use GlobalNetworkPolicy"],
    ),
    (
        "namespaced NetworkSet",
        manifest(kind="NetworkSet"),
        [f"{DOC1} (NetworkSet web): kind: namespaced NetworkSet only applies to Kubernetes workloads; use GlobalNetworkSet"],
    ),
    (
        "Profile",
        manifest(kind="Profile"),
        [f"{DOC1} (Profile web): kind: profiles are not supported: express their rules as a GlobalNetworkPolicy"],
    ),
    ("Tier", manifest(kind="Tier"), [f"{DOC1} (Tier web): kind: tiers are not supported: every policy is in the 'default' tier"]),
    (
        "both header fields wrong",
        {"apiVersion": "v1", "kind": "Pod"},
        [
            f"{DOC1} (Pod): apiVersion: expected projectcalico.org/v3 or crd.projectcalico.org/v1, got 'v1'",
            f"{DOC1} (Pod): kind: expected one of {KINDS}, got 'Pod'",
        ],
    ),
    (
        "document not a mapping",
        "kind: HostEndpoint",
        [f"{DOC1}: expected a Calico manifest (apiVersion, kind, metadata, spec), got a string"],
    ),
]


@pytest.mark.parametrize(("document", "expected"), params(HEADER_ERRORS))
def test_header_errors(document, expected):
    assert errors_of(resources=[document]) == expected


MANIFEST_ERRORS = [
    (
        "typo spec",
        {**manifest(), "specs": {}},
        [f"{DOC1} (GlobalNetworkPolicy web): specs: unknown field; did you mean 'spec'? {MANIFEST_FIELDS}"],
    ),
    (
        "namespace",
        manifest(namespace="default"),
        [f"{DOC1} (GlobalNetworkPolicy web): metadata.namespace: GlobalNetworkPolicy is not namespaced; remove the namespace"],
    ),
    (
        "namespace on a host endpoint",
        {**hep(), "metadata": {"name": "h", "namespace": "x"}},
        [f"{DOC1} (HostEndpoint h): metadata.namespace: HostEndpoint is not namespaced; remove the namespace"],
    ),
    (
        "unknown metadata field",
        manifest(lables={}),
        [
            f"{DOC1} (GlobalNetworkPolicy web): metadata.lables: unknown field; did you mean 'labels'? (expected one of: annotations, labels, name, namespace)"
        ],
    ),
    (
        "metadata not a mapping",
        {"apiVersion": V3, "kind": "GlobalNetworkPolicy", "metadata": "web"},
        [f"{DOC1} (GlobalNetworkPolicy): metadata: expected a mapping, got a string"],
    ),
    ("metadata missing", {"apiVersion": V3, "kind": "GlobalNetworkPolicy"}, [f"{DOC1} (GlobalNetworkPolicy): metadata.name: is required"]),
    (
        "name missing",
        {"apiVersion": V3, "kind": "GlobalNetworkSet", "metadata": {}},
        [f"{DOC1} (GlobalNetworkSet): metadata.name: is required"],
    ),
    ("name not a string", manifest(name=5), [f"{DOC1} (GlobalNetworkPolicy): metadata.name: expected a string, got an integer"]),
    ("spec not a mapping", manifest(spec=["selector"]), [f"{DOC1} (GlobalNetworkPolicy web): spec: expected a mapping, got a list"]),
    (
        "annotation not a string",
        manifest(annotations={"owner": 1}),
        [f"{DOC1} (GlobalNetworkPolicy web): metadata.annotations.owner: expected a string, got an integer; quote it in YAML"],
    ),
    (
        "annotations not a mapping",
        manifest(annotations=["x"]),
        [f"{DOC1} (GlobalNetworkPolicy web): metadata.annotations: expected a mapping of strings to strings, got a list"],
    ),
    (
        "annotation key with a space",
        manifest(annotations={"owner team": "net"}),
        [f"{DOC1} (GlobalNetworkPolicy web): metadata.annotations.owner team: invalid annotation key 'owner team': {LABEL_CHARS}"],
    ),
    (
        "annotation key with a trailing newline",
        manifest(annotations={"owner\n": "net"}),
        [f"{DOC1} (GlobalNetworkPolicy web): metadata.annotations.owner\n: invalid annotation key 'owner\\n': {LABEL_CHARS}"],
    ),
    (
        "annotation key with a bad prefix",
        manifest(annotations={"Example.com/owner": "net"}),
        [
            f"{DOC1} (GlobalNetworkPolicy web): metadata.annotations.Example.com/owner: invalid annotation key 'Example.com/owner': "
            "the prefix 'Example.com' must be a DNS subdomain (lower case, <= 253 characters)"
        ],
    ),
    ("annotation key empty", manifest(annotations={"": "net"}), [f"{DOC1} (GlobalNetworkPolicy web): metadata.annotations: annotation key is empty"]),
    (
        "annotations too large",
        manifest(annotations={"big": "x" * (256 * 1024)}),
        [f"{DOC1} (GlobalNetworkPolicy web): metadata.annotations: annotations total 262147 bytes; the limit is 262144"],
    ),
    (
        "bad policy label",
        manifest(labels={"a b": "c"}),
        [f"{DOC1} (GlobalNetworkPolicy web): metadata.labels.a b: invalid label key 'a b': {LABEL_CHARS}"],
    ),
    (
        "spec error path",
        manifest(spec={"ingress": [{"action": "allow"}]}),
        [
            f"{DOC1} (GlobalNetworkPolicy web): spec.ingress[0].action: invalid action 'allow': expected one of Allow, Deny, Pass, Log; did you mean 'Allow'?"
        ],
    ),
    (
        "spec typo",
        manifest(spec={"egres": []}),
        [
            f"{DOC1} (GlobalNetworkPolicy web): spec.egres: unknown field; did you mean 'egress'? (expected one of: applyOnForward, doNotTrack, egress, "
            "ingress, namespaceSelector, order, performanceHints, preDNAT, selector, serviceAccountSelector, tier, types)"
        ],
    ),
    (
        "name inside spec",
        manifest(spec={"name": "web"}),
        [
            f"{DOC1} (GlobalNetworkPolicy web): spec.name: unknown field (expected one of: applyOnForward, doNotTrack, egress, "
            "ingress, namespaceSelector, order, performanceHints, preDNAT, selector, serviceAccountSelector, tier, types)"
        ],
    ),
    (
        "FelixConfiguration without a name",
        {"apiVersion": V3, "kind": "FelixConfiguration", "metadata": {}, "spec": {}},
        [f"{DOC1} (FelixConfiguration): metadata.name: is required: 'default' or 'node.<inventory host>'"],
    ),
    (
        "FelixConfiguration unknown field",
        manifest("FelixConfiguration", "default", {"chainInsert": "Append"}),
        [
            f"{DOC1} (FelixConfiguration default): spec.chainInsert: unknown field; did you mean 'chainInsertMode'? (expected one of: chainInsertMode, "
            "defaultEndpointToHostAction, disableConntrackInvalidCheck, failsafeInboundHostPorts, failsafeOutboundHostPorts, interfacePrefix, "
            "iptablesFilterAllowAction, iptablesFilterDenyAction, iptablesMangleAllowAction, ipv6Support, logPrefix, nftablesFilterAllowAction, "
            "nftablesFilterDenyAction, nftablesMangleAllowAction)"
        ],
    ),
]


@pytest.mark.parametrize(("document", "expected"), params(MANIFEST_ERRORS))
def test_manifest_errors(document, expected):
    assert errors_of(resources=[document]) == expected


ACCEPTED_MANIFESTS = [
    ("CRD apiVersion", manifest(api_version="crd.projectcalico.org/v1"), 1),
    ("server-side metadata and status", {**manifest(uid="1", resourceVersion="2", creationTimestamp="t", generation=1), "status": {}}, 1),
    ("snake_case api_version", {"api_version": V3, "kind": "GlobalNetworkPolicy", "metadata": {"name": "web"}}, 1),
    ("empty namespace", manifest(namespace=""), 1),
]


@pytest.mark.parametrize(("document", "count"), params(ACCEPTED_MANIFESTS))
def test_accepted_manifests(document, count):
    catalog, problems = load(resources=[document])
    assert [str(p) for p in problems.items] == []
    assert len(catalog.policies) == count


# --- documents: None, lists, List ------------------------------------------------------------


def test_none_documents_are_skipped():
    catalog, problems = load(resources=[None, manifest(), None])
    assert not problems
    assert [p.name for p in catalog.policies] == ["web"]
    assert catalog.policies[0].origin == "palisade_resources document 2 (GlobalNetworkPolicy web)"


def test_list_is_expanded():
    document = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [manifest(name="a"), None, hep(), manifest("GlobalNetworkSet", "mgmt", {"nets": ["10.0.0.0/8"]})],
    }
    catalog, problems = load(resources=[document])
    assert not problems
    assert [p.origin for p in catalog.policies] == ["palisade_resources document 1 item 1 (GlobalNetworkPolicy a)"]
    assert [e.origin for e in catalog.host_endpoints] == ["palisade_resources document 1 item 3 (HostEndpoint my-host-eth0)"]
    assert [s.name for s in catalog.network_sets] == ["mgmt"]


LIST_ERRORS = [
    (
        "bad item",
        {"kind": "List", "items": [manifest(), manifest(kind="NetworkPolicy", name="x")]},
        [f"{DOC1} item 2 (NetworkPolicy x): kind: namespaced NetworkPolicy only applies to Kubernetes workloads; use GlobalNetworkPolicy"],
    ),
    (
        "item not a mapping",
        {"kind": "GlobalNetworkPolicyList", "items": [5]},
        [f"{DOC1} item 1: expected a Calico manifest (apiVersion, kind, metadata, spec), got an integer"],
    ),
    (
        "items typo",
        {"kind": "List", "item": []},
        [f"{DOC1}: item: unknown field; did you mean 'items'? (expected one of: apiVersion, items, kind, metadata)"],
    ),
    ("items not a list", {"kind": "List", "items": {}}, [f"{DOC1}: items: expected a list, got a mapping"]),
    (
        "nested List",
        {"kind": "List", "items": [{"kind": "List", "items": [manifest(name="Bad")]}]},
        [
            f"{DOC1} item 1 item 1 (GlobalNetworkPolicy Bad): metadata.name: invalid name 'Bad': expected lower case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        ],
    ),
    (
        "nested list of documents",
        [manifest(), {"kind": "HostEndpoint"}],
        [f"{DOC1} item 2 (HostEndpoint): apiVersion: is required: projectcalico.org/v3 or crd.projectcalico.org/v1"],
    ),
]


@pytest.mark.parametrize(("document", "expected"), params(LIST_ERRORS))
def test_list_errors(document, expected):
    assert errors_of(resources=[document]) == expected


def test_empty_list_and_nested_lists_load():
    catalog, problems = load(resources=[{"kind": "List"}, [manifest(name="a"), [manifest(name="b")]]])
    assert not problems
    assert [p.name for p in catalog.policies] == ["a", "b"]


VARIABLE_ERRORS = [
    ("policies not a list", ({"name": "web"}, None, None), ["palisade_policies: expected a list, got a mapping"]),
    ("network sets not a list", (None, "mgmt", None), ["palisade_network_sets: expected a list, got a string"]),
    ("resources not a list", (None, None, manifest()), ["palisade_resources: expected a list, got a mapping"]),
]


@pytest.mark.parametrize(("values", "expected"), params(VARIABLE_ERRORS))
def test_variables_must_be_lists(values, expected):
    assert errors_of(*values) == expected


def test_nothing_defined_is_an_empty_catalog():
    assert load() == (Catalog(), Problems())
    assert load([], [], []) == (Catalog(), Problems())


# --- duplicate names -------------------------------------------------------------------------

DUPLICATES = [
    (
        "compact policy and manifest",
        ([{"name": "web"}], None, [manifest()]),
        [
            f"{DOC1} (GlobalNetworkPolicy web): metadata.name: GlobalNetworkPolicy 'web' is defined twice: here and in palisade_policies[0] (web)"
        ],
    ),
    (
        "two compact policies",
        ([{"name": "web"}, {"name": "web", "order": 1}], None, None),
        ["palisade_policies[1] (web): name: GlobalNetworkPolicy 'web' is defined twice: here and in palisade_policies[0] (web)"],
    ),
    (
        "two manifests",
        (None, None, [manifest(), {"kind": "List", "items": [manifest()]}]),
        [
            "palisade_resources document 2 item 1 (GlobalNetworkPolicy web): metadata.name: GlobalNetworkPolicy 'web' is defined twice: "
            f"here and in {DOC1} (GlobalNetworkPolicy web)"
        ],
    ),
    (
        "compact network set and manifest",
        (None, [{"name": "mgmt"}], [manifest("GlobalNetworkSet", "mgmt", {})]),
        [
            f"{DOC1} (GlobalNetworkSet mgmt): metadata.name: GlobalNetworkSet 'mgmt' is defined twice: here and in palisade_network_sets[0] (mgmt)"
        ],
    ),
    (
        "two compact network sets",
        (None, [{"name": "mgmt"}, {"name": "mgmt"}], None),
        ["palisade_network_sets[1] (mgmt): name: GlobalNetworkSet 'mgmt' is defined twice: here and in palisade_network_sets[0] (mgmt)"],
    ),
    (
        "two host endpoints",
        (None, None, [hep(), hep(interfaceName="eth1")]),
        [
            "palisade_resources document 2 (HostEndpoint my-host-eth0): metadata.name: HostEndpoint 'my-host-eth0' is defined twice: "
            f"here and in {DOC1} (HostEndpoint my-host-eth0)"
        ],
    ),
    (
        "two FelixConfigurations",
        (None, None, [manifest("FelixConfiguration", "default", {}), manifest("FelixConfiguration", "default", {"logPrefix": "x"})]),
        [
            "palisade_resources document 2 (FelixConfiguration default): metadata.name: FelixConfiguration 'default' is defined twice: "
            f"here and in {DOC1} (FelixConfiguration default)"
        ],
    ),
    (
        "a broken first definition still claims its name",
        ([{"name": "web", "order": "x"}], None, [manifest()]),
        [
            "palisade_policies[0] (web): order: expected a number, got a string 'x'",
            f"{DOC1} (GlobalNetworkPolicy web): metadata.name: GlobalNetworkPolicy 'web' is defined twice: here and in palisade_policies[0] (web)",
        ],
    ),
    (
        "an invalid name claims nothing",
        ([{"name": "Web"}, {"name": "Web"}], None, None),
        [
            f"palisade_policies[0] (Web): name: invalid name 'Web': {INVALID_NAME}",
            f"palisade_policies[1] (Web): name: invalid name 'Web': {INVALID_NAME}",
        ],
    ),
    ("one name, different kinds", ([{"name": "web"}], [{"name": "web"}], [hep(name="web"), manifest("FelixConfiguration", "web", {})]), []),
]


@pytest.mark.parametrize(("values", "expected"), params(DUPLICATES))
def test_duplicate_names(values, expected):
    assert errors_of(*values) == expected


def test_duplicate_keeps_the_first_definition():
    catalog, _problems = load([{"name": "web", "order": 1}], None, [manifest(spec={"order": 2})])
    assert [(p.name, p.order, p.origin) for p in catalog.policies] == [("web", 1.0, "palisade_policies[0] (web)")]


# --- the seed's resources (seeds/004) --------------------------------------------------------

SEED_POLICY = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "GlobalNetworkPolicy",
    "metadata": {"name": "k8s-worker"},
    "spec": {
        "selector": "role == 'k8s-worker'",
        "order": 0,
        "ingress": [
            {"action": "Allow", "protocol": "TCP", "source": {"nets": ["198.51.100.0/24"]}, "destination": {"ports": [22]}},
            {"action": "Allow", "protocol": "ICMP"},
            {"action": "Allow", "protocol": "TCP", "destination": {"ports": [10250]}},
        ],
        "egress": [
            {"action": "Allow", "protocol": "TCP", "destination": {"nets": ["10.0.0.5/32"], "ports": [2379]}},
            {"action": "Allow", "protocol": "UDP", "destination": {"ports": [53, 67]}},
        ],
    },
}

SEED_HOST_ENDPOINT = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "HostEndpoint",
    "metadata": {"name": "my-host-eth0", "labels": {"role": "k8s-worker", "environment": "production"}},
    "spec": {"interfaceName": "eth0", "node": "my-host", "expectedIPs": ["10.0.0.1"]},
}

TCP = Protocol(6, "TCP")
UDP = Protocol(17, "UDP")


def ports(*numbers):
    return tuple(PortRange(n, n) for n in numbers)


def test_seed_policy_loads_to_the_model():
    catalog, problems = load(resources=[SEED_POLICY])
    assert not problems and not problems.warnings
    assert catalog.policies == (
        GlobalNetworkPolicy(
            name="k8s-worker",
            selector=parse_selector("role == 'k8s-worker'"),
            types=(INGRESS, EGRESS),
            order=0.0,
            ingress=(
                Rule(
                    "Allow",
                    TCP,
                    source=EntityRule(nets=(ipaddress.ip_network("198.51.100.0/24"),)),
                    destination=EntityRule(ports=ports(22)),
                ),
                Rule("Allow", Protocol(1, "ICMP")),
                Rule("Allow", TCP, destination=EntityRule(ports=ports(10250))),
            ),
            egress=(
                Rule("Allow", TCP, destination=EntityRule(nets=(ipaddress.ip_network("10.0.0.5/32"),), ports=ports(2379))),
                Rule("Allow", UDP, destination=EntityRule(ports=ports(53, 67))),
            ),
            origin="palisade_resources document 1 (GlobalNetworkPolicy k8s-worker)",
        ),
    )


def test_seed_policy_compact_form_is_the_same_policy():
    compact = {"name": "k8s-worker", **SEED_POLICY["spec"]}
    from_compact, problems = load(policies=[compact])
    from_manifest, _problems = load(resources=[SEED_POLICY])
    assert not problems
    assert from_compact.policies[0].origin == "palisade_policies[0] (k8s-worker)"
    assert [p.__class__(**{**p.__dict__, "origin": ""}) for p in from_compact.policies] == [
        p.__class__(**{**p.__dict__, "origin": ""}) for p in from_manifest.policies
    ]


def test_seed_host_endpoint_loads_to_the_model():
    catalog, problems = load(resources=[SEED_HOST_ENDPOINT])
    assert not problems and not problems.warnings
    assert catalog.host_endpoints == (
        HostEndpoint(
            name="my-host-eth0",
            node="my-host",
            interface_name="eth0",
            expected_ips=(ipaddress.ip_address("10.0.0.1"),),
            labels={"environment": "production", "role": "k8s-worker"},
            origin="palisade_resources document 1 (HostEndpoint my-host-eth0)",
        ),
    )


def test_seed_felix_configuration():
    document = manifest(
        "FelixConfiguration",
        "default",
        {"failsafeInboundHostPorts": [{"protocol": "tcp", "port": 22}], "defaultEndpointToHostAction": "Return"},
    )
    catalog, problems = load(resources=[document])
    assert not problems
    assert catalog.felix == {
        "default": {"failsafe_inbound_host_ports": (FailsafePort("tcp", 22),), "default_endpoint_to_host_action": "Return"}
    }


def test_felix_ignored_fields_are_warnings_of_the_run():
    _catalog, problems = load(resources=[manifest("FelixConfiguration", "default", {"logSeverityScreen": "Info"})])
    assert not problems
    assert [str(w) for w in problems.warnings] == [
        f"{DOC1} (FelixConfiguration default): spec.logSeverityScreen: ignored: this Felix setting has no effect on host firewalls"
    ]


# --- every problem of a run, together --------------------------------------------------------


def test_every_problem_of_a_run_is_reported_together():
    policies = [
        {"name": "ok", "ingress": [{"action": "Allow"}]},
        {"name": "web", "ingress": [{"action": "Allow", "protocol": "TCP", "destinaton": {"ports": [80]}}]},
        {"name": "Bad", "order": "1"},
        {
            "name": "ssh",
            "ingress": [{"action": "Allow", "protocol": "TCP", "source": {"nets": ["10.0.0.1/8"]}, "destination": {"ports": ["22-23"]}}],
        },
        {"name": "ok"},
    ]
    network_sets = [{"name": "mgmt", "nets": ["bad"]}, "oops"]
    resources = [
        None,
        manifest(name="ok"),
        hep(expectedIPs=["10.0.0.1/24"]),
        {
            "kind": "List",
            "items": [manifest("NetworkPolicy", "x"), manifest("FelixConfiguration", "default", {"chainInsertMode": "prepend"})],
        },
        manifest("GlobalNetworkSet", "mgmt", {"nets": ["10.0.0.0/8"]}, labels={"projectcalico.org/namespace": "a"}),
        manifest(spec={"preDNAT": True}, name="pre"),
    ]
    expected_fields = "(expected one of: action, destination, http, icmp, ipVersion, metadata, notICMP, notProtocol, protocol, source)"
    assert errors_of(policies, network_sets, resources) == [
        f"palisade_policies[1] (web): ingress[0].destinaton: unknown field; did you mean 'destination'? {expected_fields}",
        f"palisade_policies[2] (Bad): name: invalid name 'Bad': {INVALID_NAME}",
        "palisade_policies[2] (Bad): order: expected a number, got a string '1'",
        "palisade_policies[3] (ssh): ingress[0].source.nets[0]: invalid IP network '10.0.0.1/8': host bits are set; did you mean 10.0.0.0/8?",
        "palisade_policies[3] (ssh): ingress[0].destination.ports[0]: invalid port '22-23': port ranges use ':'; did you mean '22:23'?",
        "palisade_policies[4] (ok): name: GlobalNetworkPolicy 'ok' is defined twice: here and in palisade_policies[0] (ok)",
        "palisade_network_sets[0] (mgmt): nets[0]: invalid IP network 'bad': expected an address or CIDR such as 198.51.100.0/24 or 2001:db8::/32",
        "palisade_network_sets[1]: expected a network set (a mapping with name, labels and nets), got a string",
        "palisade_resources document 2 (GlobalNetworkPolicy ok): metadata.name: GlobalNetworkPolicy 'ok' is defined twice: "
        "here and in palisade_policies[0] (ok)",
        "palisade_resources document 3 (HostEndpoint my-host-eth0): spec.expectedIPs[0]: invalid IP address '10.0.0.1/24': "
        "expected an address without a prefix length; did you mean 10.0.0.1?",
        "palisade_resources document 4 item 1 (NetworkPolicy x): kind: "
        "namespaced NetworkPolicy only applies to Kubernetes workloads; use GlobalNetworkPolicy",
        "palisade_resources document 4 item 2 (FelixConfiguration default): spec.chainInsertMode: expected one of insert, append, got 'prepend'",
        "palisade_resources document 5 (GlobalNetworkSet mgmt): metadata.labels.projectcalico.org/namespace: "
        "is reserved for Kubernetes namespaces; a network set cannot have it",
        "palisade_resources document 5 (GlobalNetworkSet mgmt): metadata.name: GlobalNetworkSet 'mgmt' is defined twice: "
        "here and in palisade_network_sets[0] (mgmt)",
        "palisade_resources document 6 (GlobalNetworkPolicy pre): spec.applyOnForward: must be true when preDNAT is true",
    ]


def test_only_valid_resources_reach_the_catalog():
    catalog, problems = load(
        [{"name": "good"}, {"name": "bad", "order": "x"}, {"name": "typo", "ingres": [{"action": "Allow"}]}],
        [{"name": "nets", "nets": ["10.0.0.0/8"]}, {"name": "broken", "nets": ["x"]}, {"name": "typo", "net": []}],
        [
            hep(),
            hep(name="other", interfaceName="eth0/1"),
            manifest("FelixConfiguration", "default", {"logPrefix": ""}),
            manifest(name="meta", lables={}),
            manifest(name="ns", namespace="default"),
            manifest("GlobalNetworkSet", "annotated", {}, annotations={"a": 1}),
        ],
    )
    assert len(problems.items) == 9
    assert [p.name for p in catalog.policies] == ["good"]
    assert [s.name for s in catalog.network_sets] == ["nets"]
    assert [e.name for e in catalog.host_endpoints] == ["my-host-eth0"]
    assert catalog.felix == {}
