# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wanted vs live: the transactions, the ipset steps, the ``changes`` lists and the diff text."""

from __future__ import annotations

import difflib

import pytest

from ansible_collections.palisade.firewall.plugins.module_utils._palisade.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.plan import make_plan, temporary_name
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.saved_state import (
    LiveState,
    parse_ipset_save,
    parse_iptables_save,
)
from ansible_collections.palisade.firewall.plugins.module_utils._palisade.state import parse_wanted

WANTED_V4 = """*filter
:pal-INPUT - [0:0]
:pal-allow - [0:0]
-A pal-INPUT -i lo -m comment --comment "loopback" -j RETURN
-A pal-INPUT -p 47 -g pal-allow
-A pal-allow -j ACCEPT
COMMIT
"""
HOOK = {"family": 4, "table": "filter", "chain": "INPUT", "target": "pal-INPUT", "position": "insert"}
FOREIGN = """*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth0 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER-USER - [0:0]
:f2b-sshd - [0:0]
{builtin}
-A FORWARD -j DOCKER-USER
-A DOCKER-USER -j RETURN
-A f2b-sshd -j REJECT --reject-with icmp-port-unreachable
{owned}
COMMIT
"""
APPLIED_OWNED = """:pal-INPUT - [0:0]
:pal-allow - [0:0]
-A pal-INPUT -i lo -m comment --comment loopback -j RETURN
-A pal-INPUT -p gre -g pal-allow
-A pal-allow -j ACCEPT"""
F2B_HOOK = "-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd"


def live(v4="", v6="", ipsets="", prefix="pal-"):
    owned, names = parse_ipset_save(ipsets, prefix)
    return LiveState(prefix, {4: parse_iptables_save(v4, 4, prefix), 6: parse_iptables_save(v6, 6, prefix)}, owned, names)


def saved(builtin=(F2B_HOOK,), owned=APPLIED_OWNED):
    return FOREIGN.format(builtin="\n".join(builtin), owned=owned)


def wanted(v4=WANTED_V4, v6="", ipsets="", hooks=(HOOK,)):
    return parse_wanted(v4, v6, ipsets, list(hooks))


def test_nothing_differs_when_the_host_runs_the_wanted_state():
    plan = make_plan(wanted(), live(saved(builtin=("-A INPUT -j pal-INPUT", F2B_HOOK))))
    assert not plan.changed
    assert plan.transactions() == {}
    assert plan.before == plan.after
    assert all(not names for names in plan.changes().values())


def test_first_apply_declares_fills_and_hooks_in_one_transaction_per_family():
    plan = make_plan(wanted(), live(saved(owned="")))
    assert plan.families[4].transaction == (
        "# palisade.firewall: owned IPv4 state, for iptables-restore --noflush\n"
        "*filter\n"
        ":pal-INPUT - [0:0]\n"
        ":pal-allow - [0:0]\n"
        '-A pal-INPUT -i lo -m comment --comment "loopback" -j RETURN\n'
        "-A pal-INPUT -p 47 -g pal-allow\n"
        "-A pal-allow -j ACCEPT\n"
        "-I INPUT 1 -j pal-INPUT\n"
        "COMMIT\n"
    )
    assert not plan.families[6].changed  # an empty family is not mentioned at all
    assert plan.changes()["chains_added"] == ["ipv4 filter pal-INPUT", "ipv4 filter pal-allow"]
    assert plan.changes()["hooks_added"] == ["ipv4 filter INPUT -j pal-INPUT"]


