# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``palisade_*`` variables the collection reads, and the typo check over them.

Private to the collection: the engine's API may change at any time.

Why: a misspelled ``palisade_label`` would leave a host without labels, so no policy would
select it and it would stay unpoliced, in silence. A ``palisade_*`` variable whose name is
close to a known one is therefore an error with a "did you mean"; other ``palisade_*`` names
(a registered result, say) are left alone.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.labels import LABELS_VAR_PREFIX

INPUT_VARIABLES = (
    "palisade_labels",
    "palisade_host_endpoints",
    "palisade_auto_host_endpoint",
    "palisade_policies",
    "palisade_network_sets",
    "palisade_resources",
    "palisade_failsafe_inbound_host_ports",
    "palisade_failsafe_outbound_host_ports",
    "palisade_default_endpoint_to_host_action",
    "palisade_interface_prefixes",
    "palisade_chain_insert_mode",
    "palisade_log_prefix",
    "palisade_strict_addresses",
    "palisade_ipv6_support",
    "palisade_rollback_timeout",
    "palisade_confirm_probes",
    "palisade_persist",
    "palisade_allow_lockout",
    "palisade_allow_unsafe_apply",
    "palisade_boot_restore",
    "palisade_serial",
    "palisade_install_packages",
    "palisade_target",
    "palisade_state_dir",
    "palisade_lock_timeout",
    "palisade_expected_hosts",
)

# Registered by the role host_firewall: known names (not typos), but never read as inputs.
REGISTERED_VARIABLES = (
    "palisade_management",
    "palisade_compiled",
    "palisade_batch_compiled",
    "palisade_applied",
    "palisade_apply_failure",
    "palisade_missing_tools",
)

KNOWN_VARIABLES = INPUT_VARIABLES + REGISTERED_VARIABLES


def check_variable_names(names: Iterable[str], where: Where) -> None:
    for name in sorted(names):
        if not name.startswith("palisade_") or name in KNOWN_VARIABLES or name.startswith(LABELS_VAR_PREFIX):
            continue
        close = difflib.get_close_matches(name, KNOWN_VARIABLES, n=1, cutoff=0.85)
        if close:
            where.at(name).error(f"unknown variable; did you mean {close[0]!r}?")
