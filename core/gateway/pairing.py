"""A further call's values put in step with the group of the request the call serves.

A user who wants one tool called several times lists one group of values per call: "base 10
and height 5, and base 15 and height 7", "from Paris to Rome and from Madrid to Lisbon",
"the Hilton in Boston for 3 nights and the Hyatt in Miami for 2 nights". A small model
writing the second call often moves some values on to the next group and copies the others
from the call before: (15, 5), (Madrid, Rome), (Hyatt, Miami, 3). A value copied that way,
in a call where another value moved on to one no call used, is written again as the value
that stands to the moved one as the copied value stood to the one it replaced:

- the same words between them ("Paris to Rome" / "Madrid to Lisbon", "base 10 and height 5"
  / "base 15 and height 7": the *gap*);
- or, for a number, the same word or sign right before or after it ("for 3 nights" / "for
  2 nights", "5%" / "7%": the *slot*), when the groups are not worded alike.

The new value must be one the calls have not used up; the call is kept so only when it
still validates. A value both groups share ("Japan in 2010 and in 2020") has nothing in its
place and stays.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.numbers_said import DECIMAL, given_spans
from gateway.toolprior import COMMON_WORDS

log = logging.getLogger("gateway.pairing")

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|\w+|[^\w\s]")
_SIGNS = frozenset("$€£¥%°#")  # the marks that say what a number is, as a word would
# where a value written in place of a copied one ends: a mark, a coordinator
_STOPS = frozenset({"and", "or", "then", "also", "but", "vs", "versus", "with", "for", "in",
                    "on", "at", "to", "from", "of", "by"})
# what a value written in place of a copied one never runs across: a sentence's end, a
# coordinator, a list's comma
_BREAKS = frozenset({".", "!", "?", ";", "。", "！", "？", "；", ",", "，", "、", "and", "or",
                     "then", "also", "but", "vs", "versus"})
_GAP_TOKENS = 8  # the most tokens between a copied value and the one that moved on
# the most span comparisons one realign may make: a request that says its values hundreds
# of times would otherwise hold the event loop for seconds (the work grows with the cube of
# how often a value is said)
_WORK_LIMIT = 200_000


class _TooMuch(Exception):
    """The work limit of one realign is reached."""
_VALUE_TOKENS = 6  # the most tokens a string written in place of a copied one may take
# A top-level argument's scalar value in a call's JSON text
_ARGUMENT = r'"{key}"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?=\s*[,}}])'


@dataclass(frozen=True, slots=True)
class _Token:
    text: str  # lower-cased
    start: int
    end: int


def _tokens(text: str) -> list[_Token]:
    return [_Token(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _as_number(token: str) -> float | None:
    try:
        return float(token.replace(",", "")) if token[:1].isdigit() else None
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


Value = str | float  # a scalar argument, a string lower-cased and spaced, a number as float


def _scalar(value: Any) -> Value | None:
    if isinstance(value, str):
        text = " ".join(value.lower().split())
        return text or None
    return _number(value)


class _Request:
    """The user's message as tokens, where each value stands in it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.work = 0  # spans compared so far (see _by_gap)
        self._spans: dict[tuple[bool, Value], list[tuple[int, int]]] = {}
        self.tokens = _tokens(text)
        self.words = [t.text for t in self.tokens]
        ends = given_spans(text)
        self.numbers = {t.start for t in self.tokens if ends.get(t.start) == t.end}

    def spans(self, value: Value) -> list[tuple[int, int]]:
        """Where a value stands: (first token, past last token), each time it is said."""
        key = (isinstance(value, float), value)
        found = self._spans.get(key)
        if found is None:
            found = self._spans[key] = self._find(value)
        return found

    def _find(self, value: Value) -> list[tuple[int, int]]:
        if isinstance(value, float):
            return [(i, i + 1) for i, t in enumerate(self.tokens)
                    if t.start in self.numbers and _as_number(t.text) == value]
        wanted = [t.text for t in _tokens(value)]
        n = len(wanted)
        if not n:
            return []
        return [(i, i + n) for i in range(len(self.words) - n + 1)
                if self.words[i:i + n] == wanted]

    def value(self, span: tuple[int, int], like: Value) -> Value | None:
        """The value at `span` as a value of the kind of `like`."""
        if isinstance(like, float):
            token = self.tokens[span[0]]
            return _as_number(token.text) if span[1] - span[0] == 1 and \
                token.start in self.numbers else None
        return " ".join(self.words[span[0]:span[1]])

    def written(self, span: tuple[int, int]) -> str:
        """The request's own text at `span` (its case)."""
        return self.text[self.tokens[span[0]].start:self.tokens[span[1] - 1].end]


