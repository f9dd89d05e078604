"""What a turn of calls costs in tokens, so the calls (and a reasoning block before them)
fit the answer's token budget (`SchemaGrammars.budget_tokens`: max_tokens, or what the context
leaves).

A call cut off by max_tokens is lost (the call gate drops it), so the number of calls the
grammar allows and the length of a reasoning block are shaped from the budget. The cost of a
call is estimated from its own text in the template's syntax — a sample call rendered by the
derived spec — not from a flat per-call figure: Kimi's `<|tool_call_begin|>…` markup costs
twice what a Llama 3 JSON call does on a model without those special tokens.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from gateway.dialect import RequestContext, ToolDef, parallel_cap, reasoning_cap

from .spec import Spec

# UTF-8 bytes per token of call markup on a model that lacks the markers as special tokens
# (measured on SmolLM2 for two rendered calls: Kimi 2.5, GLM 2.3, Cohere 2.7, MiniMax 2.9,
# DeepSeek's fullwidth markers 2.0): a little below the median, so the estimate errs long.
BYTES_PER_TOKEN = 2.2
SAMPLE_STRING_CHARS = 32  # a string argument as a model typically writes it
MAX_PARALLEL_CALLS = 4  # calls per turn under parallel_tool_calls (option max_parallel_calls)
THINK_MAX_CHARS = 4000  # a reasoning block before required calls (option think_max_chars)
MIN_THINK_CHARS = 100  # an optional reasoning block shorter than this is not offered at all


def tokens(text: str) -> int:
    return math.ceil(len(text.encode()) / BYTES_PER_TOKEN)


def sample_value(schema: Any) -> Any:
    """A value of the size a model typically writes for this schema."""
    if not isinstance(schema, dict):
        return "x" * 8
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return max(schema["enum"], key=lambda v: len(str(v)))
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "string":
        hi, lo = schema.get("maxLength"), schema.get("minLength")
        n = min(SAMPLE_STRING_CHARS, hi) if isinstance(hi, int) else SAMPLE_STRING_CHARS
        return "x" * max(n, lo if isinstance(lo, int) else 0)
    samples: dict[str, Any] = {"integer": 10, "number": 1.5, "boolean": True, "null": None,
                               "array": [], "object": {}}
    return samples.get(kind, "x" * 8) if isinstance(kind, str) else "x" * 8


def sample_args(schema: Any) -> dict[str, Any]:
    """Every declared property with a typical value (optional ones too: models write them)."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return {}
    return {k: sample_value(v) for k, v in props.items()}


def call_tokens(spec: Spec, tool: ToolDef) -> int:
    """Estimated tokens of one call of this tool, with the separator before it."""
    return tokens(spec.call_sep + spec.render_call(tool.name, sample_args(tool.parameters)))


def plan_budget(ctx: RequestContext, options: Mapping[str, Any], budget_tokens: int | None,
                spec: Spec, tools: list[ToolDef], think: bool) -> tuple[int, int]:
    """(most calls per turn, characters for the reasoning block before them). Without a
    budget: the options' caps. Under one: the reasoning block leaves room for one call of
    the costliest tool (a character of free reasoning can be a token: a small model's
    reasoning is often a run of newlines and symbols), and the calls fit what is left."""
    calls = 1 if spec.single_call or not ctx.parallel_tool_calls else \
        parallel_cap(options, budget_tokens, MAX_PARALLEL_CALLS)
    think_chars = reasoning_cap(options, budget_tokens, THINK_MAX_CHARS) \
        if think and spec.think else 0
    per_call = max(call_tokens(spec, t) for t in tools) if tools else 0
    room = None
    if budget_tokens is not None:
        room = budget_tokens - tokens(spec.section_open + spec.section_close)
    if think_chars and spec.think:
        markers = tokens(spec.think[1]) + (0 if spec.think_forced else tokens(spec.think[0]))
        if room is not None:
            think_chars = max(0, min(think_chars, room - markers - per_call))
        if think_chars < MIN_THINK_CHARS and not spec.think_forced:
            think_chars = 0  # no room to think: the budget goes to the calls
        elif room is not None:
            room -= think_chars + markers
    if room is not None and per_call:
        calls = max(1, min(calls, room // per_call))
    return calls, think_chars
