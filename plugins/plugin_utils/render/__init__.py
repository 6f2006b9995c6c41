# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering: ``ir.Ruleset`` in, the text the kernel tools read out (iptables-restore,
ip6tables-restore and ipset files), checked against the rendering contract, and the
role's data for a compiled host.
"""
