"""Incremental JSON scanner for streamed model output.

Feed text as it arrives; get events with their JSON path, e.g. string-value fragments as they
are decoded (to stream a string field as content) and the raw text of every token (to stream
a sub-object such as tool-call arguments verbatim). Stops at the end of the root value and
keeps what follows in ``rest``. Whitespace between tokens is dropped.
"""

from __future__ import annotations

from typing import NamedTuple

Path = tuple[str | int, ...]


class Event(NamedTuple):
    # begin_obj end_obj begin_arr end_arr key punct begin_str str end_str scalar
    kind: str
    path: Path
    text: str  # decoded text (string fragments, keys) or the scalar's text
    raw: str  # the exact JSON text this event consumed


_ESC = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_SCALAR_CHARS = frozenset("0123456789+-.eEtruefalsn")


class _Frame:
    __slots__ = ("is_obj", "state", "key", "index")

    def __init__(self, is_obj: bool) -> None:
        self.is_obj = is_obj
        self.state = "first"  # first | value | colon | sep
        self.key: str = ""
        self.index = 0


class JsonScanner:
    def __init__(self) -> None:
        self._stack: list[_Frame] = []
        self._mode = "value"  # value | string | key | scalar | done
        self._buf: list[str] = []  # key text or scalar text
        self._raw: list[str] = []
        self._esc = ""  # pending escape: "" none, "\\" after backslash, "\\uXXX" partial
        self._high = ""  # pending high surrogate
        self.done = False
        self.rest = ""
        self.error: str | None = None
        self.started = False

    # -- helpers ------------------------------------------------------------------------
    def _path(self) -> Path:
        out: list[str | int] = []
        for f in self._stack:
            out.append(f.key if f.is_obj else f.index)
        return tuple(out)

    def _value_path(self) -> Path:
        return self._path()

    def _after_value(self, events: list[Event]) -> None:
        if not self._stack:
            self.done = True
            self._mode = "done"
            return
        self._stack[-1].state = "sep"
        self._mode = "value"

    def feed(self, text: str) -> list[Event]:
        events: list[Event] = []
        i = 0
        n = len(text)
        while i < n:
            if self.done or self.error:
                self.rest += text[i:]
                break
            c = text[i]
            mode = self._mode
            if mode == "string" or mode == "key":
                # consume a run of plain characters at once
                j = i
                while j < n and text[j] not in '"\\' and not self._esc:
                    j += 1
                if j > i:
                    chunk = text[i:j]
                    if self._high:
                        chunk = self._high + chunk
                        self._high = ""
                    if mode == "key":
                        self._buf.append(chunk)
                        self._raw.append(text[i:j])
                    else:
                        events.append(Event("str", self._path(), chunk, text[i:j]))
                    i = j
                    continue
                if self._esc:
                    self._esc += c
                    i += 1
                    decoded = self._escape_done()
                    if decoded is None:
                        continue
                    raw_esc = self._esc
                    self._esc = ""
                    if mode == "key":
                        self._buf.append(decoded)
                        self._raw.append(raw_esc)
                    elif decoded or raw_esc:
                        events.append(Event("str", self._path(), decoded, raw_esc))
                    continue
                if c == "\\":
                    self._esc = "\\"
                    i += 1
                    continue
                # closing quote
                i += 1
                if mode == "key":
                    key = "".join(self._buf)
                    raw = "".join(self._raw) + '"'
                    self._buf.clear()
                    self._raw.clear()
                    f = self._stack[-1]
                    f.key = key
                    f.state = "colon"
                    self._mode = "value"
                    events.append(Event("key", self._path()[:-1], key, raw))
                else:
                    events.append(Event("end_str", self._path(), "", '"'))
                    self._after_value(events)
                continue
            if mode == "scalar":
                if c in _SCALAR_CHARS:
                    self._buf.append(c)
                    i += 1
                    continue
                self._emit_scalar(events)
                continue  # re-handle c in value mode
            # structural mode
            if c in " \t\r\n":
                i += 1
                continue
            i += 1
            self._structural(c, events)
        return events

    def _structural(self, c: str, events: list[Event]) -> None:
        top = self._stack[-1] if self._stack else None
        if top is not None and top.state == "colon":
            if c != ":":
                return self._fail(c)
            top.state = "value"
            events.append(Event("punct", self._path()[:-1], ":", ":"))
            return None
        if top is not None and top.state == "sep":
            if c == ",":
                if top.is_obj:
                    top.state = "key"
                else:
                    top.index += 1
                    top.state = "value"
                events.append(Event("punct", self._path()[:-1], ",", ","))
                return None
            if c == ("}" if top.is_obj else "]"):
                return self._close(events)
            return self._fail(c)
        if top is not None and top.is_obj and top.state in ("first", "key"):
            if c == "}" and top.state == "first":
                return self._close(events)
            if c != '"':
                return self._fail(c)
            self._mode = "key"
            self._raw.append('"')
            return None
        if top is not None and not top.is_obj and top.state == "first" and c == "]":
            return self._close(events)
        # a value starts
        self.started = True
        if c == "{" or c == "[":
            if top is not None:
                top.state = "value"
            f = _Frame(c == "{")
            events.append(Event("begin_obj" if f.is_obj else "begin_arr", self._path(), "", c))
            self._stack.append(f)
            return None
        if c == '"':
            events.append(Event("begin_str", self._path(), "", '"'))
            self._mode = "string"
            return None
        if c in _SCALAR_CHARS:
            self._mode = "scalar"
            self._buf.append(c)
            return None
        return self._fail(c)

    def _close(self, events: list[Event]) -> None:
        f = self._stack.pop()
        kind = "end_obj" if f.is_obj else "end_arr"
        events.append(Event(kind, self._path(), "", "}" if f.is_obj else "]"))
        self._after_value(events)

    def _emit_scalar(self, events: list[Event]) -> None:
        text = "".join(self._buf)
        self._buf.clear()
        events.append(Event("scalar", self._path(), text, text))
        self._after_value(events)

    def _escape_done(self) -> str | None:
        e = self._esc
        if len(e) == 2 and e[1] != "u":
            if e[1] not in _ESC:
                self.error = f"invalid escape {e!r}"
                return ""
            return _ESC[e[1]]
        if len(e) < 6:
            return None
        code = int(e[2:], 16)
        if 0xD800 <= code < 0xDC00:
            self._high = chr(code)
            return ""
        if 0xDC00 <= code < 0xE000 and self._high:
            high = ord(self._high)
            self._high = ""
            return chr(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00))
        return chr(code)

    def _fail(self, c: str) -> None:
        self.error = f"unexpected {c!r} in JSON"
        self.rest = c

    def finish(self) -> list[Event]:
        """End of input: a trailing number at the root is complete now."""
        events: list[Event] = []
        if self._mode == "scalar":
            self._emit_scalar(events)
        return events
