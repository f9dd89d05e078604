"""Building blocks for a dialect's tool-call grammar (GBNF), shared by every dialect.

A dialect's grammar is mostly the same assembly: each tool's arguments grammar (from its
JSON Schema, through the schema-to-grammar hook) embedded under a prefix of its own, the
response_format's grammar as an `answer`, a bounded list of calls, and, under
tool_choice auto, a lazy grammar that starts at a trigger word. Only the call syntax
around the arguments is the dialect's own.
"""

from __future__ import annotations

from gateway.dialect import GrammarPlan, RequestContext, SchemaGrammars, ToolDef, word_trigger
from gateway.grammar import rename_rules


def tool_args_rules(grammars: SchemaGrammars, tools: list[ToolDef], prefix: str = "t"
                    ) -> tuple[list[str], list[str]]:
    """Each tool's arguments grammar, its rules renamed under `{prefix}{i}-`:
    (rules, the root rule name of each tool, in order)."""
    rules: list[str] = []
    roots: list[str] = []
    for i, tool in enumerate(tools):
        body, root = rename_rules(grammars.schema(tool.parameters, tool.strict), f"{prefix}{i}-")
        rules.append(body.strip())
        roots.append(root)
    return rules, roots


def response_rules(ctx: RequestContext, grammars: SchemaGrammars, prefix: str = "res-"
                   ) -> tuple[list[str], str] | None:
    """The response_format's grammar (json_schema / json_object) embedded under `prefix`:
    (rules, its root rule name), or None when no JSON answer is asked for."""
    grammar = grammars.response(ctx)
    if grammar is None:
        return None
    body, root = rename_rules(grammar, prefix)
    return [body.strip()], root


def call_list(item: str, sep: str, cap: int) -> str:
    """GBNF for 1..cap of `item` separated by the GBNF expression `sep` ("" for none).
    Bounded: a small model otherwise repeats the same call until max_tokens."""
    if cap <= 1:
        return item
    joined = f"{sep} {item}" if sep and sep != '""' else item
    return f"{item} ({joined}){{0,{cap - 1}}}"


def text_blocks(name: str, char: str, limit: int, exact: bool = False, block: int = 100
                ) -> tuple[list[str], str]:
    """Free text (a reasoning block, a raw value) of bounded length: rules `{name}-char`
    (one character, the GBNF `char`) and `{name}-blk`, and the expression for the text:
    one bounded repetition up to DIRECT_MAX characters, beyond it full blocks then a shorter
    tail (one way to split any length, and llama.cpp expands the repetition little). The
    bound is rounded up to a whole block, or with `exact` never exceeded. A small model
    loops inside free text until max_tokens."""
    if exact:
        blocks, tail = max(0, limit - block + 1) // block, min(limit, block - 1)
    else:
        blocks, tail = limit // block, block - 1
    rules = [f"{name}-char ::= {char}", f"{name}-blk ::= {name}-char{{{block}}}"]
    total = blocks * block + tail
    if total <= DIRECT_MAX:
        # one nested chain: llama.cpp reads it with one parse (blocks then a tail keep two
        # apart, block or tail, until a block is full), and the same lengths 0..total
        return rules, f"{name}-char{{0,{total}}}"
    expr = f"{name}-char{{0,{tail}}}"
    if blocks:
        expr = f"{name}-blk{{0,{blocks}}} {expr}"
    return rules, expr


# up to this many characters free text is one bounded repetition (llama.cpp expands
# x{0,n} into n small nested rules and refuses repetitions near 2000)
DIRECT_MAX = 1000


def grammar_text(root: str, rules: list[str]) -> str:
    """A whole grammar: `root ::= <root>` first, then the rules."""
    return "\n".join([f"root ::= {root}", *rules]) + "\n"


def lazy_plan(root: str, rules: list[str], words: list[str], preserved: list[str] | None = None,
              stop: list[str] | None = None) -> GrammarPlan:
    """tool_choice auto: free text until the model writes one of `words`, then the grammar
    from that word on (its root must start with the word). A word that is one token of the
    model's vocabulary must be preserved too, or llama.cpp refuses the request."""
    return GrammarPlan(grammar=grammar_text(root, rules), lazy=True,
                       triggers=[word_trigger(w) for w in words],
                       preserved_tokens=list(preserved or []), stop=list(stop or []))
