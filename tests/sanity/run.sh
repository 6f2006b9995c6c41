#!/usr/bin/env bash
# ansible-test sanity, offline apart from the package index.
# usage: tests/sanity/run.sh VENV_BIN [ansible-test sanity options...]
#
# ansible-test finds the collection from os.getcwd(), which resolves the symlink that
# `make setup` creates, so the files git knows of (tracked and untracked, not ignored)
# are copied to a real ansible_collections/palisade/firewall directory under .build/sanity
# and tested there, as a git repository of its own (ansible-test lists the files with git,
# and would otherwise take this checkout, where .build is ignored, for the content root);
# its results stay in .build/sanity/.../tests/output.
set -euo pipefail
bin=$(cd "${1:?usage: run.sh VENV_BIN [options...]}" && pwd)
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=$root/.build/sanity/ansible_collections/palisade/firewall

# pip bootstrap script for the venvs ansible-test creates, built from the pip wheel on the index
"$bin/python" "$root/tests/sanity/seed_get_pip.py"

rm -rf "$root/.build/sanity"
mkdir -p "$dest"
(cd "$root" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' file; do if [ -e "$file" ]; then printf '%s\0' "$file"; fi; done \
  | tar --null -T - -cf -) | tar -C "$dest" -xf -

# ansible-test --venv takes python3.X from PATH; a pyenv shim of a version that is not
# selected fails there, so every supported version found working is linked in one directory
pythons=$root/.build/sanity-python
rm -rf "$pythons"
mkdir -p "$pythons"
versions=$("$bin/python" -c 'from ansible_test._util.target.common import constants as c
print(" ".join(c.REMOTE_ONLY_PYTHON_VERSIONS + c.CONTROLLER_PYTHON_VERSIONS))')
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
missing=()
for version in $versions; do
  found=
  for candidate in $(type -ap "python$version") "$pyenv_root"/versions/*/bin/"python$version"; do
    [ -x "$candidate" ] || continue
    if executable=$("$candidate" -c 'import sys; print(sys.executable)' 2>/dev/null) && [ -n "$executable" ]; then
      ln -s "$executable" "$pythons/python$version"
      found=1
      break
    fi
  done
  [ -n "$found" ] || missing+=("$version")
done
if [ ${#missing[@]} -gt 0 ]; then
  # compile and import would silently skip them
  echo "no working interpreter for Python ${missing[*]}: compile and import must cover every version ansible-test supports" >&2
  exit 1
fi
export PATH=$pythons:$PATH

# the Makefile points these at the symlinked checkout; ansible-test must see only the copy
unset PYTHONPATH ANSIBLE_COLLECTIONS_PATH
cd "$dest"
git init --quiet .
exec "$bin/ansible-test" sanity --venv --color no "$@"
