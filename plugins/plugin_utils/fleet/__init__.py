# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet and its index: every inventory host's variables in, the validated ``Fleet``
(hosts, endpoints with labels and addresses) out, with the ``FleetIndex`` that answers
selectors and each host's ``HostResolution`` (its endpoints' policies, resolved selectors).
"""