def test_removing_everything_flushes_unhooks_unreferences_and_deletes_in_one_transaction():
    host = live(
        saved(
            builtin=("-A INPUT -j pal-INPUT", F2B_HOOK, "-A INPUT -j pal-INPUT"),
            owned=APPLIED_OWNED + "\n:pal-old - [0:0]\n-A pal-old -j DROP",
        ).replace("-A DOCKER-USER -j RETURN", "-A DOCKER-USER -j pal-old\n-A DOCKER-USER -j RETURN")
    )
    plan = make_plan(parse_wanted("", "", "", []), host)
    assert plan.families[4].transaction == (
        "# palisade.firewall: owned IPv4 state, for iptables-restore --noflush\n"
        "*filter\n"
        ":pal-INPUT - [0:0]\n"
        ":pal-allow - [0:0]\n"
        ":pal-old - [0:0]\n"
        "-D INPUT -j pal-INPUT\n"
        "-D INPUT -j pal-INPUT\n"
        "-D DOCKER-USER -j pal-old\n"
        "-X pal-INPUT\n"
        "-X pal-allow\n"
        "-X pal-old\n"
        "COMMIT\n"
    )  # the nat table owns nothing, before or after: not mentioned
    changes = plan.changes()
    assert changes["chains_removed"] == ["ipv4 filter pal-INPUT", "ipv4 filter pal-allow", "ipv4 filter pal-old"]
    assert changes["hooks_removed"] == ["ipv4 filter INPUT -j pal-INPUT", "ipv4 filter INPUT -j pal-INPUT"]
    assert changes["references_removed"] == ["ipv4 filter DOCKER-USER -j pal-old"]
    assert plan.after == ""


def test_a_changed_chain_rewrites_the_family_and_leaves_correct_hooks_alone():
    host = live(saved(builtin=("-A INPUT -j pal-INPUT", F2B_HOOK)).replace("-A pal-allow -j ACCEPT", "-A pal-allow -j DROP"))
    plan = make_plan(wanted(), host)
    assert plan.changes()["chains_changed"] == ["ipv4 filter pal-allow"]
    assert [key for key, names in plan.changes().items() if names] == ["chains_changed"]
    text = plan.families[4].transaction
    assert ":pal-INPUT - [0:0]\n:pal-allow - [0:0]\n" in text and "-A pal-allow -j ACCEPT\n" in text
    assert "INPUT 1" not in text and "-D " not in text
    assert changed_lines(plan) == ["--A pal-allow -j DROP", "+-A pal-allow -j ACCEPT"]


@pytest.mark.parametrize(
    "builtin, wanted_hooks, lines, changes",
    [
        # a duplicate further down
        (
            ("-A INPUT -j pal-INPUT", F2B_HOOK, "-A INPUT -j pal-INPUT"),
            [HOOK],
            ["-D INPUT -j pal-INPUT", "-D INPUT -j pal-INPUT", "-I INPUT 1 -j pal-INPUT"],
            {"hooks_removed": ["ipv4 filter INPUT -j pal-INPUT (duplicate)"]},
        ),
        # another tool inserted above the hook
        (
            (F2B_HOOK, "-A INPUT -j pal-INPUT"),
            [HOOK],
            ["-D INPUT -j pal-INPUT", "-I INPUT 1 -j pal-INPUT"],
            {"hooks_moved": ["ipv4 filter INPUT -j pal-INPUT (insert)"]},
        ),
        # a hook rule with extra matches is not one the collection writes
        (
            ("-A INPUT -i eth0 -j pal-INPUT", F2B_HOOK),
            [HOOK],
            ["-D INPUT -i eth0 -j pal-INPUT", "-I INPUT 1 -j pal-INPUT"],
            {"hooks_added": ["ipv4 filter INPUT -j pal-INPUT"], "hooks_removed": ["ipv4 filter INPUT -i eth0 -j pal-INPUT"]},
        ),
        # append: last, after other tools' rules
        (
            ("-A INPUT -j pal-INPUT", F2B_HOOK),
            [dict(HOOK, position="append")],
            ["-D INPUT -j pal-INPUT", "-A INPUT -j pal-INPUT"],
            {"hooks_moved": ["ipv4 filter INPUT -j pal-INPUT (append)"]},
        ),
        # an unwanted hook into a wanted chain, in another built-in chain
        (
            ("-A INPUT -j pal-INPUT", F2B_HOOK, "-A OUTPUT -j pal-allow"),
            [HOOK],
            ["-D OUTPUT -j pal-allow"],
            {"hooks_removed": ["ipv4 filter OUTPUT -j pal-allow"]},
        ),
        # two hooks in one chain keep the given order
        (
            (F2B_HOOK,),
            [HOOK, dict(HOOK, target="pal-allow")],
            ["-I INPUT 1 -j pal-INPUT", "-I INPUT 2 -j pal-allow"],
            {"hooks_added": ["ipv4 filter INPUT -j pal-INPUT", "ipv4 filter INPUT -j pal-allow"]},
        ),
        (
            ("-A INPUT -j pal-allow", "-A INPUT -j pal-INPUT", F2B_HOOK),
            [HOOK, dict(HOOK, target="pal-allow")],
            ["-D INPUT -j pal-allow", "-D INPUT -j pal-INPUT", "-I INPUT 1 -j pal-INPUT", "-I INPUT 2 -j pal-allow"],
            {"hooks_moved": ["ipv4 filter INPUT -j pal-INPUT (insert)", "ipv4 filter INPUT -j pal-allow (insert)"]},
        ),
    ],
)
def test_hooks_end_up_once_and_where_wanted(builtin, wanted_hooks, lines, changes):
    plan = make_plan(wanted(hooks=wanted_hooks), live(saved(builtin=builtin)))
    text = plan.families[4].transaction.splitlines()
    assert [line for line in text if line.split(" ")[0] in ("-D", "-I") or line.startswith(("-A INPUT", "-A OUTPUT"))] == lines
    assert {key: names for key, names in plan.changes().items() if names} == changes
    assert plan.before != plan.after


