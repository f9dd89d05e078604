"""GBNF for Hermes tool calls: `<tool_call>\\n{"name": "f", "arguments": {...}}\\n</tool_call>`.

The call head uses the key spacing the templates render in history (`{"name": "f",
"arguments": `); the arguments themselves are the schema converter's compact JSON. No free
whitespace anywhere: with small models a loose grammar ends in whitespace loops.
"""

from __future__ import annotations

import json

from gateway.callgrammar import (
    call_list,
    grammar_text,
    lazy_plan,
    response_rules,
    text_blocks,
    tool_args_rules,
)
from gateway.dialect import (
    GrammarPlan,
    RequestContext,
    SchemaGrammars,
    ServedModel,
    ToolDef,
    parallel_cap,
    reasoning_cap,
)
from gateway.grammar import literal
from gateway.templating import ChatTemplate

from .markup import (
    THINK_CLOSE,
    THINK_OPEN,
    TOOL_CLOSE,
    TOOL_OPEN,
    has_think,
    think_forced_open,
)

THINK_MAX_CHARS = 4000  # default bound of a <think> block inside a non-lazy grammar
# Default bound on calls in one turn under parallel_tool_calls: small models otherwise repeat
# the same call until max_tokens (seen with the demo model), and a cut-off turn loses them all.
MAX_PARALLEL_CALLS = 8
_BLOCK = 100


def call_rules(model: ServedModel, grammars: SchemaGrammars, tools: list[ToolDef],
               parallel: bool) -> list[str]:
    """Rules ending in `calls`: one call block, or several separated by one newline."""
    rules, roots = tool_args_rules(grammars, tools, "t")
    alts: list[str] = []
    for i, (tool, root) in enumerate(zip(tools, roots, strict=True)):
        head = literal('{"name": ' + json.dumps(tool.name) + ', "arguments": ')
        rules.append(f'call{i} ::= {head} {root} "}}"')
        alts.append(f"call{i}")
    rules.append("call ::= " + " | ".join(alts))
    rules.append(f"block ::= {literal(TOOL_OPEN + chr(10))} call {literal(chr(10) + TOOL_CLOSE)}")
    cap = parallel_cap(model.options, grammars.budget_tokens, MAX_PARALLEL_CALLS) \
        if parallel else 1
    rules.append("calls ::= " + call_list("block", '"\\n"', cap))
    return rules


def think_rules(model: ServedModel, grammars: SchemaGrammars, opened: bool
                ) -> tuple[list[str], str]:
    """A bounded reasoning block before the answer: `<think>` optional, or already open in
    the prompt (QwQ). Returns the rules and the expression to put first in `root`."""
    limit = reasoning_cap(model.options, grammars.budget_tokens, THINK_MAX_CHARS)
    if limit < _BLOCK and not opened:  # no room to think: the budget goes to the call
        return [], ""
    rules, text = text_blocks("think", '[^<] | "<" [^/<]', limit)  # never `</`
    rules += [f"think-text ::= {text}", f'think-end ::= {literal(THINK_CLOSE)} "\\n"{{0,2}}']
    if opened:
        return rules, "think-text think-end"
    rules.append(f"think ::= {literal(THINK_OPEN)} think-text think-end")
    return rules, "think?"


def answer_rules(ctx: RequestContext, grammars: SchemaGrammars) -> list[str] | None:
    """`answer` for a response_format (json_schema / json_object), or None."""
    found = response_rules(ctx, grammars)
    if found is None:
        return None
    rules, root = found
    return [*rules, f"answer ::= {root}"]


def preserved(template: ChatTemplate) -> list[str]:
    tokens = [TOOL_OPEN, TOOL_CLOSE]
    return tokens + [THINK_OPEN, THINK_CLOSE] if has_think(template) else tokens


def build_plan(ctx: RequestContext, model: ServedModel, grammars: SchemaGrammars
               ) -> GrammarPlan:
    """The constraint for a request under its tool_choice and parallel_tool_calls."""
    answer = answer_rules(ctx, grammars)
    tools = ctx.selected_tools() if ctx.offers_tools else []
    if not tools and answer is None:
        return GrammarPlan()
    rules: list[str] = []
    if tools:
        rules += call_rules(model, grammars, tools, ctx.parallel_tool_calls)
    if ctx.tool_choice == "auto" and tools and answer is None:
        # Lazy: free text until the model writes <tool_call>, then the grammar from there on.
        return lazy_plan("calls", rules, [TOOL_OPEN], preserved(model.template))
    # Non-lazy: required/named start with the call; a response_format answer is JSON only.
    body = "calls" if ctx.tool_choice in ("required", "named") else "answer"
    if answer is not None:
        rules += answer
        if tools and ctx.tool_choice == "auto":
            body = "(calls | answer)"
    prefix = ""
    if has_think(model.template):
        think, prefix = think_rules(model, grammars, think_forced_open(model.template))
        rules += think
    return GrammarPlan(grammar=grammar_text(f"{prefix} {body}".strip(), rules),
                       preserved_tokens=preserved(model.template) if tools or prefix else [])
