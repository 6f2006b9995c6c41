# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the playbook tests."""

from __future__ import annotations

import pytest

RECORDER = """#!/bin/sh
# Stands in for ssh: note the call, then fail like an unreachable host.
echo "$@" >> '{calls}'
echo "ssh: connect to host: recorder, no connection made" >&2
exit 255
"""


@pytest.fixture
def sandbox(tmp_path):
    """Paths of one run: where results go, and what a run that reached a host would leave behind."""
    paths = {name: tmp_path / name for name in ("out", "state", "module_tmp", "ssh_calls")}
    paths["out"].mkdir()
    recorder = tmp_path / "ssh"
    recorder.write_text(RECORDER.format(calls=paths["ssh_calls"]))
    recorder.chmod(0o755)
    paths["ssh"] = recorder
    return paths
