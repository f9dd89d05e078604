"""The core's own implementations of the firstresult hooks: run last, delegate to the served
model's dialect and the built-in schema converter. (Parsing a whole generation has no
default here: the core feeds it through the request's parser, see ChatService._parse.)"""

from __future__ import annotations

from typing import Any

from gateway.dialect import (
    GrammarPlan,
    OutputParser,
    RequestContext,
    SchemaGrammars,
    ServedModel,
)
from gateway.grammar import GrammarLimits, cached_schema_to_gbnf
from gateway.hookspecs import hookimpl


@hookimpl(trylast=True)
def gateway_render_prompt(ctx: RequestContext, model: ServedModel) -> str | None:
    return model.dialect.render_prompt(ctx, model)


@hookimpl(trylast=True)
def gateway_schema_to_grammar(
    schema: dict[str, Any] | bool, strict: bool, limits: GrammarLimits
) -> str | None:
    return cached_schema_to_gbnf(schema, strict=strict, limits=limits)


@hookimpl(trylast=True)
def gateway_tools_grammar(ctx: RequestContext, model: ServedModel, grammars: SchemaGrammars
                          ) -> GrammarPlan | None:
    return model.dialect.tools_grammar(ctx, model, grammars)


@hookimpl(trylast=True)
def gateway_create_parser(ctx: RequestContext, model: ServedModel) -> OutputParser | None:
    return model.dialect.create_parser(ctx, model)
