#!/usr/bin/python
# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the controller-side action ``palisade.firewall.compile``."""

DOCUMENTATION = r"""
---
module: compile
short_description: Compile the firewall rulesets of inventory hosts, without contacting them
version_added: 0.1.0
description:
  - Reads and validates the whole inventory like M(palisade.firewall.resolve), then compiles, for
    each requested host, its IPv4 and IPv6 rulesets and ipsets and renders them with the
    templates of the role P(palisade.firewall.host_firewall#role) (C(templates/iptables.rules.j2),
    C(templates/ipset.restore.j2)).
  - Returns per host the C(iptables-restore --noflush) and C(ip6tables-restore --noflush) files
    without hook rules, the C(ipset restore) file, the hooks as data (the apply module keeps
    exactly one of each), the policies selecting each endpoint, and warnings.
  - Any validation problem anywhere in the inventory fails the task with every problem listed,
    before any host is touched. Runs on the controller only; build the index once with
    C(run_once) and O(hosts).
  - The apply settings of each requested host (C(palisade_rollback_timeout),
    C(palisade_confirm_probes), C(palisade_state_dir), C(palisade_lock_timeout),
    C(palisade_boot_restore), C(palisade_persist), C(palisade_allow_lockout),
    C(palisade_allow_unsafe_apply), C(palisade_install_packages)) are checked too, by the rules
    the apply uses, so that a bad value on a host of a later canary batch stops the run before
    the first batch.
  - With O(lockout_check=true) it also checks, for each requested host, that the compiled rules
    would allow a new TCP connection from the controller to the host's SSH address and port on
    the interface it arrives by (the lockout guard), with the simulator of
    M(palisade.firewall.explain). It only reports (RV(hosts.lockout)); refusing is up to the caller.
options:
  hosts:
    description: Inventory hosts to compile. Defaults to the host the task runs for.
    type: list
    elements: str
  lockout_check:
    description:
      - Check each requested host's compiled rules against its management connection and add
        RV(hosts.lockout) to its result.
      - The connection is the one the host reported in C(palisade_management), the registered
        result of M(palisade.firewall.management_connection). Without it (the variable is
        unset, or the host saw no C(SSH_CONNECTION)) it is guessed on the controller from the
        inventory - C(ansible_host) (or C(ansible_ssh_host), else the inventory name, resolved
        when it is not an address), C(ansible_port) (or C(ansible_ssh_port), default 22), and
        the controller's own source address towards it; the interface is then unknown and
        every interface it may arrive on is checked.
    type: bool
    default: false
  keep_for_apply:
    description:
      - Keep each compiled host on the controller for M(palisade.firewall.apply_ruleset) in this
        run, and leave the rule texts out of the result (RV(hosts.files) then holds each file's
        size in bytes, not its text). RV(kept) is the reference to pass as its
        O(palisade.firewall.apply_ruleset#module:compiled).
      - The compiled hosts live in Ansible's local temporary directory of this
        C(ansible-playbook) run (closed to other users) and are removed when it ends, so a
        later run never sees them and two runs at once never share them.
      - This is how the role P(palisade.firewall.host_firewall#role) and the playbook
        C(palisade.firewall.site) compile each host once per run, whatever the set sizes.
    type: bool
    default: false
extends_documentation_fragment:
  - palisade.firewall.controller_action
  - palisade.firewall.attributes
seealso:
  - module: palisade.firewall.resolve
  - module: palisade.firewall.explain
  - module: palisade.firewall.management_connection
"""

EXAMPLES = r"""
- name: Compile every host of the batch once
  palisade.firewall.compile:
    hosts: "{{ ansible_play_batch }}"
  run_once: true
  register: palisade_compiled

- name: Find the connection the controller uses (sudo would drop SSH_CONNECTION)
  palisade.firewall.management_connection:
  become: false
  register: palisade_management

- name: Compile the batch and check for lockouts
  palisade.firewall.compile:
    hosts: "{{ ansible_play_batch }}"
    lockout_check: true
  run_once: true
  register: palisade_compiled

- name: Refuse a ruleset that would cut the controller's connection
  ansible.builtin.fail:
    msg: "{{ palisade_compiled.hosts[inventory_hostname].lockout.message }}"
  when: palisade_compiled.hosts[inventory_hostname].lockout.blocked
"""

RETURN = r"""
hosts:
  description: Compiled output per requested host.
  returned: success
  type: dict
  contains:
    files:
      description:
        - C(ipv4.rules), C(ipv6.rules) and C(ipsets.restore) file contents.
        - With O(keep_for_apply=true), their sizes in bytes instead.
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
    lockout:
      description:
        - The lockout guard's answer, only with O(lockout_check=true) - would a new TCP connection
          from the controller to the host's SSH port be cut by the compiled rules?
      returned: when O(lockout_check=true)
      type: dict
      contains:
        blocked:
          description: Whether the rules deny the connection (on any interface checked).
          type: bool
        verdict:
          description:
            - C(allow), C(deny), or C(untouched) (no rule of the collection decides; not blocked).
            - With several interfaces checked, the one that matters most - a deny before an allow before untouched.
          type: str
        decided_by:
          description: The rule that decided, as in M(palisade.firewall.explain), such as C(failsafe inbound tcp 22); null when untouched.
          type: str
        interface_checked:
          description:
            - The interfaces simulated - the known one, or with the interface unknown every named
              endpoint's interface, plus a stand-in name for interfaces without an endpoint of
              their own when a C(*) endpoint polices them (or when there is no named endpoint).
          type: list
          elements: str
        message:
          description: When blocked, the refusal (the connection, where it came from, what decided and how to fix it); else a one-line C(safe:) summary.
          type: str
        connection:
          description: >-
            The connection checked - C(client), C(server), C(port), C(interface) (null when unknown)
            and C(source) (C(SSH_CONNECTION) or C(inventory)).
          type: dict
      sample:
        blocked: false
        verdict: allow
        decided_by: failsafe inbound tcp 22
        interface_checked: [eth0]
        message: "safe: TCP 198.51.100.1 -> 198.51.100.11 port 22 arriving on eth0 (from SSH_CONNECTION) is allowed by failsafe inbound tcp 22"
        connection: {client: 198.51.100.1, server: 198.51.100.11, port: 22, interface: eth0, source: SSH_CONNECTION}
kept:
  description: With O(keep_for_apply=true), the reference to the compiled hosts kept for this run (C(path), C(run)).
  returned: when O(keep_for_apply=true)
  type: dict
  sample: {path: /root/.ansible/tmp/ansible-local-4242abcd/palisade-compiled-5f0e-x1y2, run: 5f0e3c}
problems:
  description: Every validation problem, when the task fails on bad input.
  returned: failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


# The options, shared with the action plugin (plugins/action/compile.py), which validates them.
ARGUMENT_SPEC = {
    "hosts": {"type": "list", "elements": "str"},
    "lockout_check": {"type": "bool", "default": False},
    "keep_for_apply": {"type": "bool", "default": False},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="palisade.firewall.compile runs on the controller as an action plugin; it cannot run on a host")


if __name__ == "__main__":
    main()
