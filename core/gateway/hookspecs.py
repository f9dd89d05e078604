"""The hooks a plugin may implement. Project name for markers: ``gateway``.

Registration and detection hooks collect every plugin's answer. The per-request steps are
*firstresult* hooks: the first non-None answer wins, and the core's own implementation runs
last (``trylast``) and delegates to the served model's dialect, so a plugin overrides one
step for everybody or only for requests that are its own (returning None otherwise).
Each gets what it needs as arguments — the request's data (``ctx``), the served model
(``model``) and, for the grammar, a schema-grammar builder — and none calls back into the
core or into other hooks: the core calls the steps in order (prompt, grammar, parser).
All hooks are synchronous and pure: streaming goes through the parser object that
``gateway_create_parser`` returns, never through pluggy token by token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from gateway.dialect import (
        Dialect,
        DialectClaim,
        GrammarPlan,
        OutputParser,
        ParsedOutput,
        RequestContext,
        SchemaGrammars,
        ServedModel,
    )
    from gateway.grammar import GrammarLimits
    from gateway.templating import ChatTemplate

hookspec = pluggy.HookspecMarker("gateway")
hookimpl = pluggy.HookimplMarker("gateway")


@hookspec
def gateway_register_dialects(register: Callable[[Dialect], None]) -> None:
    """Register the dialects this plugin provides.

    :param register: call ``register(dialect)`` once per :class:`gateway.dialect.Dialect`
        instance; its ``name`` is what ``--plugin``/detection refer to. Registering a name twice
        is an error that names both plugins.
    :return: nothing; every plugin's implementation is called.
    """


@hookspec
def gateway_detect_dialect(
    template: ChatTemplate, metadata: dict[str, Any]
) -> DialectClaim | None:
    """Claim a model's chat template for one of this plugin's dialects.

    Called once at start-up when no ``--plugin`` names the dialect.

    :param template: the model's compiled chat template (``template.source`` is the text).
    :param metadata: what is known about the model (name, architecture, bos/eos tokens).
    :return: a :class:`gateway.dialect.DialectClaim` with a score (higher = more specific;
        the built-in generic dialect claims everything with score 0) and a reason that is
        logged, or None when the template is not this plugin's. All claims are collected;
        the highest score wins.
    """


@hookspec(firstresult=True)
def gateway_render_prompt(ctx: RequestContext, model: ServedModel) -> str | None:
    """Render the prompt text sent to llama.cpp's /completion for this request.

    :param ctx: the request (messages, tools, tool_choice, ...): plain data.
    :param model: the served model (chat template, dialect, dialect options).
    :return: the prompt string, or None to leave it to the next implementation.
        First non-None wins; the core's default calls
        ``model.dialect.render_prompt(ctx, model)``.
    """


@hookspec(firstresult=True)
def gateway_schema_to_grammar(
    schema: dict[str, Any] | bool, strict: bool, limits: GrammarLimits
) -> str | None:
    """Convert a JSON Schema into a standalone GBNF grammar whose start rule is ``root``.

    :param schema: the JSON Schema (a tool's parameters or a response_format schema).
    :param strict: when True, a keyword that cannot be enforced exactly must raise
        :class:`gateway.grammar.SchemaError` (the client gets a 400 naming it), never be
        dropped.
    :param limits: the configured bounds (depth, schema size, grammar size).
    :return: the GBNF text, or None to leave it to the next implementation. First non-None
        wins; the core's default is the built-in converter (cached).
    """


@hookspec(firstresult=True)
def gateway_tools_grammar(
    ctx: RequestContext, model: ServedModel, grammars: SchemaGrammars
) -> GrammarPlan | None:
    """Build the constraint for a request: grammar, lazy flag, triggers, preserved tokens,
    extra stop words — for its tools, tool_choice, parallel_tool_calls and response_format.

    :param ctx: the request.
    :param model: the served model.
    :param grammars: builds the grammars of JSON Schemas (``grammars.schema(schema,
        strict)``, through ``gateway_schema_to_grammar``) under bounds shaped by the
        answer's token budget (``grammars.budget_tokens``).
    :return: a :class:`gateway.dialect.GrammarPlan` (``grammar=None`` for unconstrained), or
        None to leave it to the next implementation. First non-None wins; the core's default
        calls ``model.dialect.tools_grammar(ctx, model, grammars)``.
    """


@hookspec(firstresult=True)
def gateway_create_parser(ctx: RequestContext, model: ServedModel) -> OutputParser | None:
    """Create the per-request incremental parser of the generated text.

    :param ctx: the request.
    :param model: the served model.
    :return: an object with ``feed(text) -> list[Delta]`` and ``finish() -> list[Delta]``,
        or None to leave it to the next implementation. First non-None wins; the core's
        default calls ``model.dialect.create_parser(ctx, model)``.
    """


@hookspec(firstresult=True)
def gateway_parse_output(ctx: RequestContext, model: ServedModel, text: str
                         ) -> ParsedOutput | None:
    """Parse a complete (non-streamed) generation into content, reasoning and tool calls.

    :param ctx: the request.
    :param model: the served model.
    :param text: everything the model generated.
    :return: a :class:`gateway.dialect.ParsedOutput`, or None to leave it to the core, which
        then feeds the whole text through the parser of ``gateway_create_parser`` (a
        plugin's parser override applies to non-streamed output too), so streamed and
        non-streamed results are the same by construction.
    """
