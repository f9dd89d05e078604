"""Streaming parser of a derived dialect's output: content, reasoning, call sections.

Whitespace rule (as in the hermes dialect, so that streamed == non-streamed and no junk
content): whitespace that touches markup is a separator and is dropped; content at the very
start or end of the output keeps its whitespace. Trailing whitespace is held until the next
text or markup decides it, and so is a possible marker prefix at the end of a chunk.
"""

from __future__ import annotations

from gateway.dialect import Delta, ToolDef
from gateway.textscan import TextRun, merge_deltas

from .flex import earliest, partial_tail
from .markup import WS
from .section import SectionReader
from .spec import Spec


class AutoParser:
    """feed(text) -> deltas; finish() -> deltas. `calls`: parse call sections (off for
    tool_choice none). `calls_in_reasoning`: a call marker inside a reasoning block opens a
    section (tool_choice auto: the lazy grammar triggers there too); with required/named
    calls the grammar puts the section after the block, so the block is reasoning to its
    close, whatever markup it holds (a small model rehearses `<tool_call>` while thinking)."""

    def __init__(self, spec: Spec, tools: list[ToolDef], calls: bool = True,
                 calls_in_reasoning: bool = True) -> None:
        self.spec = spec
        self.calls_in_reasoning = calls_in_reasoning
        self.block_open = False  # a section began inside the reasoning block: its close is due
        self.types = {t.name: t.parameters for t in tools}
        self.buf = ""
        forced = spec.think is not None and spec.think_forced
        self.state = "reasoning" if forced else "text"  # text | reasoning | section
        self.run = TextRun("reasoning", True) if forced else TextRun("content", False)
        self.think_ok = spec.think is not None and not forced  # a block may open the output
        self.index = 0
        self.section: SectionReader | None = None
        self.trigger = spec.trigger if calls else ""
        at = spec.trigger_in_open
        if at >= 0:
            self.pre = spec.section_open[:at].strip(WS)  # free text before the trigger
            self.opening = spec.section_open[at + len(spec.trigger):] + spec.head
        else:
            self.pre, self.opening = "", spec.head[len(spec.trigger):]
        if not self.trigger:
            self.pre = ""

    def feed(self, text: str) -> list[Delta]:
        self.buf += text
        return self._drain(final=False)

    def finish(self) -> list[Delta]:
        out = self._drain(final=True)
        if self.state != "section":
            out += self.run.close(by_markup=False)[0]
        return merge_deltas(out)

    def _drain(self, final: bool) -> list[Delta]:
        out: list[Delta] = []
        while self._section(final, out) if self.state == "section" else self._text(final, out):
            pass
        return merge_deltas(out)

    # -- content and reasoning ------------------------------------------------------------
    def _markers(self) -> list[str]:
        think = self.spec.think
        if self.state == "reasoning" and think and not self.calls_in_reasoning:
            return [think[1]]
        found = [m for m in (self.trigger, self.pre, self.spec.turn_end) if m]
        if self.state == "reasoning" and think:
            found.append(think[1])
        elif think and self.think_ok and not self.run.any:
            found.append(think[0])
        elif think and self.block_open and not self.run.any:
            found.append(think[1])  # the close of the block calls were written in: markup
        return found

    def _text(self, final: bool, out: list[Delta]) -> bool:
        markers = self._markers()
        pos, marker = earliest(self.buf, markers)
        if marker is None:
            keep = 0 if final else partial_tail(self.buf, markers)
            text, self.buf = self.buf[: len(self.buf) - keep], self.buf[len(self.buf) - keep:]
            out += self.run.feed(text)
            return False
        out += self.run.feed(self.buf[:pos])
        rest = self.buf[pos + len(marker):]
        think = self.spec.think
        if marker == self.pre and marker != self.trigger:
            after = rest.lstrip(WS)
            if after.startswith(self.trigger):  # the section's free opening: drop it
                self.buf = after
                return True
            if self.trigger.startswith(after) and not final:
                self.buf = self.buf[pos:]
                return False
            out += self.run.feed(marker)
            self.buf = rest
            return True
        self.buf = rest
        if marker == self.spec.turn_end:
            out += self.run.close(by_markup=True)[0]
            self.run = TextRun(self.run.kind, True)
        elif marker == self.trigger:
            self.block_open = self.block_open or self.state == "reasoning"
            deltas, dropped = self.run.close(by_markup=True)
            out += deltas
            self.section = SectionReader(self.spec, self.types, self.index, self.opening)
            self.section.tentative.append(dropped + marker)
            self.state = "section"
            self.think_ok = False
        elif think and self.state == "reasoning" and marker == think[1]:
            out += self.run.close(by_markup=True)[0]
            self.state, self.run = "text", TextRun("content", True)
        elif think and self.block_open and marker == think[1]:
            self.block_open = False
            self.run = TextRun("content", True)
        elif think and marker == think[0] and self.think_ok and not self.run.any:
            self.run.close(by_markup=True)
            self.state, self.run = "reasoning", TextRun("reasoning", True)
            self.think_ok = False
        else:
            out += self.run.feed(marker)
        return True

    # -- a call section -------------------------------------------------------------------
    def _section(self, final: bool, out: list[Delta]) -> bool:
        section = self.section
        assert section is not None
        out += section.feed(self.buf, final)
        self.buf = ""
        if section.status == "run":
            return False
        self.section = None
        self.index = section.index
        self.state = "text"
        self.buf = section.leftover
        if section.status == "done":
            self.run = TextRun("content", True)
            return True
        # not a call after all: the text read is content, nothing lost
        text = section.fallback()
        if section.calls:
            self.run = TextRun("content", True)
            out += self.run.feed(text)
        else:
            out.append(Delta("content", text))
            self.run = TextRun("content", False)
            self.run.any = True
        return True

