"""GBNF for a derived call syntax: the template's own literals, the tools' names, and each
tool's arguments from its JSON Schema (compact JSON, or one tag per parameter).

No free whitespace anywhere (small models loop in it); free text (a raw string value, a
reasoning block) is bounded, in blocks of 100 characters so llama.cpp's expansion of the
repetition stays small.
"""

from __future__ import annotations

from gateway.dialect import (
    GrammarPlan,
    RequestContext,
    ToolDef,
    parallel_cap,
    response_format_plan,
    word_trigger,
)
from gateway.grammar import literal, rename_rules
from gateway.grammar.gbnf import char_class

from .markup import ARGS, ID, INDEX, NAME, WS, atoms
from .spec import Spec
from .tagrules import tagged_rules

MAX_PARALLEL_CALLS = 4  # calls per turn under parallel_tool_calls (option max_parallel_calls)
THINK_MAX_CHARS = 4000  # a reasoning block before required calls (option think_max_chars)
_BLOCK = 100


def _seq(*items: str) -> str:
    return " ".join(i for i in items if i and i != '""') or '""'


def char_class_text(chars: str, negated: bool = False) -> str:
    return char_class(sorted((ord(c), ord(c)) for c in set(chars)), negated=negated)


def bounded_text(name: str, stop: str, limit: int) -> list[str]:
    """Rules `name` for up to ~limit characters that never contain the first two characters
    of `stop` (so never `stop` itself)."""
    first, second = stop[:1], stop[1:2]
    if not second:
        char = char_class_text(first, negated=True)
    else:
        char = (f"{char_class_text(first, negated=True)} | {literal(first)} "
                f"{char_class_text(first + second, negated=True)}")
    blocks = limit // _BLOCK
    text = f"{name}-char{{0,{_BLOCK - 1}}}"
    if blocks:
        text = f"{name}-blk{{0,{blocks}}} " + text
    return [f"{name}-char ::= {char}", f"{name}-blk ::= {name}-char{{{_BLOCK}}}",
            f"{name} ::= {text}"]


def call_rules(ctx: RequestContext, spec: Spec, tools: list[ToolDef]) -> list[str]:
    """Rules ending in `calls`: one call, or up to max_parallel_calls separated as the
    template separates them."""
    rules: list[str] = []
    alts: list[str] = []
    for i, tool in enumerate(tools):
        items: list[str] = []
        for part in spec.call:
            if part == NAME:
                items.append(literal(tool.name))
            elif part == INDEX:
                items.append("call-index")
            elif part == ID:
                items.append("call-id")
            elif part == ARGS:
                if spec.args is None:
                    body, root = rename_rules(ctx.grammar_for(tool.parameters, tool.strict),
                                              f"t{i}-")
                    rules.append(body.strip())
                else:
                    args, root = tagged_rules(ctx, spec.args, tool, f"t{i}", bounded_text)
                    rules += args
                if root:
                    items.append(root)
            elif part:
                items.append(literal(part))
        rules.append(f"call{i} ::= {_seq(*items)}")
        alts.append(f"call{i}")
    rules.append("call ::= " + " | ".join(alts))
    if INDEX in spec.call:
        rules.append("call-index ::= [0-9]{1,3}")
    if ID in spec.call:
        rules.append("call-id ::= " + ("[a-zA-Z0-9]{9}" if spec.short_ids
                                       else "[a-zA-Z0-9_-]{4,40}"))
    more = 0
    if ctx.parallel_tool_calls and not spec.single_call:
        more = parallel_cap(ctx, MAX_PARALLEL_CALLS) - 1
    repeat = f" ({_seq(literal(spec.call_sep), 'call')}){{0,{more}}}" if more else ""
    rules.append(f"calls ::= call{repeat}")
    return rules


def think_rules(ctx: RequestContext, spec: Spec) -> tuple[list[str], str]:
    """A bounded reasoning block before the calls; returns rules and the root's prefix."""
    assert spec.think is not None
    open_, close = spec.think
    limit = max(0, int(ctx.options.get("think_max_chars", THINK_MAX_CHARS)))
    rules = bounded_text("think-text", close, limit)
    rules.append(f'think-end ::= {literal(close)} "\\n"{{0,2}}')
    if spec.think_forced:
        return rules, "think-text think-end"
    rules.append(f'think ::= {literal(open_)} "\\n"? think-text think-end')
    return rules, "think?"


def preserved(spec: Spec) -> list[str]:
    """The trigger and every special-token-like marker of the syntax: llama.cpp refuses a
    one-token trigger word that is not preserved, and ignores preserved multi-token text."""
    texts = [spec.section_open, spec.section_close, spec.turn_end, *spec.call]
    if spec.args is not None:
        texts += [spec.args.open, spec.args.key_end, spec.args.close, spec.args.start,
                  spec.args.end, spec.args.quote_open]
    found = [spec.trigger, *atoms(*texts)]
    if spec.think:
        found += list(spec.think)
    return list(dict.fromkeys(t for t in found if t.strip(WS)))


def build_plan(ctx: RequestContext, spec: Spec) -> GrammarPlan:
    """The constraint for a request under its tool_choice, parallel_tool_calls and
    response_format."""
    plan = response_format_plan(ctx)
    answer = None
    if plan.grammar is not None:
        body, root = rename_rules(plan.grammar, "res-")
        answer = [body.strip(), f"answer ::= {root}"]
    tools = ctx.selected_tools() if ctx.offers_tools else []
    if not tools:
        return plan
    rules = call_rules(ctx, spec, tools)
    stop = [spec.turn_end] if spec.turn_end else []
    if ctx.tool_choice == "auto" and answer is None:
        # lazy: free text until the trigger, then the section from the trigger on
        at = spec.trigger_in_open
        opening = spec.section_open[at:] if at >= 0 else ""
        root = f"root ::= {_seq(literal(opening), 'calls', literal(spec.section_close))}"
        return GrammarPlan(grammar="\n".join([root, *rules]) + "\n", lazy=True,
                           triggers=[word_trigger(spec.trigger)],
                           preserved_tokens=preserved(spec), stop=stop)
    rules.append("section ::= " + _seq(literal(spec.section_open), "calls",
                                       literal(spec.section_close)))
    body = "section" if ctx.tool_choice in ("required", "named") else "answer"
    if answer is not None:
        rules += answer
        if ctx.tool_choice == "auto":
            body = "(section | answer)"
    prefix = ""
    if spec.think:
        think, prefix = think_rules(ctx, spec)
        rules += think
    root = f"root ::= {_seq(prefix, body)}"
    return GrammarPlan(grammar="\n".join([root, *rules]) + "\n",
                       preserved_tokens=preserved(spec), stop=stop)
