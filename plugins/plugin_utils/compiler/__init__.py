# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compiler: a host's ``HostResolution`` in, its ``CompiledHost`` out: one ``ir.Ruleset``
per IP family in the neutral IR, with stable chain and ipset names.
"""
