"""GBNF for a derived call syntax: the template's own literals, the tools' names, and each
tool's arguments from its JSON Schema (compact JSON, or one tag per parameter).

No free whitespace anywhere (small models loop in it); free text (a raw string value, a
reasoning block) is bounded, in blocks of 100 characters so llama.cpp's expansion of the
repetition stays small.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from gateway.callgrammar import call_list, grammar_text, lazy_plan, response_rules, text_blocks
from gateway.dialect import (
    GrammarPlan,
    RequestContext,
    SchemaGrammars,
    ServedModel,
    ToolDef,
    response_format_plan,
)
from gateway.grammar import literal, rename_rules
from gateway.grammar.gbnf import char_class

from .budget import plan_budget
from .markup import ARGS, ID, INDEX, NAME, SLOTS, WS, atoms
from .spec import Spec
from .tagrules import string_stop, tagged_rules


def _seq(*items: str) -> str:
    return " ".join(i for i in items if i and i != '""') or '""'


def char_class_text(chars: str, negated: bool = False) -> str:
    return char_class(sorted((ord(c), ord(c)) for c in set(chars)), negated=negated)


def bounded_text(name: str, stop: str, limit: int, avoid: tuple[str, ...] = ()) -> list[str]:
    """Rules `name` for up to limit characters that never contain the first two characters
    of `stop` (so never `stop` itself), nor any word of `avoid`."""
    rules, text = text_blocks(name, free_char([stop[:2], *avoid]), limit, exact=True)
    return [*rules, f"{name} ::= {text}"]


def free_char(words: list[str]) -> str:
    """One unit of free text that never writes a word of `words`: a character no word starts
    with, or a word's first characters up to one that leaves every word (and starts none).
    `a < b` stays possible, `<parameter=` does not; a unit never ends inside a word's start
    (a value cannot end with `<`). One alternative per character of the words' trie."""
    trie: dict[str, Any] = {}
    for word in sorted({w for w in words if w}, key=len):
        node = trie
        for c in word:
            if node.get(c) == {}:  # a shorter word is in it already
                break
            node = node.setdefault(c, {})
        else:
            node.clear()  # the whole word: nothing after it is written
    firsts = "".join(trie)

    def after(node: dict[str, Any]) -> str:
        parts = [char_class_text("".join(node) + firsts, negated=True)]
        for c, child in sorted(node.items()):
            if child:
                inner = after(child)
                parts.append(f"{literal(c)} " + (f"({inner})" if " | " in inner else inner))
        return " | ".join(parts)

    return after(trie)


def value_words(spec: Spec) -> tuple[str, ...]:
    """The markers a raw (unquoted) string value must not write, so that a small model cannot
    run on into the next parameter or call inside a value: each word that opens a tag
    (`<parameter=`, `<function=`, `[TOOL`) in what can follow a value, its first 12
    characters (enough to tell it, cheap to exclude); where every marker starts alike
    (`<｜GCML｜invoke`, `<｜GCML｜parameter`), that shared start (so `<｜GCML｜return` too)."""
    t = spec.args
    if t is None or t.quote_close:
        return ()
    texts = [t.open, t.end, t.sep, *(p for p in spec.call if p not in SLOTS), spec.call_sep,
             spec.section_open, spec.section_close, spec.trigger]
    stop = string_stop(t)[:2]  # excluded anyway (`</`): not part of the namespace
    words = [w[:12] for text in texts for w in text.split()
             if len(w) >= 2 and w[0] in "<[" and not w.startswith(stop)]
    shared = os.path.commonprefix(words) if len(words) > 1 else ""
    if len(shared) >= 3:  # the markers' own namespace (`<｜DSML｜`): none of it in a value
        return (shared,)
    return tuple(dict.fromkeys(words))


