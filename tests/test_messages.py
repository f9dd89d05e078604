"""Anthropic's Messages API layer without a model: request translation and refusals, the
Message built from a chat answer, the chat-stream-to-events translation, count_tokens, and
the routes over the stub backend, with Anthropic-shaped errors. Every object and event is
validated by the anthropic SDK's own pydantic models, so a shape mistake fails."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import msgspec
import pydantic
import pytest
from anthropic.types import ErrorResponse, MessageTokensCount, RawMessageStreamEvent
from anthropic.types import Message as SdkMessage
from gateway import protocol as p
from gateway.app import ChatHandlers, create_app, on_error
from gateway.app_state import AppState
from gateway.chat_request import build_context
from gateway.config import Settings
from gateway.endpoints import EndpointHandlers
from gateway.errors import GatewayError
from gateway.messages import MessagesService, Translated, translate
from gateway.messages_output import build_message
from gateway.messages_request import decode_messages_request
from gateway.messages_stream import message_events
from starlette.applications import Starlette

from tests.inprocess import call
from tests.test_app_handlers import CALL, StubBackend, request, sent_body, state
from tests.test_responses import DONE, USAGE, chunk, completion
from tests.test_responses import refused as responses_refused

EVENTS = pydantic.TypeAdapter(RawMessageStreamEvent)
WEATHER = {"name": "get_weather", "description": "Weather in a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}
TIME = {**WEATHER, "name": "get_time", "description": "Time in a city."}
ASK = [{"role": "user", "content": "Weather in Paris?"}]


def tr(**body: Any) -> Translated:
    body = {"model": "m", "max_tokens": 32, "messages": ASK, **body}
    return translate(decode_messages_request(json.dumps(body).encode()))


def as_sent(*, counting: bool = False, **body: Any) -> Translated:
    """The request as it is, without defaults (counting: for count_tokens)."""
    return translate(decode_messages_request(json.dumps(body).encode(), counting=counting))


def refused(body: dict[str, Any], *, check: bool = False) -> GatewayError:
    """The 400 a request gets, from decoding/translation or (check) from the chat checks."""
    return responses_refused(body, check=check, translated=as_sent)


def sdk(obj: Any) -> SdkMessage:
    return SdkMessage.model_validate(json.loads(msgspec.json.encode(obj)))


# -- request translation -----------------------------------------------------------------------

def test_text_request_and_sampling_fields() -> None:
    t = tr(system="Be brief.", temperature=0.5, top_p=0.9, top_k=40, stop_sequences=["END"],
           metadata={"user_id": "u1"}, service_tier="auto", cache_control={"type": "ephemeral"},
           container=None, mcp_servers=[], some_new_field={"x": 1})
    assert [(m.role, m.content) for m in t.chat.messages] == [
        ("system", "Be brief."), ("user", "Weather in Paris?")]
    c = t.chat
    assert (c.max_tokens, c.temperature, c.top_p, c.top_k, c.stop, c.user) == (
        32, 0.5, 0.9, 40, ["END"], "u1")
    assert not c.stream and c.stream_options is None and c.tools is None
    assert tr(stream=True).chat.stream_options == p.StreamOptions(include_usage=True)


def test_text_blocks_of_system_and_user_turns() -> None:
    t = tr(system=[{"type": "text", "text": "Be brief."},
                   {"type": "text", "text": "Be kind.", "cache_control": {"type": "ephemeral"}}],
           messages=[{"role": "user", "content": [{"type": "text", "text": "Hello"},
                                                  {"type": "text", "text": "there"}]}])
    assert [(m.role, m.content) for m in t.chat.messages] == [
        ("system", "Be brief.\n\nBe kind."), ("user", "Hello\n\nthere")]


def test_tool_history_becomes_tool_calls_and_tool_messages_in_order() -> None:
    """A user turn's tool_result blocks are tool messages, in their order, before the text
    of that turn (wherever the text stands among them)."""
    t = tr(tools=[WEATHER], messages=[
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Two cities.", "signature": "sig"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
             "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather",
             "input": {"city": "Rome"}},
            {"type": "redacted_thinking", "data": "xyz"}]},
        {"role": "user", "content": [
            {"type": "text", "text": "Here you are."},
            {"type": "tool_result", "tool_use_id": "toolu_2",
             "content": [{"type": "text", "text": "rainy"}]},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "no data",
             "is_error": True}]}])
    user, assistant, first, second, text = t.chat.messages
    assert (assistant.role, assistant.content, assistant.reasoning_content) == (
        "assistant", "Checking.", "Two cities.")
    assert [(c.id, c.function.name, c.function.arguments) for c in assistant.tool_calls or []] \
        == [("toolu_1", "get_weather", '{"city":"Paris"}'),
            ("toolu_2", "get_weather", '{"city":"Rome"}')]
    assert (first.role, first.tool_call_id, first.content) == ("tool", "toolu_2", "rainy")
    assert (second.role, second.tool_call_id, second.content) == (
        "tool", "toolu_1", "Error: no data")
    assert (text.role, text.content) == ("user", "Here you are.")
    tool = (t.chat.tools or [])[0]
    assert (tool.function.name, tool.function.description, tool.function.parameters) == (
        "get_weather", "Weather in a city.", WEATHER["input_schema"])
    build_context(t.chat, Settings())  # the chat checks pass it


def test_chat_fields_named_as_the_messages_request_names_them() -> None:
    t = tr(system="Hi.", tools=[TIME, WEATHER], messages=[
        *ASK, {"role": "assistant", "content": [
            {"type": "text", "text": "On it."},
            {"type": "tool_use", "id": "t1", "name": "get_time", "input": {}},
            {"type": "tool_use", "id": "t2", "name": "get_weather", "input": {}}]},
        user({"type": "tool_result", "tool_use_id": "t1"},
             {"type": "tool_result", "tool_use_id": "t2"}, {"type": "text", "text": "So?"})])
    names = {"messages[2].tool_calls[1].function.arguments": "messages[1].content[2].input",
             "messages[2].tool_calls[0].function.name": "messages[1].content[1].name",
             "messages[4].tool_call_id": "messages[2].content[1].tool_use_id",
             "messages[5].content": "messages[2].content", "messages[0].content": "system",
             "tools[1].function.parameters": "tools[1].input_schema",
             "stop": "stop_sequences", "response_format.json_schema.schema":
             "output_config.format.schema", "tool_choice": "tool_choice", "messages": "messages"}
    assert {chat: t.param(chat) for chat in names} == names


def test_a_turn_of_tool_results_only_adds_no_user_message() -> None:
    t = tr(tools=[WEATHER], messages=[
        *ASK, {"role": "assistant", "content": [{"type": "tool_use", "id": "t1",
                                                 "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]}])
    assert [m.role for m in t.chat.messages] == ["user", "assistant", "tool"]
    assert t.chat.messages[-1].content == "" and t.chat.messages[1].content is None


@pytest.mark.parametrize("choice, chat, parallel", [
    ({"type": "auto"}, "auto", None),
    ({"type": "any"}, "required", None),
    ({"type": "none"}, "none", None),
    ({"type": "any", "disable_parallel_tool_use": True}, "required", False),
    ({"type": "auto", "disable_parallel_tool_use": False}, "auto", None),
    ({"type": "tool", "name": "get_time", "disable_parallel_tool_use": True}, "get_time",
     False),
])
def test_tool_choice(choice: dict[str, Any], chat: str, parallel: bool | None) -> None:
    t = tr(tools=[WEATHER, TIME], tool_choice=choice)
    got = t.chat.tool_choice
    assert (got.function.name if isinstance(got, p.NamedToolChoice) else got) == chat
    assert t.chat.parallel_tool_calls is parallel
    ctx = build_context(t.chat, Settings())
    assert ctx.parallel_tool_calls is (parallel is not False)


@pytest.mark.parametrize("fields, effort, thinking", [
    ({}, None, False),
    ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "low", True),
    ({"thinking": {"type": "enabled", "budget_tokens": 8000}}, "medium", True),
    ({"thinking": {"type": "enabled", "budget_tokens": 32000}}, "high", True),
    ({"thinking": {"type": "adaptive"}}, None, True),
    ({"thinking": {"type": "adaptive", "display": "omitted"}}, None, False),
    ({"thinking": {"type": "disabled"}}, None, False),
    ({"output_config": {"effort": "max"}}, "high", False),
    ({"thinking": {"type": "enabled", "budget_tokens": 32000},
      "output_config": {"effort": "low"}}, "low", True),
])
def test_thinking_and_effort(fields: dict[str, Any], effort: str | None,
                             thinking: bool) -> None:
    t = tr(**fields)
    assert t.chat.reasoning_effort == effort and t.thinking is thinking
    build_context(t.chat, Settings())


async def test_reasoning_is_shown_only_when_thinking_is_asked_for() -> None:
    """As Anthropic answers: without `thinking` no thinking block, so `content[0].text` is
    the answer's text (a reasoning model's thought otherwise came first), streamed or not."""
    c = completion(reasoning="The user greets me.", content="Hello!")
    lines = [chunk({"reasoning_content": "The user greets me."}), chunk({"content": "Hello!"}),
             chunk({}, "stop"), USAGE, DONE]
    service = MessagesService(SimpleNamespace(model_id="m1"))  # type: ignore[arg-type]
    for fields, kinds in (({}, ["text"]), ({"thinking": {"type": "adaptive"}},
                                           ["thinking", "text"])):
        answer = sdk(service.answer(tr(**fields), c))
        assert [b.type for b in answer.content] == kinds and answer.content[-1].type == "text"
        assert answer.content[0].type != "text" or answer.content[0].text == "Hello!"

        async def source() -> AsyncIterator[bytes]:
            for line in lines:
                yield line

        events = b"".join([e async for e in service.events(tr(stream=True, **fields), source())])
        starts = [json.loads(line[6:])["content_block"]["type"] for line in events.split(b"\n")
                  if line.startswith(b"data: ") and b'"content_block_start"' in line]
        assert starts == kinds


def test_a_turn_of_thinking_only_is_an_empty_assistant_turn() -> None:
    """An answer cut by max_tokens while the model thought is one thinking block; sent back
    (redacted or not), it is an empty assistant turn, not a 400."""
    for block in ({"type": "thinking", "thinking": "Hm.", "signature": ""},
                  {"type": "redacted_thinking", "data": "xyz"}):
        t = tr(messages=[*ASK, {"role": "assistant", "content": [block]}, *ASK])
        assistant = t.chat.messages[1]
        assert (assistant.role, assistant.content, assistant.tool_calls) == (
            "assistant", "", None)
        build_context(t.chat, Settings())  # the chat checks pass it


def test_output_format_is_a_json_schema_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    rf = tr(output_config={"format": {"type": "json_schema", "schema": schema}}
            ).chat.response_format
    assert rf is not None and rf.type == "json_schema" and rf.json_schema is not None
    assert rf.json_schema.schema == schema


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 32, "messages": ASK, **extra}


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}


@pytest.mark.parametrize("request_body, param", [
    ({"model": "m", "messages": ASK}, "max_tokens"),
    ({"model": "m", "max_tokens": 5}, "messages"),
    (body(messages=[user({"type": "text", "text": "Look:"}, IMAGE)]),
     "messages[0].content[1].type"),
    (body(messages=[user({"type": "document", "source": {"type": "text", "data": "x"}})]),
     "messages[0].content[0].type"),
    (body(messages=[user({"type": "tool_result", "tool_use_id": "t", "content": [IMAGE]})]),
     "messages[0].content[0].content[0].type"),
    (body(messages=[user({"type": "tool_result", "tool_use_id": "t", "content": 5})]),
     "messages[0].content[0].content"),
    (body(messages=[user({"type": "tool_use", "id": "t", "name": "f", "input": {}})]),
     "messages[0].content[0].type"),
    (body(messages=[*ASK, {"role": "assistant", "content": [
        {"type": "tool_result", "tool_use_id": "t"}]}, *ASK]), "messages[1].content[0].type"),
    (body(messages=[*ASK, {"role": "assistant", "content": [
        {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}]}, *ASK]),
     "messages[1].content[0].type"),
    (body(messages=[*ASK, {"role": "assistant", "content": [
        {"type": "tool_use", "name": "f", "input": {}}]}, *ASK]), "messages[1].content[0].id"),
    (body(messages=[user({"type": "tool_result", "content": "x"})]),
     "messages[0].content[0].tool_use_id"),
    (body(messages=[user({"type": "text"})]), "messages[0].content[0].text"),
    (body(messages=[{"role": "user", "content": []}]), "messages[0].content"),
    (body(messages=[{"role": "system", "content": "x"}]), "messages[0].role"),
    (body(messages=[*ASK, {"role": "assistant", "content": "The answer is"}]),
     "messages[1].role"),
    (body(system=[{"type": "image", "source": {}}]), "system[0].type"),
    (body(tools=[WEATHER, {"type": "web_search_20250305", "name": "web_search"}]),
     "tools[1].type"),
    (body(tools=[{"type": "bash_20250124", "name": "bash"}]), "tools[0].type"),
    (body(tools=[{"type": "computer_20250124", "name": "computer", "display_width_px": 1}]),
     "tools[0].type"),
    (body(tools=[{"name": "f"}]), "tools[0].input_schema"),
    (body(tools=[{"input_schema": {"type": "object"}}]), "tools[0].name"),
    (body(tools=[{"name": "f", "input_schema": {"type": "string"}}]),
     "tools[0].input_schema.type"),
    (body(tools=[WEATHER], tool_choice={"type": "required"}), "tool_choice.type"),
    (body(tools=[WEATHER], tool_choice={"type": "tool"}), "tool_choice.name"),
    (body(thinking={"type": "enabled"}), "thinking.budget_tokens"),
    (body(thinking={"type": "sometimes"}), "thinking.type"),
    (body(output_config={"effort": "extreme"}), "output_config.effort"),
    (body(output_config={"format": {"type": "xml"}}), "output_config.format.type"),
    (body(output_config={"format": {"type": "json_schema"}}), "output_config.format.schema"),
    (body(container="container_1"), "container"),
    (body(mcp_servers=[{"type": "url", "url": "https://x", "name": "x"}]), "mcp_servers"),
    (body(messages="hi"), "messages"),
])
def test_refusals_name_the_messages_param(request_body: dict[str, Any], param: str) -> None:
    assert refused(request_body).param == param


@pytest.mark.parametrize("request_body, param", [
    (body(max_tokens=0), "max_tokens"),
    (body(temperature=5), "temperature"),
    (body(stop_sequences=[""]), "stop_sequences"),
    (body(tools=[{**WEATHER, "name": "bad name"}]), "tools[0].name"),
    (body(tools=[WEATHER], tool_choice={"type": "tool", "name": "nope"}), "tool_choice"),
    (body(tool_choice={"type": "any"}), "tool_choice"),
])
def test_chat_checks_name_the_messages_param(request_body: dict[str, Any], param: str) -> None:
    assert refused(request_body, check=True).param == param


def test_count_tokens_takes_no_max_tokens() -> None:
    assert as_sent(counting=True, model="m", messages=ASK).chat.max_tokens is None
    assert refused({"model": "m", "counting": True}).param == "messages"


# -- the Message -------------------------------------------------------------------------------

def stopped(completion: p.ChatCompletion, word: str) -> p.ChatCompletion:
    """The completion as a client's stop sequence ended it."""
    completion.choices[0].stop_reason = word
    return completion


