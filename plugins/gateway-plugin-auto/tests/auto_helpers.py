"""Shared helpers of the auto plugin's tests: the real templates, and what a model following
a template writes for given calls (rendered through the template itself)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import gateway
from gateway.dialect import ToolDef
from gateway.grammar import GrammarLimits
from gateway.templating import ChatTemplate
from gateway.testing import DialectCase, make_case, shared_template
from gateway_plugin_auto import DIALECT, Spec
from gateway_plugin_auto.derive import END_TOKENS
from gateway_plugin_auto.probe import Probe

# <repo>/../shared/templates (the repo is the parent of core/)
TEMPLATES = Path(gateway.__file__).resolve().parents[2].parent / "shared" / "templates"
LIMITS = GrammarLimits()


@cache
def load(name: str) -> ChatTemplate:
    return shared_template(name)  # fails, saying so, when ../shared is absent


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
            **kw: Any) -> DialectCase:
    return make_case(DIALECT, tools, tool_choice, template=template, **kw)
