# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded results: the diff of a large ipset, the transaction texts only when verbose, the arguments shown."""

from __future__ import annotations

import palisade_fakes
from test_module_apply_ruleset import run_module
from test_plan import live

from ansible.release import __version__ as ansible_version

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.apply import Result, transaction_lines
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.plan import DIFF_MEMBER_LIMIT, describe_both, make_plan
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted

# ansible-core 2.21 returns ``invocation`` only when the user asks for it (INJECT_INVOCATION); earlier releases always do
INVOCATION = {"inject_invocation": True} if tuple(int(part) for part in ansible_version.split(".")[:2]) >= (2, 21) else {}

SUMMARY = "# ... and {count} more members of {name} (a set above {limit} members lists only members that differ, at most {limit})"


def view(**sets) -> dict:
    return {"tables": {}, "ipsets": {name: ("hash:ip family inet maxelem 65536", members) for name, members in sets.items()}}


def test_sets_within_the_limit_are_listed_in_full():
    before, after = describe_both(view(s=["1.0.0.1", "1.0.0.2"]), view(s=["1.0.0.1", "1.0.0.3"]), limit=2)
    assert before == "# ipsets\nset s hash:ip family inet maxelem 65536\nadd s 1.0.0.1\nadd s 1.0.0.2\n"
    assert after == "# ipsets\nset s hash:ip family inet maxelem 65536\nadd s 1.0.0.1\nadd s 1.0.0.3\n"


def test_a_set_above_the_limit_lists_only_what_differs_and_counts_the_rest():
    shared = [f"1.0.0.{index}" for index in range(10, 15)]
    before, after = describe_both(view(s=shared + ["1.0.0.2"]), view(s=shared + ["1.0.0.3", "1.0.0.4"]), limit=3)
    assert before == (
        "# ipsets\nset s hash:ip family inet maxelem 65536\nadd s 1.0.0.2\n"
        "# ... and 5 more members of s (a set above 3 members lists only members that differ, at most 3)\n"
    )
    assert after == (
        "# ipsets\nset s hash:ip family inet maxelem 65536\nadd s 1.0.0.3\nadd s 1.0.0.4\n"
        "# ... and 5 more members of s (a set above 3 members lists only members that differ, at most 3)\n"
    )


def test_the_other_side_above_the_limit_summarises_both_sides_alike():
    # 2 members here, 5 there: without the rule, the 2 shared members would show as removed
    before, after = describe_both(view(s=["1.0.0.1", "1.0.0.2"]), view(s=[f"1.0.0.{index}" for index in range(1, 6)]), limit=3)
    assert before == (
        "# ipsets\nset s hash:ip family inet maxelem 65536\n"
        "# ... and 2 more members of s (a set above 3 members lists only members that differ, at most 3)\n"
    )
    assert after == (
        "# ipsets\nset s hash:ip family inet maxelem 65536\nadd s 1.0.0.3\nadd s 1.0.0.4\nadd s 1.0.0.5\n"
        "# ... and 2 more members of s (a set above 3 members lists only members that differ, at most 3)\n"
    )


def test_a_new_set_above_the_limit_lists_the_limit_and_counts_the_rest():
    before, after = describe_both(view(), view(big=[f"1.0.0.{index}" for index in range(1, 9)]), limit=3)
    assert before == ""
    assert after == (
        "# ipsets\nset big hash:ip family inet maxelem 65536\nadd big 1.0.0.1\nadd big 1.0.0.2\nadd big 1.0.0.3\n"
        "# ... and 5 more members of big (a set above 3 members lists only members that differ, at most 3)\n"
    )


def big_set(members) -> str:
    return "create pal-s4-big hash:ip family inet maxelem 65536\n" + "".join(f"add pal-s4-big 10.0.{index // 256}.{index % 256}\n" for index in members)


def test_the_plan_diff_of_a_large_set_with_the_default_limit_is_exact():
    assert DIFF_MEMBER_LIMIT == 1000
    wanted = parse_wanted("", "", big_set([0] + list(range(2, 1500))), [], "pal-")
    saved = big_set(range(1, 1500)).replace("maxelem 65536", "hashsize 1024 maxelem 65536")
    plan = make_plan(wanted, live(ipsets=saved))
    summary = SUMMARY.format(count="1,498", name="pal-s4-big", limit="1,000")
    assert plan.before == f"# ipsets\nset pal-s4-big hash:ip family inet maxelem 65536\nadd pal-s4-big 10.0.0.1\n{summary}\n"
    assert plan.after == f"# ipsets\nset pal-s4-big hash:ip family inet maxelem 65536\nadd pal-s4-big 10.0.0.0\n{summary}\n"
    assert plan.sets.changed == ["pal-s4-big"] and plan.sets.load.count("\n") == 1 + 1499  # the transaction is whole


def test_a_result_carries_the_transaction_sizes_and_the_texts_only_when_verbose():
    result = Result(changed=True, transactions={"ipv4": "*filter\nCOMMIT\n", "ipset_load": "create a hash:ip\nadd a 1.2.3.4\nadd a 1.2.3.5\n"})
    plain = result.as_dict()
    assert "transactions" not in plain and plain["transaction_lines"] == {"ipv4": 2, "ipset_load": 3}
    assert result.as_dict(verbose=True)["transactions"] == result.transactions
    assert sorted(plain) == ["changed", "changes", "commands", "drift", "record", "restored", "transaction_lines"]
    assert transaction_lines({"a": "", "b": "no newline"}) == {"a": 0, "b": 1}


def test_the_module_shows_the_rule_and_ipset_texts_by_size_unless_verbose(capsys):
    inputs = palisade_fakes.golden_inputs("inventory-web-features")

    def fake(wanted, state_dir, lock_timeout, check_mode):
        return Result(changed=True, transactions={"ipv4": inputs["ipv4_rules"]})

    code, result = run_module(capsys, inputs, fake, check_mode=True, **INVOCATION)
    assert code == 0 and "transactions" not in result
    shown = result["invocation"]["module_args"]
    text = inputs["ipsets"]
    assert shown["ipsets"] == f"({text.count(chr(10))} lines, {len(text.encode())} bytes: shown at verbosity 3)"
    assert shown["ipv4_rules"].endswith(" bytes: shown at verbosity 3)") and shown["state_dir"] == "/var/lib/palisade"
    code, verbose = run_module(capsys, dict(inputs, _palisade_verbose=True), fake, check_mode=True, **INVOCATION)
    assert verbose["transactions"] == {"ipv4": inputs["ipv4_rules"]}
    assert verbose["invocation"]["module_args"]["ipsets"] == text
