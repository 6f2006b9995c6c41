# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply with a dead-man timer: the new rules stay only if the controller confirms in time.

Private to the collection: this API may change at any time.

Why a watchdog process of our own: the rules must go back even when everything else dies - the
SSH session, the controller, Ansible's module process. So ``arm`` forks a watchdog that leaves
the session (``setsid`` and a second fork, standard streams on ``/dev/null``); it is not an
Ansible async job, so no async watchdog can kill it before it restores.

One run, under ``<state_dir>/runs/<run_id>/`` (the id comes from the controller, one per task
and host, so two runs never share a file):

1. ``arm`` takes the apply lock, reads and plans. Nothing to change: the lock is released and
   nothing is armed. Otherwise it writes the snapshot of the owned state (IPv4, IPv6, ipsets;
   an empty snapshot when nothing is owned yet, so that rolling back removes what was added),
   forks the watchdog, hands it the lock, and applies (ipsets, then both families, each
   ``--test``-ed before its restore). IPv4 and IPv6 share the one window.
2. The watchdog waits for ``confirm`` or ``abort`` in the run directory, or the deadline. On
   ``confirm`` it persists (``boot.persist``) and ends; on ``abort`` or the deadline it applies
   the snapshot back - owned state only, so other tools' chains, rules and sets, including
   changes they made during the window, stay as they are - checks that the live owned state
   equals the snapshot, and ends. Either way it writes ``result.json`` and then releases the
   lock, so a concurrent run waits for the whole window and never interleaves.
3. ``confirm`` (a NEW connection from the controller) runs the confirm probes, writes
   ``confirm`` (or ``abort`` naming the failed probe) and waits for ``result.json``; asked
   again (its answer was lost on the way), it returns the same result. ``status`` (after a
   missed window, once the host answers again) waits for the result and checks again that the
   live owned state equals the snapshot.

