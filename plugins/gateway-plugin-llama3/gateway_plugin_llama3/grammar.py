"""GBNF for Llama 3.x tool calls, as the templates render them in history:

- a JSON call `{"name": "f", "parameters": {...}}` (compact arguments from each tool's
  schema); with parallel_tool_calls, several separated by one newline;
- a built-in search tool `<|python_tag|>brave_search.call(query="...")`;
- the code interpreter `<|python_tag|>` followed by the code (bounded).

The model ends its message with `<|eot_id|>` (after a JSON call) or `<|eom_id|>` (after a
`<|python_tag|>` call, awaiting the ipython result): both end generation.
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
    response_format_plan,
    word_trigger,
)
from gateway.grammar import literal, rename_rules

from .markup import EOM, EOT, HEAD, PYTHON_TAG, builtin_tools, string_keys

MAX_PARALLEL_CALLS = 8  # default bound on calls in one turn (small models repeat a call)
CODE_MAX_CHARS = 4000  # default bound of code after <|python_tag|>
STRING_MAX_CHARS = 1000  # bound of a built-in's string argument


def call_rules(model: ServedModel, grammars: SchemaGrammars, tools: list[ToolDef],
               parallel: bool) -> list[str]:
    """Rules ending in `calls`."""
    source = model.template.source
    builtins = builtin_tools(tools) if PYTHON_TAG in source or "builtin_tools" in source \
        else {}
    budget = grammars.budget_tokens
    rules: list[str] = []
    json_alts: list[str] = []
    tag_alts: list[str] = []
    for i, tool in enumerate(tools):
        kind = builtins.get(tool.name)
        if kind == "search":
            keys = string_keys(tool) or []
            pairs = f' {literal(", ")} '.join(f'{literal(k + "=" + chr(34))} py-str "\\""'
                                               for k in keys)
            rules.append(f"call{i} ::= {literal(PYTHON_TAG + tool.name + '.call(')} {pairs} "
                         f'")"')
            tag_alts.append(f"call{i}")
            continue
        if kind == "code":
            limit = max(1, min(model.options.get("code_max_chars", CODE_MAX_CHARS),
                               2 * (budget or CODE_MAX_CHARS)))
            rules.append(f"call{i} ::= {literal(PYTHON_TAG)} code-char{{1,{limit}}}")
            tag_alts.append(f"call{i}")
            continue
        body, root = rename_rules(grammars.schema(tool.parameters, tool.strict), f"t{i}-")
        rules.append(body.strip())
        head = literal(HEAD + json.dumps(tool.name) + ', "parameters": ')
        rules.append(f'call{i} ::= {head} {root} "}}"')
        json_alts.append(f"call{i}")
    if any(builtins.get(t.name) == "search" for t in tools):
        # bounded like the schema converter's free strings (a quarter of the budget in
        # characters): a small model loops inside a free string until max_tokens
        width = max(1, (budget or 4 * STRING_MAX_CHARS) // 4)
        rules.append('py-char ::= [^"\\\\\\x00-\\x1F] | "\\\\" ["\\\\nt]')
        rules.append(f"py-str ::= py-char{{0,{min(width, STRING_MAX_CHARS)}}}")
    if any(builtins.get(t.name) == "code" for t in tools):
        rules.append("code-char ::= [^<] | \"<\" [^|]")
    more = parallel_cap(model.options, budget, MAX_PARALLEL_CALLS) - 1 if parallel else 0
    alts = []
    if json_alts:
        rules.append("json-call ::= " + " | ".join(json_alts))
        alts.append("json-call" + (f' ("\\n" json-call){{0,{more}}}' if more else ""))
    if tag_alts:  # one <|python_tag|> call ends the message (<|eom_id|>)
        rules.append("tag-call ::= " + " | ".join(tag_alts))
        alts.append("tag-call")
    rules.append("calls ::= " + " | ".join(alts))
    return rules


def answer_rules(ctx: RequestContext, grammars: SchemaGrammars) -> list[str] | None:
    plan = response_format_plan(ctx, grammars)
    if plan.grammar is None:
        return None
    body, root = rename_rules(plan.grammar, "res-")
    return [body.strip(), f"answer ::= {root}"]


def build_plan(ctx: RequestContext, model: ServedModel, grammars: SchemaGrammars
               ) -> GrammarPlan:
    """The constraint for a request under its tool_choice and parallel_tool_calls."""
    answer = answer_rules(ctx, grammars)
    tools = ctx.selected_tools() if ctx.offers_tools else []
    if not tools and answer is None:
        return GrammarPlan()
    rules = call_rules(model, grammars, tools, ctx.parallel_tool_calls) if tools else []
    uses_tag = any("tag-call ::=" in r for r in rules)
    preserved = [PYTHON_TAG, EOM, EOT] if uses_tag else []
    stop = [EOM] if uses_tag else []
    if ctx.tool_choice == "auto" and tools and answer is None:
        # Lazy: free text until the model starts a call object or <|python_tag|>.
        triggers = [word_trigger(HEAD + '"')] if any("json-call ::=" in r for r in rules) \
            else []
        triggers += [word_trigger(PYTHON_TAG)] if uses_tag else []
        return GrammarPlan(grammar="\n".join(["root ::= calls", *rules]) + "\n", lazy=True,
                           triggers=triggers, preserved_tokens=preserved, stop=stop)
    body = "calls" if ctx.tool_choice in ("required", "named") and tools else "answer"
    if answer is not None:
        rules += answer
        if tools and ctx.tool_choice == "auto":
            body = "(calls | answer)"
    return GrammarPlan(grammar="\n".join([f"root ::= {body}", *rules]) + "\n",
                       preserved_tokens=preserved, stop=stop)
