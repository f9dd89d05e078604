"""End-to-end: the generic dialect's `quote` option on the real llama.cpp and demo model.
Calls carry the quote only inside the grammar: what the client gets is a valid call with the
usual shape, streamed and not; bad tool_choice input still gets its 400."""

from __future__ import annotations

import json

import openai
import pytest

pytestmark = pytest.mark.e2e

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False}}}
ASK = [{"role": "user", "content": "What is the weather in Oslo today?"}]


@pytest.fixture(scope="module")
def client(gateway_factory, backend_url):
    gw = gateway_factory("--endpoint", backend_url, "--dialect", "generic",
                         "--dialect-option", "quote=on")
    return gw.openai()


def test_quoting_gateway_returns_valid_calls(client) -> None:
    r = client.chat.completions.create(model="demo", messages=ASK, tools=[WEATHER],
                                       tool_choice="required", max_tokens=128, temperature=0)
    calls = r.choices[0].message.tool_calls
    assert r.choices[0].finish_reason == "tool_calls" and calls
    args = json.loads(calls[0].function.arguments)
    assert calls[0].function.name == "get_weather" and set(args) == {"city"}
    assert "quote" not in calls[0].function.arguments
    chunks = list(client.chat.completions.create(
        model="demo", messages=ASK, tools=[WEATHER], tool_choice="required", max_tokens=128,
        temperature=0, stream=True))
    streamed = "".join(tc.function.arguments or "" for c in chunks if c.choices
                       for tc in c.choices[0].delta.tool_calls or [])
    assert set(json.loads(streamed)) == {"city"}


def test_quoting_gateway_refuses_bad_input_and_keeps_serving(client) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="demo", messages=ASK, tools=[WEATHER],
                                       tool_choice={"type": "function",
                                                    "function": {"name": "nope"}})
    assert err.value.status_code == 400
    r = client.chat.completions.create(model="demo", messages=ASK, max_tokens=4)
    assert r.choices[0].finish_reason in ("stop", "length")
