# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that runs the kernel tools, so that tests can record or fake every command.

Private to the collection: this API may change at any time.

``Runner.run`` finds the tool (in ``PATH`` and the sbin directories, which a non-root ``PATH``
often lacks), runs it with the C locale (messages are shown to users and parsed), records the
call, and raises ``CommandError`` when it fails. A test replaces ``execute`` to fake the tools,
or reads ``calls`` to see what ran.
"""

import os
import shutil
import subprocess

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import CommandError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.records import record

SBIN_DIRECTORIES = ("/usr/local/sbin", "/usr/sbin", "/sbin")
# Tools that only read; every other command changes the host.
READ_COMMANDS = frozenset({("iptables-save",), ("ip6tables-save",), ("ipset", "save"), ("ipset", "list")})
PACKAGES = {
    "iptables-save": "iptables",
    "ip6tables-save": "iptables",
    "iptables-restore": "iptables",
    "ip6tables-restore": "iptables",
    "ipset": "ipset",
}


@record(frozen=True)
class Call:
    """One command as run: its arguments, what it was given on stdin, and how it ended."""

    argv: tuple
    stdin: str
    rc: int
    stdout: str
    stderr: str

    @property
    def reads_only(self) -> bool:
        return is_read(self.argv)

    def __str__(self) -> str:
        return " ".join(self.argv)


def is_read(argv) -> bool:
    """Whether a command only reads the kernel's state (``iptables-save``, ``ipset save``...)."""
    name = os.path.basename(argv[0])
    return (name,) in READ_COMMANDS or (name, *argv[1:2]) in READ_COMMANDS


class Runner:
    """Runs tools and records every call in ``calls``."""

    def __init__(self, search_path=None):
        self.calls = []
        path = search_path if search_path is not None else os.environ.get("PATH", "")
        self.search_path = os.pathsep.join([p for p in [path, *SBIN_DIRECTORIES] if p])

    def which(self, tool):
        return shutil.which(tool, path=self.search_path)

    def run(self, argv, stdin="", check=True, context=""):
        """Run ``argv`` (its first word a tool name); a failure raises ``CommandError`` when ``check``."""
        argv = tuple(argv)
        rc, stdout, stderr = self.execute(argv, stdin)
        call = Call(argv, stdin, rc, stdout, stderr)
        self.calls.append(call)
        if check and rc != 0:
            raise CommandError(argv, rc, stderr, stdout, context=context)
        return call

    def execute(self, argv, stdin):
        """Run one command for real: ``(rc, stdout, stderr)``. Tests override this."""
        path = self.which(argv[0])
        if path is None:
            package = PACKAGES.get(argv[0], argv[0])
            return 127, "", f"{argv[0]}: command not found in {self.search_path} (install the {package} package)"
        env = dict(os.environ, LC_ALL="C", LANG="C", PATH=self.search_path)
        done = subprocess.run(
            [path, *argv[1:]],
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            env=env,
            check=False,
        )
        return done.returncode, done.stdout, done.stderr

    @property
    def writes(self):
        """The calls that changed (or tried to change) the host."""
        return [call for call in self.calls if not call.reads_only]
