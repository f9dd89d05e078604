"""Anthropic's Messages API through the official `anthropic` SDK against the real gateway (demo
model): text, a forced tool call whose input matches the tool's schema and the turn that sends
its result back, streaming through the SDK's helper, a stop sequence, count_tokens, and a
refusal. The SDK parses every answer into its typed models; a 135M model is only asked to
be well-formed."""

from __future__ import annotations

import anthropic
import jsonschema
import pytest

pytestmark = pytest.mark.e2e

MODEL = "demo"
WEATHER = {"name": "get_weather", "description": "Current weather in a city.",
           "input_schema": {"type": "object", "properties": {
               "city": {"type": "string", "maxLength": 40}},
               "required": ["city"], "additionalProperties": False}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
GREEDY = {"temperature": 0}  # sampling fields the gateway takes, newer SDKs no longer send


@pytest.fixture(scope="module")
def client(gateway_server):
    # the SDK adds /v1/messages to the base URL: the gateway's root, as ANTHROPIC_BASE_URL
    return anthropic.Anthropic(base_url=gateway_server.url, api_key="none", max_retries=0)


def _tool_use(message) -> anthropic.types.ToolUseBlock:
    assert message.stop_reason == "tool_use", message
    calls = [block for block in message.content if block.type == "tool_use"]
    assert calls and calls[0].name == "get_weather" and calls[0].id.startswith("toolu_")
    jsonschema.validate(calls[0].input, WEATHER["input_schema"])
    return calls[0]


def test_text_answer(client):
    r = client.messages.create(model=MODEL, max_tokens=16, system="Answer briefly.",
                               messages=[{"role": "user", "content": "Say hi"}])
    assert r.type == "message" and r.role == "assistant"
    assert r.stop_reason in ("end_turn", "max_tokens") and r.stop_sequence is None
    assert r.content[0].type == "text" and r.content[0].text.strip()
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    counted = client.messages.count_tokens(model=MODEL, system="Answer briefly.",
                                           messages=[{"role": "user", "content": "Say hi"}])
    assert counted.input_tokens == r.usage.input_tokens  # the same prompt, counted alike


def test_forced_tool_use_then_its_result_sent_back(client):
    first = client.messages.create(model=MODEL, max_tokens=64, messages=ASK, tools=[WEATHER],
                                   tool_choice={"type": "any",
                                                "disable_parallel_tool_use": True})
    call = _tool_use(first)
    second = client.messages.create(
        model=MODEL, max_tokens=32, tools=[WEATHER], extra_body=GREEDY,
        tool_choice={"type": "none"},
        messages=[*ASK, {"role": "assistant", "content": first.content},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                                "content": "sunny, 24 degrees"}]}])
    assert second.stop_reason in ("end_turn", "max_tokens")
    assert not [block for block in second.content if block.type == "tool_use"]
    assert "".join(b.text for b in second.content if b.type == "text").strip()


def test_streamed_tool_use_through_the_sdk_helper(client):
    with client.messages.stream(model=MODEL, max_tokens=64, messages=ASK, tools=[WEATHER],
                                tool_choice={"type": "tool", "name": "get_weather"}) as stream:
        events = list(stream)
        final = stream.get_final_message()
    call = _tool_use(final)
    kinds = [event.type for event in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "".join(e.partial_json for e in events if e.type == "input_json") and \
        events[kinds.index("content_block_stop")].content_block.input == call.input


def test_stop_sequence(client):
    r = client.messages.create(model=MODEL, max_tokens=48, stop_sequences=["e"],
                               messages=[{"role": "user", "content": "Describe the sea."}],
                               extra_body=GREEDY)
    assert (r.stop_reason, r.stop_sequence) == ("stop_sequence", "e")
    assert "e" not in r.content[0].text


def test_count_tokens_with_tools(client):
    bare = client.messages.count_tokens(model=MODEL, messages=ASK)
    with_tools = client.messages.count_tokens(model=MODEL, messages=ASK, tools=[WEATHER],
                                              tool_choice={"type": "any"})
    assert 0 < bare.input_tokens < with_tools.input_tokens  # the tools are in the prompt


def test_a_bad_request_is_the_sdks_bad_request_error(client):
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": "iVBORw0KGgo="}}
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(model=MODEL, max_tokens=8, messages=[
            {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}])
    assert err.value.status_code == 400
    assert err.value.body["error"]["type"] == "invalid_request_error"
    assert err.value.body["error"]["message"].startswith("messages.0.content.1.type: ")
