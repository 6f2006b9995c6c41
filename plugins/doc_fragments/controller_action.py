# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared documentation of the collection's controller-side actions."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
author:
  - palisade.firewall maintainers (@palisade-firewall)
attributes:
  action:
    support: full
    description: Runs on the controller as an action plugin.
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: all
    support: full
    description: Contacts no host.
"""
