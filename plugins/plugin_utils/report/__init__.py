# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check-mode and fleet reports: compiled rulesets in (a host's recorded and new ones, or
every host's), the flows whose verdict changes and the reachability matrix out, as data,
text and HTML.
"""
