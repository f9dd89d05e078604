"""Streams one JSON arguments object as it is generated.

Tokens pass through as written (whitespace between them dropped); a `,` / key / `:` is held
until its value begins, so an object cut off anywhere closes into valid JSON by `close()`.
"""

from __future__ import annotations

import json

from gateway.jsonstream import Event, JsonScanner

_CLOSER = {"begin_obj": "}", "begin_arr": "]"}


def _json_safe(raw: str) -> str:
    """Raw string text with control characters escaped (JSON forbids them bare)."""
    if all(ord(c) >= 0x20 for c in raw):
        return raw
    return "".join(c if ord(c) >= 0x20 else f"\\u{ord(c):04x}" for c in raw)


def _scalar(text: str) -> str:
    try:
        json.loads(text)
    except ValueError:
        return "null"  # unconstrained output may hold `tru` or `1.2.3`
    return text


class JsonArgs:
    """feed(text) -> (fragments, consumed): consumed is how much of text belonged to the
    object; `done` once it is complete, `failed` when the text is not an object at all."""

    def __init__(self) -> None:
        self.scan = JsonScanner()
        self.done = False
        self.failed = False
        self.started = False
        self._pending = ""
        self._closers: list[str] = []
        self._in_string = False

    def feed(self, text: str, final: bool) -> tuple[list[str], int]:
        out: list[str] = []
        events = self.scan.feed(text)
        if final and not self.scan.done and self.scan.error is None:
            events += self.scan.finish()
        for ev in events:
            self._on(ev, out)
        consumed = len(text) - len(self.scan.rest) if (self.scan.done or self.scan.error) \
            else len(text)
        if self.scan.error is not None and not self.started:
            self.failed = True
            return out, 0
        if self.scan.done or self.scan.error is not None:
            self.done = True
            out.append(self.close())
        elif final:
            if not self.started:  # nothing but whitespace: no arguments written
                self.failed = True
                return out, 0
            self.done = True
            out.append(self.close())
        return out, consumed

    def close(self) -> str:
        """Whatever closes the object as it stands (nothing once it is complete)."""
        if not self.started:
            return ""
        tail = '"' if self._in_string else ""
        tail += "".join(reversed(self._closers))
        self._closers.clear()
        self._in_string = False
        self._pending = ""
        return tail

    def _on(self, ev: Event, out: list[str]) -> None:
        kind = ev.kind
        if not self.started:
            if kind != "begin_obj":
                self.scan.error = self.scan.error or "arguments are not an object"
                return
            self.started = True
        if kind in ("key", "punct"):
            self._pending += _json_safe(ev.raw)  # a raw newline inside a key, too
            return
        raw = ev.raw
        if kind == "scalar":
            raw = _scalar(ev.text)
        elif kind == "str":
            raw = _json_safe(raw)
        if kind in ("begin_obj", "begin_arr", "begin_str", "scalar"):
            raw, self._pending = self._pending + raw, ""
        if kind in _CLOSER:
            self._closers.append(_CLOSER[kind])
        elif kind in ("end_obj", "end_arr"):
            self._closers.pop()
        self._in_string = kind in ("begin_str", "str")
        out.append(raw)
