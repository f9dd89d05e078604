"""The official `openai` SDK against the real gateway (demo model): sync, async, the
`chat.completions.stream()` helper, `parse()` with a pydantic `response_format`, and strict
function tools. A 135M model is not asked to be right, only to be well-formed: each test
checks the structure the SDK itself builds and validates."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import jsonschema
import openai
import pytest
from pydantic import BaseModel, ConfigDict

pytestmark = pytest.mark.e2e

MODEL = "demo"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "maxLength": 40},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"], "additionalProperties": False}}}
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]


class GetWeather(BaseModel):
    """Current weather in a city."""
    model_config = ConfigDict(extra="forbid")
    city: str
    unit: Literal["celsius", "fahrenheit"]


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    age: int
    languages: list[Literal["en", "fr", "de"]]


def _valid_call(call, tool: dict) -> dict:
    assert call.type == "function" and call.id
    assert call.function.name == tool["function"]["name"]
    args = json.loads(call.function.arguments)  # a JSON string, never an object
    jsonschema.validate(args, tool["function"]["parameters"])
    return args


@pytest.fixture(scope="module")
def client(gateway_server):
    return gateway_server.openai()


@pytest.fixture(scope="module")
def aclient(gateway_server):
    return openai.AsyncOpenAI(base_url=gateway_server.url + "/v1", api_key="none",
                              max_retries=0)


def test_sync_tool_call_validates(client):
    r = client.chat.completions.create(model=MODEL, messages=ASK_WEATHER, tools=[WEATHER],
                                       tool_choice="required", max_tokens=96)
    assert r.object == "chat.completion" and r.choices[0].finish_reason == "tool_calls"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    _valid_call(r.choices[0].message.tool_calls[0], WEATHER)


async def test_async_calls_run_concurrently(aclient):
    plain = aclient.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hi."}], max_tokens=16)
    named = aclient.chat.completions.create(
        model=MODEL, messages=ASK_WEATHER, tools=[WEATHER], max_tokens=96,
        tool_choice={"type": "function", "function": {"name": "get_weather"}})
    text, call = await asyncio.gather(plain, named)
    assert text.choices[0].message.content and not text.choices[0].message.tool_calls
    _valid_call(call.choices[0].message.tool_calls[0], WEATHER)


async def test_async_stream_iterates_chunks(aclient):
    stream = await aclient.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Count to five."}], max_tokens=24,
        stream=True, stream_options={"include_usage": True})
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_stream_helper_content_events_match_final(client):
    deltas: list[str] = []
    with client.chat.completions.stream(
            model=MODEL, messages=[{"role": "user", "content": "Name three colours."}],
            max_tokens=32) as stream:
        for event in stream:
            if event.type == "content.delta":
                deltas.append(event.delta)
        try:
            final = stream.get_final_completion()
        except openai.LengthFinishReasonError as exc:  # the SDK's verdict on a cut-off
            final = exc.completion
            assert final.choices[0].finish_reason == "length"
    assert deltas and "".join(deltas) == final.choices[0].message.content


def test_stream_helper_strict_tool_arguments_parsed(client):
    """`pydantic_function_tool` marks the tool `strict: true`; the helper parses the streamed
    arguments into the model class when they are done."""
    done = []
    with client.chat.completions.stream(
            model=MODEL, messages=ASK_WEATHER, tools=[openai.pydantic_function_tool(GetWeather)],
            tool_choice="required", max_tokens=96) as stream:
        for event in stream:
            if event.type == "tool_calls.function.arguments.done":
                done.append(event)
        final = stream.get_final_completion()
    assert len(done) >= 1 and done[0].name == "GetWeather"
    assert isinstance(done[0].parsed_arguments, GetWeather)
    call = final.choices[0].message.tool_calls[0]
    assert call.function.arguments == done[0].arguments
    assert isinstance(call.function.parsed_arguments, GetWeather)


def test_parse_with_pydantic_response_format(client):
    r = client.chat.completions.parse(
        model=MODEL, response_format=Person, max_tokens=96,
        messages=[{"role": "user", "content": "Invent a person who speaks French."}])
    msg = r.choices[0].message
    assert isinstance(msg.parsed, Person), msg.content
    assert Person.model_validate_json(msg.content) == msg.parsed


def test_parse_strict_tool_call(client):
    tool = openai.pydantic_function_tool(GetWeather, name="get_weather")
    assert tool["function"]["strict"] is True
    r = client.chat.completions.parse(model=MODEL, messages=ASK_WEATHER, tools=[tool],
                                      tool_choice="required", max_tokens=96)
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert isinstance(call.function.parsed_arguments, GetWeather)


def test_bad_request_is_an_sdk_error(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=ASK_WEATHER, max_tokens=8,
                                       tools=[WEATHER], tool_choice={
                                           "type": "function", "function": {"name": "nope"}})
    assert info.value.status_code == 400 and "nope" in str(info.value)
