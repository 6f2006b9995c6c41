# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Byte-compile and import every host-side file on the Python running this script.

    PYTHON check_host_python.py COLLECTION_ROOT ANSIBLE_MODULE_UTILS

Run with the lowest supported host Python (``make host-python``). The files are laid out the
way Ansible ships them to a host: ``ansible/module_utils`` (from the controller's lowest
ansible-core, which is what reaches such a host) beside
``ansible_collections/palisade/firewall/plugins/{module_utils,modules}``, every package with an
``__init__.py``, in a temporary directory first on ``sys.path``. Importing a module runs its top
level only (``main()`` is behind ``__name__ == "__main__"``). This script itself must run on
that Python too, so it uses nothing newer than 3.6.
"""

import importlib
import os
import py_compile
import shutil
import sys
import tempfile

PACKAGE = ("ansible_collections", "palisade", "firewall", "plugins")


def lay_out(collection, module_utils, into):
    """The shipped tree under ``into``; returns the dotted names of the host-side modules."""
    os.makedirs(os.path.join(into, "ansible"))
    open(os.path.join(into, "ansible", "__init__.py"), "w").close()
    shutil.copytree(module_utils, os.path.join(into, "ansible", "module_utils"), ignore=shutil.ignore_patterns("__pycache__"))
    for depth in range(1, len(PACKAGE) + 1):
        directory = os.path.join(into, *PACKAGE[:depth])
        os.makedirs(directory, exist_ok=True)
        open(os.path.join(directory, "__init__.py"), "a").close()
    names = []
    for part in ("module_utils", "modules"):
        source = os.path.join(collection, "plugins", part)
        target = os.path.join(into, *PACKAGE + (part,))
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        open(os.path.join(target, "__init__.py"), "a").close()
        for directory, _subdirs, files in sorted(os.walk(target)):
            open(os.path.join(directory, "__init__.py"), "a").close()
            for name in sorted(files):
                if name.endswith(".py"):
                    relative = os.path.relpath(os.path.join(directory, name), into)[: -len(".py")]
                    names.append((os.path.join(directory, name), relative.replace(os.sep, ".")))
    return names


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    collection, module_utils = argv[1], argv[2]
    version = "Python {0}.{1}.{2}".format(*sys.version_info[:3])
    sys.dont_write_bytecode = True
    work = tempfile.mkdtemp(prefix="palisade-host-python-")
    failures = []
    try:
        files = lay_out(collection, module_utils, work)
        sys.path.insert(0, work)
        for path, name in files:
            try:
                py_compile.compile(path, cfile=path + "c", doraise=True)
            except py_compile.PyCompileError as error:
                failures.append("{0}: does not compile: {1}".format(name, error.msg.strip()))
                continue
            module = name[: -len(".__init__")] if name.endswith(".__init__") else name
            try:
                importlib.import_module(module)
            except Exception as error:  # anything the import raises is a failure to report
                failures.append("{0}: does not import: {1}: {2}".format(module, type(error).__name__, error))
                continue
            print("ok   {0} {1}".format(version, module))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print("FAIL {0} {1}".format(version, failure))
    print("{0} passed, {1} failed".format(len(files) - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
