#!/usr/bin/env bash
# The system tools `make demo` and `make test` need, installed with apt when missing.
#
# Run by `make setup` (so by `make demo` and `make test`): a fresh Debian machine needs nothing
# but this checkout. As root it installs what is missing; as another user it names the packages
# and stops, so a missing tool is never reported later as a firewall or traffic failure.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

need=()
want() {  # want PACKAGE CHECK...: PACKAGE is needed unless every CHECK succeeds
  local package=$1; shift
  local check
  for check in "$@"; do
    if ! eval "$check" >/dev/null 2>&1; then need+=("$package"); return; fi
  done
}
# the controller's virtual environment (.venv)
want python3-venv 'python3 -c "import venv, ensurepip"'
# golden rulesets and the apply module against the real tools (tests/kernel)
want iptables 'command -v iptables-restore' 'command -v ip6tables-restore' 'command -v iptables-save'
want ipset 'command -v ipset'
# lab hosts: network namespaces, each with its own sshd, reached over real SSH (lab/)
want iproute2 'command -v ip'
want openssh-server 'command -v sshd'
want openssh-client 'command -v ssh' 'command -v ssh-keyscan' 'command -v ssh-keygen'
# traffic in the lab: TCP/UDP listeners and clients, ICMP echo (lab/traffic.py, confirm probes)
want socat 'command -v socat'
want iputils-ping 'command -v ping'
# an empty conntrack table before each fleet's probes (tests/differential)
want conntrack 'command -v conntrack'
# the reachability page opened in a headless browser: its script, its cells, a screenshot (make browser)
want chromium 'command -v chromium'
# ansible-test sanity's shellcheck test (make sanity; skipped without it)
want shellcheck 'command -v shellcheck'

if ((${#need[@]} == 0)); then
  exit 0
fi
if ((EUID != 0)); then
  echo "Missing system packages: ${need[*]}" >&2
  echo "Install them as root (apt-get install ${need[*]}) or run this as root." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "Missing system packages: ${need[*]}; this machine has no apt-get: install them by hand." >&2
  exit 1
fi
echo "Installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