def _slot_word(token: str) -> str:
    """A neighbour of a number that says which slot it fills ("height", "nights", "$",
    "%"), singular; "" for one that does not ("and", "the", ",")."""
    if token in COMMON_WORDS or not (token.isalnum() or token in _SIGNS):
        return ""
    return token[:-1] if len(token) > 3 and token.endswith("s") and not token.endswith("ss") \
        else token


def _stop(token: str) -> bool:
    return token in _STOPS or not token.isalnum()


def _after(req: _Request, start: int, follow: str) -> tuple[int, int] | None:
    """A string value beginning at token `start`: up to the token that followed the copied
    value (`follow`) when it comes soon, before a break (`_BREAKS`): "Lunch at noon'" as
    "Meeting moved'"; else up to a mark, a coordinator or a preposition."""
    words = req.words[start:start + _VALUE_TOKENS + 1]
    for n, word in enumerate(words):
        if word == follow and n:
            return start, start + n
        if word in _BREAKS:
            break
    n = 0
    while n < min(len(words), _VALUE_TOKENS) and not _stop(words[n]):
        n += 1
    return (start, start + n) if n else None


def _before(req: _Request, end: int, lead: str) -> tuple[int, int] | None:
    """A string value ending before token `end` (see `_after`, backwards)."""
    words = req.words[max(0, end - _VALUE_TOKENS - 1):end][::-1]
    for n, word in enumerate(words):
        if word == lead and n:
            return end - n, end
        if word in _BREAKS:
            break
    n = 0
    while n < min(len(words), _VALUE_TOKENS) and not _stop(words[n]):
        n += 1
    return (end - n, end) if n else None


def _by_gap(req: _Request, copied: Value, was: Value, moved: Value) -> list[tuple[int, int]]:
    """Where a value stands to `moved` as `copied` stood to `was` (the same tokens between
    them, on the same side)."""
    out = []
    places = req.spans(moved)
    req.work += len(req.spans(copied)) * len(req.spans(was)) * max(1, len(places))
    if req.work > _WORK_LIMIT:
        raise _TooMuch
    for v in req.spans(copied):
        for a in req.spans(was):
            for b in places:
                if v[0] >= a[1] and v[0] - a[1] <= _GAP_TOKENS:  # copied after the anchor
                    gap = req.words[a[1]:v[0]]
                    at = b[1] + len(gap)
                    if req.words[b[1]:at] != gap or at >= len(req.words):
                        continue
                    if isinstance(copied, float):
                        out.append((at, at + 1))
                    elif (span := _after(req, at, req.words[v[1]] if v[1] < len(req.words)
                                         else "")):
                        out.append(span)
                elif v[1] <= a[0] and a[0] - v[1] <= _GAP_TOKENS:  # copied before it
                    gap = req.words[v[1]:a[0]]
                    at = b[0] - len(gap)
                    if at <= 0 or req.words[at:b[0]] != gap:
                        continue
                    if isinstance(copied, float):
                        out.append((at - 1, at))
                    elif (span := _before(req, at, req.words[v[0] - 1] if v[0] else "")):
                        out.append(span)
    return out


def _by_slot(req: _Request, copied: float) -> list[tuple[int, int]]:
    """The request's numbers with a word or sign beside them that one beside `copied` has."""
    def sides(i: int) -> tuple[str, str]:
        return (_slot_word(req.words[i - 1]) if i else "",
                _slot_word(req.words[i + 1]) if i + 1 < len(req.words) else "")
    slots = [sides(i) for i, _ in req.spans(copied)]
    lefts, rights = {a for a, _ in slots} - {""}, {b for _, b in slots} - {""}
    return [(i, i + 1) for i, t in enumerate(req.tokens) if t.start in req.numbers
            and (sides(i)[0] in lefts or sides(i)[1] in rights)]


