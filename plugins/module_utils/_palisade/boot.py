# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persist the confirmed owned state, and put it back at boot.

Private to the collection: this API may change at any time.

``persist`` runs only after a confirmation (or an apply the user chose to run without
rollback). It records the applied inputs in ``<state_dir>/applied/`` and, when enabled,
installs a boot-time restore of just the owned state:

- ``<state_dir>/boot/lib/``: a copy of this host-side package (standard library only), so the
  boot restore runs exactly the code that applied the rules, without Ansible;
- ``<state_dir>/boot/palisade-restore``: the command that applies ``applied/`` under the
  apply lock (compare, then restore only what differs; a second call changes nothing);
- with systemd: ``/etc/systemd/system/palisade-firewall.service``, a oneshot unit ordered
  before ``network-pre.target`` (so no interface is up without the rules), enabled by its
  ``multi-user.target.wants`` link. Elsewhere the command is returned for the init system to
  run before the network comes up (see docs/apply.md).

Other tools' rules are never saved or restored here: they keep their own persistence.
"""

import argparse
import json
import os
import pkgutil
import subprocess
import sys

from ansible_collections.palisade.firewall.plugins.module_utils._palisade import flow_record as flows
from ansible_collections.palisade.firewall.plugins.module_utils._palisade import statedir
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.apply import (
    DEFAULT_STATE_DIR,
    RECORD_FILES,
    apply,
    write_record,
)
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.statedir import StateDirError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted

PACKAGE = "ansible_collections.palisade.firewall.plugins.module_utils._palisade"
LIBRARY_MODULES = ("__init__", "apply", "boot", "commands", "drift", "errors", "flow_record", "plan", "records", "rules", "saved_state", "state", "statedir")
UNIT_NAME = "palisade-firewall.service"
METHODS = ("auto", "systemd", "none")
UNIT = """\
# Installed by palisade.firewall: restores the chains and ipsets it owns, before the network.
[Unit]
Description=palisade.firewall owned iptables, ip6tables and ipset rules
DefaultDependencies=no
Wants=network-pre.target
Before=network-pre.target shutdown.target
After=local-fs.target systemd-modules-load.service
# after other tools' boot restores, whose full-table restores would remove the owned chains
After=netfilter-persistent.service iptables.service ip6tables.service ipset.service
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={command}

