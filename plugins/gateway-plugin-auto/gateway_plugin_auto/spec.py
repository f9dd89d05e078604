"""What derivation learns about a template: the tool-call syntax as literal text and slots.

A turn with calls is `section_open call (call_sep call)* section_close`; a call is the
`call` tuple, literal texts and the slots NAME, ARGS (and ID: a call id the model writes,
INDEX: a running call number). ARGS is one JSON object, or `Tagged`: one tag per argument.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .markup import ARGS, ID, INDEX, NAME, SLOTS, show


@dataclass(frozen=True, slots=True)
class Tagged:
    """Arguments as `start (open KEY key_end VALUE close) (sep ...)* end`, or `empty`.

    String values are raw text (or between quote_open/quote_close, e.g. `'...'`); other
    values are JSON (Python-style `True` where the template writes that)."""

    start: str
    open: str
    key_end: str
    close: str
    sep: str
    end: str
    empty: str
    quote_open: str = ""
    quote_close: str = ""
    json_strings: bool = False  # strings are written as JSON strings: every value is JSON
    python_bools: bool = False  # the template writes True/False
    sorted_keys: bool = False  # the template writes arguments in sorted key order
    nested_json: bool = True  # objects/arrays are written as JSON

    def value(self, v: Any) -> str:
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False) if self.json_strings else \
                self.quote_open + v + self.quote_close
        if isinstance(v, bool) and self.python_bools:
            return "True" if v else "False"
        return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))

    def render(self, args: dict[str, Any]) -> str:
        if not args:
            return self.empty
        keys = sorted(args) if self.sorted_keys else list(args)
        params = [self.open + k + self.key_end + self.value(args[k]) + self.close for k in keys]
        return self.start + self.sep.join(params) + self.end

    def describe(self) -> str:
        value = f"{self.quote_open}VALUE{self.quote_close}" if not self.json_strings else "JSON"
        return f"{self.start}{self.open}KEY{self.key_end}{value}{self.close}{self.sep}…{self.end}"


@dataclass(frozen=True, slots=True)
class Spec:
    call: tuple[str, ...]  # literal texts and slot sentinels (NAME, ARGS, ID, INDEX)
    args: Tagged | None = None  # None: one JSON object
    json_spacing: tuple[str, str] = (", ", ": ")  # how the template writes JSON arguments
    section_open: str = ""
    section_close: str = ""
    call_sep: str = ""
    trigger: str = ""  # the lazy-grammar trigger word: where a call section starts
    single_call: bool = False  # the template takes one call per assistant turn
    think: tuple[str, str] | None = None  # reasoning markers
    think_forced: bool = False  # the generation prompt opens the reasoning block
    content: str = "before"  # where text goes in a turn with calls: before | after | dropped
    turn_end: str = ""  # ends a turn with calls after its text (content "after"): dropped
    short_ids: bool = False  # call ids are 9 alphanumerics (Mistral)
    renders_tools: bool = True  # the template shows the tool list itself
    index_base: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def head(self) -> str:
        """The literal a call opens with."""
        return self.call[0] if self.call and self.call[0] not in SLOTS else ""

    @property
    def trigger_in_open(self) -> int:
        """Where the trigger starts in section_open (-1: it starts the call's head)."""
        return self.section_open.rfind(self.trigger) if self.trigger else -1

    def render_call(self, name: str, args: dict[str, Any], index: int = 0,
                    call_id: str = "abcDEF123") -> str:
        out = []
        for part in self.call:
            if part == NAME:
                out.append(name)
            elif part == ARGS:
                out.append(self.args.render(args) if self.args else json.dumps(
                    args, ensure_ascii=False, separators=self.json_spacing))
            elif part == ID:
                out.append(call_id)
            elif part == INDEX:
                out.append(str(self.index_base + index))
            else:
                out.append(part)
        return "".join(out)

    def render_calls(self, calls: list[tuple[str, dict[str, Any]]]) -> str:
        """The text of a turn's calls, as the template writes it."""
        body = self.call_sep.join(self.render_call(n, a, i) for i, (n, a) in enumerate(calls))
        return self.section_open + body + self.section_close

    def describe(self) -> str:
        call = "".join(self.args.describe() if p == ARGS and self.args else p
                       for p in self.call)
        text = f"calls as {self.section_open}{call}"
        if not self.single_call:
            text += f"{self.call_sep}…"
        text += self.section_close
        if self.args is None:
            text += " (arguments: one JSON object)"
        if self.think:
            text += f"; reasoning {self.think[0]}…{self.think[1]}"
            if self.think_forced:
                text += " (opened by the generation prompt)"
        if self.single_call:
            text += "; one call per turn"
        if not self.renders_tools:
            text += "; tools described by auto (the template does not show them)"
        text = show(text).replace("\n", "\\n")
        return "; ".join([text, *self.notes])