def same_slot(one: str, other: str, request: str) -> bool:
    """Do two values stand in the request between the same words ("in Chicago, IL" and
    "in Sacramento, CA"; "$30.45 in" and "$52.33 in")? Then they are the same item of two
    groups the request lists, not one value and a word that qualifies it ("Bangkok,
    Thailand") nor values of two different slots ("$1000 at 10%")."""
    req = _Request(request)
    kinds = [_as_number(v) if DECIMAL.fullmatch(v) else _scalar(v) for v in (one, other)]
    if kinds[0] is None or kinds[1] is None or kinds[0] == kinds[1]:
        return False

    def sides(span: tuple[int, int]) -> tuple[str, str]:
        return (req.words[span[0] - 1] if span[0] else "",
                req.words[span[1]] if span[1] < len(req.words) else "")
    first = {sides(span) for span in req.spans(kinds[0])}
    return any(sides(span) in first for span in req.spans(kinds[1]))


def in_step(call: dict[str, Any], earlier: list[dict[str, Any]], request: str
            ) -> dict[str, str | float]:
    """{argument: the value to write there} for a further call (`call`, after the calls
    `earlier`) whose top-level values copy the last earlier call to the same tool while
    another of its values moved on to a value of the request no earlier call used; {}
    when nothing is out of step. Strings come as the request writes them."""
    before = next((c for c in reversed(earlier) if c.get("name") == call.get("name")), None)
    args, old = call.get("arguments"), before.get("arguments") if before else None
    if not isinstance(args, dict) or not isinstance(old, dict):
        return {}
    req = _Request(request)
    used = [v for c in earlier if isinstance(c.get("arguments"), dict)
            for v in map(_scalar, c["arguments"].values()) if v is not None]
    moved: list[tuple[Value, Value]] = []  # (what the call before had, what this one has)
    copied: list[tuple[str, Value]] = []
    for key, raw in args.items():
        value, was = _scalar(raw), _scalar(old.get(key))
        if value is None or was is None or not req.spans(was):
            continue
        if value == was:
            copied.append((key, value))
        elif value not in used and req.spans(value):
            moved.append((was, value))
    taken = used + [v for v in map(_scalar, args.values()) if v is not None]
    out: dict[str, str | float] = {}
    while moved and copied:  # a value put in step anchors the next ("Hilton in Boston")
        step: list[tuple[Value, Value]] = []
        for key, value in copied:
            spans = [s for was, now in moved for s in _by_gap(req, value, was, now)]
            if not spans and isinstance(value, float):
                spans = _by_slot(req, value)
            for span in spans:
                new = req.value(span, value)
                if new is None or new == value or taken.count(new) >= len(req.spans(new)):
                    continue
                out[key] = new if isinstance(new, float) else req.written(span)
                step.append((value, new))
                taken.append(new)
                break
        copied = [(key, value) for key, value in copied if key not in out]
        moved = step
    return out


def call_spans(text: str) -> list[tuple[int, int, dict[str, Any]]]:
    """(start, end, call) of each complete call object in a call list's text
    (`{"tool_calls":[{...},{...}`, or a further call's `,{...}`)."""
    decoder = json.JSONDecoder()
    out: list[tuple[int, int, dict[str, Any]]] = []
    i = text.find("[") + 1 if text.lstrip().startswith('{"tool_calls"') else 0
    while True:
        while i < len(text) and text[i] in " ,\n":
            i += 1
        if i >= len(text) or text[i] != "{":
            return out
        try:
            call, end = decoder.raw_decode(text, i)
        except ValueError:
            return out
        if isinstance(call, dict):
            out.append((i, end, call))
        i = end


