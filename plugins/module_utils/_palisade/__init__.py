# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host side of palisade.firewall: read, plan and apply the owned ruleset of one host.

Private to the collection: this API may change at any time. It runs on managed hosts, so it
uses only the Python standard library (Python 3.6 or later) and the iptables/ip6tables/ipset
tools.

What the collection owns on a host: every chain (in every table, both families) and every ipset
whose name starts with the prefix (``pal-``), plus the hook rules in built-in chains that jump
to an owned chain. Everything else (other tools' chains and rules, policies, nat) is never
changed, except that a rule of another tool jumping into an owned chain that is being deleted
is removed with it (the kernel refuses to delete a chain still referenced).

The modules, in the order data flows through them:

- ``rules``: iptables-restore's word splitting, the canonical form of a rule, jump targets;
- ``state``: the owned state (chains, hooks, ipsets) as values; parsing the wanted state from
  the module's inputs (restore texts and hook dicts) and rendering a state back into inputs;
- ``saved_state``: parsing ``iptables-save``/``ip6tables-save``/``ipset save`` into the live state;
- ``plan``: wanted vs live, giving the restore transactions, the ipset steps, the ``changes``
  lists and the readable text of both sides for ``--diff``;
- ``commands``: the one place that runs tools (tests replace it);
- ``apply``: the lock, ``snapshot()`` and ``apply()`` (which a later rollback reuses: applying a
  snapshot puts the owned state back exactly).
"""
