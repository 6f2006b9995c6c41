# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a wanted owned state to this host: lock, read, plan, load ipsets, test, restore.

Private to the collection: this API may change at any time.

``apply(wanted)`` under an exclusive lock (``<state_dir>/lock``, holding the holder's PID):

1. reads the live owned state (``iptables-save``, ``ip6tables-save``, ``ipset save``) and plans
   (``plan.make_plan``); nothing differs -> nothing runs but those reads;
2. loads new and changed ipsets into temporary sets and swaps them in;
3. tests each family's transaction (``--test``), then restores it (``--noflush``; one
   transaction per family, atomic: a rejected one leaves the family as it was). Under nf_tables
   ``--test`` misses a jump to an undefined chain; the real restore is the authority;
4. destroys the ipsets no longer wanted (no rule uses them any more);
5. reads again to check that the host now holds the wanted state, and records the applied
   inputs in ``<state_dir>/applied/`` (temporary file + rename).

If step 2 or 3 fails after something changed, the owned state read in step 1 is applied back
(with the same machinery) and the error says so. Check mode stops after step 1 and takes the
lock shared, so it never reads a half-applied state; it creates no file.

``snapshot()`` returns the live owned state as an ``OwnedState``; ``apply(snapshot)`` puts it
back exactly. A later rollback step reuses both.
"""

import errno
import fcntl
import os
import re
import time

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.commands import Runner
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import ApplyError, CommandError, LockTimeout
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.plan import make_plan
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.records import field, record
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.saved_state import read_live
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import FAMILIES
from ansible_collections.palisade.firewall.plugins.module_utils._palisade import drift, statedir
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.statedir import StateDirError

DEFAULT_STATE_DIR = "/var/lib/palisade"
RESTORE_COMMANDS = {4: "iptables-restore", 6: "ip6tables-restore"}
RECORD_FILES = (("ipv4.rules", "ipv4_rules"), ("ipv6.rules", "ipv6_rules"), ("ipsets.restore", "ipsets"))
_ERROR_LINE = re.compile(r"line:? (\d+)")


@record
class Result:
    changed: bool = False
    restored: bool = False
    changes: dict = field(default_factory=dict)
    before: str = ""
    after: str = ""
    transactions: dict = field(default_factory=dict)
    commands: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    record: str = ""
    drift: dict = field(default_factory=dict)  # the live owned state against the record (``drift.find``)
    extra: dict = field(default_factory=dict)  # what a rollback run adds (armed, run_id, persisted...)

    def as_dict(self, verbose: bool = False) -> dict:
        """The module's result: the plan and what changed; the transaction texts only when ``verbose``.

        The texts grow with the ruleset (a set of a million members is tens of megabytes), so by
        default only their sizes go back (``transaction_lines``); the applied inputs are recorded
        on the host (``record``) once confirmed.
        """
        output = {
            **self.extra,
            "changed": self.changed,
            "restored": self.restored,
            "changes": self.changes,
            "transaction_lines": transaction_lines(self.transactions),
            "commands": self.commands,
            "record": self.record,
            "drift": self.drift,
        }
        if verbose:
            output["transactions"] = self.transactions
        return output


def transaction_lines(transactions: dict) -> dict:
    """``{name: number of lines}`` of the transaction texts."""
    return {name: text.count("\n") + (0 if text.endswith("\n") or not text else 1) for name, text in transactions.items()}


# -- the lock --------------------------------------------------------------------------------


class Lock:
    """``flock`` on ``<state_dir>/lock``, waiting up to ``timeout`` seconds.

    The exclusive holder writes its PID into the file so that a run that gives up can name it.
    ``shared`` (check mode) takes a shared lock, only if the lock file exists, and writes nothing.
    """

    def __init__(self, state_dir: str, timeout: float, shared: bool = False, poll: float = 0.05):
        self.path = os.path.join(state_dir, "lock")
        self.state_dir = state_dir
        self.timeout = max(0.0, float(timeout))
        self.shared = shared
        self.poll = poll
        self.fd = None

    def __enter__(self) -> "Lock":
        # the state directory is checked (and made, 0700) before anything is written in it
        statedir.check(self.state_dir, create=not self.shared)
        try:
            if self.shared:
                try:
                    self.fd = statedir.open_file(self.path, os.O_RDONLY)
                except FileNotFoundError:
                    return self  # no run has ever applied here: nothing to wait for
            else:
                self.fd = statedir.open_file(self.path, os.O_RDWR | os.O_CREAT)
        except StateDirError as error:
            raise error.then(" Nothing was changed.") from None
        except OSError as error:
            raise StateDirError(f"cannot open the lock file {self.path}: {statedir.describe_os_error(error)}. Nothing was changed.") from None
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, mode | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                holder = self._holder()
                os.close(self.fd)
                self.fd = None
                raise LockTimeout(
                    f"another palisade.firewall apply holds the lock {self.path} ({holder});"
                    f" gave up after waiting {self.timeout:g} s (lock_timeout)"
                )
            time.sleep(self.poll)
        if not self.shared:
            try:
                os.ftruncate(self.fd, 0)
                os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as error:
                self.release()
                raise StateDirError(
                    f"cannot write this run's PID into the lock file {self.path}: {statedir.describe_os_error(error)}. Nothing was changed."
                ) from None
        return self

    def _holder(self) -> str:
        try:
            pid = statedir.read_text(self.path).strip()
        except (OSError, ValueError, StateDirError):
            pid = ""
        return f"held by PID {pid}" if pid.isdigit() else "held by a check-mode run or a process that wrote no PID"

    def __exit__(self, *exc_info) -> None:
        self.release()

    def release(self) -> None:
        """Unlock for every process sharing this lock (a rollback watchdog ends its window so)."""
        if self.fd is None:
            return
        if not self.shared:
            os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def hand_over(self, pid: int) -> None:
        """Leave the lock to a forked process that shares the descriptor (the rollback watchdog).

        ``flock`` locks belong to the open file, not the process: closing this copy without
        unlocking keeps the lock held for as long as the watchdog's copy is open.
        """
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, f"{pid}\n".encode(), 0)
        except OSError:
            pass  # the PID only names the holder in messages; never unlock here
        finally:
            os.close(self.fd)
            self.fd = None


# -- snapshot and apply ----------------------------------------------------------------------


def snapshot(runner=None, prefix: str = "pal-"):
    """The live owned state, as a state that ``apply`` puts back (reads only; takes no lock)."""
    return read_live(runner or Runner(), prefix).owned()


def apply(
    wanted, runner=None, state_dir: str = DEFAULT_STATE_DIR, lock_timeout: float = 60, check_mode: bool = False, record: bool = True
) -> Result:
    """Make the host's owned state ``wanted``; see the module docstring."""
    runner = runner or Runner()
    with Lock(state_dir, lock_timeout, shared=check_mode):
        live, plan, result = prepare(wanted, runner, state_dir if record else None)
        if check_mode:
            result.commands = planned_commands(plan, lock_timeout)
            return result
        carry_out(wanted, live, plan, runner, lock_timeout, result)
        if record:
            try:
                result.record = write_record(state_dir, wanted)
            except StateDirError as error:
                raise error.then(_RECORD_FAILED if result.changed else " Nothing was changed.", changed=result.changed) from None
    return result


