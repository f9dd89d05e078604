"""GBNF for Mistral tool calls, in the template's own shape:

- array (Nemo): `[TOOL_CALLS][{"name": "f", "arguments": {...}, "id": "a1B2c3D4e"}, ...]`
- call_id (Small 3.2): `[TOOL_CALLS]f[CALL_ID]a1B2c3D4e[ARGS]{...}` once per call
- args (Ministral 3 / Magistral): `[TOOL_CALLS]f[ARGS]{...}` once per call

The model writes the 9-alphanumeric id where its format has one (the grammar holds it to
exactly that shape), and that id is what the client gets. The key spacing of the array form
is the one the template renders in history; the arguments are the schema converter's compact
JSON. Templates with `[THINK]` get an optional bounded reasoning block before a forced call.
"""

from __future__ import annotations

import json

from gateway.dialect import (
    GrammarPlan,
    RequestContext,
    SchemaGrammars,
    ServedModel,
    ToolDef,
    parallel_cap,
    reasoning_cap,
    response_format_plan,
    word_trigger,
)
from gateway.grammar import literal, rename_rules
from gateway.templating import ChatTemplate

from .markup import (
    ARGS,
    CALL_ID,
    THINK_CLOSE,
    THINK_OPEN,
    TOOL_CALLS,
    Variant,
    has_think,
    variant_of,
)

THINK_MAX_CHARS = 2000  # default bound of a [THINK] block inside a non-lazy grammar
MAX_PARALLEL_CALLS = 8  # default bound on calls in one turn (small models repeat a call)
_BLOCK = 100
_ID_KEY, _ID_END = literal(', "id": "'), literal('"}')


def call_rules(model: ServedModel, grammars: SchemaGrammars, tools: list[ToolDef],
               variant: Variant, parallel: bool) -> list[str]:
    """Rules ending in `calls`: one call, or up to the parallel cap."""
    rules = ["call-id ::= [a-zA-Z0-9]{9}"]
    alts: list[str] = []
    for i, tool in enumerate(tools):
        body, root = rename_rules(grammars.schema(tool.parameters, tool.strict), f"t{i}-")
        rules.append(body.strip())
        if variant == "array":
            head = literal('{"name": ' + json.dumps(tool.name) + ', "arguments": ')
            rules.append(f"call{i} ::= {head} {root} {_ID_KEY} call-id {_ID_END}")
        elif variant == "call_id":
            rules.append(f"call{i} ::= {literal(TOOL_CALLS + tool.name + CALL_ID)} call-id "
                         f"{literal(ARGS)} {root}")
        else:
            rules.append(f"call{i} ::= {literal(TOOL_CALLS + tool.name + ARGS)} {root}")
        alts.append(f"call{i}")
    rules.append("call ::= " + " | ".join(alts))
    more = parallel_cap(model.options, grammars.budget_tokens, MAX_PARALLEL_CALLS) - 1 \
        if parallel else 0
    if variant == "array":
        repeat = f' ({literal(", ")} call){{0,{more}}}' if more else ""
        rules.append(f"calls ::= {literal(TOOL_CALLS + '[')} call{repeat} {literal(']')}")
    else:
        rules.append("calls ::= call" + (f" call{{0,{more}}}" if more else ""))
    return rules


def think_rules(model: ServedModel, grammars: SchemaGrammars) -> tuple[list[str], str]:
    """An optional bounded `[THINK]...[/THINK]` block; ([], "") when the budget has no room."""
    limit = reasoning_cap(model.options, grammars.budget_tokens, THINK_MAX_CHARS)
    if limit < _BLOCK:
        return [], ""
    blocks = limit // _BLOCK  # full blocks then a short tail: one way to split any length
    return [
        'think-char ::= [^\\x5B] | "\\x5B" [^/\\x5B]',
        f"think-blk ::= think-char{{{_BLOCK}}}",
        f"think ::= {literal(THINK_OPEN)} think-blk{{0,{blocks}}} "
        f"think-char{{0,{_BLOCK - 1}}} {literal(THINK_CLOSE)}",
    ], "think?"


def answer_rules(ctx: RequestContext, grammars: SchemaGrammars) -> list[str] | None:
    plan = response_format_plan(ctx, grammars)
    if plan.grammar is None:
        return None
    body, root = rename_rules(plan.grammar, "res-")
    return [body.strip(), f"answer ::= {root}"]


def preserved(template: ChatTemplate, variant: Variant) -> list[str]:
    tokens = [TOOL_CALLS]
    tokens += {"array": [], "call_id": [CALL_ID, ARGS], "args": [ARGS]}[variant]
    return tokens + [THINK_OPEN, THINK_CLOSE] if has_think(template) else tokens


def build_plan(ctx: RequestContext, model: ServedModel, grammars: SchemaGrammars
               ) -> GrammarPlan:
    """The constraint for a request under its tool_choice and parallel_tool_calls."""
    variant = variant_of(model.template)
    answer = answer_rules(ctx, grammars)
    tools = ctx.selected_tools() if ctx.offers_tools else []
    if not tools and answer is None:
        return GrammarPlan()
    rules = call_rules(model, grammars, tools, variant, ctx.parallel_tool_calls) \
        if tools else []
    if ctx.tool_choice == "auto" and tools and answer is None:
        # Lazy: free text (and thought) until the model writes [TOOL_CALLS].
        return GrammarPlan(grammar="\n".join(["root ::= calls", *rules]) + "\n", lazy=True,
                           triggers=[word_trigger(TOOL_CALLS)],
                           preserved_tokens=preserved(model.template, variant))
    body = "calls" if ctx.tool_choice in ("required", "named") and tools else "answer"
    if answer is not None:
        rules += answer
        if tools and ctx.tool_choice == "auto":
            body = "(calls | answer)"
    prefix = ""
    if has_think(model.template):
        think, prefix = think_rules(model, grammars)
        rules += think
    root = f"root ::= {prefix} {body}".replace("  ", " ")
    return GrammarPlan(grammar="\n".join([root, *rules]) + "\n",
                       preserved_tokens=preserved(model.template, variant))
