# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rendering contract: which characters may reach a rendered file, and how long a line may be.

Private to the collection: the engine's API may change at any time.

A rendered file (``ipv4.rules``, ``ipv6.rules``, ``ipsets.restore``) is printable ASCII: lines of
U+0020-U+007E, each ended by ``\\n``. Nothing else, because the readers split lines on more than
``\\n`` (Python's ``str.splitlines()`` also breaks on ``\\r \\v \\f \\x1c \\x1d \\x1e \\x85 \\u2028
\\u2029``), cut lines at fixed byte lengths (``ipset restore`` reads 1,024-byte chunks and runs the
rest of a longer line as a command), or print non-ASCII text depending on the locale.

- Free text (comments, the host name of a header) goes through ``free_text()``: every character
  outside the contract is written as ``<U+XXXX>``, so a hostile selector stays visible in the
  comment and cannot end it; the result is capped in UTF-8 bytes.
- Rule words (names, set members, interfaces, log prefixes) must already be refused at
  validation; ``check_file()`` is the final assertion, run on every rendered file: a line with a
  character outside the contract, or longer than the tool reads in one piece, raises
  ``RenderError`` naming the file and the line, and the file is never returned.

The limits were measured with the real tools (ipset v7.17, iptables-restore v1.8.9 nf_tables).
"""

from __future__ import annotations

import re

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError

# ipset restore: a 1,023-byte line (plus its newline) loads; a 1,024-byte one is split.
IPSET_MAX_LINE_BYTES = 1023
# iptables-restore/ip6tables-restore: a 10,239-byte line loads; a 10,240-byte one is split;
# a rule line may have at most 251 words ("Parser cannot handle more arguments" at 252).
RESTORE_MAX_LINE_BYTES = 10239
RESTORE_MAX_WORDS = 251
# Free text caps, far under both line limits: the longest comment line of an ipset file is
# "# " + a 31-character set name + " (IPv4 hash:ip,port): " + a capped comment.
MAX_HOST_BYTES = 255
MAX_FREE_COMMENT_BYTES = 255
ELLIPSIS = "..."

_OUTSIDE = re.compile(r"[^\x20-\x7e]")


class RenderError(PalisadeError, ValueError):
    """The IR holds something the kernel tools cannot express faithfully (a compiler bug)."""


def allowed(char: str) -> bool:
    """Whether one character may appear in a rendered line."""
    return "\x20" <= char <= "\x7e"


def escape_char(char: str) -> str:
    """``<U+2028>``: ASCII, no backslash (iptables-restore would read one inside quotes)."""
    return f"<U+{ord(char):04X}>"


def escape(text: str) -> str:
    """Every character outside the contract written as ``<U+XXXX>``."""
    return _OUTSIDE.sub(lambda found: escape_char(found.group()), text)


def cap(text: str, limit: int, *, mark_cut: bool = True) -> str:
    """An already escaped ``text`` cut to ``limit`` bytes, never inside a ``<U+XXXX>`` escape.

    ``mark_cut`` ends a cut text with "..." so a reader knows it was cut.
    """
    if len(text.encode("utf-8")) <= limit:
        return text
    budget = limit - len(ELLIPSIS) if mark_cut else limit
    pieces = re.findall(r"<U\+[0-9A-F]{4,6}>|.", text, flags=re.DOTALL)
    kept = []
    used = 0
    for piece in pieces:
        size = len(piece.encode("utf-8"))
        if used + size > budget:
            break
        kept.append(piece)
        used += size
    return "".join(kept) + (ELLIPSIS if mark_cut else "")


def free_text(text: str, limit: int) -> str:
    """Free text (a comment, a host name) as it may be rendered: escaped, then capped."""
    return cap(escape(text), limit)


def first_outside(line: str) -> str | None:
    """The first character of ``line`` outside the contract, if any."""
    found = _OUTSIDE.search(line)
    return found.group() if found else None


def check_file(text: str, name: str, *, max_line_bytes: int, max_words: int | None = None) -> str:
    """``text`` itself, once every line is within the contract; else ``RenderError`` naming the line.

    This is the last step of every renderer: an escape missed upstream is a bug, and a file that
    the host's tools would read as other lines than these must never leave the controller.
    """
    if text and not text.endswith("\n"):
        raise RenderError(f"{name}: the rendered text does not end with a newline")
    for number, line in enumerate(text.split("\n")[:-1] if text else [], start=1):
        char = first_outside(line)
        if char is not None:
            raise RenderError(
                f"{name} line {number}: character {escape_char(char)} is outside the rendering contract"
                f" (printable ASCII only): {cap(escape(line), 200)}"
            )
        if len(line) > max_line_bytes:
            raise RenderError(
                f"{name} line {number}: {len(line)} bytes, more than the {max_line_bytes} the kernel tools read as one line:"
                f" {cap(line, 200)}"
            )
        if max_words is not None and len(line.split()) > max_words:
            raise RenderError(
                f"{name} line {number}: {len(line.split())} words, more than the {max_words} iptables-restore accepts:"
                f" {cap(line, 200)}"
            )
    return text
