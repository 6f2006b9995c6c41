# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throwaway network namespaces and the kernel tools, for the kernel tests."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
_COUNTER = itertools.count()


def tool(name: str) -> str:
    return shutil.which(name, path=SEARCH_PATH) or name


def run(command: list, stdin: str | None = None, env: dict | None = None) -> str:
    """Run a tool (found in PATH or sbin); a failure fails the test with the tool's message."""
    command = [tool(command[0]), *command[1:]]
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}{done.stdout}")
    return done.stdout


def run_in(name: str, command: list, stdin: str | None = None, env: dict | None = None) -> str:
    return run(["ip", "netns", "exec", name, tool(command[0]), *command[1:]], stdin, env)


@contextlib.contextmanager
def namespace(prefix: str) -> Iterator[str]:
    """A fresh network namespace; deleted afterwards only because this test created it."""
    name = f"{prefix}-{os.getpid()}-{next(_COUNTER)}"
    run(["ip", "netns", "add", name])
    try:
        yield name
    finally:
        subprocess.run([tool("ip"), "netns", "delete", name], check=False, capture_output=True)
