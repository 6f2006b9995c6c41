# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the host-side apply code.

Private to the collection: this API may change at any time.

Every error is a ``PalisadeError`` whose message is meant for the user as it is: the module
passes it to ``fail_json`` unchanged.
"""


class PalisadeError(Exception):
    """Base class of every error raised on purpose; ``changed`` says whether the host changed."""

    changed = False


class InputError(PalisadeError):
    """The wanted state is malformed: every problem found, one per line."""

    def __init__(self, problems):
        self.problems = list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems in the wanted ruleset:\n" + "\n".join(f"- {p}" for p in self.problems)
        super().__init__(message)


class CommandError(PalisadeError):
    """A tool failed: the message names the command and shows what it printed."""

    def __init__(self, command, rc, stderr, stdout="", context=""):
        self.command = list(command)
        self.rc = rc
        self.stderr = stderr
        self.stdout = stdout
        self.context = context
        output = (stderr or "").strip() or (stdout or "").strip() or "(no output)"
        message = f"`{' '.join(self.command)}` failed (exit status {rc}): {output}"
        if context:
            message += f"\n{context}"
        super().__init__(message)


class LockTimeout(PalisadeError):
    """Another run held the lock for longer than the timeout."""


class ApplyError(PalisadeError):
    """Applying failed part-way; the message says what was done about it."""

    def __init__(self, message, changed, cause=None):
        super().__init__(message)
        self.changed = changed
        self.cause = cause
