# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persisting the confirmed owned state: the record, the boot restore command, the systemd unit.

Files only (a temporary root); the restore itself runs against the kernel in
tests/kernel/test_rollback.py and on lab hosts in tests/integration/test_rollback.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import palisade_fakes
import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import boot
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.rollback import RollbackError, run_directory
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted

UNIT = "etc/systemd/system/palisade-firewall.service"
LINK = "etc/systemd/system/multi-user.target.wants/palisade-firewall.service"


@pytest.fixture
def wanted():
    inputs = palisade_fakes.golden_inputs("inventory-web-features")
    return parse_wanted(inputs["ipv4_rules"], inputs["ipv6_rules"], inputs["ipsets"], inputs["hooks"])


def test_systemd_unit_is_installed_enabled_and_runs_the_restore_command(tmp_path, wanted):
    state_dir, root = tmp_path / "state", tmp_path / "root"
    done = boot.persist(str(state_dir), wanted, method="systemd", root=str(root))
    command = str(state_dir / "boot" / "palisade-restore")
    assert done == {
        "enabled": True,
        "record": str(state_dir / "applied"),
        "method": "systemd",
        "command": command,
        "unit": str(root / UNIT),
        "changed": True,
    }
    unit = (root / UNIT).read_text()
    assert f"ExecStart={command}\n" in unit
    for line in (
        "DefaultDependencies=no",
        "Before=network-pre.target shutdown.target",
        "Wants=network-pre.target",
        "Type=oneshot",
        "WantedBy=multi-user.target",
    ):
        assert line + "\n" in unit
    assert os.readlink(root / LINK) == "/etc/systemd/system/palisade-firewall.service"
    assert (state_dir / "applied" / "ipv4.rules").read_text() == wanted.inputs()["ipv4_rules"]
    assert boot.persist(str(state_dir), wanted, method="systemd", root=str(root))["changed"] is False


def test_auto_without_systemd_installs_only_the_command(tmp_path, wanted):
    done = boot.persist(str(tmp_path / "state"), wanted, method="auto", root=str(tmp_path / "root"))
    assert done["method"] == "none" and done["unit"] == "" and done["command"].endswith("/boot/palisade-restore")
    assert not (tmp_path / "root" / UNIT).exists()


def test_auto_with_systemd_running_installs_the_unit(tmp_path, wanted):
    (tmp_path / "root" / "run" / "systemd" / "system").mkdir(parents=True)
    done = boot.persist(str(tmp_path / "state"), wanted, method="auto", root=str(tmp_path / "root"))
    assert done["method"] == "systemd" and (tmp_path / "root" / UNIT).exists()


def test_persist_false_removes_the_unit_and_still_records(tmp_path, wanted):
    state_dir, root = tmp_path / "state", tmp_path / "root"
    boot.persist(str(state_dir), wanted, method="systemd", root=str(root))
    done = boot.persist(str(state_dir), wanted, enabled=False, root=str(root))
    assert done["enabled"] is False and done["changed"] is True and done["removed"] == [str(root / LINK), str(root / UNIT)]
    assert not (root / UNIT).exists() and not os.path.lexists(root / LINK)
    assert (state_dir / "applied" / "hooks.json").exists()


def test_the_restore_command_runs_the_copied_library_not_the_collection(tmp_path, wanted):
    state_dir = tmp_path / "state"
    boot.persist(str(state_dir), wanted, method="none", root=str(tmp_path / "root"))
    command = state_dir / "boot" / "palisade-restore"
    assert os.stat(command).st_mode & 0o777 == 0o700
    assert command.read_text().startswith(f"#!{sys.executable} -B\n")
    lib = state_dir / "boot" / "lib" / "ansible_collections" / "palisade" / "firewall" / "plugins" / "module_utils" / "_palisade"
    assert sorted(path.stem for path in lib.glob("*.py")) == sorted(boot.LIBRARY_MODULES)
    # --help exercises the import path without touching any firewall
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONNOUSERSITE": "1"}
    done = subprocess.run([str(command), "--help"], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0 and "usage: palisade-restore" in done.stdout, done.stderr


def test_an_unknown_method_is_an_error(tmp_path, wanted):
    with pytest.raises(PalisadeError, match=r"^boot restore method must be one of auto, systemd, none, got 'upstart'$"):
        boot.persist(str(tmp_path), wanted, method="upstart")


@pytest.mark.parametrize("run_id", ["", "short", "UPPER-case-1234", "../../etc/passwd", "a" * 65, "with space 1234"])
def test_run_ids_are_checked(run_id):
    with pytest.raises(RollbackError, match="is not 8 to 64 lower-case letters, digits and dashes"):
        run_directory("/var/lib/palisade", run_id)


def test_a_good_run_id():
    assert run_directory("/var/lib/palisade", "20261121150000-0123456789ab") == "/var/lib/palisade/runs/20261121150000-0123456789ab"


def test_leftover_runs_are_removed_ten_minutes_after_they_ended(tmp_path):
    from ansible_collections.palisade.firewall.plugins.module_utils._palisade import rollback

    runs = tmp_path / "runs"
    old, recent, abandoned, fresh_abandoned = (runs / name for name in ("run-old-0001", "run-recent-01", "run-abandoned", "run-armed-now"))
    for directory, files in (
        (old, ("armed.json", "result.json")),
        (recent, ("armed.json", "result.json")),
        (abandoned, ("armed.json",)),
        (fresh_abandoned, ("armed.json",)),
    ):
        directory.mkdir(parents=True)
        for name in files:
            (directory / name).write_text("{}\n")
    an_hour_ago = time.time() - 3600
    for path in (old / "result.json", abandoned / "armed.json"):
        os.utime(path, (an_hour_ago, an_hour_ago))
    rollback._remove_leftovers(str(tmp_path))
    assert sorted(path.name for path in runs.iterdir()) == ["run-armed-now", "run-recent-01"]
