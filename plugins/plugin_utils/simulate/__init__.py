# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Simulation: ``ir.Ruleset`` and a ``Packet`` in, an ``Outcome`` (verdict and the rules on
its way) out; explain's packet requests and the lockout guard are built on it.
"""
