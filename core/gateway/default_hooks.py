"""The core's own implementations of the firstresult hooks: run last, delegate to the
request's dialect object and the built-in schema converter."""

from __future__ import annotations

from typing import Any

from gateway.dialect import GrammarPlan, OutputParser, ParsedOutput, RequestContext, assemble
from gateway.grammar import GrammarLimits, cached_schema_to_gbnf
from gateway.hookspecs import hookimpl


@hookimpl(trylast=True)
def gateway_render_prompt(ctx: RequestContext) -> str | None:
    assert ctx.dialect is not None
    return ctx.dialect.render_prompt(ctx)


@hookimpl(trylast=True)
def gateway_schema_to_grammar(
    schema: dict[str, Any] | bool, strict: bool, limits: GrammarLimits
) -> str | None:
    return cached_schema_to_gbnf(schema, strict=strict, limits=limits)


@hookimpl(trylast=True)
def gateway_tools_grammar(ctx: RequestContext) -> GrammarPlan | None:
    assert ctx.dialect is not None
    return ctx.dialect.tools_grammar(ctx)


@hookimpl(trylast=True)
def gateway_create_parser(ctx: RequestContext) -> OutputParser | None:
    assert ctx.dialect is not None
    return ctx.dialect.create_parser(ctx)


@hookimpl(trylast=True)
def gateway_parse_output(ctx: RequestContext, text: str) -> ParsedOutput | None:
    # Through the hook, so a plugin's parser override also applies to non-streamed output.
    parser = ctx.hooks.gateway_create_parser(ctx=ctx) if ctx.hooks else None
    if parser is None:
        assert ctx.dialect is not None
        parser = ctx.dialect.create_parser(ctx)
    return assemble(parser.feed(text) + parser.finish())