[Install]
WantedBy=multi-user.target
"""
LAUNCHER = """\
#!{python} -B
# Installed by palisade.firewall: applies the owned state recorded in {state_dir}/applied.
import sys
sys.path.insert(0, {lib!r})
from {package}.boot import main
sys.exit(main(["--state-dir", {state_dir!r}, "--prefix", {prefix!r}] + sys.argv[1:]))
"""


def library_sources() -> dict:
    """This package's sources, read now: a watchdog that persists later may outlive the files
    Ansible ran the module from (its temporary directory is removed when the module exits)."""
    sources = {}
    for name in LIBRARY_MODULES:
        data = pkgutil.get_data(PACKAGE, f"{name}.py")
        if data is None:
            raise PalisadeError(f"cannot read {PACKAGE}.{name} to install the boot restore")
        sources[name] = data.decode("utf-8")
    return sources


def persist(state_dir: str, wanted, enabled: bool = True, method: str = "auto", root: str = "/", sources=None, flow_record=None) -> dict:
    """Record ``wanted`` as applied and (when ``enabled``) install its boot restore; what was done.

    ``sources`` are ``library_sources()`` read earlier (the rollback watchdog passes them);
    ``flow_record`` is recorded next to the rules (see ``flow_record``).
    """
    if method not in METHODS:
        raise PalisadeError(f"boot restore method must be one of {', '.join(METHODS)}, got {method!r}")
    check_unit_path(state_dir)
    statedir.check(state_dir, create=True)
    record = write_record(state_dir, wanted)
    flows.write(state_dir, flow_record)
    command = os.path.join(state_dir, "boot", "palisade-restore")
    unit = os.path.join(root, "etc", "systemd", "system", UNIT_NAME)
    link = os.path.join(root, "etc", "systemd", "system", "multi-user.target.wants", UNIT_NAME)
    if not enabled:
        removed = [path for path in (link, unit) if _remove(path)]
        return {"enabled": False, "record": record, "method": "none", "command": "", "changed": bool(removed), "removed": removed}
    changed = _install_library(state_dir, command, wanted.prefix, sources or library_sources())
    running = os.path.isdir(os.path.join(root, "run", "systemd", "system"))
    chosen = "systemd" if method == "systemd" or (method == "auto" and running) else "none"
    if chosen == "systemd":
        unit_changed = _write_if_different(unit, UNIT.format(command=systemd_quote(command)), 0o644)
        link_changed = _link(link, "/etc/systemd/system/" + UNIT_NAME)
        if unit_changed and running and root == "/":
            subprocess.run(["systemctl", "daemon-reload"], check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        changed = changed or unit_changed or link_changed
    return {"enabled": True, "record": record, "method": chosen, "command": command, "unit": unit if chosen == "systemd" else "", "changed": changed}


def check_unit_path(state_dir: str) -> None:
    """The state directory is written into the unit's ExecStart line and the launcher: only a
    path of the characters ``statedir.check_path`` allows (``A-Z a-z 0-9 / . _ -``), so each of
    them is one word that means what it says."""
    statedir.check_path(state_dir)


def systemd_quote(word: str) -> str:
    """One word of an ``ExecStart=`` line, quoted by systemd's rules: as it is when made of
    ``A-Z a-z 0-9 / . _ -`` (a state directory always is), else in double quotes with ``\\``
    and ``"`` escaped, ``%`` doubled (specifiers) and ``$`` doubled (variables). A control
    character (a newline would start a new unit line) is refused."""
    if statedir.SAFE_PATH.match(word):
        return word
    if any(ord(char) < 32 or ord(char) == 127 for char in word):
        raise PalisadeError(f"{word!r} cannot be written into a systemd unit: it contains a control character")
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def _install_library(state_dir: str, command: str, prefix: str, sources: dict) -> bool:
    lib = os.path.join(state_dir, "boot", "lib")
    package_dir = os.path.join(lib, *PACKAGE.split("."))
    changed = False
    parts = PACKAGE.split(".")
    for depth in range(1, len(parts)):
        changed |= _write_if_different(os.path.join(lib, *parts[:depth], "__init__.py"), "", 0o644, state_dir)
    for name, source in sorted(sources.items()):
        changed |= _write_if_different(os.path.join(package_dir, f"{name}.py"), source, 0o644, state_dir)
    launcher = LAUNCHER.format(python=sys.executable or "/usr/bin/python3", lib=lib, package=PACKAGE, state_dir=state_dir, prefix=prefix)
    changed |= _write_if_different(command, launcher, 0o700, state_dir)
    return changed


def _write_if_different(path: str, content: str, mode: int, state_dir: str = "") -> bool:
    """Replace ``path`` by a new file unless it holds ``content`` with ``mode`` already; inside
    ``state_dir`` every directory on the way is checked (root's, only root can write it)."""
    try:
        fd = statedir.open_file(path, os.O_RDONLY)
        with os.fdopen(fd, "rb") as handle:
            if handle.read().decode("utf-8") == content and (os.fstat(handle.fileno()).st_mode & 0o777) == mode:
                return False
    except (OSError, ValueError, StateDirError):
        pass  # missing, unreadable or planted: replaced by a new file
    if state_dir:
        statedir.ensure_dir(state_dir, os.path.dirname(path), 0o755)
    else:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    statedir.write_atomically(path, content, mode)
    return True


def _link(path: str, target: str) -> bool:
    if os.path.islink(path) and os.readlink(path) == target:
        return False
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    _remove(path)
    os.symlink(target, path)
    return True


def _remove(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


# -- the boot restore itself -------------------------------------------------------------------


def load_applied(state_dir: str, prefix: str = "pal-"):
    """The owned state recorded in ``<state_dir>/applied/`` (the last confirmed one)."""
    directory = os.path.join(state_dir, "applied")
    inputs = {key: _read(os.path.join(directory, file_name)) for file_name, key in RECORD_FILES}
    hooks = json.loads(_read(os.path.join(directory, "hooks.json")))
    return parse_wanted(inputs["ipv4_rules"], inputs["ipv6_rules"], inputs["ipsets"], hooks, prefix)


def _read(path: str) -> str:
    return statedir.read_text(path)


def _say(stream, text: str) -> None:
    """One line of palisade-restore's output (a command run at boot, not a module: no module.log)."""
    stream.write(text + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="palisade-restore", description="Apply the owned state palisade.firewall recorded as applied.")
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    parser.add_argument("--prefix", default="pal-")
    parser.add_argument("--lock-timeout", type=float, default=60)
    args = parser.parse_args(argv)
    try:
        statedir.check(args.state_dir)
        wanted = load_applied(args.state_dir, args.prefix)
        result = apply(wanted, state_dir=args.state_dir, lock_timeout=args.lock_timeout, record=False)
    except (OSError, ValueError, PalisadeError) as error:
        _say(sys.stderr, f"palisade-restore: {error}")
        return 1
    for warning in result.warnings:
        _say(sys.stderr, f"palisade-restore: warning: {warning}")
    changes = sum(len(items) for items in result.changes.values())
    _say(sys.stdout, f"palisade-restore: {'restored' if result.changed else 'already in place'} ({changes} changes)")
    return 0
