#!/usr/bin/python
# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the controller-side action ``palisade.firewall.explain``."""

DOCUMENTATION = r"""
---
module: explain
short_description: Explain what a host's firewall does with a packet, and why
version_added: 0.1.0
description:
  - Compiles the firewall of O(host) from the inventory alone, exactly as the host would get it,
    and walks a packet through it with a simulator of the compiled rules.
  - Returns the verdict (C(allow), C(deny), or C(untouched) when no host endpoint governs the
    packet and the kernel's other rules decide), what decided it (a conntrack rule, a failsafe
    entry, a policy and rule index, the end-of-tier deny, the forward default), and the trace of
    every table, chain and rule visited.
  - An IPv6 packet on a host with C(palisade_ipv6_support=false) (FelixConfiguration C(ipv6Support))
    is C(untouched) with an empty trace and a RV(note) saying so, since the collection renders no IPv6 rules there.
  - Runs on the controller only; no host is contacted.
options:
  host:
    description: The inventory host whose firewall decides.
    type: str
    required: true
  in_interface:
    description: Interface the packet arrives on. Omit for a packet the host itself sends.
    type: str
  out_interface:
    description: Interface the packet leaves by. Omit for a packet delivered to the host itself.
    type: str
  src:
    description: Source address, or an inventory host (its endpoint address in the packet's family).
    type: str
    required: true
  dst:
    description: Destination address, or an inventory host.
    type: str
    required: true
  protocol:
    description: C(TCP), C(UDP), C(ICMP), C(ICMPv6), C(SCTP), C(UDPLite) or a protocol number.
    type: str
    required: true
  src_port:
    description: Source port (TCP, UDP, SCTP).
    type: int
  dst_port:
    description: Destination port (TCP, UDP, SCTP).
    type: int
  icmp_type:
    description: ICMP or ICMPv6 type.
    type: int
  icmp_code:
    description: ICMP or ICMPv6 code.
    type: int
  ct_state:
    description: Connection tracking state of the packet.
    type: str
    default: NEW
    choices: [NEW, ESTABLISHED, RELATED, INVALID]
  syn:
    description:
      - TCP only. Whether the packet is a connection's first segment (SYN without ACK, RST or FIN).
      - By default a C(NEW) packet is one and any other is not. V(false) with C(NEW) is a segment
        of a connection conntrack has not seen yet, such as an SSH session opened before the first ruleset.
    type: bool
extends_documentation_fragment:
  - palisade.firewall.controller_action
  - palisade.firewall.attributes
seealso:
  - module: palisade.firewall.resolve
"""

EXAMPLES = r"""
- name: Is SSH from the management network allowed on my-host?
  palisade.firewall.explain:
    host: my-host
    in_interface: eth0
    src: 198.51.100.7
    dst: my-host
    protocol: TCP
    dst_port: 22
  register: ssh

- name: Show the trace
  ansible.builtin.debug:
    var: ssh.report
"""

RETURN = r"""
verdict:
  description: C(allow), C(deny) or C(untouched).
  returned: success
  type: str
  sample: allow
decided_by:
  description: The comment of the rule that decided, naming the policy and rule index, failsafe entry or default.
  returned: success
  type: str
  sample: policy k8s-worker ingress rule 0
trace:
  description: Every table, chain and rule visited, in order.
  returned: success
  type: list
  elements: dict
note:
  description: Why nothing was walked, when the packet's IP family is not managed on the host; otherwise null.
  returned: success
  type: str
  sample: "IPv6 is not managed on this host: ipv6Support is false, so the kernel's other rules decide"
report:
  description: The trace as readable lines.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


# The options, shared with the action plugin (plugins/action/explain.py), which validates them.
ARGUMENT_SPEC = {
    "host": {"type": "str", "required": True},
    "in_interface": {"type": "str"},
    "out_interface": {"type": "str"},
    "src": {"type": "str", "required": True},
    "dst": {"type": "str", "required": True},
    "protocol": {"type": "str", "required": True},
    "src_port": {"type": "int"},
    "dst_port": {"type": "int"},
    "icmp_type": {"type": "int"},
    "icmp_code": {"type": "int"},
    "ct_state": {"type": "str", "default": "NEW", "choices": ["NEW", "ESTABLISHED", "RELATED", "INVALID"]},
    "syn": {"type": "bool"},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="palisade.firewall.explain runs on the controller as an action plugin; it cannot run on a host")


if __name__ == "__main__":
    main()
