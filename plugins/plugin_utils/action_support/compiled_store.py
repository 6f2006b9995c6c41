# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compiled hosts kept on the controller for the apply tasks of the same run.

Private to the collection: the engine's API may change at any time.

Why: the rule texts of a host (tens of megabytes with a large set) used to travel from the
compile task to the apply task through registered variables, templated per host, and the apply
play recompiled the fleet in every batch. Each host is now compiled once per run and kept here;
the apply action reads its host back, renders it, and runs the lockout guard on it.

Where: a new directory inside Ansible's local temporary directory of this ``ansible-playbook``
process (``DEFAULT_LOCAL_TMP``, mode 0700, removed when the process ends). So nothing outlives
the run, and two runs at once never see each other's hosts. The files are pickles, read only
from a directory owned by the current user and closed to others, which no other user can plant.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import os
import pickle
import stat
import tempfile
import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler.host import CompiledHost
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError

DIRECTORY_PREFIX = "palisade-compiled-"


class StoreError(PalisadeError):
    """The kept compiled hosts cannot be used; says why and what to do."""


def _mapping_proxy(items: dict) -> MappingProxyType:
    return MappingProxyType(items)


class _Pickler(pickle.Pickler):
    """Pickles the engine's read-only mappings (``MappingProxyType``) as what they hold."""

    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[MappingProxyType] = lambda proxy: (_mapping_proxy, (dict(proxy),))


def new_store(parent: str) -> dict[str, str]:
    """A new, empty store in ``parent`` (Ansible's local temporary directory): its reference."""
    run = uuid.uuid4().hex
    path = tempfile.mkdtemp(prefix=f"{DIRECTORY_PREFIX}{run}-", dir=parent)
    return {"path": path, "run": run}


def keep(reference: Mapping[str, str], compiled: CompiledHost, output: Mapping[str, Any]) -> None:
    """Write ``compiled`` and its rendered ``output`` (``compiled_host_to_dict``) into the store,
    atomically: a reader sees all of it or nothing."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((compiled, dict(output)))
    target = _file(reference, compiled.host)
    partial = f"{target}.{os.getpid()}.partial"
    with open(partial, "wb") as out:
        out.write(buffer.getvalue())
    os.replace(partial, target)


def load(reference: Any, host: str) -> tuple[CompiledHost, dict[str, Any]]:
    """The compiled ``host`` of this run and its rendered output; ``StoreError`` naming why not."""
    if not isinstance(reference, Mapping) or not isinstance(reference.get("path"), str) or not isinstance(reference.get("run"), str):
        raise StoreError(
            f"compiled must be the 'kept' reference returned by palisade.firewall.compile with keep_for_apply=true, got {reference!r}"
        )
    _check_directory(reference["path"])
    try:
        with open(_file(reference, host), "rb") as kept:
            compiled, output = pickle.load(kept)  # noqa: S301 - our own file, in a directory only this user can write
    except FileNotFoundError:
        raise StoreError(
            f"host {host} was not compiled in this run (it is not in the hosts of the compile task that returned {reference['path']})"
        ) from None
    if not isinstance(compiled, CompiledHost) or compiled.host != host:
        raise StoreError(f"{reference['path']} does not hold the compiled host {host}")
    return compiled, output


def _file(reference: Mapping[str, str], host: str) -> str:
    """One file per host, named by a digest: a host name never becomes a path."""
    return os.path.join(reference["path"], hashlib.sha256(host.encode("utf-8")).hexdigest() + ".pickle")


def _check_directory(path: str) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise StoreError(
            f"the compiled hosts of {path} are gone: they last only as long as the ansible-playbook run that compiled them"
        ) from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise StoreError(f"refusing to read compiled hosts from {path}: not a directory of this user closed to others")
