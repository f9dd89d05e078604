"""Streaming parser for `<call:NAME>{json}</call>`: the core feeds generated text as it
arrives and sends the deltas on at once (streaming) or folds them (non-streaming).

Rules that keep streamed output equal to non-streamed output, however the text is split:
a marker split across chunks is held back until it is decided (MarkerSplitter); a call
starts only once its arguments open with `{`; anything that turns out not to be a call is
content, exactly as written; whitespace after a call (the separator) is dropped.
"""

from __future__ import annotations

from gateway.callargs import JsonArgs
from gateway.dialect import Delta, new_call_id
from gateway.textscan import WS, MarkerSplitter

from .syntax import CLOSE, END_NAME, OPEN

MAX_NAME = 64  # OpenAI's limit on function names; longer is text, not a call


class SkeletonParser:
    """feed(text) -> deltas; finish() -> deltas. `names`: the tools a call may name (empty:
    tools are not offered, and everything is content)."""

    def __init__(self, names: set[str]) -> None:
        self._names = names
        self._split = MarkerSplitter([OPEN, CLOSE])
        self._state = "text"  # text | name | args | after
        self._raw = ""  # the call's text so far, shown as content if it is no call after all
        self._name = ""
        self._args: JsonArgs | None = None
        self._started = False  # the current call's tool_start was sent
        self._closed = False  # the `</call>` after the current call's JSON was read
        self._index = 0

    def feed(self, text: str) -> list[Delta]:
        out: list[Delta] = []
        while text:
            if self._state in ("name", "args"):  # inside a call: raw text, no markers
                text = self._feed_call(text, out, final=False)
                continue
            pieces = self._split.feed(text)
            text = ""
            for i, (kind, piece) in enumerate(pieces):
                self._on_piece(kind == "marker", piece, out)
                if self._state == "name":  # the rest belongs to the call: take it back
                    text = "".join(p for _, p in pieces[i + 1:])
                    text += "".join(p for _, p in self._split.flush())
                    break
        return out

    def finish(self) -> list[Delta]:
        out: list[Delta] = []
        for kind, piece in self._split.flush():
            self._on_piece(kind == "marker", piece, out)
        if self._state in ("name", "args"):  # cut off inside a call: close it, or show it
            self._feed_call("", out, final=True)
        return out

    # -- outside a call ---------------------------------------------------------------------
    def _on_piece(self, marker: bool, piece: str, out: list[Delta]) -> None:
        if self._state == "after":
            if marker and piece == CLOSE and not self._closed:
                self._closed = True
                return
            piece = piece if marker else piece.lstrip(WS)
            if not piece:
                return
            self._state = "text"
        if marker and piece == OPEN and self._names:
            self._state, self._raw, self._name = "name", OPEN, ""
            return
        out.append(Delta("content", piece))

    # -- inside a call ----------------------------------------------------------------------
    def _feed_call(self, text: str, out: list[Delta], final: bool) -> str:
        """Feed the call; returns the text after it (to parse as markup or content)."""
        if self._state == "name":
            for i, c in enumerate(text):
                if c == END_NAME and self._name in self._names:
                    self._raw += self._name + END_NAME
                    self._state, self._args, self._started = "args", JsonArgs(), False
                    return text[i + 1:]
                if c == END_NAME or not (c.isalnum() or c in "_-.") or len(self._name) >= MAX_NAME:
                    return self._not_a_call(text[i:], out)
                self._name += c
            return self._not_a_call("", out) if final else ""
        args = self._args
        assert args is not None
        frags, used = args.feed(text, final)
        if args.failed:  # not a JSON object after all
            return self._not_a_call(text, out)
        self._raw += text[:used]
        body = "".join(frags)
        if body and not self._started:
            self._started = True
            out.append(Delta("tool_start", index=self._index, id=new_call_id(), name=self._name))
        if body:
            out.append(Delta("tool_args", body, index=self._index))
        if args.done:
            self._index += 1
            self._state, self._closed, self._args = "after", False, None
            return text[used:]
        return ""

    def _not_a_call(self, rest: str, out: list[Delta]) -> str:
        out.append(Delta("content", self._raw + self._name if self._state == "name"
                         else self._raw))
        self._state, self._raw, self._name, self._args = "text", "", "", None
        return rest
