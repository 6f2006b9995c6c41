# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed's "Protect hosts" example loads as manifests and as compact variables alike."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import yaml

from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import HostInput, load_fleet
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.index import FleetIndex
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.resolution import Resolver, resolution_to_dict
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import PortRange, Protocol

MANIFESTS = list(yaml.safe_load_all((Path(__file__).parents[3] / "fixtures" / "protect_hosts.yaml").read_text()))

COMPACT_POLICY = {
    "name": "k8s-worker",
    "selector": "role == 'k8s-worker'",
    "order": 0,
    "ingress": [
        {"action": "Allow", "protocol": "TCP", "source": {"nets": ["198.51.100.0/24"]}, "destination": {"ports": [22]}},
        {"action": "Allow", "protocol": "ICMP"},
        {"action": "Allow", "protocol": "TCP", "destination": {"ports": [10250]}},
    ],
    "egress": [
        {"action": "Allow", "protocol": "TCP", "destination": {"nets": ["198.51.100.21/32"], "ports": [2379]}},
        {"action": "Allow", "protocol": "UDP", "destination": {"ports": [53, 67]}},
    ],
}


def manifest_fleet():
    shared = {"palisade_resources": MANIFESTS}
    return load_fleet([HostInput("my-host", ("k8s_workers",), shared), HostInput("etcd-1", ("etcd",), shared)])


def compact_fleet():
    shared = {"palisade_policies": [COMPACT_POLICY]}
    my_host = {
        **shared,
        "palisade_labels": {"role": "k8s-worker", "environment": "production"},
        "palisade_host_endpoints": [{"interfaceName": "eth0", "expectedIPs": ["198.51.100.11"]}],
    }
    return load_fleet([HostInput("my-host", ("k8s_workers",), my_host), HostInput("etcd-1", ("etcd",), shared)])


def without_origin(policies):
    return [dataclasses.replace(p, origin="") for p in policies]


def test_manifest_and_compact_policies_are_the_same_model():
    manifest, compact = manifest_fleet(), compact_fleet()
    assert without_origin(manifest.catalog.policies) == without_origin(compact.catalog.policies)
    assert manifest.catalog.policies[0].origin == "palisade_resources document 1 (GlobalNetworkPolicy k8s-worker)"
    assert compact.catalog.policies[0].origin == "palisade_policies[0] (k8s-worker)"


def test_manifest_and_compact_resolve_to_the_same_result():
    results = []
    for fleet in (manifest_fleet(), compact_fleet()):
        resolved = resolution_to_dict(Resolver(FleetIndex(fleet)).resolve("my-host"))
        del resolved["labels"]  # host labels: the manifest form puts them on the endpoint only
        results.append(resolved)
    assert results[0] == results[1]
    (endpoint,) = results[0]["endpoints"]
    assert endpoint["name"] == "my-host-eth0"
    assert endpoint["interface_name"] == "eth0"
    assert endpoint["addresses"] == ["198.51.100.11"]
    assert endpoint["labels"] == {
        "environment": "production",
        "group.palisade.io/k8s_workers": "",
        "palisade.io/hostname": "my-host",
        "role": "k8s-worker",
    }
    expected_policy = [{"name": "k8s-worker", "order": 0.0, "stage": "normal", "apply_on_forward": False}]
    assert endpoint["policies"] == {"ingress": expected_policy, "egress": expected_policy}


def test_seed_policy_model():
    (policy,) = manifest_fleet().catalog.policies
    assert policy.types == ("Ingress", "Egress")
    ssh = policy.ingress[0]
    assert ssh.protocol == Protocol(6, "TCP")
    assert ssh.source.nets == (ipaddress.ip_network("198.51.100.0/24"),)
    assert ssh.destination.ports == (PortRange(22, 22),)
    assert policy.egress[1].destination.ports == (PortRange(53, 53), PortRange(67, 67))


def test_etcd_host_has_no_endpoint_and_no_policy():
    resolved = Resolver(FleetIndex(manifest_fleet())).resolve("etcd-1")
    assert resolved.endpoints == ()
