# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Selectors: Calico selector text in, a parsed ``Selector`` out.

``lexer`` splits the text into tokens, ``parser`` builds the ``syntax_tree`` (and its
canonical text); a ``Selector`` matches label mappings. Nothing here knows about hosts.
"""
