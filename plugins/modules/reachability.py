#!/usr/bin/python
# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the controller-side action ``palisade.firewall.reachability``."""

DOCUMENTATION = r"""
---
module: reachability
short_description: Which services each inventory host can reach on every other, and which rules decide
version_added: 0.1.0
description:
  - Compiles every selected host's firewall from the inventory alone (no host is contacted) and
    says, for every pair of hosts and every network set, which protocols and ports get through in
    each direction, and which rule decides at each end.
  - A flow from host A to host B gets through when A's compiled rules let it out (egress) and B's
    let it in (ingress). An end the collection does not police (no host endpoint, or an IP family
    it leaves alone) lets it through too, and the flow is reported as C(unpoliced), not as an allow.
  - A network set as a source is checked against the destination's ingress only; as a destination,
    against the source's egress only.
  - Services are the classes check mode derives from both ends' rules, each with the verdict of
    a new connection from an ephemeral source port at each end; adjacent port ranges with the
    same outcome are one range. See C(docs/reachability.md) in the collection.
  - With O(compare), computes the report for both inventories and returns only the pairs whose
    services differ.
  - Refuses, naming the numbers, a report of more than 200000 verdicts (one per class of service
    and address pair, at each end); narrow it with O(from) and O(to).
options:
  from:
    description:
      - Selector over host labels (and network set labels) picking the sources; every host and
        network set when omitted. The collection's selector syntax, for example C(role == 'app').
    type: str
  to:
    description: Selector picking the destinations, as O(from); every host and network set when omitted.
    type: str
  group_by:
    description:
      - A host label whose value groups the rows and columns of the HTML matrix (hosts sorted by
        it, then by name). Hosts are sorted by name when omitted.
    type: str
  output:
    description:
      - Path of an HTML page to write (it must end in C(.html), its directory must exist), holding the
        host x host matrix, self-contained (inline CSS and script, no network). The same data is
        written as JSON next to it, with the C(.json) suffix.
    type: path
  compare:
    description:
      - Path of another (older) inventory. The report is computed for both, and only the pairs
        whose services differ are returned and written, as services gained and lost by the
        inventory of the play.
    type: path
extends_documentation_fragment:
  - palisade.firewall.controller_action
  - palisade.firewall.attributes
seealso:
  - module: palisade.firewall.explain
"""

EXAMPLES = r"""
- name: Who can reach the databases?
  palisade.firewall.reachability:
    to: "role == 'db'"
    output: /tmp/reachability.html
  register: reach

- name: One line per pair, then every flow that gets through
  ansible.builtin.debug:
    var: reach.lines

- name: What the new inventory changes, against the one in git
  palisade.firewall.reachability:
    compare: /srv/inventory-before
  register: changes
"""

RETURN = r"""
lines:
  description: The report as text lines (a heading, one summary line per pair, then a table of every flow that gets through).
  returned: success
  type: list
  elements: str
  sample: ["app-1 -> db-1: TCP 22, 5432; ICMP"]
summary:
  description: One line saying how many sources, destinations and pairs, how many verdicts, and how many packets were simulated for them.
  returned: success
  type: str
cells:
  description:
    - One entry per pair with addresses (or, with O(compare), per pair that changes), in row order.
  returned: success
  type: list
  elements: dict
  contains:
    from:
      description: The source, C(host:NAME) or C(network set:NAME).
      type: str
    to:
      description: The destination, as RV(cells[].from).
      type: str
    allow:
      description: The services allowed by policy at both ends, such as C(TCP 22, 5432; ICMP); not with O(compare).
      type: str
    unpoliced:
      description: The services that get through because an end is not policed; not with O(compare).
      type: str
    gained:
      description: With O(compare), the services the pair gains.
      type: str
    lost:
      description: With O(compare), the services the pair loses.
      type: str
files:
  description: The files written (the HTML page and its JSON), when O(output) is given.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


# The options, shared with the action plugin (plugins/action/reachability.py), which validates them.
ARGUMENT_SPEC = {
    "from": {"type": "str"},
    "to": {"type": "str"},
    "group_by": {"type": "str"},
    "output": {"type": "path"},
    "compare": {"type": "path"},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="palisade.firewall.reachability runs on the controller as an action plugin; it cannot run on a host")


if __name__ == "__main__":
    main()
