"""The mistral dialect: the model's own template renders tools and history (with call ids
re-mapped to the 9 alphanumerics the templates demand); calls after `[TOOL_CALLS]` are
constrained by a grammar in the template's own shape and parsed back as they stream."""

from __future__ import annotations

from dataclasses import replace

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

from .grammar import build_plan
from .ids import remap_call_ids
from .markup import ARGS, CALL_ID, THINK_OPEN, TOOL_CALLS
from .parser import MistralParser


class MistralDialect(Dialect):
    name = "mistral"
    description = ("[TOOL_CALLS] calls: JSON array (Nemo), NAME[CALL_ID]id[ARGS]{...} "
                   "(Small 3.2), NAME[ARGS]{...} with [THINK] (Ministral 3, Magistral)")
    options = (MAX_PARALLEL_CALLS, THINK_MAX_CHARS)

    def render_prompt(self, ctx: RequestContext, model: ServedModel) -> str:
        return super().render_prompt(replace(ctx, messages=remap_call_ids(ctx.messages)), model)

    def tools_grammar(self, ctx: RequestContext, model: ServedModel,
                      grammars: SchemaGrammars) -> GrammarPlan:
        return build_plan(ctx, model, grammars)

    def create_parser(self, ctx: RequestContext, model: ServedModel) -> OutputParser:
        return MistralParser(calls=ctx.offers_tools,
                             calls_in_reasoning=ctx.tool_choice == "auto")


def detect(source: str) -> DialectClaim | None:
    """Claim templates that render `[TOOL_CALLS]` (the core's round trip confirms it)."""
    if TOOL_CALLS not in source:
        return None
    if CALL_ID in source:
        shape = "NAME[CALL_ID]id[ARGS]{...} calls (Mistral Small 3.2 style)"
    elif ARGS in source:
        shape = "NAME[ARGS]{...} calls" + (" and [THINK] reasoning" if THINK_OPEN in source
                                          else "") + " (Ministral 3 / Magistral style)"
    else:
        shape = "a JSON array of calls (Mistral Nemo style)"
    return DialectClaim("mistral", 50, f"template renders [TOOL_CALLS] with {shape}")