def test_hooks_in_place_whatever_the_position_when_the_chain_holds_only_hooks():
    for position in ("insert", "append"):
        plan = make_plan(wanted(hooks=[dict(HOOK, position=position)]), live(saved(builtin=("-A INPUT -j pal-INPUT",))))
        assert not plan.changed
        assert f"hook INPUT {position}: -j pal-INPUT" in plan.before


def test_diff_text_shows_live_hooks_where_they_are():
    plan = make_plan(wanted(), live(saved(builtin=(F2B_HOOK, "-A INPUT -j pal-INPUT", "-A INPUT -p udp -j ACCEPT"))))
    assert "hook INPUT rule 2 of 3: -j pal-INPUT\n" in plan.before
    assert "hook INPUT insert: -j pal-INPUT\n" in plan.after


def test_tables_and_families_are_independent():
    v6 = WANTED_V4.replace("-p 47", "-p ipv6-icmp")
    raw = "*raw\n:pal-PREROUTING - [0:0]\n-A pal-PREROUTING -j NOTRACK\nCOMMIT\n"
    host = live(saved(builtin=("-A INPUT -j pal-INPUT",)), "")
    plan = make_plan(wanted(v4=raw + WANTED_V4, v6=v6, hooks=[HOOK, dict(HOOK, family=6)]), host)
    assert plan.changes()["chains_added"] == ["ipv4 raw pal-PREROUTING", "ipv6 filter pal-INPUT", "ipv6 filter pal-allow"]
    text = plan.families[4].transaction
    # every wanted owned chain of the family is declared again (atomic, one transaction)
    assert text.index("*raw") < text.index("*filter") and ":pal-INPUT - [0:0]" in text
    assert "-I INPUT 1" not in text  # the v4 hook is in place already
    assert "-I INPUT 1 -j pal-INPUT" in plan.families[6].transaction


# -- ipsets ----------------------------------------------------------------------------------

SET_A = "create pal-s4-a hash:net family inet hashsize 1024 maxelem 65536\nadd pal-s4-a 198.51.100.0/24\nadd pal-s4-a 203.0.113.7\n"
SAVED_A = (
    "create pal-s4-a hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1\n"
    "add pal-s4-a 203.0.113.7\nadd pal-s4-a 198.51.100.0/24\n"
)
SET_USER = WANTED_V4.replace("-A pal-allow -j ACCEPT", "-A pal-allow -m set --match-set pal-s4-a src -j ACCEPT")