_RECORD_FAILED = " The new rules were applied and are live, but the record of them in the state directory is not up to date."


def prepare(wanted, runner, state_dir=None):
    """Read the live state and plan (reads only): ``(live, plan, result)``; call under the lock.

    With ``state_dir``, the result also says how the live state drifted from the record there.
    """
    live = read_live(runner, wanted.prefix, need_ipset=bool(wanted.ipsets))
    plan = make_plan(wanted, live)
    result = Result(
        changed=plan.changed,
        changes=plan.changes(),
        before=plan.before,
        after=plan.after,
        transactions=plan.transactions(),
        warnings=list(live.warnings),
    )
    if state_dir is not None:
        result.drift = drift.find(state_dir, wanted, live, plan)
    return live, plan, result


def carry_out(wanted, live, plan, runner, wait, result) -> None:
    """Run ``plan`` (putting ``live`` back if it fails part-way), then check the host holds ``wanted``."""
    if not plan.changed:
        return
    calls_before = len(runner.calls)
    _apply_or_put_back(plan, live, runner, wait)
    result.restored = any(family_plan.changed for family_plan in plan.families.values())
    result.commands = [str(call) for call in runner.calls[calls_before:] if not call.reads_only]
    check = make_plan(wanted, read_live(runner, wanted.prefix, need_ipset=bool(wanted.ipsets)))
    if check.changed:
        result.warnings.append(_still_differs(check))


def planned_commands(plan, wait) -> list:
    """The commands an apply of ``plan`` runs, in order (for check mode)."""
    commands = []
    if plan.sets.load:
        commands += ["ipset restore", "ipset restore"]
    changed = [family for family in FAMILIES if plan.families[family].changed]
    commands += [" ".join(_restore_command(family, wait, test=True)) for family in changed]
    commands += [" ".join(_restore_command(family, wait)) for family in changed]
    commands += [f"ipset destroy {name}" for name in plan.sets.removed]
    return commands