Run directories are removed by later ``arm`` calls (which hold the lock, so no watchdog is
running) ten minutes after they finished, by when their controller has collected the result
(or died); one whose watchdog never wrote a result (a reboot during the window) likewise.
"""

import json
import os
import re
import shutil
import signal
import time

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import boot, statedir
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.apply import (
    Lock,
    carry_out,
    execute,
    prepare,
)
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.commands import Runner
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.plan import make_plan
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.probes import run_probes
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.saved_state import read_live
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.statedir import StateDirError

RUN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{7,63}$")
POLL = 0.05
LEFTOVER_AGE = 600  # seconds after a run finished; its controller has long collected the result
RESULT_WAIT = 120  # seconds a confirm or status call waits for the watchdog to finish
RESULT_SIZE = 65536  # bytes of result.json reserved before arming: the result fits even on a full disk
PENDING = {"outcome": "pending"}


class RollbackError(PalisadeError):
    """A run directory is missing or malformed, or the watchdog did not answer."""


def run_directory(state_dir: str, run_id: str) -> str:
    if not RUN_ID.match(run_id or ""):
        raise RollbackError(f"run id {run_id!r} is not 8 to 64 lower-case letters, digits and dashes")
    return os.path.join(state_dir, "runs", run_id)


# -- arm ---------------------------------------------------------------------------------------


def arm(wanted, run_id: str, window: float, state_dir: str, lock_timeout: float, persist: dict, runner=None):
    """Apply ``wanted`` with the watchdog armed: an apply ``Result`` whose ``extra`` says whether a
    confirmation is awaited (``armed``, ``run_id``, ``window_left`` seconds) or, unchanged, what
    ``persisted`` did.

    ``persist`` holds ``boot.persist``'s keyword arguments (``enabled``, ``method``, ``root``);
    the watchdog uses them after a confirmation, and an unchanged host gets them at once.
    """
    runner = runner or Runner()
    directory = run_directory(state_dir, run_id)
    lock = Lock(state_dir, lock_timeout)
    lock.__enter__()
    try:
        _remove_leftovers(state_dir)
        live, plan, result = prepare(wanted, runner, state_dir)
        if not plan.changed:
            persisted = boot.persist(state_dir, wanted, **persist)
            result.extra = {"armed": False, "persisted": persisted}
            result.changed = persisted["changed"]
            result.record = persisted["record"]
            lock.release()
            return result
        persist = dict(persist, sources=boot.library_sources())
        snapshot = live.owned()
        try:
            statedir.ensure_dir(state_dir, os.path.join(state_dir, "runs"))
            os.mkdir(directory, 0o700)  # a new directory: never one made before, or planted
            _write_json(os.path.join(directory, "snapshot.json"), dict(snapshot.render_inputs(), prefix=wanted.prefix))
            _write_json(os.path.join(directory, "armed.json"), {"window": window, "pid": os.getpid()})
            statedir.reserve(os.path.join(directory, "result.json"), RESULT_SIZE, _json_bytes(PENDING))
        except StateDirError as error:
            raise error.then(" Nothing was changed (the watchdog was not armed).") from None
        except OSError as error:
            raise StateDirError(f"cannot create {directory}: {statedir.describe_os_error(error)}. Nothing was changed (the watchdog was not armed).") from None
        watchdog = _spawn_watchdog(directory, window, wanted, snapshot, state_dir, persist, lock_timeout, lock.fd)
    except BaseException:
        lock.release()
        raise
    lock.hand_over(watchdog.pid)  # from here on only the watchdog may unlock
    try:
        carry_out(wanted, live, plan, runner, lock_timeout, result)
    except BaseException as error:  # noqa: BLE001 - whatever broke the apply, the watchdog puts the snapshot back
        _request(directory, "abort", f"applying failed: {error}")
        watchdog.close()
        try:
            outcome = wait_for_result(directory, RESULT_WAIT)
        except RollbackError as late:
            outcome = {"outcome": "error", "reason": "applying failed", "error": str(late)}
        raise PalisadeError(f"{error}\nWatchdog: {describe_outcome(outcome)}") from None
    watchdog.start_window()
    result.extra = {"armed": True, "run_id": run_id, "window_left": float(window)}
    return result


def apply_without_rollback(wanted, state_dir: str, lock_timeout: float, persist: dict, runner=None):
    """Apply and persist at once: for connections that cannot confirm, when the user opted in."""
    runner = runner or Runner()
    with Lock(state_dir, lock_timeout):
        live, plan, result = prepare(wanted, runner, state_dir)
        carry_out(wanted, live, plan, runner, lock_timeout, result)
        result.extra = {"armed": False, "persisted": boot.persist(state_dir, wanted, **persist)}
        result.record = result.extra["persisted"]["record"]
    return result


def _remove_leftovers(state_dir: str) -> None:
    runs = os.path.join(state_dir, "runs")
    try:
        names = os.listdir(runs)
    except FileNotFoundError:
        return
    now = time.time()
    for name in names:
        path = os.path.join(runs, name)
        # Under the lock no watchdog runs any more: a run without a result lost its watchdog
        # (a reboot during the window, where the boot restore put the confirmed state back).
        ended = [os.path.join(path, "result.json"), os.path.join(path, "armed.json"), path]
        for marker in ended:
            try:
                finished = os.path.getmtime(marker)
                break
            except OSError:
                continue
        else:
            continue
        if now - finished > LEFTOVER_AGE:
            shutil.rmtree(path, ignore_errors=True)


class _Watchdog:
    """The arming process's end of the watchdog: its PID and the pipe that starts the window.

    The window starts when the apply has finished (``start_window``), not before: an apply
    that waits for the xtables lock must never be overtaken by its own rollback. The pipe
    closing without ``applied`` (this process failed or was killed) makes the watchdog roll
    back at once.
    """

    def __init__(self, pid: int, control_fd: int):
        self.pid = pid
        self.control_fd = control_fd

    def start_window(self) -> None:
        os.write(self.control_fd, b"applied\n")
        self.close()

    def close(self) -> None:
        if self.control_fd is not None:
            os.close(self.control_fd)
            self.control_fd = None


def _spawn_watchdog(directory, window, wanted, snapshot, state_dir, persist, wait, lock_fd) -> _Watchdog:
    """Fork the watchdog out of this session; return once it has detached and said so."""
    ready_read, ready_write = os.pipe()
    control_read, control_write = os.pipe()
    first = os.fork()
    if first == 0:  # the intermediate child: a new session, then the watchdog, then leave
        try:
            os.setsid()
            if os.fork() == 0:
                code = 1
                try:
                    _become_daemon(directory, keep=(lock_fd, ready_write, control_read))
                    os.write(ready_write, f"{os.getpid()}\n".encode())
                    os.close(ready_write)
                    watch(directory, window, control_read, wanted, snapshot, state_dir, persist, wait, lock_fd)
                    code = 0
                finally:  # nothing can report an error here; the result file says what happened
                    os._exit(code)
        finally:
            os._exit(0)
    os.close(ready_write)
    os.close(control_read)
    os.waitpid(first, 0)
    with os.fdopen(ready_read) as pipe:
        text = pipe.readline().strip()
    if not text.isdigit():
        os.close(control_write)
        raise RollbackError("the rollback watchdog could not be started; nothing was applied")
    return _Watchdog(int(text), control_write)


def _become_daemon(directory: str, keep) -> None:
    """Leave the session's streams (so SSH can close the channel) and every descriptor but ``keep``."""
    os.chdir("/")
    os.umask(0o077)
    for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    log = statedir.open_file(os.path.join(directory, "watchdog.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 65536)


# -- the watchdog ------------------------------------------------------------------------------


def watch(directory, window, control_fd, wanted, snapshot, state_dir, persist, wait, lock_fd, runner=None) -> dict:
    """Wait for the apply to finish, then for the decision; carry it out, write ``result.json``,
    release the lock (``lock_fd``)."""
    runner = runner or Runner()
    if _wait_for_apply(control_fd):
        started = time.monotonic()
        decision, reason = _wait_for_decision(directory, started + window)
        waited = round(time.monotonic() - started, 3)
    else:
        decision, reason, waited = "abort", _abort_reason(directory), 0.0
    if decision == "confirm":
        outcome = {"outcome": "confirmed", "waited": waited}
        try:
            outcome["persisted"] = boot.persist(state_dir, wanted, **persist)
        except Exception as error:  # noqa: BLE001 - the rules stay; the result says persisting failed
            outcome["persist_error"] = str(error)
    else:
        try:
            outcome = dict(roll_back(snapshot, runner, wait), outcome="rolled_back", reason=reason, waited=waited)
        except Exception as error:  # noqa: BLE001 - reported through the result file
            outcome = {"outcome": "error", "reason": reason, "error": str(error), "waited": waited}
    try:
        write_result(directory, outcome)
    except Exception as error:  # noqa: BLE001 - nobody to tell but the log; the lock must still go
        os.write(2, f"palisade watchdog: writing the result failed: {error}\n".encode())
    finally:
        held = Lock(state_dir, 0)
        held.fd = lock_fd
        held.release()
    return outcome


def _wait_for_apply(control_fd: int) -> bool:
    """Whether the arming process finished applying (it wrote ``applied``) before closing the pipe."""
    received = b""
    while True:
        chunk = os.read(control_fd, 64)
        if not chunk:
            break
        received += chunk
    os.close(control_fd)
    return received.strip() == b"applied"


def _abort_reason(directory: str) -> str:
    try:
        with open(os.path.join(directory, "abort"), encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return "the process applying the rules ended before it finished (killed?)"


def _wait_for_decision(directory, deadline):
    while True:
        for name in ("confirm", "abort"):
            path = os.path.join(directory, name)
            if os.path.exists(path):
                with open(path, encoding="utf-8") as handle:
                    return name, handle.read().strip()
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout", "no confirmation from the controller over a new connection within the rollback window"
        time.sleep(min(POLL, left))


def roll_back(snapshot, runner, wait) -> dict:
    """Apply the snapshot back (owned state only) and check that the host now holds it."""
    live = read_live(runner, snapshot.prefix, need_ipset=bool(snapshot.ipsets))
    plan = make_plan(snapshot, live)
    if plan.changed:
        execute(plan, runner, wait)
    return {"restored_changes": plan.changes(), "verified": same_as_snapshot(snapshot, runner)}


def same_as_snapshot(snapshot, runner) -> bool:
    return not make_plan(snapshot, read_live(runner, snapshot.prefix, need_ipset=bool(snapshot.ipsets))).changed


# -- confirm and status (a new connection) -----------------------------------------------------


def confirm(state_dir: str, run_id: str, probes) -> dict:
    """Run the probes, then confirm (or abort naming the failed probe); the watchdog's outcome."""
    directory = _existing(state_dir, run_id)
    outcome = _read_result(directory)
    probe_results = []
    if outcome is None:
        probe_results = run_probes(probes)
        failed = [item for item in probe_results if not item.ok]
        if failed:
            _request(directory, "abort", f"{failed[0].probe.describe()} failed: {failed[0].detail}")
        else:
            _request(directory, "confirm", "confirmed by the controller over a new connection")
        outcome = wait_for_result(directory, RESULT_WAIT)
    return dict(outcome, probes=[_probe_dict(item) for item in probe_results])


def status(state_dir: str, run_id: str, runner=None) -> dict:
    """After a missed window: the watchdog's outcome, and whether the owned state is the snapshot now."""
    runner = runner or Runner()
    directory = _existing(state_dir, run_id)
    outcome = wait_for_result(directory, RESULT_WAIT)
    with open(os.path.join(directory, "snapshot.json"), encoding="utf-8") as handle:
        saved = json.load(handle)
    snapshot = parse_wanted(saved["ipv4_rules"], saved["ipv6_rules"], saved["ipsets"], saved["hooks"], saved["prefix"])
    return dict(outcome, verified_now=same_as_snapshot(snapshot, runner))


def _existing(state_dir: str, run_id: str) -> str:
    statedir.check(state_dir)
    directory = run_directory(state_dir, run_id)
    if not os.path.isdir(directory):
        raise RollbackError(f"no run {run_id} on this host ({directory} does not exist): it was never armed, or already collected")
    return directory


def _request(directory: str, name: str, reason: str) -> None:
    path = os.path.join(directory, name)
    statedir.write_atomically(path, reason + "\n")


def wait_for_result(directory: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        outcome = _read_result(directory)
        if outcome is not None:
            return outcome
        if time.monotonic() >= deadline:
            raise RollbackError(f"the rollback watchdog wrote no result in {directory} within {timeout:g} s")
        time.sleep(POLL)


def _read_result(directory: str):
    """The watchdog's outcome, or None while it has written none (the reserved placeholder, or a
    write in progress)."""
    try:
        outcome = json.loads(statedir.read_text(os.path.join(directory, "result.json")))
    except FileNotFoundError:
        return None
    except ValueError:
        return None  # read while being written: asked again
    return None if outcome == PENDING else outcome


def write_result(directory: str, outcome: dict) -> None:
    """Write the outcome over the space reserved before arming (no new space needed: a full disk
    during the window does not lose it); an outcome too large for it is shortened (the restored
    changes are counted instead of listed). Without a reservation (older runs), a new file."""
    path = os.path.join(directory, "result.json")
    data = _json_bytes(outcome)
    if len(data) > RESULT_SIZE:
        changes = outcome.get("restored_changes") or {}
        counted = {key: len(value) for key, value in changes.items()} if isinstance(changes, dict) else {}
        data = _json_bytes(dict(outcome, restored_changes=counted, shortened=True))
    if len(data) > RESULT_SIZE:
        data = _json_bytes(_shortest(outcome))
    try:
        statedir.overwrite(path, data)
    except (OSError, StateDirError):
        statedir.write_atomically(path, data.decode("utf-8"))


def _shortest(outcome: dict) -> dict:
    kept = {key: outcome[key] for key in ("outcome", "verified", "waited") if key in outcome}
    kept.update({key: str(outcome[key])[:8192] for key in ("reason", "error", "persist_error") if key in outcome})
    return dict(kept, shortened=True)


def _json_bytes(data) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _probe_dict(item) -> dict:
    return {"name": item.probe.name, "ok": item.ok, "detail": item.detail, "seconds": round(item.seconds, 3)}


def describe_outcome(outcome: dict) -> str:
    """One sentence for users about what the watchdog did."""
    kind = outcome.get("outcome")
    if kind == "confirmed":
        return "the new rules were confirmed and kept"
    if kind == "rolled_back":
        verified = "equals" if outcome.get("verified") else "does NOT equal"
        return f"the rules were rolled back ({outcome.get('reason')}); the owned state {verified} the snapshot taken before the apply"
    return f"rolling back failed: {outcome.get('error')} (reason for rolling back: {outcome.get('reason')})"


def _write_json(path: str, data) -> None:
    statedir.write_atomically(path, _json_bytes(data).decode("utf-8"))
