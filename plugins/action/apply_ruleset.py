# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``palisade.firewall.apply_ruleset``: the rollback protocol's conductor.

Why an action plugin: only the controller can tell whether it can still reach the host over a
NEW connection once the rules changed. In order:

1. validate the arguments and the confirm probes; with ``compiled``, read this host's compiled
   ruleset kept by ``palisade.firewall.compile`` and run the lockout guard on the connection
   guessed from the inventory; with texts, refuse a ruleset whose ``lockout`` says it would cut
   the management connection (unless ``allow_lockout``) - no host contacted yet;
2. refuse connections that cannot give an independent confirmation (``local``, persistent
   channels), unless ``allow_unsafe_apply``: then apply and persist without rollback;
3. ``arm`` on the host, in ONE call: it checks the tools, reads the connection as the host sees
   it, plans, and arms and applies only when that connection is the one the guard cleared (an
   unchanged host is done here). When the host sees another connection (NAT, a jump host), or
   the guess could not be cleared, the guard checks the reported one and a second call arms;
4. drop the connection (``reset``), then ``confirm`` over a new one before the window ends -
   the host runs the probes, and the watchdog persists or rolls back;
5. no confirmation in time: wait for the window to pass, reconnect, collect the watchdog's
   ``status`` (rolled back, and whether the owned state equals the snapshot) and fail saying so.