def _restore_command(family: int, wait, test: bool = False) -> list:
    command = [RESTORE_COMMANDS[family], "--noflush", "-w", str(max(1, int(wait)))]
    return command[:1] + ["--test"] + command[1:] if test else command


@record
class _Progress:
    sets_swapped: bool = False
    families: list = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return self.sets_swapped or bool(self.families)


def _apply_or_put_back(plan, live, runner, wait) -> None:
    progress = _Progress()
    try:
        execute(plan, runner, wait, progress)
    except CommandError as error:
        if not progress.anything:
            raise ApplyError(f"{error}\nNothing was changed.", changed=False, cause=error) from None
        _put_back(live, progress, runner, wait, error)


def _put_back(live, progress, runner, wait, error) -> None:
    """Apply the owned state read before the run to what the failed run touched."""
    try:
        now = read_live(runner, live.prefix, need_ipset=progress.sets_swapped)
        back = make_plan(live.owned(), now, families=progress.families, include_sets=progress.sets_swapped)
        execute(back, runner, wait, _Progress())
    except (CommandError, ApplyError) as second:
        raise ApplyError(
            f"{error}\nPutting back the owned state from before this run failed too: {second}", changed=True, cause=error
        ) from None
    raise ApplyError(f"{error}\nThe owned state was put back as it was before this run.", changed=False, cause=error)


def execute(plan, runner, wait, progress=None) -> None:
    """Run a plan: load and swap ipsets, test then restore each family, destroy stale ipsets."""
    progress = progress if progress is not None else _Progress()
    sets = plan.sets
    if sets.load:
        try:
            runner.run(["ipset", "restore"], sets.load, context="Loading the new and changed ipsets into temporary sets failed.")
        except CommandError:
            for name in sets.created:  # ipset restore is not atomic: remove what it created
                runner.run(["ipset", "destroy", name], check=False)
            raise
        progress.sets_swapped = True
        runner.run(["ipset", "restore"], sets.swap, context="Swapping the loaded ipsets in failed.")
    changed = [family for family in FAMILIES if plan.families[family].changed]
    for test in (True, False):
        for family in changed:
            text = plan.families[family].transaction
            try:
                runner.run(_restore_command(family, wait, test=test), text)
            except CommandError as error:
                raise CommandError(
                    error.command, error.rc, error.stderr, error.stdout, context=_failed_line(error.stderr, text, family, test)
                ) from None
            if not test:
                progress.families.append(family)
    failures = []
    for name in sets.removed:
        done = runner.run(["ipset", "destroy", name], check=False)
        if done.rc != 0:
            failures.append(f"ipset destroy {name}: {(done.stderr or done.stdout).strip()}")
    if failures:
        raise ApplyError(
            "The rules were applied, but ipsets no longer wanted could not be destroyed (does a rule of another"
            " tool use them?): " + "; ".join(failures),
            changed=True,
        )


def _failed_line(stderr: str, text: str, family: int, test: bool) -> str:
    """Quote the transaction line a restore error points at, and say what state the family is in."""
    lines = text.split("\n")
    found = _ERROR_LINE.search(stderr or "")
    note = f"The IPv{family} {'test' if test else 'transaction'} was refused; the IPv{family} rules are unchanged (atomic restore)."
    if found and 0 < int(found.group(1)) <= len(lines):
        number = int(found.group(1))
        note = f"Line {number} of the IPv{family} transaction: {lines[number - 1]}\n{note}"
    return note


def _still_differs(check) -> str:
    changes = {key: value for key, value in check.changes().items() if value}
    return (
        "after applying, the host's owned state still differs from the wanted one, so the next run will"
        f" report a change again (the kernel prints these rules differently from the wanted text?): {changes}"
    )


# -- the record of what was applied ----------------------------------------------------------


def write_record(state_dir: str, wanted) -> str:
    """Write the applied inputs to ``<state_dir>/applied/`` (each file atomically); its path.

    Files whose content is already the same are left alone.
    """
    directory = os.path.join(state_dir, "applied")
    statedir.ensure_dir(state_dir, directory)
    inputs = wanted.inputs()
    contents = {file_name: inputs[key] for file_name, key in RECORD_FILES}
    contents["hooks.json"] = wanted.hooks_json()
    for file_name, content in contents.items():
        statedir.write_if_different(os.path.join(directory, file_name), content)
    return directory


def _write_atomically(path: str, content: str) -> None:
    """A new file replaces ``path`` (see ``statedir.write_atomically``)."""
    statedir.write_atomically(path, content)
