"""Write ansible-test's pip bootstrap script from a pip wheel, so no get-pip download is needed.

ansible-test bootstraps pip in the virtual environments it creates by running
``~/.ansible/test/cache/get_pip_<version>.py``, which it otherwise fetches from a host
that may be unreachable. The script written here carries the pip wheel of that version
(downloaded from the package index with pip) and installs it with the pip inside it,
accepting the arguments ansible-test passes to get-pip.py.

Usage: python seed_get_pip.py
(run with the Python that has the pinned ansible-test installed)
"""

import base64
import os
import subprocess
import sys
import tempfile
import types

from ansible_test._internal.python_requirements import get_venv_packages

TEMPLATE = '''"""pip %(version)s bootstrap for ansible-test, written by tests/sanity/seed_get_pip.py."""
import base64
import os
import shutil
import sys
import tempfile

WHEEL = %(wheel)r


def main():
    """Install pip from the embedded wheel with the given arguments."""
    args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
    tmpdir = tempfile.mkdtemp(prefix='get-pip-')
    wheel = os.path.join(tmpdir, %(name)r)
    with open(wheel, 'wb') as handle:
        handle.write(base64.b64decode(WHEEL))
    sys.path.insert(0, wheel)
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel
    try:
        status = pip_main(['install', '--no-cache-dir'] + args)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    sys.exit(status)


if __name__ == '__main__':
    main()
'''


def pip_versions():
    """Return the pip versions ansible-test bootstraps, for every Python it knows."""
    from ansible_test._internal.constants import SUPPORTED_PYTHON_VERSIONS  # pylint: disable=import-outside-toplevel

    return sorted({get_venv_packages(types.SimpleNamespace(version=version))['pip'] for version in SUPPORTED_PYTHON_VERSIONS})


def seed(version):
    """Write the bootstrap script of one pip version unless it is already there."""
    cache = os.path.expanduser('~/.ansible/test/cache')
    path = os.path.join(cache, 'get_pip_%s.py' % version.replace('.', '_'))
    if os.path.exists(path):
        return path
    with tempfile.TemporaryDirectory(prefix='seed-pip-') as tmpdir:
        subprocess.run(
            [sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:',
             '--dest', tmpdir, 'pip==%s' % version],
            check=True,
        )
        names = [name for name in os.listdir(tmpdir) if name.endswith('.whl')]
        if len(names) != 1:
            raise SystemExit('expected one pip wheel in %s, found %s' % (tmpdir, names))
        with open(os.path.join(tmpdir, names[0]), 'rb') as handle:
            wheel = base64.b64encode(handle.read()).decode('ascii')
        os.makedirs(cache, exist_ok=True)
        with open(path + '.tmp', 'w', encoding='utf-8') as handle:
            handle.write(TEMPLATE % dict(version=version, wheel=wheel, name=names[0]))
        os.replace(path + '.tmp', path)
    return path


def main():
    """Seed every pip version the pinned ansible-test asks for."""
    for version in pip_versions():
        print('pip %s bootstrap: %s' % (version, seed(version)))


if __name__ == '__main__':
    main()