"""

from __future__ import annotations

import time
import uuid

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.arguments import ARGUMENT_SPEC, MIN_ROLLBACK_TIMEOUT, TEXT_INPUTS
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import InputError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.probes import parse_probes
from ansible_collections.palisade.firewall.plugins.plugin_utils.action_support import compiled_store
from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir_json
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import flow_report
from ansible_collections.palisade.firewall.plugins.plugin_utils.simulate.lockout import LockoutCheck, LockoutError, check_lockout, connection_from_facts

MODULE = "palisade.firewall.apply_ruleset"
CONFIRMING_CONNECTIONS = ("ssh", "paramiko", "paramiko_ssh")
RETRY_PAUSE = 1.0
STATUS_GRACE = 2.0  # seconds past the host's deadline before asking what its watchdog did
RECONNECT_TIMEOUT = 120  # seconds to keep trying to reach a host that rolled back
VERBOSE_TEXTS = 3  # from -vvv the result carries the transaction texts and the full rule and ipset arguments


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_diff = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        problem = _argument_problem(args)
        if problem:
            return {**result, "failed": True, "changed": False, "msg": problem}
        guard = None
        if args["compiled"] is not None:
            try:
                guard, args = _from_compiled(args, task_vars, self._task.check_mode)
            except PalisadeError as error:
                return {**result, "failed": True, "changed": False, "msg": str(error)}
        else:
            lockout = args.get("lockout") or {}
            if lockout.get("blocked") and not args["allow_lockout"]:
                return {**result, "failed": True, "changed": False, "msg": lockout["message"], "lockout": lockout}
        host = task_vars.get("inventory_hostname", "the host")
        if self._task.check_mode:
            return {**result, **with_drift(self._check(args, task_vars, guard), host, True, self._task.diff)}
        unsafe = self._cannot_confirm()
        if unsafe and not args["allow_unsafe_apply"]:
            return {**result, "failed": True, "changed": False, "msg": unsafe + " Nothing was changed."}
        if unsafe:
            output = self._module(args, task_vars, "apply")
            output.setdefault("warnings", []).append(unsafe + " Applied WITHOUT rollback because allow_unsafe_apply is true.")
            return {**result, **with_drift(output, host, False, False), "rollback": {"outcome": "not armed (allow_unsafe_apply)"}}
        return {**result, **with_drift(self._apply_with_rollback(args, task_vars, guard), host, False, False)}

    def _check(self, args, task_vars, guard):
        """Check mode: one call that plans (and reports the connection), then the guard's verdict."""
        planned = self._module(args, task_vars, "plan")
        if planned.get("failed"):
            return planned
        refusal = _preflight_refusal(planned, task_vars) or (guard.refusal(planned) if guard else None)
        if refusal:
            return refusal
        result = guard_result(planned, guard)
        if guard is not None and "flow_record_state" in planned:
            result = _with_flow_changes(result, guard.compiled, self._task.diff)
        return result

    # -- the protocol ------------------------------------------------------------------------

    def _apply_with_rollback(self, args, task_vars, guard=None):
        run_id = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:12]}"
        expect = guard.cleared_guess() if guard else None
        if guard and expect is None:  # the guess could not be cleared: the host's own view decides
            planned = self._module(args, task_vars, "plan")
            refusal = planned if planned.get("failed") else _preflight_refusal(planned, task_vars) or guard.refusal(planned)
            if refusal:
                return refusal
            expect = guard.cleared
        started = time.monotonic()
        try:
            armed = self._module(args, task_vars, "arm", run_id, expect=expect)
            unexpected = guard is not None and armed.get("unexpected_connection")
            refusal = None if armed.get("failed") else _preflight_refusal(armed, task_vars) or (guard.refusal(armed) if unexpected else None)
            if refusal:
                return refusal
            if armed.get("unexpected_connection"):  # cleared now for the connection the host reported
                armed = self._module(args, task_vars, "arm", run_id, expect=guard.cleared)
                if armed.get("unexpected_connection"):
                    return _connection_changed(armed)
        except AnsibleError as error:
            if _never_connected(error):
                return {"unreachable": True, "changed": False, "msg": f"could not reach the host ({_last_line(error)}); nothing was sent to it"}
            return self._lost_during_arm(args, task_vars, run_id, started, _last_line(error))
        armed = guard_result(armed, guard)
        if armed.get("failed") or not armed.get("armed"):
            armed.setdefault("rollback", {"outcome": "apply failed (see msg)" if armed.get("failed") else "not armed (nothing to change)"})
            return armed
        self._original_timeout = self._connect_timeout()
        applied_at = time.monotonic()
        deadline = applied_at + armed["window_left"]
        confirmation, last_error, attempts = self._confirm(args, task_vars, run_id, deadline)
        self._set_connect_timeout(self._original_timeout)
        timings = {"apply": round(applied_at - started, 3), "confirm": round(time.monotonic() - applied_at, 3), "attempts": attempts}
        if confirmation is None:
            return self._missed_window(armed, args, task_vars, run_id, deadline, last_error, timings)
        if confirmation.get("failed"):  # the host answered, but not with the watchdog's outcome: ask it after the window
            return self._missed_window(armed, args, task_vars, run_id, deadline, f"confirming failed: {confirmation.get('msg')}", timings)
        return _finish(armed, confirmation["outcome"], dict(run_id=run_id, timings=timings, window=args["rollback_timeout"]))

    def _confirm(self, args, task_vars, run_id, deadline):
        """Confirm over a NEW connection before ``deadline``: ``(result or None, last error, attempts)``."""
        result, error, attempts = self._reach(args, task_vars, "confirm", run_id, deadline, bound_connect=True)
        return result, error or "the window ended before a connection was tried", attempts

    def _missed_window(self, armed, args, task_vars, run_id, deadline, last_error, timings):
        """The host rolls back by itself; reconnect once it has, and report what it did."""
        time.sleep(max(0.0, deadline - time.monotonic()) + STATUS_GRACE)
        status, error, _attempts = self._reach(args, task_vars, "status", run_id, time.monotonic() + RECONNECT_TIMEOUT)
        if status is None:
            return {
                **armed,
                "failed": True,
                "unreachable": True,
                "rolled_back": True,
                "msg": (
                    f"No confirmation over a new connection within {args['rollback_timeout']} s ({last_error}), so the host"
                    f" restores its previous rules by itself; it could not be reached again within {RECONNECT_TIMEOUT} s"
                    f" to check ({error or last_error})."
                ),
            }
        if status.get("failed"):
            return {**armed, "failed": True, "rolled_back": True, "msg": f"the host missed the window; asking it what happened failed: {status.get('msg')}"}
        details = dict(run_id=run_id, timings=timings, window=args["rollback_timeout"], last_connection_error=last_error)
        return _finish(armed, status["outcome"], details, last_error)

    def _reach(self, args, task_vars, phase, run_id, until, bound_connect=False):
        """Run ``phase`` over a new connection, retrying until ``until``: ``(result or None, last error, attempts)``.

        Any Ansible error is a failed attempt: a connection failure, or (before ansible-core
        2.19) a become timeout. ``bound_connect`` keeps one connect from outlasting ``until``.
        """
        last_error = ""
        attempts = 0
        while time.monotonic() < until:
            attempts += 1
            self._reset_connection()
            connect_timeout = until - time.monotonic() if bound_connect else None
            try:
                return self._module(args, task_vars, phase, run_id, connect_timeout=connect_timeout), "", attempts
            except AnsibleError as error:
                last_error = _last_line(error)
                time.sleep(min(RETRY_PAUSE, max(0.0, until - time.monotonic())))
        return None, last_error, attempts

    def _lost_during_arm(self, args, task_vars, run_id, started, error):
        """The connection broke while arming (new rules that drop the open session, say).

        If the arm reached the host, its watchdog rolls back at the end of the window: wait for
        that and report it. If it never did, nothing was armed or changed there.
        """
        deadline = started + args["rollback_timeout"]
        armed = {"changed": False, "armed": True, "run_id": run_id}
        result = self._missed_window(armed, args, task_vars, run_id, deadline, error, {"attempts": 0})
        if "no run " in (result.get("msg") or ""):
            return {
                "failed": True,
                "unreachable": True,
                "changed": False,
                "msg": f"could not reach the host to apply ({error}); nothing was armed or changed there",
            }
        return result

    # -- helpers -------------------------------------------------------------------------------

    def _module(self, args, task_vars, phase, run_id=None, connect_timeout=None, expect=None):
        module_args = {key: value for key, value in args.items() if not key.startswith("_")}
        module_args.update(
            _palisade_phase=phase,
            _palisade_run_id=run_id,
            _palisade_expect=expect,
            lockout=None,
            compiled=None,
            _palisade_verbose=Display().verbosity >= VERBOSE_TEXTS,
        )
        if phase in ("confirm", "status"):  # the host has the rules already: keep the confirmation small
            module_args.update(ipv4_rules="", ipv6_rules="", ipsets="", hooks=[])
        elif phase in ("arm", "apply"):
            module_args["_palisade_flow_record"] = args.get("_flow_record")
        else:
            module_args["_palisade_flows"] = args.get("_want_flows", False)
        if connect_timeout is not None:
            self._set_connect_timeout(connect_timeout)
        return self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)

    def _connect_timeout(self):
        try:
            return self._connection.get_option("timeout")
        except KeyError:
            return None

    def _set_connect_timeout(self, seconds) -> None:
        """Keep one attempt from outlasting the window (a DROP makes a connect hang)."""
        if seconds is None:
            return
        try:
            self._connection.set_option("timeout", max(1, int(seconds)))
        except KeyError:
            pass

    def _reset_connection(self) -> None:
        try:
            self._connection.reset()
        except AnsibleError:
            pass

    def _cannot_confirm(self) -> str:
        """Why this connection cannot confirm over a new connection, or ``""`` when it can."""
        names = {getattr(self._connection, "transport", "") or "", getattr(self._connection, "_load_name", "") or ""}
        short = {name.rsplit(".", 1)[-1] for name in names if name}
        mitogen = "mitogen" in type(self._connection).__module__ or any("mitogen" in name for name in names)
        if short & set(CONFIRMING_CONNECTIONS) and not mitogen:
            return ""
        if mitogen and not any("mitogen" in name for name in names):
            names = {"mitogen"}  # Mitogen's ssh calls itself ssh, but keeps its channel across a reset
        shown = sorted(names - {""})[0] if names - {""} else "unknown"
        if "local" in short:
            return (
                f"Refusing to apply with connection {shown!r}: the controller is the host itself, so reaching it again"
                " proves nothing about the network and rules that cut remote access would never be rolled back."
                " Use an ssh connection, or set palisade_allow_unsafe_apply: true to apply without rollback."
            )
        return (
            f"Refusing to apply with connection {shown!r}: it cannot be dropped and reopened as a new network"
            " connection (a persistent or non-network channel survives the new rules), so a lockout would go unnoticed"
            " and never be rolled back. Use ssh or paramiko, or set palisade_allow_unsafe_apply: true to apply without rollback."
        )


