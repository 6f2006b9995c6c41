#!/usr/bin/env bash
# The collection as an Ansible user gets it: the tarball that `ansible-galaxy collection build`
# makes, installed into an empty collections path, used from there and only from there.
#   bash tests/package/check.sh VENV_BIN
# Contacts nothing on the network: the install is --offline and ansible-builder only writes a
# build context.
set -euo pipefail
bin=$(cd "${1:?usage: check.sh VENV_BIN}" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$repo/tests/package
work=$(mktemp -d "${TMPDIR:-/tmp}/palisade-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0
failed() { echo "FAIL $*"; status=1; }

# Nothing of the checkout: the Makefile exports PYTHONPATH and ANSIBLE_COLLECTIONS_PATH at the
# checkout's link; the installed copy must be the only palisade.firewall Ansible can find.
unset PYTHONPATH ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATHS
export PATH=$bin:$PATH
export ANSIBLE_HOME=$work/ansible-home
export ANSIBLE_COLLECTIONS_PATH=$work/collections
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
installed=$ANSIBLE_COLLECTIONS_PATH/ansible_collections/palisade/firewall

# 1. build and install
mkdir -p "$work/dist" "$work/collections" "$work/cwd"
(cd "$repo" && ansible-galaxy collection build --output-path "$work/dist" .) >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; failed "ansible-galaxy collection build"; exit 1; }
shopt -s nullglob
tarballs=("$work"/dist/*.tar.gz)
[[ ${#tarballs[@]} -eq 1 ]] || { failed "expected one tarball, got: ${tarballs[*]}"; exit 1; }
tarball=${tarballs[0]}
echo "ok   built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"
ansible-galaxy collection install --offline -p "$work/collections" "$tarball" >"$work/install.log" 2>&1 \
  || { cat "$work/install.log"; failed "ansible-galaxy collection install"; exit 1; }
[[ -f $installed/MANIFEST.json ]] || { failed "not installed at $installed"; exit 1; }
echo "ok   installed into an empty collections path"
# From here on, run where no ansible.cfg or collection of the checkout is near.
cd "$work/cwd"

# 2. what ships and what does not; Markdown links; licence and metadata
"$bin/python" "$here/check_tarball.py" "$tarball" "$repo" || status=1

# 3. Ansible finds the installed copy, not the checkout
# only the "# <collections path>" headings count: warnings on stderr may name the venv, which
# lives in the checkout
listed=$(ansible-galaxy collection list palisade.firewall 2>&1) || true
paths=$(grep '^# /' <<<"$listed" || true)
if grep -q "$work/collections/ansible_collections" <<<"$paths" && ! grep -q "$repo" <<<"$paths"; then
  echo "ok   ansible-galaxy collection list: only the installed copy"
else
  failed "ansible-galaxy collection list does not show the installed copy alone"; echo "$listed"
fi
out=$(ansible-doc -t module palisade.firewall.compile 2>&1) || true
grep -q "$installed/plugins/modules/compile.py" <<<"$out" \
  || { failed "ansible-doc reads palisade.firewall.compile from elsewhere"; head -3 <<<"$out"; }

# 4. every module, filter and role renders from the installed copy (the same checks as `make docs`)
(cd "$installed" && bash "$repo/tests/docs/check_ansible_doc.sh" "$bin") || failed "ansible-doc of the installed copy"

# 5. the playbooks load by their FQCN; resolve and explain run on the shipped example (no host contacted)
for playbook in site resolve explain reachability; do
  if out=$(ansible-playbook -i "$installed/examples/inventory" --syntax-check "palisade.firewall.$playbook" 2>&1); then
    echo "ok   ansible-playbook --syntax-check palisade.firewall.$playbook"
  else
    failed "ansible-playbook --syntax-check palisade.firewall.$playbook"; echo "$out"
  fi
done
if out=$(cd "$installed/examples" && ansible-playbook --syntax-check site.yml 2>&1); then
  echo "ok   examples/site.yml of the installed copy: syntax"
else
  failed "examples/site.yml of the installed copy: syntax"; echo "$out"
fi
if out=$(ansible-playbook -i "$installed/examples/inventory" palisade.firewall.resolve 2>&1) \
    && grep -q "failed=0" <<<"$out" && ! grep -q "unreachable=[1-9]" <<<"$out"; then
  echo "ok   palisade.firewall.resolve runs from the installed copy"
else
  failed "palisade.firewall.resolve from the installed copy"; echo "$out"
fi
if out=$(ansible-playbook -i "$installed/examples/inventory" palisade.firewall.explain \
      -e host=my-host -e in_interface=eth0 -e src=198.51.100.7 -e dst=my-host -e protocol=TCP -e dst_port=22 2>&1) \
    && grep -q "verdict: allow" <<<"$out"; then
  echo "ok   palisade.firewall.explain runs from the installed copy"
else
  failed "palisade.firewall.explain from the installed copy"; echo "$out"
fi

# 6. changelog fragments and changelog.yaml
if out=$(cd "$repo" && antsibull-changelog lint 2>&1) && [[ -z $out ]]; then
  echo "ok   antsibull-changelog lint"
else
  failed "antsibull-changelog lint"; echo "$out"
fi

# 7. plugin and role docs as the Ansible docsite builds them, from the installed copy
if out=$(antsibull-docs lint-collection-docs --plugin-docs "$installed" 2>&1); then
  echo "ok   antsibull-docs lint-collection-docs --plugin-docs"
else
  failed "antsibull-docs lint-collection-docs --plugin-docs"; echo "$out"
fi

# 8. an execution environment built from the tarball: ansible-builder writes the build context,
# and the context's own galaxy step and introspection, replayed here, find the collection's
# Python requirements (meta/execution-environment.yml)
ee=$work/ee
mkdir -p "$ee"
cp "$tarball" "$ee/"
name=$(basename "$tarball")
core=$("$bin/python" -c 'import ansible; from ansible.release import __version__; print(__version__)')
cat >"$ee/execution-environment.yml" <<EOF
---
version: 3
images:
  base_image:
    name: quay.io/fedora/fedora:latest
dependencies:
  ansible_core:
    package_pip: ansible-core==$core
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: collections/$name
        type: file
additional_build_files:
  - src: $name
    dest: collections
EOF
if out=$(cd "$ee" && ansible-builder create -f execution-environment.yml -c context --output-filename Containerfile 2>&1); then
  context=$ee/context
  if [[ -f $context/_build/collections/$name && -f $context/Containerfile ]] \
      && grep -q "ansible-galaxy collection install .*-r requirements.yml" "$context/Containerfile"; then
    echo "ok   ansible-builder create: $(tail -1 <<<"$out")"
  else
    failed "ansible-builder create: no tarball or galaxy step in the context"; echo "$out"
  fi
  if (cd "$context/_build" && ANSIBLE_COLLECTIONS_PATH=$ee/collections \
        ansible-galaxy collection install --offline -r requirements.yml -p "$ee/collections") >"$ee/install.log" 2>&1 \
      && reqs=$("$bin/python" "$context/_build/scripts/introspect.py" introspect "$ee/collections" 2>&1) \
      && grep -q "from collection palisade.firewall" <<<"$reqs"; then
    echo "ok   the EE's introspection finds palisade.firewall's requirements: $(grep 'palisade.firewall' <<<"$reqs" | tr -d "'-" | xargs)"
  else
    failed "the EE's galaxy step or introspection"; cat "$ee/install.log"; echo "${reqs:-}"
  fi
else
  failed "ansible-builder create"; echo "$out"
fi

[[ $status -eq 0 ]] && echo "ok   the package" || echo "FAIL the package"
exit $status
