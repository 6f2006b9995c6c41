#!/usr/bin/python
# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the controller-side action ``palisade.firewall.resolve``."""

DOCUMENTATION = r"""
---
module: resolve
short_description: Resolve firewall policies for inventory hosts, without contacting them
version_added: 0.1.0
description:
  - Reads the whole inventory (every host, whatever C(--limit) or C(serial) selects), validates
    labels, host endpoints, policies, network sets and settings, and reports every problem
    at once. A single malformed policy anywhere fails the task.
  - For each requested host it returns the host's endpoints, for each endpoint the policies that
    select it per direction in evaluation order (by C(order), absent last, then by name), and for
    each rule C(selector)/C(notSelector) of those policies the IPv4 and IPv6 address sets it
    resolves to (network-set CIDRs plus endpoint addresses, merged).
  - Runs on the controller only. The fleet index is built once per task, so resolve many hosts
    with one task (C(run_once) with O(hosts)) rather than one task per host on large inventories.
  - Variables read, for every inventory host, are C(palisade_labels), C(palisade_labels__*),
    C(palisade_host_endpoints), C(palisade_auto_host_endpoint), the settings variables,
    C(ansible_host) and C(ansible_facts); C(palisade_policies), C(palisade_network_sets) and
    C(palisade_resources) are fleet-wide and must have the same value for every host.
options:
  hosts:
    description:
      - Inventory hosts to resolve. Defaults to the host the task runs for.
    type: list
    elements: str
extends_documentation_fragment:
  - palisade.firewall.controller_action
  - palisade.firewall.attributes
notes:
  - The selector language, label merging and address fallbacks are described in the
    collection's C(docs/) folder.
seealso:
  - plugin: palisade.firewall.selector_match
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Resolve every host of the play with one fleet index
  palisade.firewall.resolve:
    hosts: "{{ ansible_play_hosts_all }}"
  run_once: true
  register: palisade_resolution

- name: Show what selects this host
  ansible.builtin.debug:
    var: palisade_resolution.hosts[inventory_hostname]
"""

RETURN = r"""
hosts:
  description: Resolution per requested host.
  returned: success
  type: dict
  contains:
    host:
      description: The inventory host name.
      type: str
    labels:
      description: The host's labels after merging (automatic, C(palisade_labels__*), C(palisade_labels)).
      type: dict
    endpoints:
      description: The host's endpoints, by name.
      type: list
      elements: dict
      contains:
        name:
          description: Endpoint name.
          type: str
        interface_name:
          description: Interface, C(*) for every unclaimed interface, or null when identified by address.
          type: str
        labels:
          description: Host labels merged with the endpoint's own.
          type: dict
        addresses:
          description: Addresses other hosts' selectors resolve this endpoint to.
          type: list
          elements: str
        address_source:
          description: Where the addresses came from.
          type: str
          choices: [expectedIPs, facts, ansible_host, unknown]
        ports:
          description: Named ports the endpoint declares.
          type: list
          elements: dict
        policies:
          description: >-
            Policies selecting the endpoint, under C(ingress) and C(egress), in evaluation
            order; each has C(name), C(order) (null means last), C(stage) (C(normal),
            C(preDNAT) or C(untracked)) and C(apply_on_forward).
          type: dict
    rule_selectors:
      description: >-
        Every rule selector and notSelector of the selecting policies, by canonical form, with
        C(ipv4) and C(ipv6) CIDR lists and the C(endpoints) and C(network_sets) that matched.
      type: dict
    warnings:
      description: Problems that do not stop the run, such as a selector matching an endpoint whose addresses are unknown.
      type: list
      elements: str
  sample:
    my-host:
      host: my-host
      labels: {role: k8s-worker, environment: production, "palisade.io/hostname": my-host}
      endpoints:
        - name: my-host-eth0
          interface_name: eth0
          addresses: [198.51.100.11]
          address_source: expectedIPs
          policies:
            ingress: [{name: k8s-worker, order: 0.0, stage: normal, apply_on_forward: false}]
            egress: [{name: k8s-worker, order: 0.0, stage: normal, apply_on_forward: false}]
      rule_selectors: {}
      warnings: []
problems:
  description: Every validation problem, one string each, when the task fails on bad input.
  returned: failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


# The options, shared with the action plugin (plugins/action/resolve.py), which validates them.
ARGUMENT_SPEC = {"hosts": {"type": "list", "elements": "str"}}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="palisade.firewall.resolve runs on the controller as an action plugin; it cannot run on a host")


if __name__ == "__main__":
    main()