def _finish(armed, outcome, details, last_error=""):
    """The task's result from the watchdog's outcome: confirmed, or rolled back (a failure)."""
    rollback = dict(outcome, **details)
    if outcome.get("outcome") == "confirmed":  # (after a missed window: a confirmation whose answer got lost)
        return _confirmed(armed, rollback, outcome)
    return {**armed, "failed": True, "changed": False, "rolled_back": True, "rollback": rollback, "msg": _rolled_back_message(outcome, last_error)}


def _confirmed(armed, rollback, outcome):
    result = {**armed, "changed": True, "rollback": rollback, "persisted": outcome.get("persisted")}
    if outcome.get("persist_error"):
        result.update(
            failed=True,
            msg=f"The new rules were confirmed and are kept, but persisting them for boot failed: {outcome['persist_error']}",
        )
    return result


class _Guard:
    """The lockout guard for one host, on its compiled ruleset kept by ``palisade.firewall.compile``.

    ``cleared`` is the connection (client, server, port) last found safe, which the host must
    see for the apply to go ahead in the same call.
    """

    def __init__(self, compiled, output, host_vars, allow_lockout):
        self.compiled, self.output, self.host_vars, self.allow_lockout = compiled, output, host_vars, allow_lockout
        self.cleared = None
        self.check = None

    def cleared_guess(self):
        """The inventory's guess when it is safe (or allowed); None when the host must be asked first."""
        try:
            check = check_lockout(self.compiled, connection_from_facts(self.compiled.host, None, self.host_vars))
        except LockoutError:
            return None
        if check.blocked and not self.allow_lockout:
            return None
        return self._clear(check)

    def refusal(self, reported):
        """The task's failure when the connection the host ``reported`` is blocked, else None."""
        try:
            check = check_lockout(self.compiled, connection_from_facts(self.compiled.host, reported.get("connection"), self.host_vars))
        except LockoutError as error:
            return {"failed": True, "changed": False, "msg": str(error)}
        if check.blocked and not self.allow_lockout:
            return {"failed": True, "changed": False, "msg": check.message, "lockout": check.to_dict()}
        self._clear(check)
        return None

    def _clear(self, check: LockoutCheck):
        self.check = check
        self.cleared = {"client": check.connection.client, "server": check.connection.server, "port": check.connection.port}
        return self.cleared


