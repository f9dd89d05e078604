"""Incremental matching of derived literals against generated text.

Under a grammar the model writes the literals exactly; without one (tool_choice auto before
the trigger, a model that drifts) whitespace is where it differs. So whitespace in a literal
matches any run of whitespace (or none), whitespace before a literal is skipped, and a
literal's trailing whitespace matches itself exactly or nothing (it precedes a raw value,
whose own leading whitespace must survive).

Every function answers "ok", "no" or "more" (the text ends before it can tell); callers
wait on "more" until the final call.
"""

from __future__ import annotations

from typing import Literal

from .markup import WS

Verdict = Literal["ok", "no", "more"]


def flex(lit: str, buf: str, i: int = 0) -> tuple[Verdict, int]:
    """Match lit at buf[i:]; returns the verdict and the end of the match."""
    if not lit:
        return "ok", i
    n, j = len(buf), 0
    while i < n and buf[i] in WS:
        i += 1
    if i == n:
        return "more", i
    while j < len(lit):
        if lit[j] in WS:
            k = j
            while k < len(lit) and lit[k] in WS:
                k += 1
            if k == len(lit):  # trailing: exactly this run, or nothing
                run = lit[j:]
                if buf.startswith(run, i):
                    return "ok", i + len(run)
                if run.startswith(buf[i:]):
                    return "more", i
                return "ok", i
            while i < n and buf[i] in WS:
                i += 1
            if i == n:
                return "more", i
            j = k
            continue
        if i == n:
            return "more", i
        if buf[i] != lit[j]:
            return "no", i
        i, j = i + 1, j + 1
    return "ok", i


def first_of(alts: list[str], buf: str, i: int = 0) -> tuple[Verdict, int, int]:
    """The first alternative that matches at i: (verdict, which, end). "more" while any
    alternative before a match is still undecided."""
    for which, lit in enumerate(alts):
        verdict, end = flex(lit, buf, i)
        if verdict != "no":
            return verdict, which, end
    return "no", -1, i


def partial_tail(buf: str, words: list[str]) -> int:
    """Length of the longest suffix of buf that is a proper prefix of one of the words."""
    longest = 0
    for w in words:
        for k in range(min(len(w) - 1, len(buf)), longest, -1):
            if buf.endswith(w[:k]):
                longest = k
                break
    return longest


def earliest(buf: str, words: list[str], start: int = 0) -> tuple[int, str | None]:
    """The first occurrence of any word (longest first on ties)."""
    best, found = len(buf), None
    for w in sorted(words, key=len, reverse=True):
        at = buf.find(w, start) if w else -1
        if at != -1 and at < best:
            best, found = at, w
    return best, found


NAME_CHARS = frozenset("_.-")


def is_name_char(c: str) -> bool:
    return c.isalnum() or c in NAME_CHARS
