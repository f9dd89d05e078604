"""Pieces both functionary dialects share: argument grammars, the TypeScript tool listing
for templates that do not render tools themselves, and streaming helpers for calls."""

from __future__ import annotations

import json
import string
from typing import Any

from gateway.callgrammar import tool_args_rules
from gateway.dialect import (
    Delta,
    RequestContext,
    SchemaGrammars,
    ServedModel,
    ToolDef,
    new_call_id,
    parallel_cap,
)
from gateway.jsonstream import JsonScanner
from gateway.textscan import MarkerSplitter
from gateway.typescript import ts_function

PYTHON = "python"  # functionary's code-interpreter tool: raw code instead of JSON arguments
MAX_NAME = 64  # OpenAI's limit on function names; a longer "name" is text, not a call
MAX_PARALLEL_CALLS = 8  # default of the `max_parallel_calls` dialect option
NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_-.")


def offered_tools(ctx: RequestContext) -> list[ToolDef]:
    """The tools the model is shown and may call (only the named one under tool_choice)."""
    return ctx.selected_tools() if ctx.offers_tools else []


def max_calls(ctx: RequestContext, model: ServedModel, grammars: SchemaGrammars) -> int:
    """How many calls one turn may hold. Bounded even with parallel_tool_calls: a small
    model that does not know the format repeats a call until max_tokens, and the cut-off
    turn would then be returned as text instead of the calls it did make."""
    if not ctx.parallel_tool_calls:
        return 1
    return parallel_cap(model.options, grammars.budget_tokens, MAX_PARALLEL_CALLS)


def repeat(item: str, lo: int, hi: int) -> str:
    """`item{lo,hi}` in GBNF, or nothing when hi is 0 (no `{0,0}` for llama.cpp's parser)."""
    return f"{item}{{{lo},{hi}}}" if hi > 0 else ""


def has_python(tools: list[ToolDef]) -> bool:
    return any(t.name == PYTHON for t in tools)


def args_rules(grammars: SchemaGrammars, tools: list[ToolDef]
               ) -> tuple[list[str], dict[str, str]]:
    """Each tool's argument grammar, embedded under its own prefix: (rules, name → root)."""
    rules, roots = tool_args_rules(grammars, tools, "a")
    return rules, {t.name: root for t, root in zip(tools, roots, strict=True)}


def typescript_namespace(tools: list[ToolDef]) -> str:
    """Tools as functionary v3 publishes them: TypeScript signatures in `namespace functions`."""
    body = "\n\n".join(ts_function(t.name, t.description, t.parameters) for t in tools)
    return ("// Supported function definitions that should be called when necessary.\n"
            f"namespace functions {{\n\n{body}\n\n}} // namespace functions")


def render(ctx: RequestContext, model: ServedModel, messages: list[dict[str, Any]], how: str
           ) -> str:
    """Render through the template; if it does not list tools itself (a foreign template
    chosen with --dialect), publish them as a TypeScript namespace in the system turn."""
    tools = offered_tools(ctx)
    if tools and not getattr(model.template, "renders_tools", True):
        text = f"{typescript_namespace(tools)}\n\n{how}"
        if messages and messages[0]["role"] == "system":
            first = {**messages[0], "content": f"{messages[0].get('content') or ''}\n\n{text}"}
            messages = [first, *messages[1:]]
        else:
            messages = [{"role": "system", "content": text}, *messages]
    return model.template.render(messages, tools=[t.openai() for t in tools] or None,
                                 add_generation_prompt=True)


def valid_name_char(c: str) -> bool:
    return c in NAME_CHARS


class JsonArgs:
    """Streams one call's JSON arguments verbatim (minus whitespace between tokens)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self._scan = JsonScanner()

    def feed(self, text: str) -> list[Delta]:
        return [Delta("tool_args", ev.raw, index=self.index)
                for ev in self._scan.feed(text) if ev.raw]

    def finish(self) -> list[Delta]:
        return [Delta("tool_args", ev.raw, index=self.index)
                for ev in self._scan.finish() if ev.raw]

    @property
    def done(self) -> bool:
        return self._scan.done

    @property
    def failed(self) -> bool:
        return self._scan.error is not None

    def take_rest(self) -> str:
        rest, self._scan.rest = self._scan.rest, ""
        return rest


def code_start(index: int) -> list[Delta]:
    """A python call: its raw code becomes the JSON string arguments {"code": ...}."""
    return [Delta("tool_start", index=index, id=new_call_id(), name=PYTHON),
            Delta("tool_args", '{"code":"', index=index)]


def code_chunk(index: int, text: str) -> list[Delta]:
    # JSON escaping is per character, so escaped pieces concatenate to the escaped whole
    return [Delta("tool_args", json.dumps(text, ensure_ascii=False)[1:-1], index=index)] \
        if text else []


def code_end(index: int) -> list[Delta]:
    return [Delta("tool_args", '"}', index=index)]


def python_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History python calls carry {"code": ...}; functionary templates show the raw code."""
    out = []
    for m in messages:
        calls = m.get("tool_calls")
        if m.get("role") == "assistant" and calls:
            m = {**m, "tool_calls": [_raw_code(c) for c in calls]}
        out.append(m)
    return out


def _raw_code(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    if fn.get("name") != PYTHON:
        return call
    args = fn.get("arguments")
    try:
        parsed = json.loads(args) if isinstance(args, str) else args
    except ValueError:
        return call
    if isinstance(parsed, dict) and isinstance(parsed.get("code"), str):
        return {**call, "function": {**fn, "arguments": parsed["code"]}}
    return call


def content(out: list[Delta], text: str) -> None:
    if text:
        out.append(Delta("content", text))


class SegmentParser:
    """What both parsers share: text split at the format's markers, each piece handed to
    `_on_<state>`; at the end a call's arguments or code are closed, and whatever else was
    held back is shown (`_finish_held`)."""

    def __init__(self, names: set[str], markers: list[str], state: str) -> None:
        self._names = names
        self._split = MarkerSplitter(markers)
        self._state = state
        self._buf = ""  # a name being read, or whitespace held back
        self._name = ""
        self._index = 0
        self._args: JsonArgs | None = None

    def feed(self, text: str) -> list[Delta]:
        out: list[Delta] = []
        for kind, piece in self._split.feed(text):
            self._piece(kind == "marker", piece, out)
        return out

    def finish(self) -> list[Delta]:
        out: list[Delta] = []
        for kind, piece in self._split.flush():
            self._piece(kind == "marker", piece, out)
        if self._state == "args" and self._args is not None:
            out += self._args.finish()
        elif self._state == "code":
            out += code_end(self._index)
        else:
            self._finish_held(out)
        return out

    def _finish_held(self, out: list[Delta]) -> None:
        raise NotImplementedError

    def _piece(self, marker: bool, piece: str, out: list[Delta]) -> None:
        getattr(self, "_on_" + self._state)(marker, piece, out)
