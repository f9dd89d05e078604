"""End-to-end: the demo model behind `gateway serve --chat-template-file <gpt-oss>` (the
harmony dialect, detected by round trip), driven by the openai SDK: required, named, none
and auto are enforced, calls validate, streamed equals non-streamed."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from gateway.testing import shared_templates_dir

pytestmark = pytest.mark.e2e

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "maxLength": 40},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"], "additionalProperties": False}}}
SEARCH = {"type": "function", "function": {
    "name": "search", "description": "Search the web",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string", "maxLength": 60}}, "required": ["query"]}}}
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in (WEATHER, SEARCH)}
BASE: dict[str, Any] = {"model": "demo", "temperature": 0, "seed": 1, "max_tokens": 160,
                        "tools": [WEATHER, SEARCH],
                        "messages": [{"role": "user", "content": "Weather in Paris?"}]}


@pytest.fixture(scope="module")
def client(gateway_factory: Any, backend_url: str) -> Any:
    template = shared_templates_dir() / "openai-gpt-oss-120b.jinja"  # fails when absent
    c = gateway_factory("--endpoint", backend_url, "--chat-template-file", str(template)).openai()
    assert c.models.list().data[0].model_extra["meta"]["dialect"] == "harmony"
    return c


def calls_of(r: Any) -> list[tuple[str, str]]:
    return [(c.function.name, c.function.arguments) for c in r.choices[0].message.tool_calls or []]


def streamed_calls(client: Any, **kw: Any) -> list[tuple[str, str]]:
    calls: dict[int, list[str]] = {}
    for chunk in client.chat.completions.create(stream=True, **{**BASE, **kw}):
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = calls.setdefault(tc.index, ["", ""])
            entry[0] += tc.function.name or ""
            entry[1] += tc.function.arguments or ""
    return [(n, a) for n, a in (calls[i] for i in sorted(calls))]


def valid(calls: list[tuple[str, str]], allowed: set[str]) -> None:
    assert len(calls) == 1, calls  # Harmony: one call per message
    for name, arguments in calls:
        assert name in allowed
        jsonschema.validate(json.loads(arguments), SCHEMAS[name])


def test_required_and_streamed_alike(client: Any) -> None:
    client.chat.completions.create(**{**BASE, "tool_choice": "required"})  # warm the cache
    r = client.chat.completions.create(**{**BASE, "tool_choice": "required"})
    valid(calls_of(r), set(SCHEMAS))
    assert r.choices[0].finish_reason == "tool_calls"
    assert streamed_calls(client, tool_choice="required") == calls_of(r)


def test_named(client: Any) -> None:
    r = client.chat.completions.create(**{**BASE, "tool_choice": {
        "type": "function", "function": {"name": "search"}}})
    valid(calls_of(r), {"search"})


def test_none_and_auto(client: Any) -> None:
    r = client.chat.completions.create(**{**BASE, "tool_choice": "none"})
    assert not calls_of(r)
    r = client.chat.completions.create(**{**BASE, "tool_choice": "auto"})
    if calls_of(r):
        valid(calls_of(r), set(SCHEMAS))
