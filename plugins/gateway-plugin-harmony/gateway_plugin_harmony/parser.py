"""Streaming parser of Harmony output: analysis → reasoning, final (and commentary without a
recipient, the preamble) → content, `to=functions.NAME` messages → tool calls.

Every decision depends only on text already seen, never on how it was split: a header is
held until `<|message|>` (or until it can no longer be one, then it is content as written);
a body's tail that may begin a marker is held back; a call's JSON is held until its message
ends and becomes a call only if it is a JSON object (else the whole message is content).
"""

from __future__ import annotations

import json

from gateway.dialect import Delta, DeltaKind, new_call_id

from .markup import (
    BODY_MARKERS,
    MESSAGE,
    TERMINATORS,
    header_viable,
    parse_header,
    partial_marker,
)


class HarmonyParser:
    def __init__(self, calls: bool = True) -> None:
        self.calls = calls  # tool calls offered: else a call message is content
        self.buf = ""
        self.in_header = True
        self.kind: DeltaKind | None = None  # the body's kind; "tool_start" for a call
        self.raw = ""  # header text of the current call message (for the content fallback)
        self.name = ""
        self.args = ""
        self.index = 0

    def feed(self, text: str) -> list[Delta]:
        self.buf += text
        out: list[Delta] = []
        while self.buf:
            before = (self.buf, self.in_header)
            out += self._header() if self.in_header else self._body()
            if (self.buf, self.in_header) == before:
                break  # waiting for more text
        return out

    def finish(self) -> list[Delta]:
        out = self.feed("")
        if self.in_header:
            out += _text("content", self.buf)
        elif self.kind == "tool_start":
            self.args += self.buf
            out += self._end_call()
        else:
            out += _text(self.kind or "content", self.buf)
        self.buf = ""
        return out

    # ---- states ---------------------------------------------------------------------------

    def _header(self) -> list[Delta]:
        end = self.buf.find(MESSAGE)
        head = self.buf if end == -1 else self.buf[:end]
        if not header_viable(head):
            k = next(i for i in range(1, len(head) + 1) if not header_viable(head[:i]))
            text, self.buf = self.buf[:k], self.buf[k:]
            self._open_body("content")
            return _text("content", text)
        if end == -1:
            return []
        raw, self.buf = self.buf[:end + len(MESSAGE)], self.buf[end + len(MESSAGE):]
        header = parse_header(head)
        if header is None:
            self._open_body("content")
            return _text("content", raw)
        if header.recipient is not None and self.calls:
            self._open_body("tool_start")
            self.raw, self.name = raw, header.recipient
        elif header.recipient is not None:
            self._open_body("content")
            return _text("content", raw)
        else:
            self._open_body("reasoning" if header.channel == "analysis" else "content")
        return []

    def _open_body(self, kind: DeltaKind) -> None:
        self.in_header, self.kind, self.args = False, kind, ""

    def _body(self) -> list[Delta]:
        cut, marker = _first_marker(self.buf)
        if marker is None:
            keep = partial_marker(self.buf, BODY_MARKERS)
            text = self.buf[:len(self.buf) - keep]
            self.buf = self.buf[len(text):]
            return self._body_text(text)
        text, rest = self.buf[:cut], self.buf[cut:]
        self.buf = rest[len(marker):] if marker in TERMINATORS else rest
        out = self._body_text(text)
        out += self._end_call() if self.kind == "tool_start" else []
        self.in_header, self.kind = True, None
        return out

    def _body_text(self, text: str) -> list[Delta]:
        if self.kind == "tool_start":
            self.args += text
            return []
        return _text(self.kind or "content", text)

    def _end_call(self) -> list[Delta]:
        args = self.args.strip()
        try:
            ok = isinstance(json.loads(args), dict)
        except ValueError:
            ok = False
        if not ok:
            return _text("content", self.raw + self.args)
        self.index += 1
        return [Delta("tool_start", index=self.index - 1, id=new_call_id(), name=self.name),
                Delta("tool_args", args, index=self.index - 1)]


def _first_marker(text: str) -> tuple[int, str | None]:
    best, found = len(text), None
    for m in BODY_MARKERS:
        i = text.find(m)
        if i != -1 and i < best:
            best, found = i, m
    return best, found


def _text(kind: DeltaKind, text: str) -> list[Delta]:
    return [Delta(kind, text)] if text else []
