"""What the agent shows as it goes: the model's thought, its text, each call and result."""

from __future__ import annotations

import sys
from typing import TextIO


class Printer:
    def __init__(self, out: TextIO | None = None, color: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.color = self.out.isatty() if color is None else color
        self._open: str | None = None  # "thought" or "content" while a stream is running

    def _style(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def _switch(self, kind: str, label: str) -> None:
        if self._open != kind:
            self.end_text()
            self.out.write(self._style("2", label) if label else "")
            self._open = kind

    def thought(self, text: str) -> None:
        self._switch("thought", "thought: ")
        self.out.write(self._style("2;3", text))
        self.out.flush()

    def content(self, text: str) -> None:
        self._switch("content", "")
        self.out.write(text)
        self.out.flush()

    def end_text(self) -> None:
        if self._open is not None:
            self.out.write("\n")
            self._open = None
        self.out.flush()

    def call(self, name: str, arguments: str) -> None:
        self.end_text()
        self.out.write(self._style("36", f"→ call {name}({arguments})") + "\n")
        self.out.flush()

    def result(self, name: str, output: str) -> None:
        shown = output if len(output) <= 500 else output[:500] + " …"
        self.out.write(self._style("32", f"← {name}: {shown}") + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        self.end_text()
        self.out.write(self._style("33", f"[{text}]") + "\n")
        self.out.flush()
