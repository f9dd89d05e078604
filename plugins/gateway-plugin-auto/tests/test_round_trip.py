"""For every template auto derives: calls rendered by the template parse back exactly (the
core's own round-trip check, and text + calls), streamed or not, split anywhere."""

from __future__ import annotations

import json

import pytest
from auto_helpers import context, load, spec_of, written
from gateway.detection import PLANTED_TOOLS, round_trip
from gateway.dialect import assemble
from gateway.testing import _norm, parse_all
from gateway_plugin_auto import DIALECT
from test_derivation import DERIVED, REFUSED

CALLS = [("get_weather", {"city": "Paris", "days": 3}), ("get_time", {"zone": "Europe/Berlin"})]


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_core_round_trip(name: str) -> None:
    template = load(name)
    evidence = round_trip(DIALECT, template)
    assert evidence.ok, evidence.reason
    assert evidence.parallel == (not spec_of(template).single_call)


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_text_and_calls_stream_like_the_whole(name: str) -> None:
    template = load(name)
    spec = spec_of(template)
    calls = CALLS[:1] if spec.single_call else CALLS
    content = None if spec.content == "dropped" else "Let me check that."
    text = written(template, calls, content)
    if spec.think and spec.think_forced:
        text = "Thinking.\n" + spec.think[1] + "\n\n" + text
    ctx = context(template, list(PLANTED_TOOLS))
    whole = assemble(parse_all(ctx, [text]))
    assert [(c.name, json.loads(c.arguments)) for c in whole.tool_calls] == calls
    assert whole.content == content
    for i in range(len(text) + 1):
        got = assemble(parse_all(ctx, [text[:i], text[i:]]))
        assert _norm(got) == _norm(whole), f"split at {i}"
    assert _norm(assemble(parse_all(ctx, list(text)))) == _norm(whole)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_templates_serve_no_tools(name: str) -> None:
    template = load(name)
    ctx = context(template, list(PLANTED_TOOLS))
    with pytest.raises(Exception, match="auto dialect cannot serve tools"):
        ctx.plan()
    out = assemble(parse_all(ctx, ["plain <tool_call> text"]))
    assert out.content == "plain <tool_call> text" and not out.tool_calls


def test_prompt_is_the_templates_own() -> None:
    template = load("Qwen-Qwen3-Coder.jinja")
    ctx = context(template, list(PLANTED_TOOLS))
    tools = [t.openai() for t in PLANTED_TOOLS]
    assert ctx.prompt() == template.render(ctx.ctx.messages, tools=tools)


def test_tools_are_described_where_the_template_does_not_show_them() -> None:
    template = load("deepseek-ai-DeepSeek-V3.1.jinja")
    prompt = context(template, list(PLANTED_TOOLS)).prompt()
    assert '"name": "get_weather"' in prompt and '"name": "get_time"' in prompt
    assert "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>" in prompt
    plain = context(template, list(PLANTED_TOOLS), "none").prompt()
    assert "get_weather" not in plain
