"""The hermes dialect: the model's own template renders tools and history; calls are
`<tool_call>` blocks constrained by a grammar and parsed back as they stream."""

from __future__ import annotations

import json
from typing import Any

from gateway.dialect import (
    Dialect,
    DialectClaim,
    GrammarPlan,
    OutputParser,
    RequestContext,
    SchemaGrammars,
    ServedModel,
)
from gateway.dialect_options import MAX_PARALLEL_CALLS, THINK_MAX_CHARS
from gateway.templating import TemplateError
from gateway.templating_env import normalise_message

from .grammar import build_plan
from .markup import THINK_OPEN, TOOL_CLOSE, TOOL_OPEN, think_forced_open
from .parser import HermesParser


class HermesDialect(Dialect):
    name = "hermes"
    description = "<tool_call>{json}</tool_call> blocks: Hermes 2 Pro / 3, Qwen 2.5 / 3, QwQ"
    options = (MAX_PARALLEL_CALLS, THINK_MAX_CHARS)

    def render_prompt(self, ctx: RequestContext, model: ServedModel) -> str:
        try:
            return super().render_prompt(ctx, model)
        except TemplateError:
            # Hermes "tool_use" templates loop over `tools` unguarded and cannot render a
            # conversation without tools; those models' default template is plain ChatML.
            if ctx.offers_tools or "<|im_start|>" not in model.template.source:
                raise
            return chatml_prompt(ctx.messages)

    def tools_grammar(self, ctx: RequestContext, model: ServedModel,
                      grammars: SchemaGrammars) -> GrammarPlan:
        return build_plan(ctx, model, grammars)

    def create_parser(self, ctx: RequestContext, model: ServedModel) -> OutputParser:
        return HermesParser(calls=ctx.offers_tools, think_open=think_forced_open(model.template),
                            calls_in_reasoning=ctx.tool_choice == "auto")


def detect(source: str) -> DialectClaim | None:
    """Claim templates that render calls as `<tool_call>` JSON blocks."""
    if TOOL_OPEN not in source or TOOL_CLOSE not in source or "arguments" not in source:
        return None
    if THINK_OPEN in source:
        return DialectClaim("hermes", 55, "template renders <tool_call> JSON blocks and "
                                          "<think> reasoning (Qwen 3 / QwQ style)")
    return DialectClaim("hermes", 50, "template renders <tool_call> JSON blocks "
                                      "(Hermes 2 Pro / 3, Qwen 2.5 style)")


def chatml_prompt(messages: list[dict[str, Any]]) -> str:
    """ChatML with calls and results the way the Hermes 3 template writes them."""
    parts: list[str] = []
    results: list[str] = []
    for raw in messages:
        m = normalise_message(raw)
        if m["role"] == "tool":
            results.append(f"<tool_response>\n{m.get('content') or ''}\n</tool_response>")
            continue
        if results:
            parts.append("<|im_start|>tool\n" + "\n".join(results) + "<|im_end|>\n")
            results = []
        text = m.get("content") or ""
        for call in m.get("tool_calls") or []:
            args = json.dumps(dict(call["arguments"] or {}), ensure_ascii=False)
            body = f'{{"name": "{call["name"]}", "arguments": {args}}}'
            text += f"\n{TOOL_OPEN}\n{body}\n{TOOL_CLOSE}"
        parts.append(f"<|im_start|>{m['role']}\n{text.lstrip(chr(10))}<|im_end|>\n")
    if results:
        parts.append("<|im_start|>tool\n" + "\n".join(results) + "<|im_end|>\n")
    return "".join(parts) + "<|im_start|>assistant\n"
