# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state directory is checked, not trusted: root runs files from it at boot.

Private to the collection: this API may change at any time.

``check(state_dir)`` refuses, before anything is written, a state directory that another user
could redirect or replace:

- the path must be absolute and normalised (no ``.``, ``..``, ``//`` or trailing ``/``), of the
  characters ``A-Z a-z 0-9 / . _ -`` only (so it is one word in the systemd unit, the launcher
  and every message);
- every component that exists must be a real directory (``os.lstat``: no symbolic link anywhere),
  owned by root (uid 0) and not writable by group or others. A root-owned directory with the
  sticky bit (``/tmp``) is accepted as an ancestor only: others cannot remove or rename root's
  entries there, and an entry they planted first is refused by the checks below it. The state
  directory itself and everything in it must never be group- or world-writable;
- components that do not exist yet are created with mode 0700 and checked again once created.

Files inside are opened with ``O_NOFOLLOW`` (a planted symbolic link is refused, never
followed); files replaced atomically are written to a new temporary file (``O_EXCL``) and
renamed over the old name, so nothing is ever written through a planted file.

Errors writing a state file (a full disk, a read-only file system, permissions) become a
``StateDirError`` naming the file, never a traceback.
"""

import errno
import os
import re
import stat
import tempfile

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import PalisadeError

SAFE_PATH = re.compile(r"\A/[A-Za-z0-9/._-]*\Z")  # \Z: "$" would accept a final newline
SAFE_CHARACTERS = "A-Z a-z 0-9 / . _ -"
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class StateDirError(PalisadeError):
    """The state directory or a file in it is unsafe, or could not be written."""

    def __init__(self, message, changed=False):
        super().__init__(message)
        self.changed = changed

    def then(self, suffix: str, changed: bool = False) -> "StateDirError":
        """The same error with what it means for the host added (``Nothing was changed.``)."""
        return StateDirError(f"{self}{suffix}", changed=changed)


def describe_os_error(error: OSError) -> str:
    name = errno.errorcode.get(error.errno or 0, "")
    reason = error.strerror or str(error)
    return f"{reason} ({name})" if name else reason


def write_failed(path: str, error: OSError) -> StateDirError:
    return StateDirError(f"cannot write {path}: {describe_os_error(error)}.")


def _refuse(state_dir: str, why: str) -> StateDirError:
    return StateDirError(f"Refusing the state directory {state_dir!r}: {why}. Nothing was changed.")


def check_path(state_dir: str) -> None:
    """The spelling rules (no file system access)."""
    problem = path_problem(state_dir)
    if problem:
        raise _refuse(state_dir, problem)


def path_problem(state_dir) -> str:
    """What breaks the spelling rules, or "": the controller checks every host's value with
    this before the first host is touched."""
    if not isinstance(state_dir, str) or not state_dir.startswith("/"):
        return "it must be an absolute path"
    if state_dir != "/" and (state_dir.endswith("/") or "//" in state_dir or os.path.normpath(state_dir) != state_dir):
        return f"it must be a normalised path (without '.', '..', '//' or a trailing '/'), e.g. {os.path.normpath(state_dir)!r}"
    if state_dir == "/":
        return "it must not be the root directory"
    if not SAFE_PATH.match(state_dir):
        bad = "".join(sorted({char for char in state_dir if not SAFE_PATH.match("/" + char)}))
        return f"it contains {bad!r}; allowed are only the characters {SAFE_CHARACTERS}"
    return ""


def _check_component(state_dir: str, path: str, info, inside: bool) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise _refuse(state_dir, f"{path} is a symbolic link")
    if not stat.S_ISDIR(info.st_mode):
        raise _refuse(state_dir, f"{path} is not a directory")
    if info.st_uid != 0:
        raise _refuse(state_dir, f"{path} is owned by uid {info.st_uid}, not by root")
    if info.st_mode & 0o022:
        sticky = info.st_mode & stat.S_ISVTX and not inside
        if not sticky:
            who = "group and others" if info.st_mode & 0o022 == 0o022 else ("group" if info.st_mode & 0o020 else "others")
            raise _refuse(state_dir, f"{path} is writable by {who} (mode {stat.S_IMODE(info.st_mode):04o})")


def check(state_dir: str, create: bool = False) -> None:
    """Refuse an unsafe state directory (see the module docstring); with ``create``, make the
    missing components (mode 0700) and check them once made."""
    check_path(state_dir)
    _check_component(state_dir, "/", os.lstat("/"), False)
    parts = state_dir.strip("/").split("/")
    path = ""
    for index, part in enumerate(parts):
        path += "/" + part
        inside = index == len(parts) - 1
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            if not create:
                return  # nothing below exists: nothing there to trust yet
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                pass  # made meanwhile: checked below like any other
            except OSError as error:
                raise StateDirError(f"cannot create the state directory {path}: {describe_os_error(error)}. Nothing was changed.") from None
            info = os.lstat(path)
        _check_component(state_dir, path, info, inside)


def ensure_dir(state_dir: str, path: str, mode: int = 0o700) -> None:
    """Make the directories from ``state_dir`` (checked already) down to ``path`` inside it, each
    a real root-owned directory not writable by group or others."""
    relative = os.path.relpath(path, state_dir)
    if relative.startswith("..") or os.path.isabs(relative):
        raise StateDirError(f"{path} is not inside the state directory {state_dir}")
    current = state_dir
    for part in [] if relative == "." else relative.split(os.sep):
        current = os.path.join(current, part)
        try:
            os.mkdir(current, mode)
        except FileExistsError:
            pass
        except OSError as error:
            raise StateDirError(f"cannot create {current}: {describe_os_error(error)}.") from None
        info = os.lstat(current)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
            raise StateDirError(f"{current} is not a root-owned directory that only root can write (a symbolic link or a planted file?).")


def open_file(path: str, flags: int, mode: int = 0o600) -> int:
    """``os.open`` that never follows a symbolic link and accepts only a root-owned regular file
    with one name; the descriptor (close-on-exec)."""
    try:
        fd = os.open(path, flags | NOFOLLOW, mode)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise StateDirError(f"refusing {path}: it is a symbolic link.") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != 0 or info.st_nlink != 1:
        os.close(fd)
        raise StateDirError(f"refusing {path}: not a regular file owned by root with a single name (planted?).")
    return fd


def read_text(path: str) -> str:
    """The content of a state file (``FileNotFoundError`` when there is none)."""
    fd = open_file(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        return handle.read().decode("utf-8")


def write_atomically(path: str, content: str, mode: int = 0o600) -> None:
    """Replace ``path`` by a new file (``O_EXCL`` temporary + rename; a planted link or file at
    ``path`` is replaced, never written through). A write error names the file."""
    directory = os.path.dirname(path)
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.")
    except OSError as error:
        raise write_failed(path, error) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8"))
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        dir_fd = os.open(directory, os.O_RDONLY | NOFOLLOW)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as error:
        _unlink_quietly(temporary)
        raise write_failed(path, error) from None
    except BaseException:
        _unlink_quietly(temporary)
        raise


def write_if_different(path: str, content: str) -> bool:
    """``write_atomically`` unless the file holds ``content`` already; whether it wrote."""
    try:
        if read_text(path) == content:
            return False
    except (OSError, ValueError, StateDirError):
        pass  # missing, unreadable or planted: replaced by a new file
    write_atomically(path, content)
    return True


def reserve(path: str, size: int, placeholder: bytes) -> None:
    """Create ``path`` as ``placeholder`` padded with spaces to ``size`` bytes, on disk, so that
    ``overwrite`` later needs no new space (a full disk during the rollback window)."""
    data = placeholder.ljust(size, b" ")
    try:
        fd = open_file(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except OSError as error:
        raise write_failed(path, error) from None
    try:
        _write_all(fd, data, 0)
        os.fsync(fd)
    except OSError as error:
        os.close(fd)
        _unlink_quietly(path)
        raise write_failed(path, error) from None
    os.close(fd)


def overwrite(path: str, data: bytes) -> None:
    """Write ``data`` over a file made by ``reserve`` (padded with spaces to its size, in place)."""
    fd = open_file(path, os.O_WRONLY)
    try:
        size = os.fstat(fd).st_size
        if len(data) > size:
            raise StateDirError(f"{len(data)} bytes do not fit in the {size} bytes reserved in {path}")
        _write_all(fd, data.ljust(size, b" "), 0)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
