"""The harmony dialect: gpt-oss's own template renders tools and history; calls are
`to=functions.NAME` commentary messages constrained by a grammar and parsed back as they
stream."""

from __future__ import annotations

from gateway.dialect import (
    Dialect,
    DialectClaim,
    GrammarPlan,
    OutputParser,
    RequestContext,
    SchemaGrammars,
    ServedModel,
)
from gateway.dialect_options import THINK_MAX_CHARS

from .grammar import build_plan
from .markup import CHANNEL, RECIPIENT
from .parser import HarmonyParser


class HarmonyDialect(Dialect):
    name = "harmony"
    description = ("OpenAI Harmony (gpt-oss): <|channel|>analysis / final messages, "
                   "to=functions.NAME calls, one per turn")
    options = (THINK_MAX_CHARS,)

    def tools_grammar(self, ctx: RequestContext, model: ServedModel,
                      grammars: SchemaGrammars) -> GrammarPlan:
        return build_plan(ctx, model, grammars)

    def create_parser(self, ctx: RequestContext, model: ServedModel) -> OutputParser:
        return HarmonyParser(calls=ctx.offers_tools)


def detect(source: str) -> DialectClaim | None:
    """Claim templates that render Harmony channels and `to=functions.` recipients (written
    whole or as `to=` and `functions.` pieces, as the gpt-oss template does)."""
    pieces = RECIPIENT in source or ("to=" in source and '"functions."' in source)
    if CHANNEL not in source or not pieces:
        return None
    return DialectClaim("harmony", 50, "template renders Harmony <|channel|> messages and "
                                       "to=functions.NAME tool calls (gpt-oss)")
