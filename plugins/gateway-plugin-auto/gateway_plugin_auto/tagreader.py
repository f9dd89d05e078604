"""Streams tagged arguments (`<parameter=KEY>VALUE</parameter>`...) as one JSON object.

A string value streams as it arrives (a JSON string, held back where the text might be the
end marker); other values are converted when complete. A value ends where what follows it
matches: the end marker and the next parameter, or the end marker and the end of the call
(the markers alone are not enough for templates without an end marker, e.g. `f(a=1, b=2)`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .flex import earliest, first_of, flex, partial_tail
from .markup import WS
from .spec import Tagged
from .values import is_string_param, value_json

MAX_KEY = 128


class TaggedArgs:
    """feed(text, final) -> (fragments, consumed). `done` once the arguments ended (the
    owner then appends `closing()`); `failed` when the text is not tagged arguments."""

    def __init__(self, spec: Tagged, props: dict[str, Any], follow: list[str]) -> None:
        self.t = spec
        self.props = props
        self.alts = [spec.close + spec.sep + spec.open] + [spec.close + spec.end + f
                                                           for f in follow]
        self.state = "start"  # start | key | string | value
        self.done = False
        self.failed = False
        self.started = False  # "{" emitted
        self._key = ""
        self._open = False  # a string value's opening quote emitted
        # the key ends where the marker after it starts (its first word: whitespace varies);
        # where that marker tells the value's type, each type's marker, longest first
        self._ends = sorted(spec.key_ends(), key=lambda e: -len(e[0]))
        self._key_cores = list(dict.fromkeys((e.split() or [""])[0] for e, _ in self._ends))
        self._as_json = False  # the markup says the value is not a string: read it as JSON
        self._states: dict[str, Callable[[str, int, bool, list[str]], int | None]] = {
            "start": self._start, "key": self._read_key, "string": self._string,
            "value": self._value}

    def feed(self, buf: str, final: bool) -> tuple[list[str], int]:
        out: list[str] = []
        i = 0
        while not (self.done or self.failed):
            state = self.state
            j = self._states[state](buf, i, final, out)
            if j is None or (j == i and state == self.state and not self.done):
                break
            i = j
        if final and not (self.done or self.failed):
            self._cut(buf[i:], out)
            i = len(buf)
        return out, i

    def closing(self) -> str:
        """What ends the object once the arguments are done."""
        return "}" if self.started else "{}"

    def close(self) -> str:
        """What ends the object when the text broke off inside it."""
        return ('"' if self._open else "") + self.closing()

    # -- states: each returns the new position, or None to wait -------------------------
    def _start(self, buf: str, i: int, final: bool, out: list[str]) -> int | None:
        t = self.t
        tries = [(True, t.empty), (False, t.start + t.open)]
        if not t.empty:
            tries.reverse()  # an empty marker matches anything: parameters first
        for empty, lit in tries:
            verdict, end = flex(lit, buf, i)
            if verdict == "more" and not final:
                return None
            if verdict != "no":
                if empty:
                    self.done = True
                else:
                    self.state = "key"
                return end
        self.failed = True
        return None

    def _read_key(self, buf: str, i: int, final: bool, out: list[str]) -> int | None:
        at, core = earliest(buf, [c for c in self._key_cores if c], i)
        if core is None:
            if len(buf) - i > MAX_KEY:
                self._give_up()
            return None
        key = buf[i:at].strip(WS)
        if not key or len(key) > MAX_KEY or "\n" in key:
            self._give_up()
            return None
        verdict, which, end = first_of([e for e, _ in self._ends], buf, at)
        if verdict == "more" and not final:
            return None
        marked = self.t.types_at(self._ends[which][0]) if which >= 0 else set()
        if self.t.typed and not marked:  # no type markup the template writes
            self._give_up()
            return None
        if verdict == "no":  # untyped: the marker is taken as written (as flex reads it)
            end = flex(self.t.key_end, buf, at)[1]
        self._as_json = bool(marked) and "string" not in marked
        q = self.t.quote_open
        string = (marked == {"string"} or (is_string_param(self.props.get(key)) and
                                           not self._as_json)) and not self.t.json_strings
        if string and q:
            if buf.startswith(q, end):
                end += len(q)
            elif q.startswith(buf[end:]) and not final:
                return None  # the quote may be arriving
            else:
                string = False  # unquoted: read it as any other value
        self._key = key
        self.state = "string" if string else "value"
        return end

    def _string(self, buf: str, i: int, final: bool, out: list[str]) -> int | None:
        q = self.t.quote_close
        p = i
        while (p := self._candidate(buf, p, q)) != -1:
            verdict, which, end = first_of(self.alts, buf, p + len(q))
            if verdict == "ok" or (verdict == "more" and final):
                text = buf[i:p]
                if not q:
                    text = text.rstrip(WS)  # the end marker's whitespace is not the value's
                self._emit_string(text, out, close=True)
                return self._after_value(buf, p + len(q), which)
            if verdict == "more":  # undecided: emit up to here, wait for the rest
                safe = self._safe(buf[i:p], q)
                self._emit_string(safe, out)
                return i + len(safe) if safe else None
            p += 1
        safe = self._safe(buf[i:], q)
        self._emit_string(safe, out)
        return i + len(safe) if safe else None

    def _value(self, buf: str, i: int, final: bool, out: list[str]) -> int | None:
        if self.t.close.strip(WS):  # an end marker: the value is everything before it
            p = i
            while (p := self._candidate(buf, p, "")) != -1:
                verdict, which, _ = first_of(self.alts, buf, p)
                if verdict == "more" and not final:
                    return None
                if verdict != "no":
                    self._emit_value(buf[i:p], out)
                    return self._after_value(buf, p, which)
                p += 1
            return None
        # no end marker (`f(a=1, b=[2, 3])`): brackets and quotes decide where it ends
        depth, quote, p = 0, "", i
        while p < len(buf):
            c = buf[p]
            if quote:
                if c == "\\":
                    p += 1
                elif c == quote:
                    quote = ""
            elif c in "\"'" and p > i and (end := first_of(self.alts, buf, p))[0] != "no":
                # a quote the template closes every value with (Llama 4's vLLM template:
                # `k="42", `): the value ends before it
                if end[0] == "more" and not final:
                    return None
                self._emit_value(buf[i:p], out)
                return self._after_value(buf, p, end[1])
            elif c in "\"'":
                quote = c
            elif c in "[{(":
                depth += 1
            elif c in "]})" and depth > 0:
                depth -= 1
            elif depth == 0 and c not in WS:
                verdict, which, _ = first_of(self.alts, buf, p)
                if verdict == "more" and not final:
                    return None
                if verdict != "no":
                    self._emit_value(buf[i:p], out)
                    return self._after_value(buf, p, which)
            p += 1
        return None

    # -- helpers ---------------------------------------------------------------------------
    def _candidate(self, buf: str, p: int, q: str) -> int:
        if q:
            return buf.find(q, p)
        hits = [buf.find(s, p) for s in {a.lstrip(WS)[:1] for a in self.alts} - {""}]
        return min((h for h in hits if h != -1), default=-1)

    def _safe(self, text: str, q: str) -> str:
        """What of a string value may be emitted before its end is known."""
        if not q:
            return text.rstrip(WS)  # trailing whitespace may belong to the end marker
        return text[: len(text) - partial_tail(text, [q])]

    def _after_value(self, buf: str, p: int, which: int) -> int:
        if which == 0:
            self.state = "key"
            return flex(self.alts[0], buf, p)[1]
        self.done = True
        return flex(self.t.close + self.t.end, buf, p)[1]

    def _open_value(self, out: list[str]) -> None:
        out.append(("," if self.started else "{") + json.dumps(self._key, ensure_ascii=False)
                   + ":")
        self.started = True

    def _emit_string(self, text: str, out: list[str], close: bool = False) -> None:
        if not self._open:
            if not text and not close:
                return
            self._open_value(out)
            out.append('"')
            self._open = True
        if text:
            out.append(json.dumps(text, ensure_ascii=False)[1:-1])
        if close:
            out.append('"')
            self._open = False

    def _emit_value(self, text: str, out: list[str]) -> None:
        self._open_value(out)
        t = self.t
        quotes = (t.quote_open, t.quote_close) if t.quote_open and not t.nested_json else None
        schema = None if self._as_json else self.props.get(self._key)
        out.append(value_json(text, schema, quotes, t.json_strings))

    def _give_up(self) -> None:
        """Not a parameter here: the arguments end (or were never arguments)."""
        if self.started:
            self.done = True
        else:
            self.failed = True

    def _cut(self, rest: str, out: list[str]) -> None:
        """The text ended inside the arguments: close what is open, keep what is whole."""
        if self.state == "start":
            self.failed = True
            return
        if self.state == "string":
            self._emit_string(rest if self.t.quote_close else rest.rstrip(WS), out, close=True)
        elif self.state == "value" and rest.strip(WS):
            try:
                json.loads(rest)
            except ValueError:
                pass  # a cut-off number or object: drop the parameter
            else:
                self._emit_value(rest, out)
        self.done = True