def _from_compiled(args, task_vars, check_mode):
    """The guard of this host and the arguments with its texts, from the compiled hosts kept for
    this run: in check mode asking for the host's flow record, else carrying the new one."""
    host = task_vars["inventory_hostname"]
    compiled, output = compiled_store.load(args["compiled"], host)
    files = output["files"]
    texts = dict(ipv4_rules=files["ipv4.rules"], ipv6_rules=files["ipv6.rules"], ipsets=files["ipsets.restore"], hooks=output["hooks"])
    guard = _Guard(compiled, output, task_vars["hostvars"][host], args["allow_lockout"])
    flows = {"_want_flows": True} if check_mode else {"_flow_record": ir_json.dumps(compiled.rulesets)}
    return guard, dict(args, **texts, **flows)


def _with_flow_changes(result, compiled, diff_mode):
    """The check result with the flows the change starts or stops (``flow_changes``), from the
    host's flow record; the flow record texts themselves are not kept in the result."""
    result = dict(result)
    record, text, recorded_sets = result.pop("flow_record_state"), result.pop("flow_record", None), result.pop("recorded_sets", {})
    if not result.get("changed"):  # the host runs the wanted rules already: no flow can change
        return {**result, "flow_changes": [], "flow_summary": flow_report.NO_CHANGES}
    report = flow_report.report(compiled, record, text, recorded_sets)
    result.update(flow_changes=report["flow_changes"], flow_summary=report["summary"])
    if report.get("warning"):
        result.setdefault("warnings", []).append(report["warning"])
    if diff_mode and "diff" in result:
        result["diff"] = [result["diff"], {"prepared": report["text"]}]
    return result


