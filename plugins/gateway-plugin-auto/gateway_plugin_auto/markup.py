"""Text helpers of the derivation: slot sentinels, markup atoms, and common prefixes and
suffixes that stop at token-like boundaries.

Diffing two renderings char by char finds *a* split, often an ugly one: `<function=f>\\n<`
vs `<function=f>\\n</` share a `<` that belongs to different tags. Every split is therefore
moved to a "good" boundary (whitespace, before an opening bracket, after a closing one), so
the derived markers are whole tags such as `<parameter=` and `</parameter>`.
"""

from __future__ import annotations

import re

# Slots inside derived literal text (private-use code points: never in a template's output).
NAME, ARGS, ID, INDEX = "\ue000", "\ue001", "\ue002", "\ue003"
SLOTS = frozenset((NAME, ARGS, ID, INDEX))
WS = " \t\r\n"
_OPENERS = "<[{("
_CLOSERS = ">]})"

# A special-token-like marker: `<tool_call>`, `<|tool_call>`, `</arg_value>`, `[TOOL_CALLS]`,
# `<｜tool▁calls▁begin｜>`, `<<calls>>`. Used for triggers, preserved tokens and reasoning markers.
ATOM = re.compile(r"<<?[^<>\s]{1,48}>>?|\[[A-Z][A-Z0-9_]{1,40}\]")


def good(s: str, p: int) -> bool:
    """Is position p of s a token-like boundary?"""
    if p <= 0 or p >= len(s):
        return True
    a, b = s[p - 1], s[p]
    if a == b and a in _OPENERS + _CLOSERS:  # never inside `>>` or `<<`
        return False
    return (a in WS or b in WS or a in _CLOSERS or b in _OPENERS
            or a in SLOTS or b in SLOTS)


def common_prefix(a: str, b: str, floor: int = 0) -> int:
    """Length of the common prefix of a and b, moved back to a good boundary (>= floor)."""
    n = 0
    limit = min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    while n > floor and not (good(a, n) and good(b, n)):
        n -= 1
    return n


def common_suffix(a: str, b: str, limit: int | None = None) -> int:
    """Length of the common suffix of a and b (at most limit), shrunk to a good boundary."""
    top = min(len(a), len(b)) if limit is None else min(len(a), len(b), limit)
    m = 0
    while m < top and a[len(a) - 1 - m] == b[len(b) - 1 - m]:
        m += 1
    while m > 0 and not (good(a, len(a) - m) and good(b, len(b) - m)):
        m -= 1
    return m


def first_atom(text: str) -> str | None:
    """The marker text begins with (after whitespace), if any."""
    m = ATOM.match(text.lstrip(WS))
    return m.group(0) if m else None


def last_atom(text: str) -> tuple[int, str] | None:
    """The last marker in text and where it starts."""
    found = None
    for m in ATOM.finditer(text):
        found = (m.start(), m.group(0))
    return found


def atoms(*texts: str) -> list[str]:
    """Every marker in the texts, once each, in order."""
    out: list[str] = []
    for text in texts:
        for m in ATOM.finditer(text):
            if m.group(0) not in out:
                out.append(m.group(0))
    return out


def show(text: str) -> str:
    """Literal text with slots spelled out, for reasons and logs."""
    for slot, word in ((NAME, "NAME"), (ARGS, "ARGS"), (ID, "ID"), (INDEX, "N")):
        text = text.replace(slot, word)
    return text