def test_text_message() -> None:
    m = sdk(build_message(completion("Hello!")))
    assert m.type == "message" and m.role == "assistant" and m.id.startswith("msg_")
    assert [(b.type, b.text) for b in m.content if b.type == "text"] == [("text", "Hello!")]
    assert (m.stop_reason, m.stop_sequence, m.model) == ("end_turn", None, "m1")
    assert (m.usage.input_tokens, m.usage.output_tokens) == (5, 3)


def test_calls_and_thinking() -> None:
    c = completion(reasoning="Paris, then Rome.", content="Checking.", finish="tool_calls",
                   calls=[("call_a", "get_weather", '{"city":"Paris"}'),
                          ("call_b", "get_weather", '{"city":"Rome"}')])
    m = sdk(build_message(c))
    assert [b.type for b in m.content] == ["thinking", "text", "tool_use", "tool_use"]
    thinking, text, first, second = m.content
    assert thinking.type == "thinking" and thinking.thinking == "Paris, then Rome."
    assert first.type == "tool_use" and second.type == "tool_use"
    assert (first.id, first.name, first.input) == ("toolu_a", "get_weather", {"city": "Paris"})
    assert second.id == "toolu_b" and second.input == {"city": "Rome"}
    assert m.stop_reason == "tool_use"
    assert [b.type for b in sdk(build_message(c, thinking=False)).content] == [
        "text", "tool_use", "tool_use"]