def _rewritten(text: str, start: int, changes: dict[str, str | float],
               valid: Callable[[dict[str, Any]], bool]) -> str:
    """`text` with the call object at `start` given the top-level argument values
    `changes`, each change kept only if the call still validates."""
    at = text.find('"arguments"', start)
    out = text
    decoder = json.JSONDecoder()
    for key, value in changes.items():
        if isinstance(value, str):
            written = json.dumps(value, ensure_ascii=False)
        elif math.isfinite(value):
            written = str(int(value)) if value == int(value) else repr(value)
        else:
            continue
        new = json.loads(written)
        pattern = re.compile(_ARGUMENT.format(
            key=re.escape(json.dumps(key, ensure_ascii=False)[1:-1])))
        try:
            _, end = decoder.raw_decode(out, start)
        except ValueError:
            return out
        # the key's place in this call's arguments themselves, not in an object nested in them
        for match in pattern.finditer(out, at, end):
            tried = out[:match.start(1)] + written + out[match.end(1):]
            try:
                changed, _ = decoder.raw_decode(tried, start)
            except ValueError:
                continue
            args = changed.get("arguments") if isinstance(changed, dict) else None
            if isinstance(args, dict) and args.get(key) == new:
                if valid(changed):
                    out = tried
                break
    return out


def put_in_step(text: str, earlier: list[dict[str, Any]], request: str,
                valid: Callable[[dict[str, Any]], bool]) -> str:
    """A further call's JSON text (`,{"name":..., "arguments":{...}}`) with its values put
    in step (see `in_step`), each change kept only if the call still validates; `text`
    itself when nothing changed."""
    start = text.find("{")
    try:
        call, _ = json.JSONDecoder().raw_decode(text, start) if start >= 0 else (None, 0)
    except ValueError:
        return text
    if not isinstance(call, dict):
        return text
    try:
        changes = in_step(call, earlier, request)
    except (_TooMuch, ArithmeticError, ValueError):
        return text
    return _rewritten(text, start, changes, valid)


# -- all the calls to one tool in step with each other ------------------------------------

def _said_as(value: Any) -> Value | None:
    """A scalar argument as the request's tokens would give it back (`_Request.value`)."""
    found = _scalar(value)
    return " ".join(t.text for t in _tokens(found)) if isinstance(found, str) else found


def _related(req: _Request, value: Value, source: tuple[Value, Value], pivot: Value
             ) -> Value | None:
    """The one value of the request that stands to `pivot` as `source[0]` stands to
    `source[1]` (see `_by_gap`); None when there is none or more than one."""
    found = {req.value(span, value) for span in _by_gap(req, source[0], source[1], pivot)}
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def _in_step_with(req: _Request, pivots: list[Value], values: list[Value], seen: list[Value]
                  ) -> tuple[int, list[Value]] | None:
    """The values of one argument in step with the calls' `pivots` (another argument's
    values, one per call, all different): for each way a value of the argument stands to a
    pivot in the request, the value standing so to each pivot. The way kept is the one that
    gives a value for every call, no value more often than the request says it, and most
    of the calls' own values: at least one, each value it replaces a copy of another value
    of the calls or one the request does not say, or all of them in another order. (How
    many it keeps, the values); None when no way does, or two ways give different values."""
    best: tuple[int, list[Value]] | None = None
    tie = False
    for source in {(v, p) for v in values for p in pivots}:
        got = [_related(req, values[0], source, pivot) for pivot in pivots]
        if any(v is None for v in got):
            continue
        ways: list[Value] = [v for v in got if v is not None]
        if any(ways.count(v) > max(1, len(req.spans(v))) for v in ways):
            continue
        agree = sum(a == b for a, b in zip(ways, values, strict=True))
        swapped = sorted(map(str, ways)) == sorted(map(str, values))
        # a value replaced is a copy of another value of the calls (`seen`: all their
        # values) or one the request does not say, or the calls swapped theirs: a value of
        # its own from the request is another way of reading it, not a slip
        if not swapped and (not agree or any(
                new != old and seen.count(old) < 2 and req.spans(old)
                for new, old in zip(ways, values, strict=True))):
            continue
        if best is None or agree > best[0]:
            best, tie = (agree, ways), False
        elif agree == best[0] and ways != best[1]:
            tie = True
    return None if best is None or tie else best


