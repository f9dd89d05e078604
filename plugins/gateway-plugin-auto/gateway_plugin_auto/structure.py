"""The section and call structure, from one turn with three planted calls.

Each call's name, arguments and id are found by search and replaced with slots; what is
left are literals: `lead` (section open + first call's head), the literals inside each call
(equal for every call, up to a running call number), `between` (call close + separator +
next head) and `tail`. The call head is the longest common suffix of lead and between, the
call close the longest common prefix of tail and the rest of between. A digit run that counts
up from call to call (Kimi's `functions.f:0`, Cohere's `"tool_call_id": "0"`) becomes the
INDEX slot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .markup import ARGS, ID, INDEX, NAME, SLOTS, WS, good
from .probe import IDS, NAMES, Probe, call

ARGSETS = ({"kqalpha": "vqone"}, {"kqalpha": "vqtwo"}, {"kqalpha": "vqthree"})


class StructureError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Structure:
    section_open: str
    call: tuple[str, ...]
    call_sep: str
    section_close: str
    index_base: int


def _unify(values: list[str]) -> tuple[str, int | None]:
    """One literal for what each call wrote; a counting digit run becomes INDEX."""
    if all(v == values[0] for v in values):
        return values[0], None
    first = values[0]
    n = 0
    while all(len(v) > n and v[n] == first[n] for v in values):
        n += 1
    while n and first[n - 1].isdigit():
        n -= 1
    m = 0
    while all(len(v) - m > n and v[len(v) - 1 - m] == first[len(first) - 1 - m] for v in values):
        m += 1
    while m and first[len(first) - m].isdigit():
        m -= 1
    middles = [v[n: len(v) - m] for v in values]
    if not all(x.isdigit() for x in middles):
        raise StructureError("the calls of one turn are not written alike (beyond a "
                             f"counter): {values[0]!r} vs {values[-1]!r}")
    nums = [int(x) for x in middles]
    if nums != list(range(nums[0], nums[0] + len(nums))):
        raise StructureError(f"a number in the calls does not count up: {middles!r}")
    return first[:n] + INDEX + first[len(first) - m:], nums[0]


def _suffix(text: str, pattern: str) -> tuple[int, int, int | None]:
    """Common suffix of text and pattern (INDEX in pattern matches a digit run in text):
    its start in each, and the number the INDEX matched."""
    i, j, value = len(text), len(pattern), None
    while i > 0 and j > 0:
        if pattern[j - 1] == INDEX:
            k = i
            while k > 0 and text[k - 1].isdigit():
                k -= 1
            if k == i:
                break
            value = int(text[k:i])
            i, j = k, j - 1
        elif text[i - 1] == pattern[j - 1]:
            i, j = i - 1, j - 1
        else:
            break
    while i < len(text) and j < len(pattern) and not (good(text, i) and good(pattern, j)):
        if pattern[j] == INDEX:  # never split a number from its slot
            while i < len(text) and text[i].isdigit():
                i += 1
            value = None
        else:
            i += 1
        j += 1
    return i, j, value


def _prefix(text: str, pattern: str) -> tuple[int, int]:
    """Common prefix of text and pattern: its end in each."""
    i = j = 0
    while i < len(text) and j < len(pattern):
        if pattern[j] == INDEX:
            k = i
            while k < len(text) and text[k].isdigit():
                k += 1
            if k == i:
                break
            i, j = k, j + 1
        elif text[i] == pattern[j]:
            i, j = i + 1, j + 1
        else:
            break
    while j > 0 and not (good(text, i) and good(pattern, j)):
        if pattern[j - 1] == INDEX:
            break
        i, j = i - 1, j - 1
    return i, j


Slot = tuple[int, int, str]  # start, end, sentinel


def _slots(body: str, k: int, render: Callable[[dict[str, Any]], str]) -> list[Slot]:
    found: list[Slot] = []
    for i in range(k):
        name = body.find(NAMES[i])
        if name == -1 or body.count(NAMES[i]) != 1:
            raise StructureError(f"call {i + 1} of {k}: its name is not written exactly once")
        args = body.find(render(ARGSETS[i]), name + len(NAMES[i]))
        if args == -1:
            raise StructureError(f"call {i + 1} of {k}: its arguments are not written after "
                                 "its name the way a single call's are")
        mine = [(name, name + len(NAMES[i]), NAME), (args, args + len(render(ARGSETS[i])), ARGS)]
        at = body.find(IDS[i])
        if at != -1:
            mine.append((at, at + len(IDS[i]), ID))
        mine.sort()
        if found and mine[0][0] < found[-1][1]:
            raise StructureError("the calls' parts interleave")
        if found and [s for _, _, s in mine] != [s for _, _, s in found[-len(mine):]]:
            raise StructureError("the calls are not written alike")
        found += mine
    return found


def derive_structure(probe: Probe, render: Callable[[dict[str, Any]], str], k: int,
                     strip: Callable[[str], str]) -> Structure:
    """k planted calls (3, or 1 for one-call-per-turn templates) → the structure."""
    body = strip(probe.calls([call(i, ARGSETS[i]) for i in range(k)]))
    slots = _slots(body, k, render)
    per = len(slots) // k
    cuts = [0] + [p for s, e, _ in slots for p in (s, e)] + [len(body)]
    lits = [body[cuts[2 * i]: cuts[2 * i + 1]] for i in range(len(slots) + 1)]
    lead, tail = lits[0], lits[-1]
    inner: list[str] = []
    base: int | None = None
    for j in range(1, per):
        text, first = _unify([lits[i * per + j] for i in range(k)])
        inner.append(text)
        base = first if first is not None else base
    kinds = [s for _, _, s in slots[:per]]
    if k == 1:
        head, close, sep, s_open, s_close = lead, tail, "", "", ""
    else:
        between, first = _unify([lits[(i + 1) * per] for i in range(k - 1)])
        cut_lead, cut_b, lead_value = _suffix(lead, between)
        head, s_open = between[cut_b:], lead[:cut_lead]
        rest = between[:cut_b]
        cut_tail, n = _prefix(tail, rest)
        close, sep, s_close = rest[:n], rest[n:], tail[cut_tail:]
        if INDEX in head:
            base = lead_value if lead_value is not None else base
        elif INDEX in close:
            base = first
        # whitespace around a call belongs to the separator, not to the call's markers
        lead_ws = head[: len(head) - len(head.lstrip(WS))]
        head, sep, s_open = head[len(lead_ws):], sep + lead_ws, s_open + lead_ws
        trail_ws = close[len(close.rstrip(WS)):]
        close, sep = close[: len(close) - len(trail_ws)], trail_ws + sep
        s_close = trail_ws + s_close
    if INDEX in s_open + s_close + sep:
        raise StructureError("the call counter is outside the calls")
    parts: list[str] = [head]
    for j, kind in enumerate(kinds):
        parts.append(kind)
        if j < len(inner):
            parts.append(inner[j])
    parts.append(close)
    return Structure(s_open.lstrip(WS), _split_index(parts), sep, s_close.rstrip(WS),
                     base or 0)


def _split_index(parts: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for part in parts:
        pieces = [part] if part in SLOTS else part.replace(INDEX, "\0" + INDEX + "\0").split("\0")
        out += [p for p in pieces if p]
    return tuple(out)
