"""The auto dialect: one object serving every template it can derive a call syntax for.

Its methods look up the spec derived for the served model's template (derived on first use,
cached by a hash of the template's source), so the same dialect speaks Qwen3-Coder's XML
parameters to one model and Kimi's section tokens to another.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.cache import BoundedCache, digest
from gateway.dialect import (
    Dialect,
    DialectClaim,
    GrammarPlan,
    OutputParser,
    PassthroughParser,
    RequestContext,
    SchemaGrammars,
    ServedModel,
    ToolDef,
)
from gateway.dialect_options import MAX_PARALLEL_CALLS, THINK_MAX_CHARS, int_option
from gateway.templating import ChatTemplate, TemplateError

from .derive import DeriveError, derive
from .grammar import build_plan
from .parser import AutoParser
from .spec import Spec

SCORE = 20  # below hand-written dialects (50): they win when their round trip passes too
_CACHE_SIZE = 64


class AutoDialect(Dialect):
    name = "auto"
    description = "call syntax derived from the chat template itself (rendered and diffed)"
    options = (MAX_PARALLEL_CALLS, THINK_MAX_CHARS,
               int_option("value_max_chars", 0, "characters a raw string value may take"))

    def __init__(self) -> None:
        self._specs: BoundedCache[Spec | str] = BoundedCache(_CACHE_SIZE)  # or why none

    # -- derivation -----------------------------------------------------------------------
    def lookup(self, template: ChatTemplate) -> Spec | str:
        """The derived spec, or the reason derivation failed (cached per template)."""
        key = digest("\0".join((template.source, template.bos_token, template.eos_token)))
        return self._specs.get_or_make(key, lambda: _derive_or_reason(template))

    def spec(self, template: ChatTemplate) -> Spec:
        found = self.lookup(template)
        if isinstance(found, str):
            raise TemplateError(f"the auto dialect cannot serve tools with this chat template: "
                                f"{found}")
        return found

    def claim(self, template: ChatTemplate) -> DialectClaim | None:
        found = self.lookup(template)
        if isinstance(found, str):
            return None
        return DialectClaim(self.name, SCORE, "derived: " + found.describe())

    def explain(self, template: ChatTemplate) -> str:
        found = self.lookup(template)
        return f"not derived: {found}" if isinstance(found, str) else "derived: " + \
            found.describe()

    # -- per request ------------------------------------------------------------------------
    def render_prompt(self, ctx: RequestContext, model: ServedModel) -> str:
        if ctx.offers_tools:
            spec = self.spec(model.template)
            if not spec.renders_tools:  # DeepSeek V3.1: tools go in a system message
                messages = _with_system(ctx.messages, tools_prompt(spec, ctx.tools))
                return model.template.render(messages, tools=[t.openai() for t in ctx.tools],
                                             add_generation_prompt=True)
        return super().render_prompt(ctx, model)

    def tools_grammar(self, ctx: RequestContext, model: ServedModel,
                      grammars: SchemaGrammars) -> GrammarPlan:
        if not ctx.offers_tools:
            return super().tools_grammar(ctx, model, grammars)
        return build_plan(ctx, model, grammars, self.spec(model.template))

    def create_parser(self, ctx: RequestContext, model: ServedModel) -> OutputParser:
        found = self.lookup(model.template)
        if isinstance(found, str):
            return PassthroughParser()
        return AutoParser(found, ctx.tools, calls=ctx.offers_tools,
                          calls_in_reasoning=ctx.tool_choice == "auto")


def tools_prompt(spec: Spec, tools: list[ToolDef]) -> str:
    """Tools and the call syntax, for templates that do not show tools themselves."""
    listed = "\n".join(json.dumps({"name": t.name, "description": t.description,
                                   "parameters": t.parameters}, ensure_ascii=False)
                       for t in tools)
    example = spec.render_calls([(tools[0].name, _example(tools[0].parameters))])
    return ("# Tools\n\nYou may call one or more of these functions:\n" + listed +
            "\n\nTo call a function, write exactly this form, with the name and the "
            f"arguments as JSON:\n{example}")


def _example(schema: Any) -> dict[str, Any]:
    samples = {"string": "...", "integer": 1, "number": 1.5, "boolean": True,
               "array": [], "object": {}}
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return {}
    required = schema.get("required") or list(props)[:1]
    return {k: samples.get(props[k].get("type") if isinstance(props[k], dict) else "", "...")
            for k in props if k in required}


def _with_system(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    if messages and messages[0].get("role") in ("system", "developer") and \
            isinstance(messages[0].get("content"), str):
        first = {**messages[0], "content": messages[0]["content"] + "\n\n" + text}
        return [first, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


def _derive_or_reason(template: ChatTemplate) -> Spec | str:
    try:
        return derive(template)
    except DeriveError as exc:
        return str(exc)
