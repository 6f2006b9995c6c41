# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource model and its validation: the user's policies, network sets, host endpoints
and Felix settings in (compact ``palisade_*`` variables or Calico manifests), immutable
``resources`` gathered in a ``Catalog`` out, or every ``Problem`` found at once.
"""
