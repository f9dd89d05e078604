"""Streaming parser of Llama 3.x output: content, JSON calls `{"name": ..., "parameters":
{...}}` (also `"arguments"`, and `{"type": "function", ...}`), and `<|python_tag|>` calls:
a JSON call, a built-in `NAME.call(key="value")`, or code for the code interpreter.

Every decision depends only on text already seen, never on how it was split: a tail that
may begin a marker is held back; a call's JSON is read one character at a time, so where it
ends (or breaks) is the same however it arrived; a `<|python_tag|>` body runs to the end of
the output (or an end-of-message marker). A JSON object is a call only when it names an
offered tool; anything else is content as written, so nothing is lost and no call carries
broken arguments.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from gateway.dialect import Delta, new_call_id
from gateway.jsonstream import JsonScanner
from gateway.textscan import TextRun

from .markup import EOM, EOT, JSON_STARTS, PYTHON_TAG, WS, first_marker, partial_tail

_SEPARATORS = WS + ";"  # between calls: newlines, or `;` as Llama 3.1 sometimes writes


class Llama3Parser:
    """feed(text) -> deltas; finish() -> deltas. `tools`: the offered tool names (None: any
    name); `code_tool`: the tool that takes `<|python_tag|>` code, with its argument key."""

    def __init__(self, calls: bool = True, tools: set[str] | None = None,
                 code_tool: tuple[str, str] | None = None) -> None:
        self.calls = calls
        self.tools = tools
        self.code_tool = code_tool
        self.buf = ""
        self.out: list[Delta] = []
        self.state = "text"  # text | json | python | after
        self.run = TextRun("content", False)
        self.sep = ""  # whitespace dropped before a call, for the fallback
        self.raw = ""  # the current call's text, for the fallback
        self.lead = ""  # `<|python_tag|>` when the JSON call followed it
        self.scan = JsonScanner()
        self.index = 0

    def feed(self, text: str) -> list[Delta]:
        self.buf += text
        while self.buf and self._step(final=False):
            pass
        return self._take()

    def finish(self) -> list[Delta]:
        while self.buf and self._step(final=True):
            pass
        if self.state == "json":  # cut off inside a call
            self._fallback()
            while self.buf and self._step(final=True):
                pass
        if self.state == "python":
            self._end_python()
        if self.state == "text":
            self.out += self.run.close(by_markup=False)[0]
        return self._take()

    def _take(self) -> list[Delta]:
        out, self.out = _merged(self.out), []
        return out

    def _step(self, final: bool) -> bool:
        if self.state == "text":
            return self._text(final)
        if self.state == "json":
            return self._json()
        if self.state == "python":
            return self._python(final)
        return self._after(final)

    # -- text -----------------------------------------------------------------------------
    def _markers(self) -> tuple[str, ...]:
        return (*JSON_STARTS, PYTHON_TAG) if self.calls else ()

    def _text(self, final: bool) -> bool:
        markers = self._markers()
        pos, marker = first_marker(self.buf, markers) if markers else (len(self.buf), None)
        if marker is None:
            keep = 0 if final or not markers else partial_tail(self.buf, markers)
            text, self.buf = self.buf[:len(self.buf) - keep], self.buf[len(self.buf) - keep:]
            self.out += self.run.feed(text)
            return bool(text)
        self.out += self.run.feed(self.buf[:pos])
        deltas, self.sep = self.run.close(by_markup=True)
        self.out += deltas
        if marker == PYTHON_TAG:
            self.buf = self.buf[pos + len(marker):]
            self.state, self.raw = "python", ""
        else:  # the marker is the start of the call's JSON
            self.buf = self.buf[pos:]
            self._open_json("")
        return True

    def _to_text(self) -> None:
        self.state, self.run = "text", TextRun("content", True)

    # -- JSON calls -----------------------------------------------------------------------
    def _open_json(self, lead: str) -> None:
        self.state, self.scan, self.raw, self.lead = "json", JsonScanner(), "", lead

    def _json(self) -> bool:
        for i, c in enumerate(self.buf):  # one character at a time: the end is exact
            self.scan.feed(c)
            if self.scan.error is not None or self.scan.done:
                self.raw += self.buf[:i + 1]
                self.buf = self.buf[i + 1:]
                call = self._decode_json(self.raw) if self.scan.done else None
                if call is None:
                    self._fallback()
                else:
                    self._emit(*call)
                    self.state = "after"
                return True
        self.raw += self.buf
        self.buf = ""
        return True

    def _decode_json(self, text: str) -> tuple[str, str] | None:
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if not isinstance(value, dict) or not self._known(value.get("name")):
            return None
        if value.get("type", "function") != "function" or not set(value) <= {
                "type", "name", "parameters", "arguments"}:
            return None
        args = value.get("parameters", value.get("arguments", {}))
        if isinstance(args, str):  # arguments double-encoded as a string
            try:
                args = json.loads(args)
            except ValueError:
                return None
        if not isinstance(args, dict):
            return None
        return value["name"], json.dumps(args, ensure_ascii=False)

    def _known(self, name: Any) -> bool:
        return isinstance(name, str) and bool(name) and (self.tools is None or name in self.tools)

    def _emit(self, name: str, args: str) -> None:
        self.out.append(Delta("tool_start", index=self.index, id=new_call_id(), name=name))
        self.out.append(Delta("tool_args", args, index=self.index))
        self.index += 1

    def _after(self, final: bool) -> bool:
        """Between calls: separators, then another call or text (content)."""
        rest = self.buf.lstrip(_SEPARATORS)
        starts = (*JSON_STARTS, PYTHON_TAG)
        found = next((m for m in starts if rest.startswith(m)), None)
        if found == PYTHON_TAG:
            self.buf, self.sep, self.state, self.raw = rest[len(PYTHON_TAG):], "", "python", ""
            return True
        if found is not None:
            self.buf, self.sep = rest, ""
            self._open_json("")
            return True
        if not final and (not rest or any(m.startswith(rest) for m in starts)):
            return False
        self.buf = rest
        self._to_text()
        return True

    # -- <|python_tag|> ---------------------------------------------------------------------
    def _python(self, final: bool) -> bool:
        if not self.raw and self.buf.lstrip(WS).startswith("{"):
            self.buf = self.buf.lstrip(WS)
            self._open_json(PYTHON_TAG)
            return True
        if not self.raw and not self.buf.strip(WS) and not final:
            return False  # whitespace so far: JSON or code may follow
        ends = (EOM, EOT)
        pos, marker = first_marker(self.buf, ends)
        if marker is None:
            keep = 0 if final else partial_tail(self.buf, ends)
            taken = len(self.buf) - keep
            self.raw, self.buf = self.raw + self.buf[:taken], self.buf[taken:]
            return taken > 0
        self.raw += self.buf[:pos]
        self.buf = self.buf[pos + len(marker):]
        self._end_python()
        return True

    def _end_python(self) -> None:
        body = self.raw.strip(WS)
        call = _builtin_call(body)
        if call is not None and self._known(call[0]):
            self._emit(*call)
        elif self.code_tool is not None and body:
            name, key = self.code_tool
            self._emit(name, json.dumps({key: body}, ensure_ascii=False))
        else:
            self._fallback_text(PYTHON_TAG + self.raw)
            return
        self.raw = ""
        self.state = "after"

    # -- not a call after all ---------------------------------------------------------------
    def _fallback(self) -> None:
        self._fallback_text(self.lead + self.raw)

    def _fallback_text(self, text: str) -> None:
        self.run = TextRun("content", False)
        self.run.any = True
        self.out.append(Delta("content", self.sep + text))
        self.state, self.sep, self.raw, self.lead = "text", "", "", ""


def _builtin_call(body: str) -> tuple[str, str] | None:
    """`brave_search.call(query="x")` → ("brave_search", '{"query": "x"}'), else None."""
    try:
        node = ast.parse(body, mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "call" and isinstance(node.func.value, ast.Name)
            and not node.args):
        return None
    args: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            return None
        try:
            args[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            return None
    return node.func.value.id, json.dumps(args, ensure_ascii=False)


def _merged(deltas: list[Delta]) -> list[Delta]:
    out: list[Delta] = []
    for d in deltas:
        prev = out[-1] if out else None
        if prev and d.kind == prev.kind != "tool_start" and d.index == prev.index:
            prev.text += d.text
        else:
            out.append(d)
    return out
