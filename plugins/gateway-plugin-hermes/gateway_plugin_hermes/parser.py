"""Streaming parser of Hermes output: content, `<think>` reasoning, `<tool_call>` blocks.

Whitespace rule (so that streamed == non-streamed, and no junk content): whitespace that
touches markup (`<think>`, `</think>`, `<tool_call>`, `</tool_call>`) is a separator and is
dropped, e.g. the "\\n" between calls and the one before a call; content at the very start
or end of the output keeps its whitespace as generated. A stretch of trailing whitespace is
therefore held back until the next text or markup decides it.
"""

from __future__ import annotations

from gateway.dialect import Delta
from gateway.textscan import MarkerSplitter, TextRun, merge_deltas

from .callreader import CallReader
from .markup import THINK_CLOSE, THINK_OPEN, TOOL_CLOSE, TOOL_OPEN, WS

MARKERS = (TOOL_OPEN, TOOL_CLOSE, THINK_OPEN, THINK_CLOSE)


class HermesParser:
    """feed(text) -> deltas; finish() -> deltas. `calls`: parse `<tool_call>` blocks (off
    for tool_choice none); `think_open`: the prompt already opened `<think>` (QwQ);
    `calls_in_reasoning`: a `<tool_call>` inside a `<think>` block is a call (tool_choice
    auto: the lazy grammar triggers there too); with required/named calls the grammar puts
    the calls after the block, so markup a model rehearses in it stays reasoning."""

    def __init__(self, calls: bool = True, think_open: bool = False,
                 calls_in_reasoning: bool = True) -> None:
        self._split = MarkerSplitter(list(MARKERS))
        self._calls = calls
        self._calls_in_reasoning = calls_in_reasoning
        self._block_open = False  # a call began inside <think>: its </think> is still due
        self._state = "reasoning" if think_open else "text"  # text|reasoning|call|after_call
        self._run = TextRun("reasoning", True) if think_open else TextRun("content", False)
        self._think_ok = not think_open  # a <think> block may open the output
        self._call: CallReader | None = None
        self._call_ws = ""  # the separator dropped before <tool_call>, for the fallback
        self._index = 0

    def feed(self, text: str) -> list[Delta]:
        out: list[Delta] = []
        while text:
            if self._state == "call":
                text = self._feed_call(text, out)
                continue
            pieces = self._split.feed(text)
            text = ""
            for i, (kind, piece) in enumerate(pieces):
                self._on_piece(kind == "marker", piece, out)
                if self._state == "call":  # the rest is the call's JSON, past the splitter
                    text = "".join(p for _, p in pieces[i + 1:])
                    text += "".join(p for _, p in self._split.flush())
                    break
        return merge_deltas(out)

    def finish(self) -> list[Delta]:
        out: list[Delta] = []
        if self._state == "call":
            self._end_call(out)
        for _, piece in self._split.flush():  # a held partial marker is just text
            self._on_piece(False, piece, out)
        if self._state == "call":  # "<tool_call" held, then completed by nothing
            self._end_call(out)
        if self._state in ("text", "reasoning"):
            out += self._run.close(by_markup=False)[0]
        return merge_deltas(out)

    # -- pieces outside a call ------------------------------------------------------------
    def _on_piece(self, marker: bool, piece: str, out: list[Delta]) -> None:
        state = self._state
        if state == "after_call":
            if marker and piece == TOOL_CLOSE:
                self._to_text(trim=True)
                return
            if not marker and not piece.strip(WS):
                return
            self._to_text(trim=True)  # no closing tag: the call ended with its JSON
            state = "text"
        if marker and piece == TOOL_OPEN and self._calls and (
                state != "reasoning" or self._calls_in_reasoning):
            deltas, self._call_ws = self._run.close(by_markup=True)
            out += deltas
            self._call = CallReader(self._index)
            self._block_open = self._block_open or state == "reasoning"
            self._state = "call"
            self._think_ok = False
            return
        if state == "text":
            if marker and piece == THINK_CLOSE and self._block_open and not self._run.any:
                self._block_open = False  # the block the calls interrupted closes: markup
                self._to_text(trim=True)
                return
            if marker and piece == THINK_OPEN and self._think_ok and not self._run.any:
                self._run.close(by_markup=True)
                self._run = TextRun("reasoning", True)
                self._state = "reasoning"
                self._think_ok = False
                return
            out += self._run.feed(piece)
            self._think_ok = self._think_ok and not self._run.any
            return
        if marker and piece == THINK_CLOSE:  # reasoning ends
            out += self._run.close(by_markup=True)[0]
            self._to_text(trim=True)
            return
        out += self._run.feed(piece)

    def _to_text(self, trim: bool) -> None:
        self._state = "text"
        self._run = TextRun("content", trim)

    # -- inside a call --------------------------------------------------------------------
    def _feed_call(self, text: str, out: list[Delta]) -> str:
        """Feed the call; returns the text after its end (to parse as markup/content)."""
        call = self._call
        assert call is not None
        out += call.feed(text)
        if not call.ended:
            return ""
        rest = call.scan.rest
        self._end_call(out)
        return rest

    def _end_call(self, out: list[Delta]) -> None:
        call = self._call
        assert call is not None
        self._call = None
        out += call.close()
        if call.started:
            self._index += 1
            self._state = "after_call" if call.scan.done else "text"
            self._run = TextRun("content", True)
            return
        # not a call after all (no name, not JSON): the text is content, nothing lost
        out.append(Delta("content", self._call_ws + TOOL_OPEN + call.consumed()))
        self._state = "text"
        self._run = TextRun("content", False)
        self._run.any = True

