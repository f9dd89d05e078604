"""GBNF for Harmony tool calls (gpt-oss).

The generation prompt ends with `<|start|>assistant`; a call is then
` to=functions.NAME<|channel|>commentary json<|message|>{args}` (the order the template
renders) or `<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{args}` (the
order gpt-oss was trained on), optionally after one bounded analysis message
`<|channel|>analysis<|message|>...<|end|><|start|>assistant`. `<|call|>` is an end-of-generation
token, so the grammar ends with the arguments. One call per turn: the format has one
recipient per message, and llama.cpp stops at `<|call|>`.
"""

from __future__ import annotations

from gateway.callgrammar import (
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
    reasoning_cap,
)
from gateway.grammar import literal

from .markup import CHANNEL, CONSTRAIN, END, MESSAGE, PRESERVED, START, TRIGGER

ANALYSIS_MAX_CHARS = 2000  # default bound of the analysis message before a forced call
_BLOCK = 100
_TYPE = f'(" json" | " " {literal(CONSTRAIN)} "json")?'


def call_rules(grammars: SchemaGrammars, tools: list[ToolDef], lazy: bool) -> list[str]:
    """Rules ending in `call`. Lazy: the text from the trigger word ` to=functions.` on
    (in both header orders); else the whole call header."""
    rules, roots = tool_args_rules(grammars, tools, "t")
    alts: list[str] = []
    for i, (tool, root) in enumerate(zip(tools, roots, strict=True)):
        name = literal(tool.name)
        channel = literal(CHANNEL + "commentary")
        if lazy:
            head = f"{literal(TRIGGER)} {name} {channel}? {_TYPE}"
        else:
            head = (f"({literal(TRIGGER)} {name} {channel} | "
                    f"{channel} {literal(TRIGGER)} {name}) {_TYPE}")
        rules.append(f"call{i} ::= {head} {literal(MESSAGE)} {root}")
        alts.append(f"call{i}")
    rules.append("call ::= " + " | ".join(alts))
    return rules


def analysis_rules(model: ServedModel, grammars: SchemaGrammars) -> tuple[list[str], str]:
    """An optional bounded analysis message before the answer; ([], "") when the budget
    leaves no room for one."""
    limit = reasoning_cap(model.options, grammars.budget_tokens, ANALYSIS_MAX_CHARS)
    if limit < _BLOCK:
        return [], ""
    rules, text = text_blocks("an", '[^<] | "<" [^|<]', limit)  # never `<|`
    return [*rules, f"analysis ::= {literal(CHANNEL + 'analysis' + MESSAGE)} {text} "
                    f"{literal(END + START + 'assistant')}"], "analysis?"


def answer_rules(ctx: RequestContext, grammars: SchemaGrammars) -> list[str] | None:
    """`answer` for a response_format (a final message holding the JSON), or None."""
    found = response_rules(ctx, grammars)
    if found is None:
        return None
    rules, root = found
    return [*rules, f"answer ::= {literal(CHANNEL + 'final' + MESSAGE)} {root}"]


def build_plan(ctx: RequestContext, model: ServedModel, grammars: SchemaGrammars
               ) -> GrammarPlan:
    """The constraint for a request under its tool_choice (always at most one call)."""
    answer = answer_rules(ctx, grammars)
    tools = ctx.selected_tools() if ctx.offers_tools else []
    if not tools and answer is None:
        return GrammarPlan()
    if ctx.tool_choice == "auto" and tools and answer is None:
        # Lazy: free analysis / final text until the model writes ` to=functions.`.
        rules = call_rules(grammars, tools, lazy=True)
        return lazy_plan("call", rules, [TRIGGER], list(PRESERVED))
    rules = call_rules(grammars, tools, lazy=False) if tools else []
    body = "call" if ctx.tool_choice in ("required", "named") and tools else "answer"
    if answer is not None:
        rules += answer
        if tools and ctx.tool_choice == "auto":
            body = "(call | answer)"
    analysis, prefix = analysis_rules(model, grammars)
    rules += analysis
    return GrammarPlan(grammar=grammar_text(f"{prefix} {body}".strip(), rules),
                       preserved_tokens=list(PRESERVED))
