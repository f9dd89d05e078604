"""What derivation learns about a template: the tool-call syntax as literal text and slots.

A turn with calls is `section_open call (call_sep call)* section_close`; a call is the
`call` tuple, literal texts and the slots NAME, ARGS (and ID: a call id the model writes,
INDEX: a running call number). ARGS is one JSON object, or `Tagged`: one tag per argument.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from .markup import ARGS, ID, INDEX, NAME, SLOTS, show
from .values import JSON_TYPES, json_type


@dataclass(frozen=True, slots=True)
class Tagged:
    """Arguments as `start (open KEY key_end VALUE close) (sep ...)* end`, or `empty`.

    String values are raw text (or between quote_open/quote_close, e.g. `'...'`); other
    values are JSON (Python-style `True` where the template writes that). Where the text
    between key and value depends on the value's type (DSML `string="true|false"`, Kimi K3
    `type="number"`), `typed` maps each JSON type the probes showed to it."""

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
    typed: tuple[tuple[str, str], ...] = ()  # (JSON type, key_end) when it depends on it

    def key_ends(self, types: set[str] | None = None) -> list[tuple[str, set[str]]]:
        """The texts a key may be followed by for values of these JSON types (all when None
        or empty), each with the types it is written for; in the order of `typed`."""
        if not self.typed:
            return [(self.key_end, set(types or JSON_TYPES))]
        known = dict(self.typed)
        wanted = set(types or JSON_TYPES)
        if "number" in wanted:
            wanted.add("integer")  # a whole number is written as the template writes 42
        found: dict[str, set[str]] = {}
        for t in (t for t in JSON_TYPES if t in wanted):
            for end in self._ends_of(t, known):
                found.setdefault(end, set()).add(t)
        order = [e for _, e in self.typed]
        return sorted(found.items(), key=lambda item: order.index(item[0]))

    def _ends_of(self, t: str, known: dict[str, str]) -> list[str]:
        """What follows a key for a value of type t; a type the probes did not show takes
        its kin's (integer/number), else every non-string form."""
        kin = {"integer": "number", "number": "integer"}.get(t, "")
        if t in known or kin in known:
            return [known.get(t) or known[kin]]
        others = [e for k, e in self.typed if k != "string"]
        return list(dict.fromkeys(others)) if t != "string" and others else [self.key_end]

    def key_end_for(self, v: Any) -> str:
        """What the template writes between a key and this value."""
        return self._ends_of(json_type(v), dict(self.typed))[0] if self.typed else self.key_end

    def types_at(self, key_end: str) -> set[str]:
        """The JSON types the template writes after this key_end (empty: not typed)."""
        return {t for t, e in self.typed if e == key_end}

    def value(self, v: Any) -> str:
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False) if self.json_strings else \
                self.quote_open + v + self.quote_close
        if isinstance(v, bool) and self.python_bools:
            return "True" if v else "False"
        return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))

    def _key_end_shown(self) -> str:
        """key_end, or its typed forms folded: `" string="true|false">`."""
        ends = list(dict.fromkeys(e for _, e in self.typed)) or [self.key_end]
        p = len(os.path.commonprefix(ends))
        s = len(os.path.commonprefix([e[p:][::-1] for e in ends]))
        while p and any(e[p - 1: p + 1].isalnum() for e in ends):  # whole words only
            p -= 1
        while s and any(e[len(e) - s - 1: len(e) - s + 1].isalnum() for e in ends):
            s -= 1
        return ends[0][:p] + "|".join(e[p: len(e) - s] for e in ends) + ends[0][len(ends[0]) - s:]

    def render(self, args: dict[str, Any]) -> str:
        if not args:
            return self.empty
        keys = sorted(args) if self.sorted_keys else list(args)
        params = [self.open + k + self.key_end_for(args[k]) + self.value(args[k]) + self.close
                  for k in keys]
        return self.start + self.sep.join(params) + self.end

    def describe(self) -> str:
        value = f"{self.quote_open}VALUE{self.quote_close}" if not self.json_strings else "JSON"
        key = f"{self.open}KEY{self._key_end_shown()}"
        return f"{self.start}{key}{value}{self.close}{self.sep}…{self.end}"


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
