"""Reading a call's JSON arguments as they stream, and closing a cut-off call into valid JSON.

Dialects whose calls carry JSON arguments share this: tokens pass through as written
(whitespace between them dropped, raw control characters escaped); a `,` / key / `:` is held
until its value begins, so arguments cut off anywhere (max_tokens, a stop word, a broken
generation) close into valid JSON with `ArgsRepair.close()`. Bad scalars of unconstrained
output (`tru`, `1.2.3`) become `null`.
"""

from __future__ import annotations

import json

from gateway.jsonstream import Event, JsonScanner

_CLOSER = {"begin_obj": "}", "begin_arr": "]"}


def json_safe(raw: str) -> str:
    """Raw string text with control characters escaped (JSON forbids them bare)."""
    if all(ord(c) >= 0x20 for c in raw):
        return raw
    return "".join(c if ord(c) >= 0x20 else f"\\u{ord(c):04x}" for c in raw)


def valid_scalar(text: str) -> str:
    """A scalar as the scanner saw it, or `null` when it is not JSON."""
    try:
        json.loads(text)
    except ValueError:
        return "null"
    return text


def string_arguments(text: str) -> str:
    """Arguments some models double-encode as a string: the JSON inside if it is JSON."""
    try:
        json.loads(text)
    except ValueError:
        return json.dumps(text, ensure_ascii=False)
    return text


class ArgsRepair:
    """Turns the scanner events of one JSON value into text that is always a valid prefix
    of compact JSON; `close()` returns what completes it."""

    def __init__(self) -> None:
        self._pending = ""  # `,` / key / `:` awaiting their value
        self._closers: list[str] = []  # open containers
        self._in_string = False

    def event(self, ev: Event) -> str:
        """The text to pass on for this event ("" while it is held)."""
        kind = ev.kind
        if kind in ("key", "punct"):
            self._pending += json_safe(ev.raw)  # a raw control character inside a key, too
            return ""
        raw = ev.raw
        if kind == "scalar":
            raw = valid_scalar(ev.text)
        elif kind == "str":
            raw = json_safe(raw)
        if kind in ("begin_obj", "begin_arr", "begin_str", "scalar"):
            raw, self._pending = self._pending + raw, ""
        if kind in _CLOSER:
            self._closers.append(_CLOSER[kind])
        elif kind in ("end_obj", "end_arr"):
            self._closers.pop()
        self._in_string = kind in ("begin_str", "str")
        return raw

    def close(self) -> str:
        """What closes the value as it stands (nothing once it is complete)."""
        tail = '"' if self._in_string else ""
        tail += "".join(reversed(self._closers))
        self._closers.clear()
        self._in_string = False
        self._pending = ""
        return tail


class JsonArgs:
    """One JSON arguments object read from a text stream that goes on after it.

    feed(text, final) -> (fragments, consumed): consumed is how much of text belonged to the
    object; `done` once it is complete (or closed at the end), `failed` when the text is not
    an object at all (nothing was emitted then)."""

    def __init__(self) -> None:
        self.scan = JsonScanner()
        self.done = False
        self.failed = False
        self.started = False
        self._repair = ArgsRepair()

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
        return self._repair.close() if self.started else ""

    def _on(self, ev: Event, out: list[str]) -> None:
        if not self.started:
            if ev.kind != "begin_obj":
                self.scan.error = self.scan.error or "arguments are not an object"
                return
            self.started = True
        text = self._repair.event(ev)
        if text:
            out.append(text)
