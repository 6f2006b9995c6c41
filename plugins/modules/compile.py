#!/usr/bin/python
# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the controller-side action ``palisade.firewall.compile``."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compile
short_description: Compile the firewall rulesets of inventory hosts, without contacting them
version_added: 0.1.0
description:
  - Reads and validates the whole inventory like M(palisade.firewall.resolve), then compiles, for
    each requested host, its IPv4 and IPv6 rulesets and ipsets and renders them with the
    templates of the role M(palisade.firewall.host_firewall) (C(templates/iptables.rules.j2),
    C(templates/ipset.restore.j2)).
  - Returns per host the C(iptables-restore --noflush) and C(ip6tables-restore --noflush) files
    without hook rules, the C(ipset restore) file, the hooks as data (the apply module keeps
    exactly one of each), the policies selecting each endpoint, and warnings.
  - Any validation problem anywhere in the inventory fails the task with every problem listed,
    before any host is touched. Runs on the controller only; build the index once with
    C(run_once) and O(hosts).
options:
  hosts:
    description: Inventory hosts to compile. Defaults to the host the task runs for.
    type: list
    elements: str
extends_documentation_fragment:
  - palisade.firewall.controller_action
seealso:
  - module: palisade.firewall.resolve
  - module: palisade.firewall.explain
"""

EXAMPLES = r"""
- name: Compile every host of the batch once
  palisade.firewall.compile:
    hosts: "{{ ansible_play_batch }}"
  run_once: true
  register: palisade_compiled
"""

RETURN = r"""
hosts:
  description: Compiled output per requested host.
  returned: success
  type: dict
  contains:
    files:
      description: C(ipv4.rules), C(ipv6.rules) and C(ipsets.restore) file contents.
      type: dict
    hooks:
      description: Hook rules, each with C(family), C(table), C(chain), C(target), C(position).
      type: list
      elements: dict
    policies:
      description: Per endpoint name, the policies selecting it under C(ingress) and C(egress), in evaluation order.
      type: dict
    warnings:
      description: Compiler warnings naming the policy and rule, such as a named port no endpoint declares.
      type: list
      elements: str
problems:
  description: Every validation problem, when the task fails on bad input.
  returned: failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"hosts": {"type": "list", "elements": "str"}}, supports_check_mode=True)
    module.fail_json(msg="palisade.firewall.compile runs on the controller as an action plugin; it cannot run on a host")


if __name__ == "__main__":
    main()
