"""The derived dialect must read the template's own renderings back exactly.

Every planted turn (one call, typed arguments, no arguments, several calls, text before the
calls) is rendered through the template and parsed with the derived parser; anything but
the planted calls (and text) back means the derivation misread the syntax.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.dialect import ToolDef, assemble

from .probe import CONTENT, NAMES, TOOLS, Probe, call
from .spec import Spec
from .structure import ARGSETS

TYPED = {"kqalpha": "vqalpha", "kqnum": 42, "kqflag": True}
TOOL_DEFS = [ToolDef(t["function"]["name"], t["function"]["description"],
                     t["function"]["parameters"]) for t in TOOLS]


class SelfCheckError(Exception):
    pass


def parse(spec: Spec, text: str, tools: list[ToolDef] | None = None
          ) -> tuple[str | None, list[tuple[str, Any]]]:
    """Content and (name, arguments) calls the derived parser reads from text."""
    from .parser import AutoParser

    parser = AutoParser(spec, TOOL_DEFS if tools is None else tools)
    out = assemble(parser.feed(text) + parser.finish())
    return out.content, [(c.name, json.loads(c.arguments)) for c in out.tool_calls]


def selfcheck(spec: Spec, probe: Probe, ends: list[str]) -> None:
    k = 1 if spec.single_call else 3
    cases: list[tuple[str, list[dict[str, Any]], list[tuple[str, Any]], str | None]] = [
        ("one call", [call(0, ARGSETS[0])], [(NAMES[0], ARGSETS[0])], None),
        ("typed arguments", [call(0, TYPED)], [(NAMES[0], TYPED)], None),
        ("no arguments", [call(0, {})], [(NAMES[0], {})], None),
        (f"{k} calls", [call(i, ARGSETS[i]) for i in range(k)],
         [(NAMES[i], ARGSETS[i]) for i in range(k)], None),
    ]
    if spec.content != "dropped":
        cases.append(("text and a call", [call(0, ARGSETS[0])], [(NAMES[0], ARGSETS[0])],
                      CONTENT))
    for what, calls, expected, content in cases:
        text = probe.calls(calls, content=content)
        cut = min((text.find(e) for e in ends if e in text), default=len(text))
        text = text[:cut]  # llama.cpp stops at an end-of-generation token
        if spec.think and spec.think_forced and not text.lstrip().startswith(spec.think[1]):
            text = spec.think[1] + "\n\n" + text  # the model closes the opened block first
        try:
            got_content, got = parse(spec, text)
        except Exception as exc:  # a derived parser that crashes on its own template
            raise SelfCheckError(f"{what}: the derived parser fails: {exc!r}") from exc
        if got != expected or (got_content or "").strip() != (content or ""):
            raise SelfCheckError(f"{what}: {text!r} parses back as {got} and text "
                                 f"{got_content!r}, not the planted {expected}")
