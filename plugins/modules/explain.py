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
  - With O(packets), explains many packets in one task and returns one result per packet in
    RV(results); each host named is compiled once for the whole list.
  - Runs on the controller only; no host is contacted.
options:
  host:
    description:
      - The inventory host whose firewall decides.
      - Required for a single packet; with O(packets), the host of every packet that names none.
    type: str
  in_interface:
    description: Interface the packet arrives on. Omit for a packet the host itself sends.
    type: str
  out_interface:
    description: Interface the packet leaves by. Omit for a packet delivered to the host itself.
    type: str
  src:
    description:
      - Source address, or an inventory host (its endpoint address in the packet's family).
      - Required unless O(packets) is given.
    type: str
  dst:
    description: Destination address, or an inventory host. Required unless O(packets) is given.
    type: str
  protocol:
    description:
      - C(TCP), C(UDP), C(ICMP), C(ICMPv6), C(SCTP), C(UDPLite) or a protocol number.
      - Required unless O(packets) is given.
    type: str
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
    description: Connection tracking state of the packet; C(NEW) when omitted.
    type: str
    choices: [NEW, ESTABLISHED, RELATED, INVALID]
  syn:
    description:
      - TCP only. Whether the packet is a connection's first segment (SYN without ACK, RST or FIN).
      - By default a C(NEW) packet is one and any other is not. V(false) with C(NEW) is a segment
        of a connection conntrack has not seen yet, such as an SSH session opened before the first ruleset.
    type: bool
  packets:
    description:
      - Many packets at once, instead of the single-packet options above.
      - Each item is a mapping with the same fields as the single-packet options (C(host),
        C(in_interface), C(out_interface), C(src), C(dst), C(protocol), C(src_port), C(dst_port),
        C(icmp_type), C(icmp_code), C(ct_state), C(syn)); C(src), C(dst) and C(protocol) are
        required, C(host) defaults to O(host).
      - "An error names the item and field, for example C(packets[3]: protocol: expected TCP, ...)."
      - At most 100000 packets per task.
    type: list
    elements: dict
  details:
    description:
      - With O(packets), also return each packet's RV(results[].trace) and RV(results[].report).
        Off by default, so that the result of thousands of packets stays small.
    type: bool
    default: false
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

- name: Audit several flows at once
  palisade.firewall.explain:
    host: my-host
    packets:
      - {in_interface: eth0, src: admin-1, dst: my-host, protocol: TCP, dst_port: 22}
      - {in_interface: eth0, src: 203.0.113.50, dst: my-host, protocol: UDP, dst_port: 53}
      - {host: etcd-1, in_interface: eth0, src: my-host, dst: etcd-1, protocol: TCP, dst_port: 2379}
  register: audit

- name: One line per packet
  ansible.builtin.debug:
    var: audit.report
"""

RETURN = r"""
verdict:
  description: C(allow), C(deny) or C(untouched).
  returned: success, for a single packet
  type: str
  sample: allow
decided_by:
  description: The comment of the rule that decided, naming the policy and rule index, failsafe entry or default.
  returned: success, for a single packet
  type: str
  sample: policy k8s-worker ingress rule 0
trace:
  description: Every table, chain and rule visited, in order.
  returned: success, for a single packet
  type: list
  elements: dict
note:
  description: Why nothing was walked, when the packet's IP family is not managed on the host; otherwise null.
  returned: success, for a single packet
  type: str
  sample: "IPv6 is not managed on this host: ipv6Support is false, so the kernel's other rules decide"
report:
  description: For a single packet, the trace as readable lines; with O(packets), one line per packet.
  returned: success
  type: list
  elements: str
  sample: ["my-host: 198.51.100.7 -> 198.51.100.11 TCP ->22 in eth0: allow, decided by: failsafe inbound tcp 22"]
results:
  description: With O(packets), one result per packet, in the order given.
  returned: success, with O(packets)
  type: list
  elements: dict
  contains:
    host:
      description: The host whose firewall decided.
      type: str
    verdict:
      description: C(allow), C(deny) or C(untouched).
      type: str
    decided_by:
      description: What decided, as for a single packet.
      type: str
    note:
      description: As for a single packet.
      type: str
    line:
      description: The packet and its verdict in one line (the same as its RV(report) line).
      type: str
    trace:
      description: Every table, chain and rule visited; only with O(details).
      type: list
      elements: dict
    report:
      description: The trace as readable lines; only with O(details).
      type: list
      elements: str
summary:
  description: With O(packets), how many packets got each verdict.
  returned: success, with O(packets)
  type: str
  sample: "3 packets: 2 allow, 1 deny"
"""

from ansible.module_utils.basic import AnsibleModule


# The options, shared with the action plugin (plugins/action/explain.py), which validates them.
ARGUMENT_SPEC = {
    "host": {"type": "str"},
    "in_interface": {"type": "str"},
    "out_interface": {"type": "str"},
    "src": {"type": "str"},
    "dst": {"type": "str"},
    "protocol": {"type": "str"},
    "src_port": {"type": "int"},
    "dst_port": {"type": "int"},
    "icmp_type": {"type": "int"},
    "icmp_code": {"type": "int"},
    "ct_state": {"type": "str", "choices": ["NEW", "ESTABLISHED", "RELATED", "INVALID"]},
    "syn": {"type": "bool"},
    "packets": {"type": "list", "elements": "dict"},
    "details": {"type": "bool", "default": False},
}
SINGLE_PACKET = ("in_interface", "out_interface", "src", "dst", "protocol", "src_port", "dst_port", "icmp_type", "icmp_code", "ct_state", "syn")
SINGLE_PACKET_REQUIRED = ("host", "src", "dst", "protocol")
MUTUALLY_EXCLUSIVE = [["packets", name] for name in SINGLE_PACKET]


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="palisade.firewall.explain runs on the controller as an action plugin; it cannot run on a host")


if __name__ == "__main__":
    main()
