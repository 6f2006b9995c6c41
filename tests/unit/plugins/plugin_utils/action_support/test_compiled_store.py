# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compiled hosts kept for the apply tasks of one run: read back whole, refused when unsafe."""

from __future__ import annotations

import os

import pytest
from test_lockout import HTTPS_ONLY, compiled

from ansible_collections.palisade.firewall.plugins.plugin_utils.action_support import compiled_store
from ansible_collections.palisade.firewall.plugins.plugin_utils.render.role_data import compiled_host_to_dict


def test_a_kept_host_reads_back_equal(tmp_path):
    host = compiled([HTTPS_ONLY])
    output = compiled_host_to_dict(host)
    reference = compiled_store.new_store(str(tmp_path))
    compiled_store.keep(reference, host, output)
    assert compiled_store.load(reference, "web1") == (host, output)
    assert os.stat(reference["path"]).st_mode & 0o777 == 0o700
    assert [name.endswith(".pickle") and "web1" not in name for name in os.listdir(reference["path"])] == [True]


def test_two_stores_never_share_hosts(tmp_path):
    first, second = compiled_store.new_store(str(tmp_path)), compiled_store.new_store(str(tmp_path))
    host = compiled([HTTPS_ONLY])
    compiled_store.keep(first, host, compiled_host_to_dict(host))
    assert first != second
    with pytest.raises(compiled_store.StoreError, match="host web1 was not compiled in this run"):
        compiled_store.load(second, "web1")


def test_refusals(tmp_path):
    reference = compiled_store.new_store(str(tmp_path))
    cases = [
        ({"path": 1}, "compiled must be the 'kept' reference returned by palisade.firewall.compile with keep_for_apply=true, got {'path': 1}"),
        (reference, f"host db1 was not compiled in this run (it is not in the hosts of the compile task that returned {reference['path']})"),
        (
            {"path": str(tmp_path / "gone"), "run": "x"},
            f"the compiled hosts of {tmp_path / 'gone'} are gone: they last only as long as the ansible-playbook run that compiled them",
        ),
    ]
    for given, message in cases:
        with pytest.raises(compiled_store.StoreError) as raised:
            compiled_store.load(given, "db1")
        assert str(raised.value) == message


def test_a_directory_open_to_others_is_refused(tmp_path):
    reference = compiled_store.new_store(str(tmp_path))
    host = compiled([HTTPS_ONLY])
    compiled_store.keep(reference, host, compiled_host_to_dict(host))
    os.chmod(reference["path"], 0o770)
    with pytest.raises(compiled_store.StoreError) as raised:
        compiled_store.load(reference, "web1")
    assert str(raised.value) == f"refusing to read compiled hosts from {reference['path']}: not a directory of this user closed to others"