def in_step_all(calls: list[dict[str, Any]], request: str
                ) -> dict[int, dict[str, str | float]]:
    """{index of a call: {argument: the value to write there}} for the calls to one tool
    whose top-level values are not in step with each other: one argument's values (the
    *pivot*: all different, all said in the request) fix each call's group of the request,
    and each other argument takes the value that stands to the pivot in the request as it
    does in the calls that have it right ("Maria's average in history" and "Tom's average
    in history" from "Maria's average in chemistry and Tom's average in history"; two
    amounts swapped between two shows). The first call is revisited too. Of several
    pivots, the one whose ways keep most of the calls' own values, then the one that
    changes fewest; {} when such pivots disagree."""
    req = _Request(request)
    out: dict[int, dict[str, str | float]] = {}
    by_tool: dict[str, list[int]] = {}
    for i, call in enumerate(calls):
        if isinstance(call.get("arguments"), dict) and isinstance(call.get("name"), str):
            by_tool.setdefault(call["name"], []).append(i)
    for group in by_tool.values():
        if len(group) < 2:
            continue
        rows = [calls[i]["arguments"] for i in group]
        keys = [k for k in rows[0] if all(k in row for row in rows)]
        scalars = {k: [_said_as(row[k]) for row in rows] for k in keys}
        values = {k: [v for v in vs if v is not None] for k, vs in scalars.items()}
        values = {k: vs for k, vs in values.items() if len(vs) == len(rows)}
        seen = [v for own in values.values() for v in own]
        plans: list[tuple[int, int, dict[int, dict[str, Value]]]] = []
        for pivot, pivots in values.items():
            if len(set(pivots)) < len(pivots) or not all(req.spans(v) for v in pivots):
                continue
            plan: dict[int, dict[str, Value]] = {}
            kept = 0  # the calls' own values the pivot's ways confirm
            for key, own in values.items():
                if key == pivot or not any(req.spans(v) for v in own) or \
                        any(isinstance(v, float) != isinstance(own[0], float) for v in own):
                    continue
                stepped = _in_step_with(req, pivots, own, seen)
                if stepped is None:
                    continue
                kept += stepped[0]
                for row, (old, new) in enumerate(zip(own, stepped[1], strict=True)):
                    if new != old:
                        plan.setdefault(group[row], {})[key] = new
            plans.append((kept, -sum(map(len, plan.values())), plan))
        if not plans:
            continue
        best = max(plans, key=lambda p: p[:2])[:2]
        chosen = [plan for kept, fewer, plan in plans if (kept, fewer) == best]
        finals = {json.dumps(_after_plan(rows, group, plan), default=str) for plan in chosen}
        if len(finals) > 1:
            continue
        for i, changes in chosen[0].items():
            out[i] = {k: (req.written(req.spans(v)[0]) if isinstance(v, str) else v)
                      for k, v in changes.items() if not isinstance(v, str) or req.spans(v)}
    return out


def _after_plan(rows: list[dict[str, Any]], group: list[int],
                plan: dict[int, dict[str, Value]]) -> list[dict[str, Any]]:
    """The calls' scalar values once `plan` is applied, as a sorted list (the set of calls
    a plan makes, whatever their order)."""
    made: list[dict[str, Any]] = [{k: _said_as(v) for k, v in row.items()} | plan.get(i, {})
                                  for i, row in zip(group, rows, strict=True)]
    return sorted(made, key=lambda m: json.dumps(m, sort_keys=True, default=str))


def realign(text: str, request: str, valid: Callable[[dict[str, Any]], bool]) -> str:
    """A call list's text with the calls to each tool put in step with each other (see
    `in_step_all`), each call changed only if it still validates; `text` itself when
    nothing changed. Calls are rewritten from the last, so earlier offsets hold."""
    spans = call_spans(text)
    try:
        changes = in_step_all([call for _, _, call in spans], request)
    except (_TooMuch, ArithmeticError, ValueError) as exc:
        # said too often to relate in time, or a number past a float's range
        log.info("realign: calls kept as written (%s)", type(exc).__name__)
        return text
    out = text
    for i in sorted(changes, reverse=True):
        out = _rewritten(out, spans[i][0], changes[i], valid)
    return out
