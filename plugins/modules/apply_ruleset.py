#!/usr/bin/python
# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module ``palisade.firewall.apply_ruleset``: apply a host's owned ruleset atomically and idempotently.

Private to the collection beyond its documented options: the work is done by
``plugins/module_utils/_palisade`` (standard library only); this file translates arguments,
results and errors.
"""

DOCUMENTATION = r"""
---
module: apply_ruleset
short_description: Apply a host's owned iptables, ip6tables and ipset ruleset atomically, with rollback
version_added: 0.1.0
description:
  - Makes the chains and ipsets that palisade.firewall owns on the host (every chain, in every
    table of both families, and every ipset whose name starts with O(prefix)), and the hook
    rules that jump to them from built-in chains, exactly what the inputs describe.
  - Compares by content with what the host runs now (C(iptables-save), C(ip6tables-save),
    C(ipset save)). When nothing differs, nothing runs but those reads and the task reports no
    change.
  - Otherwise new and changed ipsets are loaded into temporary sets and swapped in; each family
    gets one C(iptables-restore --noflush) transaction (tested with C(--test) first) that
    rewrites the owned chains, puts the hooks exactly where wanted, and flushes, unhooks and
    deletes owned chains no longer wanted; then ipsets no longer wanted are destroyed.
  - Rules, chains and policies of other tools (Docker, kube-proxy, fail2ban, nat rules) are
    never touched. A rule of another tool that jumps into an owned chain being deleted is
    removed with it, because the kernel refuses to delete a chain still in use.
  - A failed restore leaves its family as it was; if something had already changed, the owned
    state from before the run is applied back and the error says so.
  - Runs under an exclusive lock (O(state_dir)/lock), so two runs never interleave.
  - B(Rollback.) When something changes, the host snapshots the owned state (an empty one when
    nothing is owned yet), starts a watchdog process outside the SSH session, and applies. The
    controller then drops its connection and confirms over a NEW one within O(rollback_timeout)
    seconds, after the host ran O(confirm_probes). Without that confirmation, or when a probe
    fails, the host puts the snapshot back by itself (owned state only - other tools' rules,
    including changes they made meanwhile, stay) and the task fails saying so; once the host
    answers again the controller checks that its owned state equals the snapshot. The lock is
    held until the watchdog has finished, so a second run waits for the whole window.
  - B(Persistence.) Only after the confirmation, the applied inputs are recorded in
    O(state_dir)/applied/ and (O(persist)) a boot-time restore of just the owned state is
    installed, see O(boot_restore).
  - B(One round trip for an unchanged host.) The first call checks that the firewall tools are
    installed, reads the management connection as the host sees it (C(SSH_CONNECTION), also
    under become), plans, and - when the lockout guard already cleared that connection - arms
    and applies. A host whose owned state equals the wanted one is done after it.
  - B(Refusals, before the host is touched.) A ruleset that the lockout guard says would block
    a new connection from the controller, unless O(allow_lockout). With O(compiled) the action
    checks the connection the host reports (the one guessed from the inventory first, and the
    reported one when the host sees another, after NAT or a jump host); with the texts, O(lockout)
    from M(palisade.firewall.compile) with O(palisade.firewall.compile#module:lockout_check=true).
    A missing firewall tool (nothing is changed; see the role's C(palisade_install_packages)). A connection
    that cannot confirm over a new connection (C(local), persistent channels), unless
    O(allow_unsafe_apply), which applies and persists without rollback.
  - Needs only Python 3.6 and the iptables (nf_tables or legacy) and ipset tools on the host.
options:
  compiled:
    description:
      - The C(kept) reference that M(palisade.firewall.compile) returns with
        O(palisade.firewall.compile#module:keep_for_apply=true), as the role passes it. This
        host's compiled ruleset is read from the controller (no rule text passes through task
        variables) and the lockout guard runs on it with the connection the host reports.
      - Either this or all of O(ipv4_rules), O(ipv6_rules), O(ipsets) and O(hooks).
    type: dict
  ipv4_rules:
    description:
      - C(iptables-restore --noflush) text of the owned IPv4 chains, as the role renders it
        without hooks - C(*table), C(:pal-chain - [0:0]), C(-A pal-chain ...), C(COMMIT) and
        C(#) comments.
      - Declaring a chain that does not start with O(prefix), or a rule in a built-in chain, is
        an error. An empty string means no owned IPv4 chains.
      - Required without O(compiled).
    type: str
  ipv6_rules:
    description: The same for IPv6 (C(ip6tables-restore --noflush)). Required without O(compiled).
    type: str
  ipsets:
    description:
      - C(ipset restore) text of the owned ipsets of both families - C(create NAME TYPE [options])
        and C(add NAME MEMBER) lines, and C(#) comments. An empty string means no owned ipsets.
      - Sets compare by type, family, options (not C(hashsize), which the kernel grows) and the
        set of members (order-insensitive).
      - Required without O(compiled).
    type: str
  hooks:
    description:
      - The rules in built-in chains that send packets to owned chains, each a plain
        C(-j target) rule. Each wanted hook is kept exactly once; any other rule in a
        built-in chain jumping to an owned chain is removed.
      - Hooks of one built-in chain with O(hooks[].position=insert) sit first, in list order;
        those with O(hooks[].position=append) sit last, in list order.
      - Required without O(compiled).
    type: list
    elements: dict
    suboptions:
      family:
        description: IP family.
        type: int
        required: true
        choices: [4, 6]
      table:
        description: Table of the built-in chain and of the target.
        type: str
        required: true
        choices: [raw, mangle, nat, filter, security]
      chain:
        description: The built-in chain, for example C(INPUT).
        type: str
        required: true
      target:
        description: The owned chain to jump to; it must be declared in that table of O(ipv4_rules) or O(ipv6_rules).
        type: str
        required: true
      position:
        description: C(insert) puts the hook above every rule of other tools, C(append) below them.
        type: str
        default: insert
        choices: [insert, append]
  prefix:
    description: Chains and ipsets whose names start with this are owned by the collection.
    type: str
    default: pal-
  state_dir:
    description:
      - Directory of the lock file, the rollback runs (C(runs/)), the record of the last applied
        inputs (C(applied/)) and the boot restore (C(boot/)), which root runs at boot.
      - Checked on the host before anything is written, and refused naming the component and why
        unless it is an absolute, normalised path of the characters C(A-Z a-z 0-9 / . _ -) only,
        whose every existing component is a real directory (no symbolic link), owned by root and
        not writable by group or others (a root-owned sticky directory such as C(/tmp) is accepted
        as an ancestor, never as the state directory itself). Missing components are created
        with mode 0700. Files in it are never written through a symbolic link.
    type: path
    default: /var/lib/palisade
  lock_timeout:
    description:
      - Seconds to wait for another run holding the lock (including its rollback window); then
        the task fails naming the lock file and the holder's PID. Also passed to
        C(iptables-restore -w) for the xtables lock.
    type: int
    default: 60
  rollback_timeout:
    description:
      - Seconds, from the end of the apply on the host, within which the controller must confirm
        over a new connection and the probes must pass. At least 5. IPv4 and IPv6 share this window.
    type: int
    default: 30
  confirm_probes:
    description:
      - Checks the host runs before confirming, each C({protocol, address, port, timeout, name,
        payload}), C(protocol) one of C(tcp) (handshake completes), C(udp) (a reply arrives),
        C(icmp) (one C(ping) answered); C(host) is another name for C(address). Validated on
        the controller before anything runs.
      - The first failing one rolls back at once; the failure names it.
    type: list
    elements: raw
    default: []
  persist:
    description:
      - After confirmation, install the boot-time restore of the owned state. C(false) removes a
        previously installed systemd unit. The applied inputs are recorded either way.
    type: bool
    default: true
  boot_restore:
    description:
      - C(auto) installs the systemd unit C(palisade-firewall.service) (ordered before
        C(network-pre.target)) where systemd runs, and otherwise only the command
        O(state_dir)/boot/palisade-restore, for the init system to call before the network.
      - C(systemd) installs the unit even where systemd is not running (for images).
      - C(none) installs only the command.
    type: str
    default: auto
    choices: [auto, systemd, none]
  lockout:
    description:
      - The lockout check of this host, as M(palisade.firewall.compile) returns it in
        C(hosts[HOST].lockout). When its C(blocked) is true the task fails with its C(message)
        before contacting the host, unless O(allow_lockout).
    type: dict
  allow_lockout:
    description: Apply even though O(lockout) says the new rules block the management connection (the rollback then undoes them).
    type: bool
    default: false
  allow_unsafe_apply:
    description: Over a connection that cannot confirm over a new connection, apply and persist without rollback instead of refusing.
    type: bool
    default: false
  _palisade_phase:
    description:
      - Internal, set by the controller side (the action plugin of the same name), not by users.
      - The step of the rollback protocol this run performs on the host.
    type: str
    default: apply
    choices: [apply, plan, arm, confirm, status]
  _palisade_run_id:
    description:
      - Internal, set by the controller side (the action plugin of the same name), not by users.
      - The run that the arm, confirm or status step belongs to.
    type: str
  _palisade_verbose:
    description:
      - Internal, set by the controller side (the action plugin of the same name), not by users.
      - True at verbosity 3 or more (C(-vvv)); the result then carries RV(transactions) and the
        full rule and ipset texts in C(invocation).
    type: bool
    default: false
  _palisade_expect:
    description:
      - Internal, set by the controller side (the action plugin of the same name), not by users.
      - The management connection (C(client), C(server), C(port)) the lockout guard cleared. In
        the C(arm) step the host plans only, and reports the connection it sees, when it sees
        another one.
    type: dict
  _palisade_flow_record:
    description:
      - Internal, set by the controller side (the action plugin of the same name), not by users.
      - The compiled rulesets as JSON. Recorded as C(applied/flows.json) in O(state_dir) with the
        applied rules, only after the confirmation; an apply without it removes an older one.
    type: str
  _palisade_flows:
    description:
      - Internal, set by the controller side (the action plugin of the same name), not by users.
      - In the C(plan) step, return the recorded flow record (RV(flow_record)), for check mode's flow changes.
    type: bool
    default: false
author:
  - palisade.firewall maintainers (@palisade-firewall)
attributes:
  action:
    support: full
    description: The controller side (an action plugin of the same name) runs the rollback protocol.
  check_mode:
    support: full
    description: Reads the live state and returns the plan and the diff; runs nothing else, arms nothing and writes no file.
  diff_mode:
    support: full
    description: A readable text of the owned state per family, table and chain (rules in order) and ipsets (members sorted).
  platform:
    platforms: linux
    support: full
extends_documentation_fragment:
  - palisade.firewall.attributes
notes:
  - The role C(palisade.firewall.host_firewall) renders the inputs; run this module through it
    rather than by hand.
  - Confirming needs the C(ssh) or C(paramiko_ssh) connection; the window must cover a new SSH
    connection plus become, with room to spare.
  - Hook rules with extra matches, or C(-g) to an owned chain, are not hooks this module writes;
    an apply removes them.
requirements:
  - iptables and ip6tables (C(iptables-save), C(iptables-restore), C(ip6tables-save), C(ip6tables-restore))
  - ipset (when there are ipsets)
"""

EXAMPLES = r"""
- name: Apply the rendered ruleset of this host
  palisade.firewall.apply_ruleset:
    ipv4_rules: "{{ lookup('file', 'out/' ~ inventory_hostname ~ '/ipv4.rules') }}"
    ipv6_rules: "{{ lookup('file', 'out/' ~ inventory_hostname ~ '/ipv6.rules') }}"
    ipsets: "{{ lookup('file', 'out/' ~ inventory_hostname ~ '/ipsets.restore') }}"
    hooks:
      - {family: 4, table: filter, chain: INPUT, target: pal-INPUT, position: insert}
      - {family: 4, table: filter, chain: OUTPUT, target: pal-OUTPUT, position: insert}
      - {family: 6, table: filter, chain: INPUT, target: pal-INPUT, position: insert}
      - {family: 6, table: filter, chain: OUTPUT, target: pal-OUTPUT, position: insert}
  register: applied

- name: Remove everything the collection owns on this host
  palisade.firewall.apply_ruleset:
    ipv4_rules: ""
    ipv6_rules: ""
    ipsets: ""
    hooks: []
"""

RETURN = r"""
changed:
  description: Whether the owned state differed (in check mode - would differ).
  returned: always
  type: bool
connection:
  description:
    - The management connection as the host sees it - C(client), C(client_port), C(server),
      C(server_port), C(interface) (null when unknown), C(source) - or null without C(SSH_CONNECTION).
  returned: when the host was asked to plan or arm
  type: dict
  sample: {client: 198.51.100.1, client_port: 51258, server: 198.51.100.11, server_port: 22, interface: eth0, source: SSH_CONNECTION}
missing_tools:
  description: The firewall tools the host lacks (the task then fails and nothing is changed).
  returned: when the host was asked to plan or arm
  type: list
  elements: str
  sample: []
lockout:
  description:
    - With O(compiled), the lockout guard's answer for the connection it cleared or refused, as
      M(palisade.firewall.compile) documents it in C(hosts.lockout).
  returned: with O(compiled), when the guard ran
  type: dict
policies:
  description: With O(compiled), per endpoint name the policies selecting it under C(ingress) and C(egress).
  returned: with O(compiled)
  type: dict
restored:
  description: Whether an C(iptables-restore) or C(ip6tables-restore) transaction ran.
  returned: always
  type: bool
changes:
  description:
    - What differs, as family-qualified names - C(ipv4 filter pal-INPUT) for chains,
      C(ipv4 filter INPUT -j pal-INPUT) for hooks, C(ipv4 pal-s4-...) for ipsets.
    - C(hooks_moved) lists hooks that exist but not where they belong; C(hooks_removed) also lists
      duplicate copies; C(references_removed) lists rules of other tools that jumped into a deleted owned chain.
  returned: always
  type: dict
  contains:
    chains_added: {description: Owned chains created., type: list, elements: str, returned: always}
    chains_changed: {description: Owned chains whose rules change., type: list, elements: str, returned: always}
    chains_removed: {description: Owned chains deleted., type: list, elements: str, returned: always}
    hooks_added: {description: Hooks created., type: list, elements: str, returned: always}
    hooks_moved: {description: Hooks put back at the top (insert) or bottom (append)., type: list, elements: str, returned: always}
    hooks_removed: {description: Hook rules and duplicates removed., type: list, elements: str, returned: always}
    references_removed: {description: Other tools' rules jumping into a deleted owned chain., type: list, elements: str, returned: always}
    sets_added: {description: ipsets created., type: list, elements: str, returned: always}
    sets_changed: {description: ipsets whose members or options change., type: list, elements: str, returned: always}
    sets_removed: {description: ipsets destroyed., type: list, elements: str, returned: always}
  sample:
    chains_added: []
    chains_changed: [ipv4 filter pal-pi-web]
    chains_removed: [ipv4 filter pal-pi-old]
    hooks_added: []
    hooks_moved: []
    hooks_removed: []
    references_removed: []
    sets_added: [ipv4 pal-s4-350250576f627f61]
    sets_changed: []
    sets_removed: []
transaction_lines:
  description:
    - The number of lines of each text given (in check mode - that would be given) to the tools,
      by the names of RV(transactions). Empty when nothing differs.
  returned: always
  type: dict
  sample: {ipv4: 42, ipset_load: 1000002, ipset_swap: 2}
transactions:
  description:
    - The texts given (in check mode - that would be given) to the tools - C(ipv4)/C(ipv6) restore
      transactions, C(ipset_load), C(ipset_swap), C(ipset_destroy). Empty when nothing differs.
    - Only at verbosity 3 or more (C(-vvv)); they grow with the ruleset (tens of megabytes for a
      set of a million members). The applied inputs are recorded on the host in
      O(state_dir)/applied/ once confirmed (RV(record), RV(persisted)).
  returned: at verbosity 3 or more
  type: dict
commands:
  description: The commands that changed the host (in check mode - that would run), in order; a rollback's are not listed.
  returned: always
  type: list
  elements: str
  sample: [ipset restore, ipset restore, iptables-restore --test --noflush -w 60, iptables-restore --noflush -w 60]
record:
  description: Directory holding the last applied inputs, when they were recorded by this step (empty in check mode and while awaiting confirmation).
  returned: always
  type: str
  sample: /var/lib/palisade/applied
armed:
  description: Whether the rules changed under an armed rollback watchdog (then see RV(rollback)).
  returned: when not in check mode
  type: bool
run_id:
  description: The identifier of the run on the host (its directory O(state_dir)/runs/RUN_ID/).
  returned: when the rules changed under an armed rollback watchdog
  type: str
  sample: 20261202215601-3f9c2a7b1d0e
window_left:
  description: Seconds of the rollback window left when the apply on the host finished.
  returned: when the rules changed under an armed rollback watchdog
  type: float
  sample: 30.0
rollback:
  description:
    - What the rollback watchdog did - C(outcome) (C(confirmed), C(rolled_back), C(error) or
      C(not armed ...)), C(reason), C(verified) (the owned state equals the snapshot after the
      rollback), C(verified_now) (checked again after reconnecting), C(probes) (name, ok, detail,
      seconds), C(timings) (seconds to C(apply) and to C(confirm), connection C(attempts)), C(window).
  returned: when not in check mode
  type: dict
  sample:
    outcome: confirmed
    probes: [{name: api, ok: true, detail: connected in 0.001 s, seconds: 0.001}]
    timings: {apply: 0.41, confirm: 0.93, attempts: 1}
    window: 30
rolled_back:
  description: True when the new rules were rolled back (the task then fails).
  returned: when rolled back
  type: bool
persisted:
  description: What persisting did after the confirmation - C(record), C(method) (C(systemd) or C(none)), C(command) (the boot restore), C(unit), C(changed).
  returned: when the rules were confirmed or nothing changed
  type: dict
  sample: {enabled: true, record: /var/lib/palisade/applied, method: systemd, command: /var/lib/palisade/boot/palisade-restore,
           unit: /etc/systemd/system/palisade-firewall.service, changed: true}
flow_changes:
  description:
    - Check mode, with O(compiled) - every flow class whose verdict the change flips, compared with
      the host's flow record (see C(docs/check-mode.md)) - C(family), C(direction) (C(ingress),
      C(egress) or C(forward)), C(interface) (for C(forward) the one it arrives on, and
      C(out_interface) the one it leaves by), C(local) (the host's address; for C(forward) the
      destination's), C(peer) (who is on the other end, or the source of a forwarded flow -
      C(host NAME), C(network set NAME (NET)), a network, or C(anything else)), C(target) (the
      destination of a forwarded flow), C(peer_address) (the address simulated), C(service) (C(TCP 6000-6010), C(ICMP type 8), C(other protocols))
      with C(protocol), C(ports), C(icmp_type), C(icmp_code), C(before) and C(after) (C(allow),
      C(deny) or C(untouched)), C(before_rule) and C(after_rule) (what decides), and C(line).
  returned: in check mode with O(compiled)
  type: list
  elements: dict
flow_summary:
  description: One line - C(8 flows change - 6 allow -> deny, 2 deny -> allow), C(no flow changes), or why they are unknown.
  returned: in check mode with O(compiled)
  type: str
  sample: "2 flows change: 2 allow -> deny"
drift:
  description:
    - How the host's live owned state differs from its record of the last confirmed apply, read
      before anything changes - a C(pal-) chain, hook or ipset someone edited by hand. In check mode
      it is what the next run repairs; after a real run, what this run repaired.
  returned: when the host's rules were read (not in the confirm step)
  type: dict
  contains:
    record:
      description: C(none) (nothing was ever applied), C(unreadable) (the record is incomplete or does not parse), or C(checked).
      type: str
      returned: always
    found:
      description: Whether anything differs.
      type: bool
      returned: always
    differences:
      description: One line per chain, hook, rule or ipset that differs, e.g. C(chain IPv4 filter pal-fi-eth0 - its rules differ from the record).
      type: list
      elements: str
      returned: always
  sample: {"record": "checked", "found": true, "differences": ["chain IPv4 filter pal-fi-eth0: its rules differ from the record"]}
drift_summary:
  description: One line when RV(drift) found something - what the next run repairs (check mode), what this run repaired, or that it was left.
  returned: when the host's live owned state differs from its record
  type: str
  sample: "drift repaired: 1 difference(s) from the last applied record: chain IPv4 filter pal-fi-eth0: its rules differ from the record"
flow_record_state:
  description:
    - Check mode with O(_palisade_flows) only. What the host recorded of its last confirmed apply
      - C(none) (nothing was ever applied), C(missing) (applied without a flow record), C(found).
  returned: when O(_palisade_flows) is true
  type: str
flow_record:
  description: The recorded compiled rulesets (JSON), when RV(flow_record_state) is C(found).
  returned: when O(_palisade_flows) is true
  type: str
recorded_sets:
  description: The members of the recorded ipsets that differ from the wanted ones, by set name.
  returned: when O(_palisade_flows) is true
  type: dict
diff:
  description:
    - The owned state before and after, as readable text (with C(--diff)).
    - An ipset with more than 1,000 members on either side lists only the members that differ
      (at most 1,000 per side), then one line C(# ... and N more members of NAME (...)).
  returned: when diff mode is on
  type: dict
  contains:
    before: {description: The owned state the host runs., type: str, returned: always}
    after: {description: The wanted owned state., type: str, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.apply import apply
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.arguments import ARGUMENT_SPEC, TEXT_INPUTS
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.commands import Runner
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.connection import (
    management_connection,
    matches,
    missing_tools,
    parse_route_interface,
    session_ssh_connection,
)
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import CommandError, InputError, PalisadeError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade import flow_record
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.probes import parse_probes
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.rollback import apply_without_rollback, arm, confirm, status
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted


TEXT_ARGUMENTS = ("ipv4_rules", "ipv6_rules", "ipsets", "_palisade_flow_record")


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    invocation = {"module_args": invocation_arguments(module.params)}
    try:
        output, result = run(module.params, module.check_mode)
    except CommandError as error:
        module.fail_json(
            msg=str(error), changed=error.changed, command=" ".join(error.command), rc=error.rc, stderr=error.stderr, invocation=invocation
        )
    except PalisadeError as error:
        details = {}
        cause = getattr(error, "cause", None)
        if isinstance(cause, CommandError):
            details = {"command": " ".join(cause.command), "rc": cause.rc, "stderr": cause.stderr}
        module.fail_json(msg=str(error), changed=error.changed, invocation=invocation, **details)
    if result is not None:
        for warning in result.warnings:
            module.warn(warning)
        if module._diff:
            output["diff"] = {"before": result.before, "after": result.after}
    if output.get("connection_error"):
        module.warn(output["connection_error"])
    module.exit_json(invocation=invocation, **output)


def invocation_arguments(params):
    """The arguments as results show them: the rule and ipset texts only with ``_palisade_verbose``, else their size."""
    if params["_palisade_verbose"]:
        return params
    shown = dict(params)
    for name in TEXT_ARGUMENTS:
        text = params[name] or ""
        if text:
            shown[name] = f"({text.count(chr(10)) + (0 if text.endswith(chr(10)) else 1)} lines, {len(text.encode('utf-8'))} bytes: shown at verbosity 3)"
    return shown


def run(params, check_mode):
    """One phase of the apply: ``(output, apply Result or None)``."""
    phase = params["_palisade_phase"]
    state_dir = params["state_dir"]
    if phase == "confirm":
        probes = parse_probes(params["confirm_probes"])
        return {"changed": True, "outcome": confirm(state_dir, params["_palisade_run_id"], probes)}, None
    if phase == "status":
        return {"changed": True, "outcome": status(state_dir, params["_palisade_run_id"])}, None
    absent = sorted(name for name in TEXT_INPUTS if params[name] is None)
    if absent:
        raise InputError(["missing required arguments: " + ", ".join(absent)])
    wanted = parse_wanted(params["ipv4_rules"], params["ipv6_rules"], params["ipsets"], params["hooks"], params["prefix"])
    persist = {"enabled": params["persist"], "method": params["boot_restore"], "flow_record": params["_palisade_flow_record"]}
    facts = host_facts() if phase in ("plan", "arm") else {}
    if facts.get("missing_tools"):
        return dict(changed=False, armed=False, **facts), None
    unexpected = phase == "arm" and _unexpected(facts["connection"], params["_palisade_expect"])
    if check_mode or phase == "plan" or unexpected:
        result = apply(wanted, state_dir=state_dir, lock_timeout=params["lock_timeout"], check_mode=True)
        facts.update(armed=False, unexpected_connection=unexpected)
        if params["_palisade_flows"]:
            facts.update(flow_record.read(state_dir, params["ipsets"]))
    elif phase == "arm":
        result = arm(wanted, params["_palisade_run_id"], params["rollback_timeout"], state_dir, params["lock_timeout"], persist)
    else:
        result = apply_without_rollback(wanted, state_dir, params["lock_timeout"], persist)
    return dict(result.as_dict(verbose=params["_palisade_verbose"]), **facts), result


def _unexpected(connection, expected):
    """Whether the host sees another connection than the one the lockout guard cleared.

    Without ``SSH_CONNECTION`` the guard can only use the inventory's guess, which it checked.
    """
    return expected is not None and connection is not None and not matches(connection, expected)


def host_facts(runner=None):
    """What the controller asks before an apply: missing firewall tools, and the management connection."""
    runner = runner or Runner()
    facts = {"missing_tools": missing_tools(runner.which), "connection": None}
    try:
        facts["connection"] = management_connection(lambda client: _route_interface(runner, client), session_ssh_connection())
    except ValueError as error:
        facts["connection_error"] = str(error)
    return facts


def _route_interface(runner, client):
    call = runner.run(("ip", "-o", "route", "get", client), check=False)
    return parse_route_interface(call.stdout) if call.rc == 0 else None


if __name__ == "__main__":
    main()
