"""The Responses API (`client.responses`) of the official `openai` SDK against the real gateway
(demo model): text, a required function call and the turn that sends its output back,
streaming through the SDK's helper, a json_schema text format, and the stateless refusal.
The SDK parses every answer into its typed models; a 135M model is only asked to be
well-formed."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest

pytestmark = pytest.mark.e2e

MODEL = "demo"
WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather in a city.",
           "parameters": {"type": "object", "properties": {
               "city": {"type": "string", "maxLength": 40}},
               "required": ["city"], "additionalProperties": False}}
ASK = "What is the weather in Paris?"


@pytest.fixture(scope="module")
def client(gateway_server):
    return gateway_server.openai()


def _call(response) -> openai.types.responses.ResponseFunctionToolCall:
    calls = [item for item in response.output if item.type == "function_call"]
    assert calls, response.output
    call = calls[0]
    assert call.name == "get_weather" and call.call_id and call.status == "completed"
    jsonschema.validate(json.loads(call.arguments), WEATHER["parameters"])
    return call


def test_text_answer(client):
    r = client.responses.create(model=MODEL, input="Say hi", max_output_tokens=16)
    assert r.object == "response" and r.status in ("completed", "incomplete")
    assert r.output_text.strip()
    assert r.usage is not None and r.usage.input_tokens > 0 and r.usage.output_tokens > 0


def test_function_call_then_its_output_sent_back(client):
    first = client.responses.create(model=MODEL, input=ASK, tools=[WEATHER],
                                    tool_choice="required", max_output_tokens=64)
    assert first.status == "completed"
    call = _call(first)
    second = client.responses.create(
        model=MODEL, tools=[WEATHER], tool_choice="none", max_output_tokens=64, temperature=0,
        input=[{"role": "user", "content": ASK}, *first.output,
               {"type": "function_call_output", "call_id": call.call_id,
                "output": '{"sky": "sunny", "temperature_c": 24}'}])
    assert second.output_text.strip()
    assert not [item for item in second.output if item.type == "function_call"]


def test_streamed_call_through_the_sdk_helper(client):
    with client.responses.stream(model=MODEL, input=ASK, tools=[WEATHER],
                                 tool_choice="required", max_output_tokens=64) as stream:
        events = list(stream)
        final = stream.get_final_response()
    call = _call(final)
    kinds = [event.type for event in events]
    order = ["response.created", "response.in_progress", "response.output_item.added",
             "response.function_call_arguments.delta", "response.function_call_arguments.done",
             "response.output_item.done", "response.completed"]
    assert [k for k in kinds if k in order] == sorted(
        [k for k in kinds if k in order], key=order.index)
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta"
                   and e.item_id == call.id) == call.arguments


def test_json_schema_text_format(client):
    schema = {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"}},
        "required": ["name", "age"], "additionalProperties": False}
    r = client.responses.create(
        model=MODEL, input="Invent a person.", max_output_tokens=64,
        text={"format": {"type": "json_schema", "name": "person", "schema": schema,
                         "strict": True}})
    assert r.status == "completed"
    jsonschema.validate(json.loads(r.output_text), schema)


def test_previous_response_id_is_refused(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model=MODEL, input="Hi", previous_response_id="resp_123")
    assert "previous_response_id" in str(err.value)
