# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``patch_module_args``: the module arguments an ``AnsibleModule`` made inside it reads.

ansible-core 2.19 ships it as ``ansible.module_utils.testing``; before 2.19 (2.16 to 2.18)
``AnsibleModule`` reads the same JSON document from ``basic._ANSIBLE_ARGS`` when it is set,
which is what the fallback sets.
"""

from __future__ import annotations

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    import contextlib
    import json
    from unittest import mock

    from ansible.module_utils import basic

    @contextlib.contextmanager
    def patch_module_args(args=None):
        if not isinstance(args, (dict, type(None))):
            raise TypeError("The `args` arg must be a dict or None.")
        document = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", document):
            yield

__all__ = ["patch_module_args"]
