"""End-to-end: `gateway serve --plugin functionary` with each real functionary template on
the demo model, driven by the openai SDK. Every call's arguments must validate against the
tool's schema; tool_choice and parallel_tool_calls must hold."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import gateway
import jsonschema
import pytest
from gateway.testing import CLOCK, WEATHER

pytestmark = pytest.mark.e2e

TEMPLATES = Path(gateway.__file__).resolve().parents[2].parent / "shared" / "templates"
VERSIONS = {"functionary-v3.1": "meetkai-functionary-medium-v3.1.jinja",
            "functionary-v3.2": "meetkai-functionary-medium-v3.2.jinja"}
SEARCH = {"type": "function", "function": {
    "name": "search", "description": "Search the web",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string", "maxLength": 40},
        "limit": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["query", "limit"], "additionalProperties": False}}}
TOOLS = [WEATHER.openai(), CLOCK.openai(), SEARCH]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
ASK = [{"role": "system", "content": "You are a helpful assistant."},
       {"role": "user", "content": "What is the weather in Paris and in Rome?"}]
BASE: dict[str, Any] = {"model": "demo", "temperature": 0, "seed": 3, "max_tokens": 300}
STATS: dict[str, list[int]] = {}  # mode → [valid calls, calls]; written if asked (see end)


@pytest.fixture(scope="module", params=sorted(VERSIONS))
def client(request, gateway_factory):
    gw = gateway_factory("--chat-template-file", str(TEMPLATES / VERSIONS[request.param]),
                         "--plugin", "functionary")
    c = gw.openai()
    assert c.models.list().data[0].model_extra["meta"]["dialect"] == request.param  # detected
    c.dialect = request.param
    return c


def run(client: Any, stream: bool, **kw: Any) -> tuple[str | None, list[tuple[str, str]], str]:
    """(content, [(name, arguments)], finish_reason), streamed or not."""
    args = {**BASE, "messages": ASK, "tools": TOOLS, **kw}
    if not stream:
        r = client.chat.completions.create(**args)
        m = r.choices[0].message
        return m.content, [(c.function.name, c.function.arguments)
                           for c in m.tool_calls or []], r.choices[0].finish_reason
    content, calls, finish, arg_chunks = "", {}, "", 0
    for chunk in client.chat.completions.create(stream=True, **args):
        if not chunk.choices:
            continue
        d = chunk.choices[0].delta
        content += d.content or ""
        for tc in d.tool_calls or []:
            if tc.function.name:
                assert tc.id, "a call's first delta carries its id"
                calls[tc.index] = [tc.function.name, tc.function.arguments or ""]
            elif tc.function.arguments:
                calls[tc.index][1] += tc.function.arguments
                arg_chunks += 1
        finish = chunk.choices[0].finish_reason or finish
    if calls and any(len(a) > 2 for _, a in calls.values()):
        assert arg_chunks > 0, "arguments follow the first delta that names the call"
    return content or None, [tuple(c) for _, c in sorted(calls.items())], finish


def valid_calls(mode: str, calls: list[tuple[str, str]], allowed: set[str]) -> None:
    tally = STATS.setdefault(mode, [0, 0])
    for name, arguments in calls:
        tally[1] += 1
        assert name in allowed, f"{mode}: call of {name!r}"
        jsonschema.validate(json.loads(arguments), SCHEMAS[name])
        tally[0] += 1


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("parallel", [True, False])
def test_required(client, stream, parallel):
    content, calls, finish = run(client, stream, tool_choice="required",
                                 parallel_tool_calls=parallel)
    assert calls and finish == "tool_calls", content
    assert len(calls) == 1 or parallel
    valid_calls(f"{client.dialect} required parallel={parallel}", calls, set(SCHEMAS))


@pytest.mark.parametrize("stream", [False, True])
def test_named(client, stream):
    choice = {"type": "function", "function": {"name": "search"}}
    content, calls, finish = run(client, stream, tool_choice=choice, parallel_tool_calls=False)
    assert len(calls) == 1 and finish == "tool_calls", content
    valid_calls(f"{client.dialect} named", calls, {"search"})


def test_named_parallel_only_that_tool(client):
    choice = {"type": "function", "function": {"name": "get_time"}}
    _, calls, _ = run(client, False, tool_choice=choice)
    assert calls
    valid_calls(f"{client.dialect} named", calls, {"get_time"})


@pytest.mark.parametrize("stream", [False, True])
def test_auto(client, stream):
    content, calls, finish = run(client, stream, tool_choice="auto")
    assert calls or content
    valid_calls(f"{client.dialect} auto", calls, set(SCHEMAS))
    assert (finish == "tool_calls") == bool(calls)


def test_none(client):
    content, calls, _ = run(client, False, tool_choice="none", max_tokens=60)
    assert not calls and content


def test_stream_matches_non_stream(client):
    whole = run(client, False, tool_choice="required")
    streamed = run(client, True, tool_choice="required")
    assert streamed == whole


def test_multi_turn(client):
    _, calls, _ = run(client, False, tool_choice="required", parallel_tool_calls=False)
    (name, arguments), = calls
    history = [*ASK, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": name,
                                                          "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 24 C"}]
    content, calls, _ = run(client, False, messages=history, tool_choice="auto")
    assert content or calls
    valid_calls(f"{client.dialect} auto after a result", calls, set(SCHEMAS))
    content, calls, _ = run(client, False, messages=history, tool_choice="none", max_tokens=60)
    assert content and not calls


def teardown_module() -> None:
    path = os.environ.get("FUNCTIONARY_E2E_STATS")
    if path:
        Path(path).write_text(json.dumps(STATS, indent=1))
