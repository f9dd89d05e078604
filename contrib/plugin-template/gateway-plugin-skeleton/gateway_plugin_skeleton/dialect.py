"""The skeleton dialect: prompt, grammar and parser for `<call:NAME>{json}</call>` calls.

Works with any chat template: the tools and the call syntax are described in the system
turn, and calls and results in the history are rendered as plain text turns.
"""

from __future__ import annotations

from typing import Any

from gateway.callgrammar import call_list, grammar_text, lazy_plan, response_rules, tool_args_rules
from gateway.dialect import (
    Dialect,
    GrammarPlan,
    OutputParser,
    RequestContext,
    SchemaGrammars,
    ServedModel,
    ToolDef,
    parallel_cap,
    template_variables,
)
from gateway.grammar import literal
from gateway.typescript import ts_function

from .parser import SkeletonParser
from .syntax import CLOSE, END_NAME, OPEN, SEPARATOR, render_call

MAX_PARALLEL_CALLS = 4  # default of the `max_parallel_calls` option


class SkeletonDialect(Dialect):
    name = "skeleton"
    description = "tool calls written as <call:NAME>{json}</call>"

    # Each method gets the request's data (`ctx`: messages, tools, tool_choice, ...) and the
    # served model (`model`: chat template, dialect options); the grammar also gets the
    # schema-grammar builder (`grammars`: JSON Schema -> GBNF, the answer's token budget).

    # -- prompt ---------------------------------------------------------------------------
    def render_prompt(self, ctx: RequestContext, model: ServedModel) -> str:
        messages = plain_history(ctx.messages)
        if ctx.offers_tools:
            messages = with_system(messages, tools_prompt(ctx.selected_tools()))
        return model.template.render(messages, add_generation_prompt=True,
                                     extra_context=template_variables(ctx))

    # -- grammar --------------------------------------------------------------------------
    def tools_grammar(self, ctx: RequestContext, model: ServedModel,
                      grammars: SchemaGrammars) -> GrammarPlan:
        tools = ctx.selected_tools() if ctx.offers_tools else []
        if not tools:  # plain text, or the response_format's JSON
            return super().tools_grammar(ctx, model, grammars)
        rules, roots = tool_args_rules(grammars, tools)  # each tool's arguments (its schema)
        for i, (tool, root) in enumerate(zip(tools, roots, strict=True)):
            rules.append(f"call{i} ::= {literal(OPEN + tool.name + END_NAME)} {root} "
                         f"{literal(CLOSE)}")
        rules.append("call ::= " + " | ".join(f"call{i}" for i in range(len(tools))))
        # at most max_parallel_calls (an option), and what the token budget fits
        cap = parallel_cap(model.options, grammars.budget_tokens, MAX_PARALLEL_CALLS) \
            if ctx.parallel_tool_calls else 1
        rules.append("calls ::= " + call_list("call", literal(SEPARATOR), cap))
        answer = response_rules(ctx, grammars)
        if ctx.tool_choice == "auto" and answer is None:
            # free text until the model writes `<call:`, then a call from there on
            return lazy_plan("calls", rules, [OPEN])
        if ctx.tool_choice == "auto" and answer is not None:  # a call or the JSON answer
            return GrammarPlan(grammar=grammar_text(f"calls | {answer[1]}", rules + answer[0]))
        return GrammarPlan(grammar=grammar_text("calls", rules))  # required / named

    # -- parser ---------------------------------------------------------------------------
    def create_parser(self, ctx: RequestContext, model: ServedModel) -> OutputParser:
        names = {t.name for t in ctx.tools} if ctx.offers_tools else set()
        return SkeletonParser(names)


def tools_prompt(tools: list[ToolDef]) -> str:
    signatures = "\n".join(ts_function(t.name, t.description, t.parameters) for t in tools)
    return (f"You can call these tools:\n{signatures}\n\nTo call a tool, write "
            f"{OPEN}NAME{END_NAME}{{JSON arguments}}{CLOSE}, one call per line, and nothing "
            "after the calls. Otherwise answer in plain text.")


def plain_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assistant calls become the text the model would have written; tool results become
    user turns (any template can show those)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role, content = m["role"], m.get("content") or ""
        if not isinstance(content, str):  # text parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if role == "assistant" and m.get("tool_calls"):
            calls = [render_call(c["function"]["name"], c["function"].get("arguments"))
                     for c in m["tool_calls"]]
            content = SEPARATOR.join(([content] if content else []) + calls)
        elif role == "tool":
            role, content = "user", f"Tool result: {content}"
        elif role == "developer":
            role = "system"
        out.append({"role": role, "content": content})
    return out


def with_system(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    if messages and messages[0]["role"] == "system":
        return [{"role": "system", "content": messages[0]["content"] + "\n\n" + text},
                *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


__all__ = ["SkeletonDialect", "plain_history", "tools_prompt"]
