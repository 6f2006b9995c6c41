# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state directory is checked before anything is written; state files are never written
through a planted link; a full disk or a failed lock write ends with a message, not a traceback.

The tests run as root (they chown to other users)."""

from __future__ import annotations

import errno
import json
import os

import palisade_fakes
import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import boot, rollback, statedir
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.apply import Lock, apply
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.statedir import StateDirError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="checks ownership by root and chowns to other users")

ENOSPC = OSError(errno.ENOSPC, "No space left on device")
END = " Nothing was changed."


def wanted():
    return parse_wanted(**palisade_fakes.golden_inputs("inventory-web-features"))


def empty_host():
    return palisade_fakes.FakeRunner()


def refused(state_dir, why):
    return f"Refusing the state directory {state_dir!r}: {why}.{END}"


@pytest.mark.parametrize(
    "state_dir, why",
    [
        ("var/lib/palisade", "it must be an absolute path"),
        ("", "it must be an absolute path"),
        ("/", "it must not be the root directory"),
        ("/var/lib/../palisade", "it must be a normalised path (without '.', '..', '//' or a trailing '/'), e.g. '/var/palisade'"),
        ("/var/lib/./palisade", "it must be a normalised path (without '.', '..', '//' or a trailing '/'), e.g. '/var/lib/palisade'"),
        ("/var//lib/palisade", "it must be a normalised path (without '.', '..', '//' or a trailing '/'), e.g. '/var/lib/palisade'"),
        ("/var/lib/palisade/", "it must be a normalised path (without '.', '..', '//' or a trailing '/'), e.g. '/var/lib/palisade'"),
        ("/var/lib/my palisade", "it contains ' '; allowed are only the characters A-Z a-z 0-9 / . _ -"),
        ("/var/lib/%h", "it contains '%'; allowed are only the characters A-Z a-z 0-9 / . _ -"),
        ("/var/lib/pal\n", "it contains '\\n'; allowed are only the characters A-Z a-z 0-9 / . _ -"),
        ("/var/lib/$HOME\"'\\", "it contains '\"$\\'\\\\'; allowed are only the characters A-Z a-z 0-9 / . _ -"),
        ("/var/lib/pal\u00e9", "it contains '\u00e9'; allowed are only the characters A-Z a-z 0-9 / . _ -"),
    ],
)
def test_a_badly_spelled_state_directory_is_refused_before_anything_is_written(state_dir, why):
    runner = empty_host()
    with pytest.raises(StateDirError) as raised:
        apply(wanted(), runner=runner, state_dir=state_dir)
    assert str(raised.value) == refused(state_dir, why)
    assert raised.value.changed is False and runner.calls == []


def _symlinked_component(base):
    (base / "real").mkdir(mode=0o700)
    (base / "link").symlink_to(base / "real")
    return base / "link" / "palisade", f"{base}/link is a symbolic link"


def _symlinked_state_dir(base):
    (base / "real").mkdir(mode=0o700)
    (base / "palisade").symlink_to(base / "real")
    return base / "palisade", f"{base}/palisade is a symbolic link"


def _group_writable(base):
    (base / "parent").mkdir()
    os.chmod(base / "parent", 0o775)
    return base / "parent" / "palisade", f"{base}/parent is writable by group (mode 0775)"


def _world_writable(base):
    (base / "parent").mkdir()
    os.chmod(base / "parent", 0o757)
    return base / "parent" / "palisade", f"{base}/parent is writable by others (mode 0757)"


def _writable_by_all(base):
    (base / "parent").mkdir()
    os.chmod(base / "parent", 0o777)
    return base / "parent" / "palisade", f"{base}/parent is writable by group and others (mode 0777)"


def _sticky_state_dir(base):
    (base / "palisade").mkdir()
    os.chmod(base / "palisade", 0o1777)
    return base / "palisade", f"{base}/palisade is writable by group and others (mode 1777)"


def _other_owner(base):
    (base / "parent").mkdir(mode=0o755)
    os.chown(base / "parent", 65534, 65534)
    return base / "parent" / "palisade", f"{base}/parent is owned by uid 65534, not by root"


def _other_owner_state_dir(base):
    (base / "palisade").mkdir(mode=0o700)
    os.chown(base / "palisade", 1000, 0)
    return base / "palisade", f"{base}/palisade is owned by uid 1000, not by root"


def _a_file(base):
    (base / "palisade").write_text("")
    return base / "palisade", f"{base}/palisade is not a directory"


@pytest.mark.parametrize(
    "make",
    [_symlinked_component, _symlinked_state_dir, _group_writable, _world_writable, _writable_by_all, _sticky_state_dir, _other_owner,
     _other_owner_state_dir, _a_file],
)
@pytest.mark.parametrize("check_mode", [False, True])
def test_an_unsafe_state_directory_is_refused_naming_the_component(tmp_path, make, check_mode):
    state_dir, why = make(tmp_path)
    runner = empty_host()
    before = sorted(str(path) for path in tmp_path.rglob("*"))
    with pytest.raises(StateDirError) as raised:
        apply(wanted(), runner=runner, state_dir=str(state_dir), check_mode=check_mode)
    assert str(raised.value) == refused(str(state_dir), why)
    assert runner.calls == []
    assert sorted(str(path) for path in tmp_path.rglob("*")) == before  # nothing made, nothing written


def test_a_missing_state_directory_is_made_0700_and_a_sticky_root_ancestor_is_accepted(tmp_path):
    os.chmod(tmp_path, 0o1777)  # like /tmp
    state_dir = tmp_path / "a" / "b"
    apply(wanted(), runner=empty_host(), state_dir=str(state_dir))
    for path in (tmp_path / "a", state_dir, state_dir / "applied"):
        assert oct(path.stat().st_mode & 0o7777) == "0o700" and path.stat().st_uid == 0
    assert oct((state_dir / "lock").stat().st_mode & 0o777) == "0o600"


def test_check_mode_makes_nothing(tmp_path):
    apply(wanted(), runner=empty_host(), state_dir=str(tmp_path / "new"), check_mode=True)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_symlinked_lock_is_refused_and_its_target_is_not_touched(tmp_path, check_mode):
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    (state_dir / "lock").symlink_to(target)
    runner = empty_host()
    with pytest.raises(StateDirError) as raised:
        apply(wanted(), runner=runner, state_dir=str(state_dir), check_mode=check_mode)
    assert str(raised.value) == f"refusing {state_dir}/lock: it is a symbolic link.{END}"
    assert target.read_text() == "keep me\n" and runner.calls == []


def test_a_hard_linked_or_foreign_lock_is_refused(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    os.link(_make_file(tmp_path / "precious"), state_dir / "lock")
    with pytest.raises(StateDirError) as raised:
        apply(wanted(), runner=empty_host(), state_dir=str(state_dir))
    assert str(raised.value) == f"refusing {state_dir}/lock: not a regular file owned by root with a single name (planted?).{END}"
    assert (tmp_path / "precious").read_text() == "keep me\n"


def _make_file(path):
    path.write_text("keep me\n")
    return path


@pytest.mark.parametrize("planted", ["applied", "applied/ipv4.rules", "boot", "boot/lib", "boot/palisade-restore"])
def test_nothing_is_written_through_a_planted_link_inside_the_state_directory(tmp_path, planted):
    state_dir = tmp_path / "state"
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o700)
    (outside / "file").write_text("keep me\n")
    link = state_dir / planted
    link.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    link.symlink_to(outside / "file" if "." in planted or planted.endswith("restore") else outside)
    try:
        boot.persist(str(state_dir), wanted(), enabled=True, method="none", root=str(tmp_path / "root"))
    except StateDirError as error:
        assert str(error) == f"{link} is not a root-owned directory that only root can write (a symbolic link or a planted file?)."
    else:  # a planted file is replaced by a new one: the link itself goes, its target stays
        assert not link.is_symlink()
    assert sorted(path.name for path in outside.iterdir()) == ["file"] and (outside / "file").read_text() == "keep me\n"


# -- full disk, read-only file system, lock failures -----------------------------------------------


def test_the_lock_pid_cannot_be_written_ends_clearly(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "pwrite", _raise(ENOSPC))
    runner = empty_host()
    with pytest.raises(StateDirError) as raised:
        apply(wanted(), runner=runner, state_dir=str(tmp_path))
    assert str(raised.value) == (
        f"cannot write this run's PID into the lock file {tmp_path}/lock: No space left on device (ENOSPC).{END}"
    )
    assert runner.calls == []
    monkeypatch.undo()
    with Lock(str(tmp_path), 0):  # and the lock was released
        pass


@pytest.mark.parametrize(
    "error, shown",
    [
        (OSError(errno.EROFS, "Read-only file system"), "Read-only file system (EROFS)"),
        (OSError(errno.EACCES, "Permission denied"), "Permission denied (EACCES)"),
        (ENOSPC, "No space left on device (ENOSPC)"),
    ],
)
def test_the_lock_file_cannot_be_made(tmp_path, monkeypatch, error, shown):
    real_open = os.open

    def failing_open(path, flags, *args, **kwargs):
        if str(path).endswith("/lock"):
            raise error
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing_open)
    with pytest.raises(StateDirError) as raised:
        apply(wanted(), runner=empty_host(), state_dir=str(tmp_path))
    assert str(raised.value) == f"cannot open the lock file {tmp_path}/lock: {shown}. Nothing was changed."


def test_the_state_directory_cannot_be_made(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "mkdir", _raise(OSError(errno.EROFS, "Read-only file system")))
    with pytest.raises(StateDirError) as raised:
        apply(wanted(), runner=empty_host(), state_dir=str(tmp_path / "new"))
    assert str(raised.value) == f"cannot create the state directory {tmp_path}/new: Read-only file system (EROFS).{END}"


def test_a_full_disk_while_recording_says_the_rules_are_live(tmp_path, monkeypatch):
    runner = empty_host()
    monkeypatch.setattr(statedir.tempfile, "mkstemp", _raise(ENOSPC))
    with pytest.raises(StateDirError) as raised:
        apply(wanted(), runner=runner, state_dir=str(tmp_path))
    assert str(raised.value) == (
        f"cannot write {tmp_path}/applied/ipv4.rules: No space left on device (ENOSPC). The new rules were applied and are live,"
        " but the record of them in the state directory is not up to date."
    )
    assert raised.value.changed is True


def test_a_full_disk_before_arming_arms_nothing_and_changes_nothing(tmp_path, monkeypatch):
    runner = empty_host()
    monkeypatch.setattr(statedir.tempfile, "mkstemp", _raise(ENOSPC))
    with pytest.raises(StateDirError) as raised:
        rollback.arm(wanted(), "run-disk-full", 5, str(tmp_path), 5, {"enabled": False}, runner=runner)
    assert str(raised.value) == (
        f"cannot write {tmp_path}/runs/run-disk-full/snapshot.json: No space left on device (ENOSPC)."
        " Nothing was changed (the watchdog was not armed)."
    )
    assert not [call for call in runner.calls if not call.reads_only]
    monkeypatch.undo()
    with Lock(str(tmp_path), 0):  # released
        pass


def test_no_room_to_reserve_the_result_arms_nothing(tmp_path, monkeypatch):
    runner = empty_host()
    monkeypatch.setattr(statedir, "_write_all", _raise(ENOSPC))
    with pytest.raises(StateDirError) as raised:
        rollback.arm(wanted(), "run-no-room", 5, str(tmp_path), 5, {"enabled": False}, runner=runner)
    assert str(raised.value) == (
        f"cannot write {tmp_path}/runs/run-no-room/result.json: No space left on device (ENOSPC)."
        " Nothing was changed (the watchdog was not armed)."
    )
    assert not (tmp_path / "runs" / "run-no-room" / "result.json").exists()
    assert not [call for call in runner.calls if not call.reads_only]


def _reserved_run(tmp_path):
    directory = tmp_path / "runs" / "run-reserved"
    directory.mkdir(parents=True, mode=0o700)
    statedir.reserve(str(directory / "result.json"), rollback.RESULT_SIZE, rollback._json_bytes(rollback.PENDING))
    return directory


def test_the_result_reaches_the_controller_on_a_full_disk(tmp_path, monkeypatch):
    directory = _reserved_run(tmp_path)
    assert rollback._read_result(str(directory)) is None  # the placeholder is no result
    monkeypatch.setattr(statedir.tempfile, "mkstemp", _raise(ENOSPC))  # no new file can be made
    outcome = {"outcome": "rolled_back", "reason": "no confirmation", "verified": True, "restored_changes": {"ipv4": ["-A x"]}}
    rollback.write_result(str(directory), outcome)
    assert rollback.wait_for_result(str(directory), 1) == outcome
    assert (directory / "result.json").stat().st_size == rollback.RESULT_SIZE


def test_a_result_too_large_for_its_reservation_is_shortened(tmp_path):
    directory = _reserved_run(tmp_path)
    many = {"ipv4": [f"-A pal-x -s 10.0.{n // 256}.{n % 256} -j ACCEPT" for n in range(5000)]}
    rollback.write_result(str(directory), {"outcome": "rolled_back", "reason": "r", "verified": True, "restored_changes": many})
    assert rollback.wait_for_result(str(directory), 1) == {
        "outcome": "rolled_back", "reason": "r", "verified": True, "restored_changes": {"ipv4": 5000}, "shortened": True
    }


def test_without_a_reservation_the_result_is_a_new_file(tmp_path):
    directory = tmp_path / "run"
    directory.mkdir(mode=0o700)
    rollback.write_result(str(directory), {"outcome": "confirmed"})
    assert json.loads((directory / "result.json").read_text()) == {"outcome": "confirmed"}


def _raise(error):
    def fail(*args, **kwargs):
        raise error

    return fail


# -- the unit's ExecStart word -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word, quoted",
    [
        ("/var/lib/palisade/boot/palisade-restore", "/var/lib/palisade/boot/palisade-restore"),
        ("/var/lib/my palisade/x", '"/var/lib/my palisade/x"'),
        ("/var/lib/%h/x", '"/var/lib/%%h/x"'),
        ("/var/lib/$HOME/x", '"/var/lib/$$HOME/x"'),
        ('/var/lib/a"b\\c', '"/var/lib/a\\"b\\\\c"'),
        ("-/bin/x", '"-/bin/x"'),
    ],
)
def test_systemd_quote(word, quoted):
    assert boot.systemd_quote(word) == quoted


@pytest.mark.parametrize("word", ["/var/lib/pal\nExecStart=/bin/evil", "/x\ty", "/x\x7f"])
def test_systemd_quote_refuses_control_characters(word):
    with pytest.raises(Exception) as raised:
        boot.systemd_quote(word)
    assert str(raised.value) == f"{word!r} cannot be written into a systemd unit: it contains a control character"


def test_the_unit_holds_the_command_as_one_word(tmp_path):
    root = tmp_path / "root"
    (root / "run" / "systemd" / "system").mkdir(parents=True)
    state_dir = tmp_path / "state"
    done = boot.persist(str(state_dir), wanted(), method="systemd", root=str(root))
    unit = (root / "etc" / "systemd" / "system" / boot.UNIT_NAME).read_text()
    assert f"\nExecStart={state_dir}/boot/palisade-restore\n" in unit and done["command"] == f"{state_dir}/boot/palisade-restore"