def set_plan(wanted_sets, saved_sets, v4=SET_USER, live_v4=""):
    return make_plan(wanted(v4=v4, ipsets=wanted_sets, hooks=()), live(live_v4, ipsets=saved_sets))


def test_sets_compare_as_member_sets():
    plan = set_plan(SET_A, SAVED_A + "create f2b hash:ip family inet\nadd f2b 1.2.3.4\n")
    assert not plan.sets.changed_anything
    assert "set pal-s4-a hash:net family inet maxelem 65536\nadd pal-s4-a 198.51.100.0/24\nadd pal-s4-a 203.0.113.7\n" in plan.after
    assert plan.before.split("# ipsets")[1] == plan.after.split("# ipsets")[1]


def test_new_and_changed_sets_load_into_temporaries_then_swap():
    changed = SET_A.replace("203.0.113.7", "203.0.113.8")
    new = "create pal-s4-b hash:ip family inet\nadd pal-s4-b 203.0.113.1\n"
    plan = set_plan(
        changed + new,
        SAVED_A + "create pal-s4-a-t hash:net family inet\n",
        v4=SET_USER.replace("-j ACCEPT\nCOMMIT", "-j ACCEPT\n-A pal-allow -m set --match-set pal-s4-b src -j ACCEPT\nCOMMIT"),
    )
    assert plan.sets.load == (
        "create pal-s4-b hash:ip family inet\n"
        "create pal-s4-b-t hash:ip family inet\n"
        "add pal-s4-b-t 203.0.113.1\n"
        "create pal-s4-a-t2 hash:net family inet hashsize 1024 maxelem 65536\n"
        "add pal-s4-a-t2 198.51.100.0/24\n"
        "add pal-s4-a-t2 203.0.113.8\n"
    )  # pal-s4-a-t is taken (a leftover of a crashed run): -t2
    assert plan.sets.swap == "swap pal-s4-b-t pal-s4-b\ndestroy pal-s4-b-t\nswap pal-s4-a-t2 pal-s4-a\ndestroy pal-s4-a-t2\n"
    assert plan.sets.removed == ["pal-s4-a-t"]  # the leftover goes after the rules
    assert {key: names for key, names in plan.changes().items() if names and key.startswith("sets")} == {
        "sets_added": ["ipv4 pal-s4-b"],
        "sets_changed": ["ipv4 pal-s4-a"],
        "sets_removed": ["ipv4 pal-s4-a-t"],
    }
    assert plan.transactions()["ipset_destroy"] == "destroy pal-s4-a-t\n"


def test_a_set_whose_type_changes_is_replaced_only_when_no_rule_uses_it():
    other_type = SET_A.replace("hash:net", "hash:ip").replace("198.51.100.0/24", "198.51.100.1")
    plan = set_plan(other_type, SAVED_A)
    assert plan.sets.swap == "destroy pal-s4-a\nrename pal-s4-a-t pal-s4-a\n"
    with pytest.raises(
        PalisadeError,
        match=r"cannot change the type or family of an ipset that a rule uses .*"
        r"pal-s4-a is hash:net family inet maxelem 65536 and should be hash:ip",
    ):
        set_plan(other_type, SAVED_A, live_v4="*filter\n:pal-x - [0:0]\n-A pal-x -m set --match-set pal-s4-a src -j DROP\nCOMMIT\n")


def test_temporary_names_fit_the_kernel_limit():
    name = "pal-s4-" + "a" * 24  # 31 characters
    assert temporary_name(name, set()) == name[:29] + "-t"
    assert temporary_name(name, {name[:29] + "-t"}) == name[:28] + "-t2"
    assert len(temporary_name(name, set())) == 31


def changed_lines(plan) -> list:
    """The lines a unified diff of the plan's before and after text adds or removes."""
    diff = difflib.unified_diff(plan.before.splitlines(), plan.after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("---", "+++")]
