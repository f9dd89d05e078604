"""Shared helpers of the auto plugin's tests: the real templates, and what a model following
a template writes for given calls (rendered through the template itself)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import gateway
import pytest
from gateway.dialect import RequestContext, ToolDef
from gateway.grammar import GrammarLimits, cached_schema_to_gbnf
from gateway.templating import ChatTemplate
from gateway_plugin_auto import DIALECT, Spec
from gateway_plugin_auto.derive import END_TOKENS
from gateway_plugin_auto.probe import Probe

# <repo>/../shared/templates (the repo is the parent of core/)
TEMPLATES = Path(gateway.__file__).resolve().parents[2].parent / "shared" / "templates"
LIMITS = GrammarLimits()


@cache
def load(name: str) -> ChatTemplate:
    path = TEMPLATES / name
    if not path.exists():
        pytest.skip(f"chat template fixture not found: {path}")
    return ChatTemplate(path.read_text(), name=name)


def spec_of(template: ChatTemplate) -> Spec:
    found = DIALECT.lookup(template)
    assert not isinstance(found, str), found
    return found


def written(template: ChatTemplate, calls: list[tuple[str, dict[str, Any]]],
            content: str | None = None) -> str:
    """The assistant text the template renders for these calls, cut where llama.cpp stops."""
    probe = Probe(template)
    probe.choose_empty_content()
    msg = [{"id": f"call{i}abcd", "type": "function",
            "function": {"name": n, "arguments": json.dumps(a)}} for i, (n, a) in enumerate(calls)]
    text = probe.calls(msg, content=content)
    cut = min((text.find(e) for e in END_TOKENS if e in text), default=len(text))
    return text[:cut]


def context(template: ChatTemplate | None, tools: list[ToolDef], tool_choice: str = "auto",
            **kw: Any) -> RequestContext:
    ctx = RequestContext(messages=[{"role": "user", "content": "hi"}], tools=tools,
                         template=template, dialect=DIALECT)
    if tool_choice in ("auto", "none", "required"):
        ctx.tool_choice = tool_choice  # type: ignore[assignment]
    else:
        ctx.tool_choice, ctx.forced_tool = "named", tool_choice
    ctx.schema_grammar = lambda schema, strict: cached_schema_to_gbnf(
        schema, strict=strict, limits=LIMITS)
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx
