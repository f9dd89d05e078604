"""The llama3 dialect: the model's own template renders tools (in the first user message or
the system message), calls and results (role `tool` becomes the `ipython` turn the template
writes); calls are constrained by a grammar in the template's own shape and parsed back as
they stream. Meta's built-in tools are passed to templates that read `builtin_tools`."""

from __future__ import annotations

import json
from typing import Any

from gateway.dialect import (
    Dialect,
    DialectClaim,
    GrammarPlan,
    OutputParser,
    RequestContext,
    SchemaGrammars,
    ServedModel,
    template_variables,
)
from gateway.dialect_options import MAX_PARALLEL_CALLS, int_option

from .grammar import build_plan
from .markup import EOT, IPYTHON, builtin_tools, code_key
from .parser import Llama3Parser


class Llama3Dialect(Dialect):
    name = "llama3"
    description = ('Llama 3.1 / 3.2 / 3.3: {"name", "parameters"} JSON calls, '
                   "<|python_tag|> built-in tools, results in the ipython role")
    options = (MAX_PARALLEL_CALLS, int_option(
        "code_max_chars", 1, "characters of code a <|python_tag|> call may take"))

    def render_prompt(self, ctx: RequestContext, model: ServedModel) -> str:
        tools = [t.openai() for t in ctx.tools] if ctx.offers_tools else None
        extra = template_variables(ctx)
        builtins = builtin_tools(ctx.tools) if ctx.offers_tools else {}
        if builtins and "builtin_tools" in model.template.variables:
            # Llama 3.1 / 3.3 list them on the system's "Tools:" line (all but the code
            # interpreter, which "Environment: ipython" enables) and render their calls as
            # <|python_tag|>NAME.call(...)
            extra["builtin_tools"] = sorted(builtins)
        prompt = model.template.render(ctx.messages, tools=tools, add_generation_prompt=True,
                                       extra_context=extra)
        return raw_results(prompt, ctx.messages)

    def tools_grammar(self, ctx: RequestContext, model: ServedModel,
                      grammars: SchemaGrammars) -> GrammarPlan:
        return build_plan(ctx, model, grammars)

    def create_parser(self, ctx: RequestContext, model: ServedModel) -> OutputParser:
        code = next(((t.name, key) for t in ctx.tools if builtin_tools([t]).get(t.name) ==
                     "code" and (key := code_key(t))), None)
        return Llama3Parser(calls=ctx.offers_tools, tools={t.name for t in ctx.tools} or None,
                            code_tool=code)


def raw_results(prompt: str, messages: list[dict[str, Any]]) -> str:
    """Tool results as the text they are in the ipython turn. The templates write
    `message.content | tojson` for structured content, which also quotes a plain string
    result (`"{\\"temp_c\\": 21}"`); Meta's prompt format shows the output itself."""
    for m in messages:
        content = m.get("content")
        if m.get("role") in ("tool", "ipython") and isinstance(content, str) and content:
            quoted = json.dumps(content, ensure_ascii=False)
            prompt = prompt.replace(f"{IPYTHON}{quoted}{EOT}", f"{IPYTHON}{content}{EOT}", 1)
    return prompt


def detect(source: str) -> DialectClaim | None:
    """Claim Llama 3.x templates: header tokens, the `"parameters"` call form and the
    ipython role (the core's round trip confirms it)."""
    if "<|start_header_id|>" not in source or '"parameters": ' not in source \
            or "ipython" not in source:
        return None
    builtin = " and <|python_tag|> built-in tools" if "builtin_tools" in source else ""
    return DialectClaim("llama3", 50, 'template renders {"name": ..., "parameters": ...} '
                                      f"JSON calls, ipython results{builtin} (Llama 3.x)")
