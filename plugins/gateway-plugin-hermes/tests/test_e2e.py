"""End to end: a real `gateway serve --plugin hermes` on the demo model with real Hermes /
Qwen templates, through the openai SDK. Every returned call must name an allowed tool and
carry arguments that validate against that tool's schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

pytestmark = pytest.mark.e2e

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "minLength": 1, "maxLength": 40},
            "unit": {"enum": ["c", "f"]}}, "required": ["city"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Current time in a time zone",
        "parameters": {"type": "object", "properties": {
            "tz": {"type": "string", "pattern": "^[A-Z][a-z]+/[A-Z][a-z]+$"}},
            "required": ["tz"], "additionalProperties": False}}},
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
ASK = [{"role": "user", "content": "What is the weather in Paris right now?"}]
HERMES3 = "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja"
QWEN25 = "Qwen-Qwen2.5-7B-Instruct.jinja"
QWEN3 = "Qwen-Qwen3-0.6B.jinja"
QWQ = "Qwen-QwQ-32B.jinja"


def serve(factory: Callable[..., Any], templates_dir: Any, name: str) -> Any:
    return factory("--chat-template-file", str(templates_dir / name), "--plugin", "hermes")


def ask(client: Any, stream: bool, **kw: Any) -> dict[str, Any]:
    """One completion as {content, reasoning, calls: [(name, args)], finish}."""
    kw = {"model": "m", "messages": ASK, "tools": TOOLS, "temperature": 0, "seed": 7,
          "max_tokens": 300, **kw}
    if not stream:
        r = client.chat.completions.create(**kw)
        m = r.choices[0].message
        return {"content": m.content, "calls": [(c.function.name, c.function.arguments)
                                                for c in m.tool_calls or []],
                "reasoning": getattr(m, "reasoning_content", None),
                "finish": r.choices[0].finish_reason}
    content, reasoning, calls, finish = [], [], {}, None
    for chunk in client.chat.completions.create(stream=True, **kw):
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        content.append(choice.delta.content or "")
        reasoning.append(getattr(choice.delta, "reasoning_content", None) or "")
        for tc in choice.delta.tool_calls or []:
            if tc.index not in calls:  # the first delta of a call carries its id and name
                assert tc.id and tc.function.name
                calls[tc.index] = [tc.function.name, ""]
            calls[tc.index][1] += tc.function.arguments or ""
    return {"content": "".join(content) or None, "reasoning": "".join(reasoning) or None,
            "calls": [tuple(calls[i]) for i in sorted(calls)], "finish": finish}


def assert_valid(calls: list[tuple[str, str]], allowed: set[str]) -> None:
    for name, args in calls:
        assert name in allowed, name
        jsonschema.validate(json.loads(args), SCHEMAS[name])


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("parallel", [True, False], ids=["parallel", "single"])
def test_required(gateway_factory: Any, templates_dir: Any, parallel: bool, stream: bool
                  ) -> None:
    client = serve(gateway_factory, templates_dir, HERMES3).openai()
    out = ask(client, stream, tool_choice="required", parallel_tool_calls=parallel)
    assert out["finish"] == "tool_calls" and out["calls"]
    assert len(out["calls"]) == 1 or parallel
    assert_valid(out["calls"], set(SCHEMAS))


@pytest.mark.parametrize(("parallel", "stream"), [(True, False), (False, True)])
def test_named(gateway_factory: Any, templates_dir: Any, parallel: bool, stream: bool) -> None:
    client = serve(gateway_factory, templates_dir, HERMES3).openai()
    named = {"type": "function", "function": {"name": "get_time"}}
    out = ask(client, stream, tool_choice=named, parallel_tool_calls=parallel)
    assert out["calls"] and {n for n, _ in out["calls"]} == {"get_time"}
    assert len(out["calls"]) == 1 or parallel
    assert_valid(out["calls"], {"get_time"})


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_auto_gives_valid_calls_or_content(gateway_factory: Any, templates_dir: Any,
                                           stream: bool) -> None:
    client = serve(gateway_factory, templates_dir, QWEN25).openai()
    out = ask(client, stream, tool_choice="auto", max_tokens=60)
    if out["finish"] == "tool_calls":
        assert out["calls"]
        assert_valid(out["calls"], set(SCHEMAS))
    else:
        assert out["content"] and not out["calls"]


def test_none_gives_content_only(gateway_factory: Any, templates_dir: Any) -> None:
    client = serve(gateway_factory, templates_dir, HERMES3).openai()  # ChatML fallback path
    out = ask(client, False, tool_choice="none", max_tokens=30)
    assert out["content"] and not out["calls"]
    assert "<tool_call>" not in out["content"]


def test_call_then_result_then_answer(gateway_factory: Any, templates_dir: Any) -> None:
    client = serve(gateway_factory, templates_dir, QWEN25).openai()
    first = client.chat.completions.create(
        model="m", messages=ASK, tools=TOOLS, tool_choice="required", parallel_tool_calls=False,
        temperature=0, seed=7, max_tokens=300).choices[0].message
    assert first.tool_calls and len(first.tool_calls) == 1
    call = first.tool_calls[0]
    history = [*ASK, first.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": call.id,
                "content": json.dumps({"temp_c": 21, "sky": "clear"})}]
    out = ask(client, False, messages=history, tool_choice="auto", max_tokens=60)
    assert out["content"] or out["calls"]
    assert_valid(out["calls"], set(SCHEMAS))


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_qwen3_template(gateway_factory: Any, templates_dir: Any, stream: bool) -> None:
    client = serve(gateway_factory, templates_dir, QWEN3).openai()
    out = ask(client, stream, tool_choice="required", parallel_tool_calls=False)
    assert len(out["calls"]) == 1
    assert_valid(out["calls"], set(SCHEMAS))
    assert "<think>" not in (out["content"] or "") and "</think>" not in (out["content"] or "")


def test_qwq_open_think_streams_as_reasoning(gateway_factory: Any, templates_dir: Any) -> None:
    # QwQ's prompt opens <think>: the (tiny) model's text is reasoning, never tag junk
    client = serve(gateway_factory, templates_dir, QWQ).openai()
    out = ask(client, True, tool_choice="auto", max_tokens=40)
    assert out["reasoning"] and "<think>" not in out["reasoning"]
    assert_valid(out["calls"], set(SCHEMAS))
    assert "</think>" not in (out["content"] or "")