@pytest.mark.parametrize("c, reason, sequence", [
    (completion("Hel", finish="length"), "max_tokens", None),
    (completion("Hello"), "end_turn", None),
    (stopped(completion("Hello "), "END"), "stop_sequence", "END"),
])
def test_stop_reasons(c: p.ChatCompletion, reason: str, sequence: str | None) -> None:
    m = sdk(build_message(c))
    assert (m.stop_reason, m.stop_sequence) == (reason, sequence)


def test_an_empty_answer_is_one_empty_text_block() -> None:
    m = sdk(build_message(completion("")))
    assert [(b.type, getattr(b, "text", None)) for b in m.content] == [("text", "")]


# -- streaming ---------------------------------------------------------------------------------

async def translated(lines: list[bytes], thinking: bool = True) -> list[Any]:
    """The events of a chat stream, each validated by the SDK (`event:` line = type)."""
    async def source() -> AsyncIterator[bytes]:
        whole = b"".join(lines)  # split at odd places: the translation must not care
        for i in range(0, len(whole), 37):
            yield whole[i:i + 37]

    raw = b"".join([e async for e in message_events(source(), "m1", thinking)])
    events = []
    for block in raw.split(b"\n\n")[:-1]:
        kind, data = block.split(b"\n")
        payload = json.loads(data.removeprefix(b"data: "))
        if kind == b"event: error":
            events.append(ErrorResponse.model_validate(payload))
            continue
        event = EVENTS.validate_python(payload)
        assert kind == b"event: " + event.type.encode()
        events.append(event)
    one_block_at_a_time(events)
    return events