def with_drift(result, host, check_mode, diff_mode):
    """The result with ``drift_summary`` and a warning when the host's live owned state had
    drifted from its record: in check mode what the run will repair (also at the top of the
    diff's prepared text), after a real run what it repaired, or (rolled back) found and left."""
    drift = result.get("drift") or {}
    if not drift.get("found"):
        return result
    differences = drift["differences"]
    if check_mode:
        head = f"drift: {len(differences)} difference(s) from the last applied record, repaired by the next run"
    elif result.get("changed") and not result.get("failed"):
        head = f"drift repaired: {len(differences)} difference(s) from the last applied record"
    else:
        head = f"drift: {len(differences)} difference(s) from the last applied record, not repaired (the apply did not complete)"
    summary = f"{head}: {'; '.join(differences)}"
    result = {**result, "drift_summary": summary, "warnings": list(result.get("warnings") or []) + [f"{host}: {summary}"]}
    if check_mode and diff_mode and "diff" in result:
        text = "".join(f"# {line}\n" for line in [head + ":"] + differences)
        parts = result["diff"] if isinstance(result["diff"], list) else [result["diff"]]
        prepared = [part for part in parts if "prepared" in part]
        if prepared:
            parts = [part if "prepared" not in part else {"prepared": text + part["prepared"]} for part in parts]
        else:
            parts = parts + [{"prepared": text}]
        result["diff"] = parts
    return result


def guard_result(result, guard):
    """The module's result with what the guard checked and the policies selecting the host."""
    if guard is None:
        return result
    extra = {"policies": guard.output["policies"]}
    if guard.check is not None:
        extra["lockout"] = guard.check.to_dict()
    return {**result, **extra}


def _preflight_refusal(result, task_vars):
    """The failure for a host that lacks a firewall tool (nothing was changed), else None."""
    if result.get("failed") or not result.get("missing_tools"):
        return None
    host = task_vars.get("inventory_hostname", "the host")
    return {
        **result,
        "failed": True,
        "changed": False,
        "msg": (
            f"{host} lacks {' '.join(result['missing_tools'])}: install the iptables and ipset packages, "
            "or set palisade_install_packages to true. Nothing was changed."
        ),
    }


def _connection_changed(result):
    return {
        **result,
        "failed": True,
        "changed": False,
        "msg": "the management connection the host reports changed between two calls; nothing was changed, run again",
    }


def _argument_problem(args) -> str:
    given = [name for name in TEXT_INPUTS if args[name] is not None]
    if args["compiled"] is not None and given:
        return f"compiled and {', '.join(given)} are mutually exclusive: the compiled host brings its own texts and hooks"
    if args["compiled"] is None and len(given) != len(TEXT_INPUTS):
        missing = [name for name in TEXT_INPUTS if args[name] is None]
        return f"missing required arguments: {', '.join(missing)} (or compiled, from palisade.firewall.compile with keep_for_apply=true)"
    if args["rollback_timeout"] < MIN_ROLLBACK_TIMEOUT:
        return f"rollback_timeout (palisade_rollback_timeout) must be at least {MIN_ROLLBACK_TIMEOUT} seconds, got {args['rollback_timeout']}"
    try:
        parse_probes(args["confirm_probes"])
    except InputError as error:
        return str(error)
    return ""


def _rolled_back_message(outcome, last_error="") -> str:
    reason = outcome.get("reason") or "unknown reason"
    if last_error:
        reason += f" (last attempt: {last_error})"
    if outcome.get("outcome") == "error":
        return f"The new rules were NOT confirmed ({reason}), and rolling them back failed: {outcome.get('error')}"
    verified = outcome.get("verified_now", outcome.get("verified"))
    state = (
        "the host's owned rules and ipsets equal the snapshot taken before the apply"
        if verified
        else "the host's owned rules and ipsets do NOT equal the snapshot taken before the apply - inspect the host"
    )
    checked = " (checked again after reconnecting)" if "verified_now" in outcome else ""
    return f"The new rules were rolled back: {reason}. Now {state}{checked}; the persisted rules were not changed."


def _never_connected(error) -> bool:
    """Whether ssh failed before a session opened, so the module never reached the host.

    OpenSSH says ``ssh: connect to host H port P: ...`` only while connecting; a session cut
    later (new rules dropping it mid-apply) reads differently, and then the watchdog decides.
    """
    return isinstance(error, AnsibleConnectionFailure) and "ssh: connect to host " in str(error)


def _last_line(error) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__
