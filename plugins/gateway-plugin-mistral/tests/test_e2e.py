"""End to end: the demo model behind `gateway serve --chat-template-file T` for the Nemo,
Small 3.2 and Ministral 3 templates (the mistral dialect, detected by round trip), driven
by the openai SDK: required, named, none, auto and parallel on/off are enforced, calls
validate, streamed equals non-streamed, call ids are Mistral-shaped, and a history written
by an OpenAI client (ids like `call_abc123def456`) replays.

One llama.cpp server (the `backend_url` fixture) serves every gateway (`--endpoint`).
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from gateway.testing import shared_templates_dir

pytestmark = pytest.mark.e2e

TEMPLATES = shared_templates_dir()  # fails, saying where it looked, when absent
MISTRAL_TEMPLATES = ["mistralai-Mistral-Nemo-Instruct-2407.jinja",
                     "Mistral-Small-3.2-24B-Instruct-2506.jinja",
                     "mistralai-Ministral-3-14B-Reasoning-2512.jinja"]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "maxLength": 40},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"], "additionalProperties": False}}}
SEARCH = {"type": "function", "function": {
    "name": "search", "description": "Search the web",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string", "maxLength": 60}}, "required": ["query"],
        "additionalProperties": False}}}
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in (WEATHER, SEARCH)}
ASK = [{"role": "user", "content": "What is the weather in Paris and in Rome?"}]
# 60 tokens hold one call in every shape; the budget also caps parallel calls (one per 64
# tokens), so only the parallel test asks for more
BASE: dict[str, Any] = {"model": "demo", "temperature": 0, "seed": 1, "max_tokens": 60,
                        "messages": ASK, "tools": [WEATHER, SEARCH]}
OPENAI_HISTORY: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather in Paris, and search the news?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc123def456", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_Zq9xY8wV7uT6", "type": "function",
         "function": {"name": "search", "arguments": '{"query": "news"}'}}]},
    {"role": "tool", "tool_call_id": "call_abc123def456", "content": '{"temp_c": 21}'},
    {"role": "tool", "tool_call_id": "call_Zq9xY8wV7uT6", "content": "Nothing new."},
    {"role": "assistant", "content": "It is 21C in Paris; no news."},
    {"role": "user", "content": "And the weather in Rome?"},
]


@pytest.fixture(scope="module", params=MISTRAL_TEMPLATES)
def client(request: Any, gateway_factory: Any, backend_url: str) -> Any:
    gw = gateway_factory("--endpoint", backend_url, "--chat-template-file",
                         str(TEMPLATES / request.param))
    c = gw.openai()
    assert c.models.list().data[0].model_extra["meta"]["dialect"] == "mistral"
    return c


def ask(client: Any, stream: bool = False, **kw: Any) -> tuple[Any, list[tuple[str, str, str]],
                                                                 str]:
    """(content, [(id, name, arguments)], finish_reason), streamed or not."""
    args = {**BASE, **kw}
    if not stream:
        r = client.chat.completions.create(**args)
        m = r.choices[0].message
        return m.content, [(c.id, c.function.name, c.function.arguments)
                           for c in m.tool_calls or []], r.choices[0].finish_reason
    content, calls, finish = "", {}, ""
    for chunk in client.chat.completions.create(stream=True, **args):
        if not chunk.choices:
            continue
        d = chunk.choices[0].delta
        content += d.content or ""
        for tc in d.tool_calls or []:
            if tc.function.name:
                calls[tc.index] = [tc.id, tc.function.name, tc.function.arguments or ""]
            else:
                calls[tc.index][2] += tc.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    return (content if not calls else content or None), [
        (i, n, a) for i, n, a in (calls[k] for k in sorted(calls))], finish


def valid(calls: list[tuple[str, str, str]], allowed: set[str]) -> None:
    for call_id, name, arguments in calls:
        assert re.fullmatch(r"[A-Za-z0-9]{9}", call_id), call_id  # replays through Mistral
        assert name in allowed, name
        jsonschema.validate(json.loads(arguments), SCHEMAS[name])


def test_required_valid_and_streamed_alike(client: Any) -> None:
    ask(client, tool_choice="auto", max_tokens=1)  # warm the prompt cache (same prompt)
    content, calls, finish = ask(client, tool_choice="required")
    assert calls and finish == "tool_calls", (content, calls)
    valid(calls, set(SCHEMAS))
    _, streamed, _ = ask(client, stream=True, tool_choice="required")
    valid(streamed, set(SCHEMAS))
    # the ids are the model's own where it wrote a valid one, else fresh: compare the rest
    assert [c[1:] for c in streamed] == [c[1:] for c in calls]


def test_named_streamed_with_parallel_off(client: Any) -> None:
    _, calls, finish = ask(client, stream=True, parallel_tool_calls=False, max_tokens=200,
                           tool_choice={"type": "function", "function": {"name": "search"}})
    assert len(calls) == 1 and calls[0][1] == "search" and finish == "tool_calls", calls
    valid(calls, {"search"})


def test_none_and_auto(client: Any) -> None:
    content, calls, finish = ask(client, tool_choice="none", max_tokens=16)
    assert not calls and content is not None and finish in ("stop", "length")
    content, calls, finish = ask(client, tool_choice="auto")
    valid(calls, set(SCHEMAS))
    assert calls or content is not None


def test_openai_history_replays_and_so_do_our_own_ids(client: Any) -> None:
    _, calls, _ = ask(client, messages=OPENAI_HISTORY, tool_choice="required")
    assert calls
    valid(calls, set(SCHEMAS))
    call_id, name, arguments = calls[0]
    replay = [*OPENAI_HISTORY, {"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "sunny"}]
    content, calls, finish = ask(client, messages=replay, tool_choice="none", max_tokens=8)
    assert not calls and content is not None


def test_parallel_on_calls_all_validate(gateway_factory: Any, backend_url: str) -> None:
    gw = gateway_factory("--endpoint", backend_url, "--chat-template-file",
                         str(TEMPLATES / MISTRAL_TEMPLATES[1]))
    _, calls, finish = ask(gw.openai(), tool_choice="required", max_tokens=200)
    assert 1 <= len(calls) <= 3 and finish == "tool_calls", calls
    valid(calls, set(SCHEMAS))
    assert len({c[0] for c in calls}) == len(calls)  # distinct ids
