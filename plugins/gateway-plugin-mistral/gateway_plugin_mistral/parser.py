"""Streaming parser of Mistral output: content, a leading `[THINK]...[/THINK]` block
(reasoning) and calls after `[TOOL_CALLS]` in any of the three shapes (a JSON array,
`NAME[CALL_ID]id[ARGS]{...}`, `NAME[ARGS]{...}`), whatever the template: the text itself
says which shape it is.

Every decision depends only on text already seen, never on how it was split: a tail that
may begin a marker is held back; a call's JSON is read one character at a time, so where it
ends (or breaks) is the same however it arrived. A call is emitted (id, name, arguments)
once its JSON is complete and is an object; a broken or cut-off call is content as written,
so nothing is lost and no call carries broken arguments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from gateway.dialect import Delta
from gateway.jsonstream import JsonScanner
from gateway.textscan import TextRun

from .ids import new_id, valid_id
from .markup import (
    ARGS,
    CALL_ID,
    THINK_CLOSE,
    THINK_OPEN,
    TOOL_CALLS,
    WS,
    first_marker,
    partial_tail,
)

_NAME = re.compile(r"[A-Za-z0-9_.:-]*")
_NAME_MAX = 128
_ID_MAX = 64


class MistralParser:
    """feed(text) -> deltas; finish() -> deltas. `calls`: read `[TOOL_CALLS]` (off for
    tool_choice none: then it is content). `calls_in_reasoning`: `[TOOL_CALLS]` inside a
    `[THINK]` block is a call (tool_choice auto); with required/named calls the grammar puts
    them after the block, so a rehearsed one stays reasoning."""

    def __init__(self, calls: bool = True, calls_in_reasoning: bool = True) -> None:
        self.calls = calls
        self.calls_in_reasoning = calls_in_reasoning
        self.block_open = False  # calls began inside [THINK]: its [/THINK] is still due
        self.buf = ""
        self.out: list[Delta] = []
        self.state = "text"  # text | reasoning | head | call_id | json | after
        self.run = TextRun("content", False)
        self.think_ok = True  # a [THINK] block may open the output
        self.raw = ""  # the current call's text after [TOOL_CALLS], for the fallback
        self.sep = ""  # whitespace dropped before [TOOL_CALLS], for the fallback
        self.name = ""
        self.call_id: str | None = None
        self.scan = JsonScanner()
        self.array = False
        self.field_start = 0  # where the name / id being read starts in raw
        self.json_start = 0  # where the call's JSON starts in raw
        self.index = 0
        self.used: set[str] = set()

    def feed(self, text: str) -> list[Delta]:
        self.buf += text
        while self.buf and self._step(final=False):
            pass
        return self._take()

    def finish(self) -> list[Delta]:
        while self.buf and self._step(final=True):
            pass
        if self.state in ("head", "call_id", "json"):  # cut off inside a call
            self._fallback()
            while self.buf and self._step(final=True):
                pass
        if self.state in ("text", "reasoning"):
            self.out += self.run.close(by_markup=False)[0]
        return self._take()

    def _take(self) -> list[Delta]:
        out, self.out = _merged(self.out), []
        return out

    def _step(self, final: bool) -> bool:
        """Consume from buf in the current state; False when waiting for more text."""
        if self.state in ("text", "reasoning"):
            return self._scan_text(final)
        if self.state == "head":
            return self._head(final)
        if self.state == "call_id":
            return self._until((ARGS,), final, _ID_MAX, self._id_given)
        if self.state == "json":
            return self._json()
        return self._after(final)

    # -- text and reasoning ---------------------------------------------------------------
    def _markers(self) -> tuple[str, ...]:
        found = (TOOL_CALLS,) if self.calls else ()
        if self.state == "reasoning":
            return (*found, THINK_CLOSE) if self.calls_in_reasoning else (THINK_CLOSE,)
        return (*found, THINK_OPEN) if self.think_ok else found

    def _scan_text(self, final: bool) -> bool:
        markers = self._markers()
        pos, marker = first_marker(self.buf, markers) if markers else (len(self.buf), None)
        if marker is None:
            keep = 0 if final or not markers else partial_tail(self.buf, markers)
            text, self.buf = self.buf[:len(self.buf) - keep], self.buf[len(self.buf) - keep:]
            self._text_out(text)
            return bool(text)
        text, self.buf = self.buf[:pos], self.buf[pos + len(marker):]
        if marker == THINK_OPEN and (text.strip(WS) or self.run.any):
            self._text_out(text + marker)  # [THINK] only opens the output; later it is text
            return True
        self._text_out(text)
        if marker == THINK_OPEN:
            self.run.close(by_markup=True)
            self.run, self.state, self.think_ok = TextRun("reasoning", True), "reasoning", False
        elif marker == THINK_CLOSE:
            self.out += self.run.close(by_markup=True)[0]
            self._to_text()
        else:  # [TOOL_CALLS]
            self.block_open = self.block_open or self.state == "reasoning"
            deltas, self.sep = self.run.close(by_markup=True)
            self.out += deltas
            self._open_call()
        return True

    def _text_out(self, text: str) -> None:
        self.out += self.run.feed(text)
        if self.state == "text" and self.run.any:
            self.think_ok = False

    def _to_text(self) -> None:
        self.state, self.run, self.think_ok = "text", TextRun("content", True), False

    # -- a call ---------------------------------------------------------------------------
    def _open_call(self) -> None:
        self.state, self.raw, self.name, self.call_id = "head", "", "", None
        self.think_ok, self.field_start = False, 0

    def _head(self, final: bool) -> bool:
        """After [TOOL_CALLS]: a JSON array, or a name up to [CALL_ID] / [ARGS]."""
        body = self.buf.lstrip(WS)
        if not self.raw.strip(WS) and body.startswith("[") and not any(
                m.startswith(body[:len(m)]) for m in (CALL_ID, ARGS)):
            self.raw += self.buf[:len(self.buf) - len(body)]
            self.buf = body
            self._open_json(array=True)
            return True
        return self._until((CALL_ID, ARGS), final, _NAME_MAX, self._named)

    def _until(self, markers: tuple[str, ...], final: bool, limit: int,
               done: Callable[[str, str], None]) -> bool:
        """Read a name (or id) up to one of the markers; text that cannot be one ends the
        call attempt at the first character that shows it."""
        pos, marker = first_marker(self.buf, markers)
        upto = pos if marker else len(self.buf) - (0 if final else partial_tail(self.buf, markers))
        piece = self.buf[:upto]
        before = self.raw[self.field_start:]
        field = (before + piece).strip(WS)
        if not _ok(field, limit):
            bad = next(i for i in range(1, len(piece) + 1)
                       if not _ok((before + piece[:i]).strip(WS), limit))
            self.raw += self.buf[:bad - 1]  # the failing character is read again as text
            self.buf = self.buf[bad - 1:]
            self._fallback()
            return True
        if marker is None:
            self.raw += piece
            self.buf = self.buf[upto:]
            return bool(piece)
        self.buf = self.buf[pos + len(marker):]
        self.raw += piece + marker
        done(field, marker)
        return True

    def _named(self, name: str, marker: str) -> None:
        if not name:
            self._fallback()
            return
        self.name = name
        if marker == CALL_ID:
            self.state, self.field_start = "call_id", len(self.raw)
        else:
            self._open_json(array=False)

    def _id_given(self, field: str, marker: str) -> None:
        self.call_id = field
        self._open_json(array=False)

    def _open_json(self, array: bool) -> None:
        self.state, self.scan, self.array, self.json_start = "json", JsonScanner(), array, \
            len(self.raw)

    def _json(self) -> bool:
        for i, c in enumerate(self.buf):  # one character at a time: the end is exact
            self.scan.feed(c)
            if self.scan.error is not None or self.scan.done:
                self.raw += self.buf[:i + 1]
                self.buf = self.buf[i + 1:]
                self._end_json()
                return True
        self.raw += self.buf
        self.buf = ""
        return True

    def _end_json(self) -> None:
        calls = self._decode(self.raw[self.json_start:]) if self.scan.done else None
        if calls is None:
            self._fallback()
            return
        for name, args, call_id in calls:
            if not valid_id(call_id) or call_id in self.used:
                call_id = new_id()  # the model's own id when it gave a valid, unused one
            self.used.add(call_id)
            self.out.append(Delta("tool_start", index=self.index, id=call_id, name=name))
            self.out.append(Delta("tool_args", args, index=self.index))
            self.index += 1
        self.state = "after"

    def _decode(self, text: str) -> list[tuple[str, str, Any]] | None:
        """[(name, arguments JSON, id)] from the call's JSON; None if it is not a call."""
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if not self.array:
            args = _arguments(value)
            return None if args is None else [(self.name, args, self.call_id)]
        if not isinstance(value, list) or not value:
            return None
        calls = []
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                    or not _ok(item["name"], _NAME_MAX) or not item["name"]:
                return None
            args = _arguments(item.get("arguments", item.get("parameters", {})))
            if args is None:
                return None
            calls.append((item["name"], args, item.get("id")))
        return calls

    def _after(self, final: bool) -> bool:
        """Between calls: whitespace, then another [TOOL_CALLS] or text (content)."""
        rest = self.buf.lstrip(WS)
        if self.calls and rest.startswith(TOOL_CALLS):
            self.buf, self.sep = rest[len(TOOL_CALLS):], ""
            self._open_call()
            return True
        if self.block_open and rest.startswith(THINK_CLOSE):  # the block the calls were in
            self.buf, self.block_open = rest[len(THINK_CLOSE):], False
            return True
        if not final and (not rest or TOOL_CALLS.startswith(rest) or
                          (self.block_open and THINK_CLOSE.startswith(rest))):
            return False
        self._to_text()
        return True

    def _fallback(self) -> None:
        """Not a call after all: `[TOOL_CALLS]` and what was read of it are content as
        written; reading goes on as text."""
        self.run = TextRun("content", False)
        self.run.any = True
        self.out.append(Delta("content", self.sep + TOOL_CALLS + self.raw))
        self.state, self.sep, self.raw, self.think_ok = "text", "", "", False


def _ok(name: str, limit: int) -> bool:
    return _NAME.fullmatch(name) is not None and len(name) <= limit


def _arguments(value: Any) -> str | None:
    """Arguments as a JSON object text; a string holding a JSON object is decoded."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    return json.dumps(value, ensure_ascii=False)


def _merged(deltas: list[Delta]) -> list[Delta]:
    out: list[Delta] = []
    for d in deltas:
        prev = out[-1] if out else None
        if prev and d.kind == prev.kind != "tool_start" and d.index == prev.index:
            prev.text += d.text
        else:
            out.append(d)
    return out