def one_block_at_a_time(events: list[Any]) -> None:
    """As Anthropic streams: message_start first; blocks in index order, each stopped
    before the next starts, its deltas between; message_delta then message_stop last."""
    assert events[0].type == "message_start"
    current, open_ = -1, False
    for e in events[1:]:
        if e.type == "content_block_start":
            assert not open_ and e.index == current + 1
            current, open_ = e.index, True
        elif e.type in ("content_block_delta", "content_block_stop"):
            assert open_ and e.index == current
            open_ = e.type == "content_block_delta"
    if events[-1].type != "error":
        assert not open_ and [e.type for e in events[-2:]] == ["message_delta", "message_stop"]


def snapshot(events: list[Any]) -> dict[str, Any]:
    """The message the events build, as the SDK's stream helper accumulates it."""
    message = events[0].message.model_dump(mode="json", exclude_none=True)
    partial: dict[int, str] = {}
    for e in events[1:]:
        if e.type == "content_block_start":
            message["content"].append(e.content_block.model_dump(mode="json",
                                                                 exclude_none=True))
        elif e.type == "content_block_delta":
            block, d = message["content"][e.index], e.delta
            if d.type == "input_json_delta":
                partial[e.index] = partial.get(e.index, "") + d.partial_json
            else:
                field = "text" if d.type == "text_delta" else "thinking"
                block[field] += getattr(d, field)
        elif e.type == "content_block_stop" and e.index in partial:
            message["content"][e.index]["input"] = json.loads(partial[e.index])
        elif e.type == "message_delta":
            message.update(stop_reason=e.delta.stop_reason, stop_sequence=e.delta.stop_sequence,
                           usage=e.usage.model_dump(mode="json", exclude_none=True))
    return message


