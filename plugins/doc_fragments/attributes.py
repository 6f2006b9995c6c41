# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the standard attributes mean; each plugin states its own support (and may say more)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: In check mode, reports what would change and changes nothing.
  diff_mode:
    description: With C(--diff), returns what changed (or, in check mode, what would change).
  platform:
    description: The systems this runs against.
"""
