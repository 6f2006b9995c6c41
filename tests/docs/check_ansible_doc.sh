#!/usr/bin/env bash
# Every plugin of the collection must render with ansible-doc (DOCUMENTATION/EXAMPLES/RETURN).
set -euo pipefail
bin=${1:?usage: check_ansible_doc.sh VENV_BIN}
status=0
export ANSIBLE_NOCOLOR=1  # the role check reads the text; colour codes would hide "ENTRY POINT: main"
check() {
  local type=$1 name=$2 out
  if ! out=$("$bin/ansible-doc" -t "$type" "$name" 2>&1); then
    echo "FAIL ansible-doc -t $type $name"; echo "$out"; status=1; return
  fi
  if grep -q "WARNING\|ERROR" <<<"$out"; then
    echo "FAIL ansible-doc -t $type $name printed a warning"; echo "$out"; status=1; return
  fi
  for section in "EXAMPLES:" "RETURN VALUES:"; do
    grep -q "$section" <<<"$out" || { echo "FAIL $name: no $section section"; status=1; }
  done
  echo "ok   ansible-doc -t $type $name"
}
# Listing must show every plugin file, so a new plugin cannot be forgotten here.
for file in plugins/modules/*.py; do check module "palisade.firewall.$(basename "$file" .py)"; done
for file in plugins/filter/*.yml; do check filter "palisade.firewall.$(basename "$file" .yml)"; done
for dir in roles/*/; do
  role=$(basename "$dir")
  if "$bin/ansible-doc" -t role "palisade.firewall.$role" 2>&1 | grep -q "ENTRY POINT: \*\?main"; then
    echo "ok   ansible-doc -t role palisade.firewall.$role"
  else
    echo "FAIL ansible-doc -t role palisade.firewall.$role"; status=1
  fi
done
listed=$("$bin/ansible-doc" -l palisade.firewall 2>&1)
for file in plugins/modules/*.py; do
  grep -q "palisade.firewall.$(basename "$file" .py)" <<<"$listed" || { echo "FAIL not listed: $file"; status=1; }
done
exit $status