def same_message(streamed: dict[str, Any], whole: Any) -> None:
    """A streamed message equal to the non-streamed one but for its id."""
    expected = sdk(whole).model_dump(mode="json", exclude_none=True)
    streamed = {k: v for k, v in streamed.items() if v is not None and k != "id"}
    expected.pop("id")
    assert streamed == expected


async def test_stream_text() -> None:
    events = await translated([chunk({"role": "assistant", "content": ""}),
                               chunk({"content": "Hel"}), chunk({"content": "lo!"}),
                               chunk({}, "stop"), USAGE, DONE])
    assert [e.type for e in events] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop"]
    start = events[0].message
    assert start.id.startswith("msg_") and start.content == [] and start.stop_reason is None
    assert events[1].content_block.type == "text" and events[1].content_block.text == ""
    assert events[-2].delta.stop_reason == "end_turn" and events[-2].usage.output_tokens == 3
    same_message(snapshot(events), build_message(completion("Hello!")))


async def test_stream_thinking_and_calls_in_pieces() -> None:
    call = {"index": 0, "id": "call_a", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":'}}
    lines = [
        chunk({"role": "assistant", "content": ""}), chunk({"reasoning_content": "Par"}),
        chunk({"reasoning_content": "is."}), chunk({"tool_calls": [call]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city":"Rome"}'}}]}),
        chunk({}, "tool_calls"), USAGE, DONE]
    events = await translated(lines)
    starts = [e.content_block for e in events if e.type == "content_block_start"]
    assert [b.type for b in starts] == ["thinking", "tool_use", "tool_use"]
    assert (starts[1].id, starts[1].name, starts[1].input) == ("toolu_a", "get_weather", {})
    pieces = [e.delta.partial_json for e in events if e.type == "content_block_delta"
              and e.delta.type == "input_json_delta" and e.index == 1]
    assert pieces == ['{"city":', '"Paris"}']
    assert events[-2].delta.stop_reason == "tool_use"
    same_message(snapshot(events), build_message(completion(
        reasoning="Paris.", finish="tool_calls",
        calls=[("call_a", "get_weather", '{"city":"Paris"}'),
               ("call_b", "get_weather", '{"city":"Rome"}')])))
    hidden = await translated(lines, thinking=False)
    assert [e.content_block.type for e in hidden if e.type == "content_block_start"] == [
        "tool_use", "tool_use"]
    assert [e.index for e in hidden if e.type == "content_block_stop"] == [0, 1]


async def test_stream_text_after_a_call_is_a_new_block() -> None:
    call = {"index": 0, "id": "call_a", "type": "function",
            "function": {"name": "f", "arguments": "{}"}}
    events = await translated([chunk({"content": "A"}), chunk({"tool_calls": [call]}),
                               chunk({"content": "B"}), chunk({}, "tool_calls"), USAGE, DONE])
    assert [e.content_block.type for e in events if e.type == "content_block_start"] == [
        "text", "tool_use", "text"]


async def test_stream_stop_sequence_and_max_tokens() -> None:
    final = json.loads(chunk({}, "stop").removeprefix(b"data: "))
    final["choices"][0]["stop_reason"] = "END"
    events = await translated([chunk({"content": "Hi "}),
                               b"data: " + json.dumps(final).encode() + b"\n\n", USAGE, DONE])
    assert (events[-2].delta.stop_reason, events[-2].delta.stop_sequence) == (
        "stop_sequence", "END")
    events = await translated([chunk({"content": "Hel"}), chunk({}, "length"), USAGE, DONE])
    assert events[-2].delta.stop_reason == "max_tokens"


async def test_stream_of_nothing_has_one_empty_text_block() -> None:
    events = await translated([chunk({"role": "assistant", "content": ""}), chunk({}, "stop"),
                               USAGE, DONE])
    assert [e.type for e in events] == ["message_start", "content_block_start",
                                        "content_block_stop", "message_delta", "message_stop"]
    same_message(snapshot(events), build_message(completion("")))


async def test_stream_error_becomes_an_error_event() -> None:
    error = b'data: {"error": {"message": "backend went away", "type": "backend_error", ' \
            b'"param": null, "code": null}}\n\n'
    events = await translated([chunk({"content": "Hel"}), error, DONE])
    assert events[-1].type == "error" and events[-1].error.type == "api_error"
    assert events[-1].error.message == "backend went away"
    error = b'data: {"error": {"message": "bad", "type": "invalid_request_error", ' \
            b'"param": "messages[0].content", "code": null}}\n\n'
    events = await translated([error, DONE])
    assert events[-1].error.type == "invalid_request_error"
    assert events[-1].error.message == "messages.0.content: bad"


async def test_stream_that_stops_early_or_breaks_still_ends_with_an_event() -> None:
    events = await translated([chunk({"content": "Hel"})])
    assert events[-1].type == "error" and "before it was complete" in events[-1].error.message
    events = await translated([b"data: {not json}\n\n"])
    assert events[-1].type == "error" and events[-1].error.type == "api_error"


# -- the handlers over the stub backend (the real chat pipeline) ------------------------------

F = {"name": "f", "input_schema": {"type": "object", "properties": {"x": {"type": "integer"}},
                                   "required": ["x"]}}


def tool_body(**extra: Any) -> dict[str, Any]:
    return body(tools=[F], tool_choice={"type": "any"}, **extra)


async def streamed(response: Any) -> list[Any]:
    """The events of a streamed response, sent as the server sends it."""
    return [EVENTS.validate_python(json.loads(line[6:]))
            for line in (await sent_body(response)).split(b"\n") if line.startswith(b"data: ")]


async def test_handler_answers_a_tool_use() -> None:
    st, backend = state(text=CALL)
    response = await EndpointHandlers(st).messages(request(tool_body(), path="/v1/messages"))
    m = sdk(json.loads(response.body))
    assert [b.type for b in m.content] == ["tool_use"] and m.stop_reason == "tool_use"
    assert m.content[0].type == "tool_use" and m.content[0].input == {"x": 1}
    assert m.model == "m1" and m.usage.input_tokens == 7
    assert backend.calls == 1 and st.slots.in_use == 0


async def test_handler_streams_and_gives_the_slot_back() -> None:
    st, _ = state(text=CALL)
    response = await EndpointHandlers(st).messages(request(tool_body(stream=True)))
    assert response.headers["content-type"].startswith("text/event-stream")
    assert st.slots.in_use == 1
    events = await streamed(response)
    assert events[-2].delta.stop_reason == "tool_use" and events[-1].type == "message_stop"
    assert snapshot(events)["content"][0]["input"] == {"x": 1}
    assert st.slots.in_use == 0


class StopWordBackend(StubBackend):
    """llama.cpp stopping at a stop word (the stop_type and stopping_word it reports), or
    with stop_type "limit" at max_tokens."""

    def __init__(self, text: str, word: str, stop_type: str = "word") -> None:
        super().__init__(text)
        self.word, self.stop_type = word, stop_type
        self.payloads: list[dict[str, Any]] = []

    async def stream(self, payload: dict[str, Any]) -> Any:
        self.payloads.append(payload)
        yield {"content": self.text}
        yield {"content": "", "stop": True, "stop_type": self.stop_type,
               "stopping_word": self.word, "tokens_evaluated": 7, "tokens_predicted": 2}


async def test_max_tokens_inside_a_call_is_max_tokens_without_the_cut_call() -> None:
    """Anthropic's stop_reason for a cut answer is max_tokens; the call max_tokens cut is
    left out (its input would not be valid), the complete one before it stays; streamed
    alike."""
    st, _ = state()
    cut = '{"tool_calls":[{"name":"f","arguments":{"x":1}},{"name":"f","arguments":{"x":'
    st.chat_service().backend = StopWordBackend(cut, "", "limit")  # type: ignore[assignment]
    handlers = EndpointHandlers(st)
    m = sdk(json.loads((await handlers.messages(request(tool_body()))).body))
    assert m.stop_reason == "max_tokens"
    assert [(b.type, getattr(b, "input", None)) for b in m.content] == [("tool_use", {"x": 1})]
    streamed_m = snapshot(await streamed(await handlers.messages(request(tool_body(
        stream=True)))))
    assert streamed_m["stop_reason"] == "max_tokens"
    assert [(b["type"], b.get("input")) for b in streamed_m["content"]] == [
        ("tool_use", {"x": 1})]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("word, reason", [("END", "stop_sequence"), ("<|im_end|>", "end_turn")])
async def test_a_stop_sequence_is_named(stream: bool, word: str, reason: str) -> None:
    """Only the request's own stop sequence is stop_sequence (llama.cpp stops at the
    template's end-of-turn words too)."""
    st, _ = state(text="Hi there")
    backend = StopWordBackend("Hi there", word)
    st.chat_service().backend = backend  # type: ignore[assignment]
    req = request(body(stop_sequences=["END"], stream=stream), path="/v1/messages")
    response = await EndpointHandlers(st).messages(req)
    sequence = "END" if reason == "stop_sequence" else None
    if stream:
        delta = (await streamed(response))[-2].delta
        assert (delta.stop_reason, delta.stop_sequence) == (reason, sequence)
    else:
        m = sdk(json.loads(response.body))
        assert (m.stop_reason, m.stop_sequence) == (reason, sequence)
    assert "END" in backend.payloads[0]["stop"]


async def test_chat_names_the_stop_sequence_only_when_one_ended_the_answer() -> None:
    """What the Messages route reads: vLLM's `stop_reason` on the chat choice, left out
    otherwise (the chat answer's shape is unchanged)."""
    st, _ = state(text="Hi there")
    chat = {"model": "m", "messages": ASK, "stop": ["END"]}
    plain = json.loads((await ChatHandlers(st).chat_completions(request(chat))).body)
    assert "stop_reason" not in plain["choices"][0]
    st.chat_service().backend = StopWordBackend("Hi there", "END")  # type: ignore[assignment]
    for stream in (False, True):
        response = await ChatHandlers(st).chat_completions(request({**chat, "stream": stream}))
        if stream:
            last = [json.loads(line[6:]) for line in (await sent_body(response)).split(b"\n")
                    if line.startswith(b"data: {")][-1]
        else:
            last = json.loads(response.body)
        assert last["choices"][0]["stop_reason"] == "END"
        assert last["choices"][0]["finish_reason"] == "stop"


async def test_count_tokens_tokenizes_the_prompt_the_request_would_get() -> None:
    st, backend = state()
    seen: list[tuple[str, bool]] = []

    async def tokenize(text: str, add_special: bool = True) -> list[int]:
        seen.append((text, add_special))
        return list(range(len(text.split())))

    backend.tokenize = tokenize  # type: ignore[attr-defined]
    counted = body(tools=[F], tool_choice={"type": "any"}, system="Be brief.")
    del counted["max_tokens"]
    response = await EndpointHandlers(st).count_message_tokens(
        request(counted, path="/v1/messages/count_tokens"))
    count = MessageTokensCount.model_validate(json.loads(response.body))
    prompt = st.chat_service().prepare(tr(**counted).chat).prompt
    assert seen == [(prompt, True)] and count.input_tokens == len(prompt.split()) > 0
    assert "Be brief." in prompt and backend.calls == 0 and st.slots.in_use == 0
    with pytest.raises(GatewayError) as err:
        await EndpointHandlers(st).count_message_tokens(request(
            {**counted, "messages": [user(IMAGE)]}, path="/v1/messages/count_tokens"))
    assert err.value.status == 400 and err.value.param == "messages[0].content[0].type"


# -- errors through the app: Anthropic-shaped on its routes only ------------------------------

def app_of(st: AppState) -> Starlette:
    """The whole app over the state's runtime (routes, exception handlers, metrics)."""
    if st.runtime.backend is not None:
        st.runtime.backend.base_url = "http://stub"  # what /metrics reads of a backend
    return create_app(st.runtime, manage_backend=False)


def anthropic_error(reply: Any, status: int, kind: str) -> str:
    assert reply.status == status, reply.body
    body = reply.json()
    assert body["type"] == "error" and body["error"]["type"] == kind
    if kind != "request_too_large":  # a type Anthropic documents, not (yet) in the SDK's
        ErrorResponse.model_validate(body)
    return str(body["error"]["message"])


async def test_errors_are_anthropic_shaped_with_the_chat_status() -> None:
    st, backend = state(text=CALL, max_body_bytes=4000)
    app = app_of(st)
    message = anthropic_error(await call(app, "/v1/messages", body(max_tokens=None)), 400,
                              "invalid_request_error")
    assert message.startswith("max_tokens: ")
    message = anthropic_error(await call(app, "/v1/messages", body(
        messages=[user({"type": "text", "text": "See"}, IMAGE)])), 400, "invalid_request_error")
    assert message.startswith("messages.0.content.1.type: ") and "'image'" in message
    message = anthropic_error(await call(app, "/v1/messages", body(
        tools=[{"type": "web_search_20250305", "name": "web_search"}])), 400,
        "invalid_request_error")
    assert message.startswith("tools.0.type: ") and "web_search_20250305" in message
    anthropic_error(await call(app, "/v1/messages", body(max_tokens=0)), 400,
                    "invalid_request_error")
    anthropic_error(await call(app, "/v1/messages", b"{not json"), 400, "invalid_request_error")
    anthropic_error(await call(app, "/v1/messages", body(system="x" * 5000)), 413,
                    "request_too_large")
    anthropic_error(await call(app, "/v1/messages/batches", body()), 404, "not_found_error")
    anthropic_error(await call(app, "/v1/messages", method="GET"), 405,
                    "invalid_request_error")
    # the other routes keep OpenAI's shape
    reply = await call(app, "/v1/chat/completions", {"messages": []})
    assert reply.status == 400 and set(reply.json()) == {"error"}
    reply = await call(app, "/v1/responses", {"input": 5})
    assert reply.status == 400 and reply.json()["error"]["param"] == "input"
    assert backend.calls == 0


async def test_an_unhandled_error_is_an_api_error() -> None:
    for path, shape in (("/v1/messages", "type"), ("/v1/chat/completions", "error")):
        response = await on_error(request(path=path), RuntimeError("a gateway bug"))
        assert response.status_code == 500 and shape in json.loads(response.body)
    response = await on_error(request(path="/v1/messages/count_tokens"), RuntimeError())
    assert ErrorResponse.model_validate_json(response.body).error.type == "api_error"


@pytest.mark.parametrize("case, status, kind", [
    ("not ready", 503, "overloaded_error"), ("full", 429, "rate_limit_error"),
    ("no key", 401, "authentication_error"), ("wrong key", 401, "authentication_error")])
async def test_refusals_before_the_model(case: str, status: int, kind: str) -> None:
    st, backend = state(ready=case != "not ready", max_concurrent=0 if case == "full" else 4,
                        api_key="k" if "key" in case else None)
    app = app_of(st)
    headers = {"x-api-key": "nope"} if case == "wrong key" else {}
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        anthropic_error(await call(app, path, tool_body(), headers=headers), status, kind)
    assert backend.calls == 0


async def test_the_api_key_as_anthropic_clients_send_it() -> None:
    st, _ = state(text=CALL, api_key="k")
    app = app_of(st)
    for headers in ({"x-api-key": "k", "anthropic-version": "2023-06-01"},
                    {"authorization": "Bearer k"}):
        reply = await call(app, "/v1/messages", tool_body(), headers=headers)
        assert reply.status == 200 and sdk(reply.json()).stop_reason == "tool_use"
    # and the OpenAI routes take it too
    reply = await call(app, "/v1/chat/completions", {
        "messages": ASK, "tools": [{"type": "function", "function": {
            "name": "f", "parameters": F["input_schema"]}}], "tool_choice": "required"},
        headers={"x-api-key": "k"})
    assert reply.status == 200