def call_rules(ctx: RequestContext, model: ServedModel, grammars: SchemaGrammars, spec: Spec,
               tools: list[ToolDef], cap: int) -> list[str]:
    """Rules ending in `calls`: up to `cap` calls, separated as the template separates them.
    A running call number (INDEX) is written as the template writes it: index_base, +1, ..."""
    rules: list[str] = []
    seqs: list[list[str]] = []  # per tool: the call's items, INDEX where the number goes
    for i, tool in enumerate(tools):
        items: list[str] = []
        for part in spec.call:
            if part == NAME:
                items.append(literal(tool.name))
            elif part == INDEX:
                items.append(INDEX)
            elif part == ID:
                items.append("call-id")
            elif part == ARGS:
                if spec.args is None:
                    body, root = rename_rules(grammars.schema(tool.parameters, tool.strict),
                                              f"t{i}-")
                    rules.append(body.strip())
                else:
                    args, root = tagged_rules(ctx, model, grammars, spec.args, tool, f"t{i}",
                                              partial(bounded_text, avoid=value_words(spec)))
                    rules += args
                if root:
                    items.append(root)
            elif part:
                items.append(literal(part))
        seqs.append(items)
    if ID in spec.call:
        rules.append("call-id ::= " + ("[a-zA-Z0-9]{9}" if spec.short_ids
                                       else "[a-zA-Z0-9_-]{4,40}"))
    sep = literal(spec.call_sep)
    if INDEX not in spec.call:
        rules += [f"call{i} ::= {_seq(*items)}" for i, items in enumerate(seqs)]
        rules.append("call ::= " + " | ".join(f"call{i}" for i in range(len(seqs))))
        rules.append("calls ::= " + call_list("call", sep, cap))
        return rules
    for n in range(cap):  # one rule per position: the n-th call carries its own number
        number = literal(str(spec.index_base + n))
        alts = [_seq(*(number if x == INDEX else x for x in items)) for items in seqs]
        rules.append(f"call-at{n} ::= " + " | ".join(f"({a})" for a in alts))
    calls = f"call-at{cap - 1}"
    for n in reversed(range(cap - 1)):
        calls = f"call-at{n} ({_seq(sep, calls)})?"
    rules.append(f"calls ::= {calls}")
    return rules


def think_rules(spec: Spec, limit: int) -> tuple[list[str], str]:
    """A reasoning block of at most `limit` characters before the calls (optional, or
    closed first when the prompt opened it); returns rules and the root's prefix."""
    assert spec.think is not None
    open_, close = spec.think
    if not limit and not spec.think_forced:  # no room to think: the budget goes to the call
        return [], ""
    rules = [f'think-end ::= {literal(close)} "\\n"{{0,2}}']
    text = ""
    if limit:
        rules += bounded_text("think-text", close, limit)
        text = "think-text"
    if spec.think_forced:
        return rules, _seq(text, "think-end")
    rules.append(f'think ::= {literal(open_)} "\\n"? think-text think-end')
    return rules, "think?"


def preserved(spec: Spec) -> list[str]:
    """The trigger and every special-token-like marker of the syntax: llama.cpp refuses a
    one-token trigger word that is not preserved, and ignores preserved multi-token text."""
    texts = [spec.section_open, spec.section_close, spec.turn_end, *spec.call]
    if spec.args is not None:
        texts += [spec.args.open, spec.args.key_end, spec.args.close, spec.args.start,
                  spec.args.end, spec.args.quote_open, *(e for _, e in spec.args.typed)]
    found = [spec.trigger, *atoms(*texts)]
    if spec.think:
        found += list(spec.think)
    return list(dict.fromkeys(t for t in found if t.strip(WS)))


def build_plan(ctx: RequestContext, model: ServedModel, grammars: SchemaGrammars, spec: Spec
               ) -> GrammarPlan:
    """The constraint for a request under its tool_choice, parallel_tool_calls and
    response_format."""
    found = response_rules(ctx, grammars)
    answer = None if found is None else [*found[0], f"answer ::= {found[1]}"]
    tools = ctx.selected_tools() if ctx.offers_tools else []
    if not tools:
        return response_format_plan(ctx, grammars)
    lazy = ctx.tool_choice == "auto" and answer is None
    cap, think_chars = plan_budget(ctx, model.options, grammars.budget_tokens, spec, tools,
                                   think=not lazy)
    rules = call_rules(ctx, model, grammars, spec, tools, cap)
    stop = [spec.turn_end] if spec.turn_end else []
    if lazy:
        # lazy: free text until the trigger, then the section from the trigger on
        at = spec.trigger_in_open
        opening = spec.section_open[at:] if at >= 0 else ""
        root = _seq(literal(opening), "calls", literal(spec.section_close))
        return lazy_plan(root, rules, [spec.trigger], preserved(spec), stop)
    rules.append("section ::= " + _seq(literal(spec.section_open), "calls",
                                       literal(spec.section_close)))
    body = "section" if ctx.tool_choice in ("required", "named") else "answer"
    if answer is not None:
        rules += answer
        if ctx.tool_choice == "auto":
            body = "(section | answer)"
    prefix = ""
    if spec.think:
        think, prefix = think_rules(spec, think_chars)
        rules += think
    return GrammarPlan(grammar=grammar_text(_seq(prefix, body), rules),
                       preserved_tokens=preserved(spec), stop=stop)
