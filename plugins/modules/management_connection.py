#!/usr/bin/python
# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module ``palisade.firewall.management_connection``: report the SSH connection the controller uses.

The lockout guard on the controller needs the connection as the host sees it (after NAT, jump
hosts and dual-stack mapping), which only the host knows. Standard library only (Python 3.6+).
"""

DOCUMENTATION = r"""
---
module: management_connection
short_description: Report the SSH connection the controller manages a host by
version_added: 0.1.0
description:
  - Reads the C(SSH_CONNECTION) environment variable that sshd sets for the session Ansible
    runs in (client address and port, server address and port) and returns that connection
    as the host sees it, with the interface it arrives on.
  - An IPv6 zone (C(%eth0)) is removed from the addresses, and an IPv4-mapped IPv6 address
    (C(::ffff:198.51.100.7)) is returned as the IPv4 address, as the host's rules see it.
  - The interface is the one the host routes the client's address through (C(ip -o route get)),
    or the zone of a link-local client address. It is null when it cannot be found.
  - With O(palisade.firewall.compile#module:lockout_check=true), the controller action
    M(palisade.firewall.compile) reads the registered result (C(palisade_management)) and
    reports whether the host's new rules would deny a new connection like this one, so that
    the apply can be refused before the host is touched (the lockout guard).
  - Changes nothing on the host. Needs only Python 3.6 and, for the interface, the C(ip) tool
    (searched in the PATH, C(/usr/sbin) and C(/sbin)).
options: {}
author:
  - palisade.firewall maintainers (@palisade-firewall)
attributes:
  check_mode:
    support: full
    description: Reads only; the same result in check mode.
  diff_mode:
    support: none
  platform:
    platforms: linux
    support: full
extends_documentation_fragment:
  - palisade.firewall.attributes
notes:
  - Run it with C(become=false), as the role C(palisade.firewall.host_firewall) does - sudo
    drops C(SSH_CONNECTION) from the environment, so under become the connection is not seen.
  - Without C(SSH_CONNECTION) (a local or non-SSH connection, or become) it returns
    RV(connection=null); the lockout check then guesses the connection from the inventory.
seealso:
  - module: palisade.firewall.compile
  - module: palisade.firewall.explain
"""

EXAMPLES = r"""
- name: Find the connection the controller uses
  palisade.firewall.management_connection:
  become: false
  register: palisade_management

- name: Compile the batch and check that no host would lock the controller out
  palisade.firewall.compile:
    hosts: "{{ ansible_play_batch }}"
    lockout_check: true
  run_once: true
  register: palisade_compiled
"""

RETURN = r"""
connection:
  description: The SSH connection in use, or null without C(SSH_CONNECTION).
  returned: always
  type: dict
  contains:
    client:
      description: The controller's address as the host sees it.
      type: str
      returned: when not null
      sample: 198.51.100.1
    client_port:
      description: The controller's port of the connection.
      type: int
      returned: when not null
      sample: 51258
    server:
      description: The host's address the controller connected to.
      type: str
      returned: when not null
      sample: 198.51.100.11
    server_port:
      description: The host's SSH port.
      type: int
      returned: when not null
      sample: 22
    interface:
      description: The interface the connection arrives on, or null when it cannot be found.
      type: str
      returned: when not null
      sample: eth0
    source:
      description: Where the facts came from.
      type: str
      returned: when not null
      sample: SSH_CONNECTION
source:
  description: C(SSH_CONNECTION), or null when the variable is not set.
  returned: always
  type: str
  sample: SSH_CONNECTION
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.connection import (
    SSH_CONNECTION,
    management_connection,
    parse_route_interface,
)

IP_DIRECTORIES = ["/usr/sbin", "/sbin"]


def route_interface(module, client):
    """The interface the host routes ``client`` through; None (with a warning) when unknown."""
    ip = module.get_bin_path("ip", opt_dirs=IP_DIRECTORIES)
    if ip is None:
        module.warn("the ip tool was not found, so the management connection's interface is unknown")
        return None
    rc, out, err = module.run_command([ip, "-o", "route", "get", client])
    interface = parse_route_interface(out) if rc == 0 else None
    if interface is None:
        module.warn("'ip -o route get %s' did not name an interface (rc %s: %s)" % (client, rc, (err or out).strip()))
    return interface


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    try:
        connection = management_connection(lambda client: route_interface(module, client), os.environ.get(SSH_CONNECTION))
    except ValueError as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=False, connection=connection, source=connection["source"] if connection else None)


if __name__ == "__main__":
    main()
