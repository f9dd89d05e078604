"""Code-point sets and their JSON-string-text form in GBNF.

Patterns and lengths talk about *decoded* characters, the grammar produces JSON text, so a
set of characters becomes "the raw characters that JSON allows unescaped, or the escape of
each member that must be escaped" (canonical escapes, as ``json.dumps`` writes them).
"""

from __future__ import annotations

from functools import lru_cache

from .gbnf import char_class, literal

MAX_CP = 0x10FFFF
Ranges = tuple[tuple[int, int], ...]

_SHORT = {0x22: '\\"', 0x5C: "\\\\", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r",
          0x09: "\\t"}
MUST_ESCAPE: Ranges = ((0x00, 0x1F), (0x22, 0x22), (0x5C, 0x5C))


def normalize(ranges: list[tuple[int, int]] | Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def union(*sets: Ranges) -> Ranges:
    return normalize([r for s in sets for r in s])


def complement(s: Ranges) -> Ranges:
    out, nxt = [], 0
    for lo, hi in s:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAX_CP:
        out.append((nxt, MAX_CP))
    return tuple(out)


def intersect(a: Ranges, b: Ranges) -> Ranges:
    return complement(union(complement(a), complement(b)))


def minus(a: Ranges, b: Ranges) -> Ranges:
    return intersect(a, complement(b))


def of(text: str) -> Ranges:
    return normalize([(ord(c), ord(c)) for c in text])


def members(s: Ranges) -> list[int]:
    return [c for lo, hi in s for c in range(lo, hi + 1)]


ANY: Ranges = ((0, MAX_CP),)


def json_escape(cp: int) -> str:
    return _SHORT.get(cp) or f"\\u{cp:04x}"


@lru_cache(maxsize=1024)
def json_chars(s: Ranges) -> str | None:
    """GBNF alternatives matching the JSON text of one character from ``s`` (None if empty)."""
    raw = minus(s, MUST_ESCAPE)
    alts: list[str] = []
    if raw:
        # A negated class is shorter when the set is "almost everything".
        comp = complement(raw)
        if len(comp) < len(raw):
            alts.append(char_class(comp, negated=True))
        else:
            alts.append(char_class(raw))
    escaped = members(intersect(s, MUST_ESCAPE))
    if escaped:
        alts.append(_escapes(escaped))
    if not alts:
        return None
    return " | ".join(alts)


def _escapes(cps: list[int]) -> str:
    """The canonical escapes of ``cps`` (all < 0x20, quote or backslash) as one alternative
    behind one backslash: a class of short-escape letters, and the others (u00XX) grouped
    by the high hex digit: one element, so llama.cpp keeps one stack, not one per
    character."""
    letters = [ord(_SHORT[c][1]) for c in cps if c in _SHORT]
    parts = []
    if letters:
        parts.append(char_class(normalize([(c, c) for c in letters])))
    longs = [c for c in cps if c not in _SHORT]
    if longs:
        groups = []
        for high in sorted({c >> 4 for c in longs}):
            lows = [ord(f"{c & 15:x}") for c in longs if c >> 4 == high]
            groups.append(f'"{high}" {char_class(normalize([(x, x) for x in lows]))}')
        parts.append('"u00" ' + (groups[0] if len(groups) == 1 else
                                 "(" + " | ".join(groups) + ")"))
    return literal("\\") + " " + (parts[0] if len(parts) == 1 else
                                   "(" + " | ".join(parts) + ")")
