"""The Responses API layer without a model: request translation and refusals, output building,
the chat-stream-to-events translation, and the handler over the stub backend. Every object
and event is validated by the openai SDK's own pydantic models, so a shape mistake fails."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pydantic
import pytest
from gateway import protocol as p
from gateway.chat_request import build_context
from gateway.config import Settings
from gateway.endpoints import EndpointHandlers
from gateway.errors import GatewayError
from gateway.responses import Translated, translate
from gateway.responses_output import Response, build_response, response_frame
from gateway.responses_request import decode_responses_request
from gateway.responses_stream import response_events
from openai.types.responses import Response as SdkResponse
from openai.types.responses import ResponseStreamEvent

from tests.test_app_handlers import CALL, request, sent_body, state

EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}


def tr(**body: Any) -> Translated:
    return translate(decode_responses_request(json.dumps({"model": "m", **body}).encode()))


def refused(body: dict[str, Any], *, check: bool = False,
            translated: Callable[..., Any] = tr) -> GatewayError:
    """The 400 a request gets, from decoding/translation or (check) from the chat checks."""
    with pytest.raises(GatewayError) as err:
        t = translated(**body)
        if check:
            with t.renamed_errors():
                build_context(t.chat, Settings())
    assert err.value.status == 400
    return err.value


def sdk(obj: Any) -> SdkResponse:
    return SdkResponse.model_validate(json.loads(msgspec.json.encode(obj)))


# -- request translation -----------------------------------------------------------------------

def test_string_input_and_instructions() -> None:
    t = tr(input="Say hi", instructions="Be brief.", max_output_tokens=16, temperature=0.5)
    assert [(m.role, m.content) for m in t.chat.messages] == [
        ("system", "Be brief."), ("user", "Say hi")]
    assert t.chat.max_tokens == 16 and t.chat.temperature == 0.5 and not t.chat.stream


def test_message_items_with_parts() -> None:
    t = tr(input=[
        {"role": "developer", "content": "Use tools."},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "Hello "}, {"type": "input_text", "text": "there"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Hi!",
                                           "annotations": []}]}])
    assert [(m.role, m.content) for m in t.chat.messages] == [
        ("developer", "Use tools."), ("user", "Hello there"), ("assistant", "Hi!")]


def test_call_history_becomes_assistant_tool_calls_and_tool_messages() -> None:
    t = tr(input=[
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"type": "reasoning", "id": "rs_1", "summary": [
            {"type": "summary_text", "text": "Two cities."}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather",
         "arguments": '{"city":"Paris"}', "id": "fc_1", "status": "completed"},
        {"type": "function_call", "call_id": "c2", "name": "get_weather",
         "arguments": '{"city":"Rome"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "c2",
         "output": [{"type": "input_text", "text": "rainy"}]}], tools=[WEATHER])
    user, assistant, first, second = t.chat.messages
    assert assistant.role == "assistant" and assistant.content is None
    assert assistant.reasoning_content == "Two cities."
    assert [(c.id, c.function.name, c.function.arguments) for c in assistant.tool_calls or []] \
        == [("c1", "get_weather", '{"city":"Paris"}'), ("c2", "get_weather", '{"city":"Rome"}')]
    assert (first.role, first.tool_call_id, first.content) == ("tool", "c1", "sunny")
    assert (second.role, second.tool_call_id, second.content) == ("tool", "c2", "rainy")
    tool = (t.chat.tools or [])[0]
    assert tool.function.name == "get_weather" and tool.function.parameters == \
        WEATHER["parameters"]
    build_context(t.chat, Settings())  # the chat checks pass it


def test_reasoning_items_without_text_add_nothing() -> None:
    """Sent back with only encrypted content (store=false clients): no empty reasoning, and
    the calls after it stay on the assistant message before it."""
    t = tr(input=[
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "Checking."}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
        {"type": "function_call", "call_id": "c1", "name": "get_weather",
         "arguments": '{"city":"Paris"}'}], tools=[WEATHER])
    user, assistant = t.chat.messages
    assert assistant.content == "Checking." and assistant.reasoning_content is None
    assert [c.id for c in assistant.tool_calls or []] == ["c1"]


OTHER = {**WEATHER, "name": "get_time", "description": "Time in a city."}


def test_allowed_tools_offers_only_those() -> None:
    choice = {"type": "allowed_tools", "mode": "required",
              "tools": [{"type": "function", "name": "get_time"}]}
    t = tr(input="x", tools=[WEATHER, OTHER], tool_choice=choice)
    assert [tool.function.name for tool in t.chat.tools or []] == ["get_time"]
    assert t.chat.tool_choice == "required"
    build_context(t.chat, Settings())
    # a chat check on a kept tool names it where the request has it
    bad = refused({"input": "x", "tools": [WEATHER, {**OTHER, "name": "bad name"}],
                   "tool_choice": {**choice, "tools": [{"type": "function",
                                                         "name": "bad name"}]}}, check=True)
    assert bad.param == "tools[1].name"
    r = sdk(build_response(frame(tools=[WEATHER, OTHER], tool_choice=choice),
                           completion("x")))
    assert r.tool_choice.type == "allowed_tools" and r.tool_choice.mode == "required"


def test_text_format_tool_choice_and_stream_options() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    t = tr(input="x", stream=True, parallel_tool_calls=False, reasoning={"effort": "low"},
           text={"format": {"type": "json_schema", "name": "A", "schema": schema,
                            "strict": True}},
           tools=[WEATHER], tool_choice={"type": "function", "name": "get_weather"},
           store=False, metadata={"k": "v"}, truncation="auto", unknown_field={"x": 1})
    rf = t.chat.response_format
    assert rf is not None and rf.type == "json_schema" and rf.json_schema is not None
    assert (rf.json_schema.name, rf.json_schema.schema, rf.json_schema.strict) == (
        "A", schema, True)
    assert isinstance(t.chat.tool_choice, p.NamedToolChoice)
    assert t.chat.tool_choice.function.name == "get_weather"
    assert t.chat.stream and t.chat.stream_options == p.StreamOptions(include_usage=True)
    assert t.chat.parallel_tool_calls is False and t.chat.reasoning_effort == "low"
    assert tr(input="x", text={"format": {"type": "json_object"}}).chat.response_format == \
        p.ResponseFormat(type="json_object")
    assert tr(input="x", text={"format": {"type": "text"}}).chat.response_format is None


@pytest.mark.parametrize("body, param", [
    ({"input": "x", "previous_response_id": "resp_1"}, "previous_response_id"),
    ({"input": "x", "conversation": "conv_1"}, "conversation"),
    ({"input": "x", "background": True}, "background"),
    ({"input": "x", "prompt": {"id": "pmpt_1"}}, "prompt"),
    ({"input": "x", "include": ["reasoning.encrypted_content", "message.output_text.logprobs"]},
     "include[1]"),
    ({"input": "x", "tools": [WEATHER, {"type": "web_search"}]}, "tools[1].type"),
    ({"input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
    ({"input": "x", "tools": [WEATHER], "tool_choice": {"type": "file_search"}},
     "tool_choice.type"),
    ({"input": "x", "tool_choice": "any"}, "tool_choice"),
    ({"input": "x", "text": {"format": {"type": "json_schema", "name": "A"}}},
     "text.format.schema"),
    ({"input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
    ({"input": "x", "text": {"verbosity": "low"}}, "text.verbosity"),
    ({"input": "x", "max_tool_calls": 3}, "max_tool_calls"),
    ({"input": "x", "truncation": "middle"}, "truncation"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "u"}]}]},
     "input[0].content[0].type"),
    ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
    ({"input": [{"id": "msg_1"}]}, "input[0].type"),  # an item reference may leave out type
    # item types not supported whose fields have other shapes: refused for their type
    ({"input": [{"type": "computer_call_output", "call_id": "c", "output": {
        "type": "computer_screenshot", "image_url": "data:image/png;base64,AA"}}]},
     "input[0].type"),
    ({"input": [{"type": "shell_call_output", "call_id": "c", "output": [
        {"stdout": "", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}]}]},
     "input[0].type"),
    ({"input": [{"type": "function_call_output", "call_id": "c", "output": {"a": 1}}]},
     "input[0].output"),
    ({"input": [{"role": "user", "content": [{"text": "no type"}]}]}, "input[0].content[0]"),
    ({"input": [{"role": "user", "content": [{"type": "input_text"}]}]},
     "input[0].content[0].text"),
    ({"input": [{"role": "assistant", "content": [{"type": "refusal"}]}]},
     "input[0].content[0].refusal"),
    ({"input": [{"type": "reasoning", "summary": [], "content": [{"type": "x"}]}]},
     "input[0].content[0].type"),
    ({"input": "x", "tools": [WEATHER], "tool_choice": {
        "type": "allowed_tools", "mode": "none", "tools": [WEATHER]}}, "tool_choice.mode"),
    ({"input": "x", "tools": [WEATHER], "tool_choice": {
        "type": "allowed_tools", "mode": "auto", "tools": []}}, "tool_choice.tools"),
    ({"input": "x", "tools": [WEATHER], "tool_choice": {
        "type": "allowed_tools", "mode": "auto", "tools": [
            {"type": "function", "name": "get_weather"}, {"type": "function", "name": "f"}]}},
     "tool_choice.tools[1].name"),
    ({"input": "x", "tools": [WEATHER], "tool_choice": {
        "type": "allowed_tools", "mode": "auto", "tools": [{"type": "mcp"}]}},
     "tool_choice.tools[0].type"),
    ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0].type"),
    ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
     "input[0].call_id"),
    ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
    ({"input": 5}, "input"),
])
def test_refusals_name_the_responses_param(body: dict[str, Any], param: str) -> None:
    assert refused(body).param == param


@pytest.mark.parametrize("body, param", [
    ({"input": "x", "max_output_tokens": 0}, "max_output_tokens"),
    ({"input": "x", "temperature": 5}, "temperature"),
    ({"input": "x", "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
    ({"input": "x", "tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}},
     "tool_choice"),
    ({"input": "x", "tools": [{**WEATHER, "name": "bad name"}]}, "tools[0].name"),
    ({"input": [{"role": "user", "content": "x"},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{"}]},
     "input[1].arguments"),
    ({"input": []}, "input"),
])
def test_chat_checks_name_the_responses_param(body: dict[str, Any], param: str) -> None:
    assert refused(body, check=True).param == param


# -- output ------------------------------------------------------------------------------------

def completion(content: str | None = None, calls: list[tuple[str, str, str]] | None = None,
               reasoning: str | None = None, finish: str = "stop") -> p.ChatCompletion:
    message = p.OutMessage(content=content, reasoning_content=reasoning, tool_calls=[
        p.OutToolCall(id=i, function=p.OutFunction(name=n, arguments=a))
        for i, n, a in calls] if calls else None)
    return p.ChatCompletion(id="chatcmpl-1", created=1, model="m1", choices=[
        p.Choice(index=0, message=message, finish_reason=finish)],
        usage=p.Usage(prompt_tokens=5, completion_tokens=3, total_tokens=8))


def frame(**body: Any) -> Response:
    return response_frame(decode_responses_request(json.dumps(
        {"input": "x", **body}).encode()), "m1")


def test_text_answer() -> None:
    r = sdk(build_response(frame(instructions="Be brief.", max_output_tokens=16),
                           completion("Hello!")))
    assert r.object == "response" and r.id.startswith("resp_") and r.status == "completed"
    assert r.output_text == "Hello!" and len(r.output) == 1
    msg = r.output[0]
    assert msg.type == "message" and msg.id.startswith("msg_") and msg.status == "completed"
    assert r.usage is not None and (r.usage.input_tokens, r.usage.output_tokens,
                                    r.usage.total_tokens) == (5, 3, 8)
    assert r.instructions == "Be brief." and r.max_output_tokens == 16 and r.error is None
    assert r.tool_choice == "auto" and r.tools == [] and r.parallel_tool_calls
    assert "output_text" not in json.loads(msgspec.json.encode(
        build_response(frame(), completion("Hello!"))))  # the SDK computes it


def test_calls_and_reasoning() -> None:
    r = sdk(build_response(frame(tools=[WEATHER], tool_choice="required"), completion(
        reasoning="Paris, then Rome.", finish="tool_calls",
        calls=[("call_a", "get_weather", '{"city":"Paris"}'),
               ("call_b", "get_weather", '{"city":"Rome"}')])))
    kinds = [item.type for item in r.output]
    assert kinds == ["reasoning", "function_call", "function_call"]
    reasoning, first, second = r.output
    assert reasoning.type == "reasoning" and reasoning.id.startswith("rs_")
    assert reasoning.summary[0].text == "Paris, then Rome."
    assert first.type == "function_call" and second.type == "function_call"
    assert (first.call_id, first.name, json.loads(first.arguments), first.status) == (
        "call_a", "get_weather", {"city": "Paris"}, "completed")
    assert first.id and first.id.startswith("fc_") and second.call_id == "call_b"
    assert r.tools[0].type == "function" and r.tools[0].name == "get_weather"
    assert r.output_text == ""


def test_cut_by_max_tokens_is_incomplete() -> None:
    r = sdk(build_response(frame(max_output_tokens=3), completion("Hel", finish="length")))
    assert r.status == "incomplete" and r.incomplete_details is not None
    assert r.incomplete_details.reason == "max_output_tokens"
    assert r.output[0].type == "message" and r.output[0].status == "incomplete"


def test_json_schema_format_is_echoed() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    r = sdk(build_response(frame(text={"format": {"type": "json_schema", "name": "A",
                                                  "schema": schema}}), completion('{"a":1}')))
    assert r.text is not None and r.text.format is not None
    assert r.text.format.type == "json_schema" and r.text.format.schema_ == schema


# -- streaming ---------------------------------------------------------------------------------

def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return b"data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1,
                                   "model": "m1", "choices": [{"index": 0, "delta": delta,
                                                               "finish_reason": finish}]}
                                  ).encode() + b"\n\n"


USAGE = b'data: {"id":"c","created":1,"model":"m1","choices":[],"usage":' \
        b'{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}\n\n'
DONE = b"data: [DONE]\n\n"


async def translated(lines: list[bytes], fr: Response) -> list[Any]:
    """The events of a chat stream, each validated by the SDK (`event:` line = type)."""
    async def source() -> AsyncIterator[bytes]:
        whole = b"".join(lines)  # split at odd places: the translation must not care
        for i in range(0, len(whole), 37):
            yield whole[i:i + 37]

    raw = b"".join([e async for e in response_events(source(), fr)])
    events = []
    for block in raw.split(b"\n\n")[:-1]:
        kind, data = block.split(b"\n")
        event = EVENTS.validate_python(json.loads(data.removeprefix(b"data: ")))
        assert kind == b"event: " + event.type.encode()
        events.append(event)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    one_item_at_a_time(events)
    return events


def one_item_at_a_time(events: list[Any]) -> None:
    """As OpenAI streams: items in output_index order, each ended (output_item.done) before
    the next is added, and every event of an item between the two."""
    current, done = -1, True
    for e in events:
        index = getattr(e, "output_index", None)
        if e.type == "response.output_item.added":
            assert done and index == current + 1, (e.type, index)
            current, done = index, False
        elif e.type == "response.output_item.done":
            assert not done and index == current, (e.type, index)
            done = True
        elif index is not None:
            assert not done and index == current, (e.type, index)
    assert done or events[-1].type == "response.failed"


def same_shape(a: Any, b: Any) -> None:
    """Two responses equal but for ids and times."""
    def strip(r: Any) -> Any:
        d = json.loads(msgspec.json.encode(r)) if not isinstance(r, dict) else r
        d = {k: v for k, v in d.items() if k not in ("id", "created_at", "completed_at")}
        d["output"] = [{k: v for k, v in i.items() if k != "id"} for i in d["output"]]
        return d
    assert strip(a) == strip(b)


async def test_stream_text() -> None:
    fr = frame(max_output_tokens=16)
    events = await translated([chunk({"role": "assistant", "content": ""}),
                               chunk({"content": "Hel"}), chunk({"content": "lo!"}),
                               chunk({}, "stop"), USAGE, DONE], fr)
    assert [e.type for e in events] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta",
        "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed"]
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    assert events[2].item.type == "message" and events[2].item.content == []
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == \
        "Hello!"
    assert events[6].text == "Hello!" and events[8].item.status == "completed"
    final = events[-1].response
    assert final.output_text == "Hello!" and final.usage is not None
    assert final.usage.total_tokens == 8 and final.id == events[0].response.id
    assert final.output[0].id == events[2].item.id
    same_shape(final.model_dump(mode="json", exclude_unset=True),
               build_response(fr, completion("Hello!")))


async def test_stream_calls_and_reasoning_in_pieces() -> None:
    fr = frame(tools=[WEATHER], tool_choice="required")
    call = {"index": 0, "id": "call_a", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":'}}
    events = await translated([
        chunk({"role": "assistant", "content": ""}), chunk({"reasoning_content": "Paris."}),
        chunk({"tool_calls": [call]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city":"Rome"}'}}]}),
        chunk({}, "tool_calls"), USAGE, DONE], fr)
    kinds = [e.type for e in events]
    assert kinds.index("response.reasoning_summary_text.delta") < kinds.index(
        "response.function_call_arguments.delta")
    assert kinds.count("response.output_item.added") == 3 == \
        kinds.count("response.output_item.done")
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [e.arguments for e in done] == ['{"city":"Paris"}', '{"city":"Rome"}']
    added = [e for e in events if e.type == "response.output_item.added"]
    assert added[1].item.type == "function_call" and added[1].item.arguments == ""
    assert events[-1].type == "response.completed"
    same_shape(events[-1].response.model_dump(mode="json", exclude_unset=True),
               build_response(fr, completion(
                   reasoning="Paris.", finish="tool_calls",
                   calls=[("call_a", "get_weather", '{"city":"Paris"}'),
                          ("call_b", "get_weather", '{"city":"Rome"}')])))


async def test_stream_cut_by_max_tokens_is_incomplete() -> None:
    events = await translated([chunk({"content": "Hel"}), chunk({}, "length"), USAGE, DONE],
                              frame(max_output_tokens=1))
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"


async def test_stream_error_becomes_response_failed() -> None:
    error = b'data: {"error": {"message": "backend went away", "type": "backend_error", ' \
            b'"param": null, "code": null}}\n\n'
    events = await translated([chunk({"content": "Hel"}), error, DONE], frame())
    failed = events[-1]
    assert failed.type == "response.failed" and failed.response.status == "failed"
    assert failed.response.error is not None
    assert (failed.response.error.code, failed.response.error.message) == (
        "server_error", "backend went away")
    assert failed.response.output[0].type == "message"
    assert failed.response.output[0].status == "incomplete"


async def test_stream_that_stops_early_or_breaks_still_ends_with_an_event() -> None:
    events = await translated([chunk({"content": "Hel"})], frame())
    assert events[-1].type == "response.failed"
    events = await translated([b"data: {not json}\n\n"], frame())
    assert events[-1].type == "response.failed"


# -- the handler over the stub backend (the real chat pipeline) -------------------------------

def body(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "input": "hi", "tools": [{
        "type": "function", "name": "f", "parameters": {
            "type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}],
        "tool_choice": "required", **extra}


async def test_handler_answers_a_function_call() -> None:
    st, backend = state(text=CALL)
    response = await EndpointHandlers(st).responses(request(body(), path="/v1/responses"))
    r = sdk(json.loads(response.body))
    call = r.output[-1]
    assert call.type == "function_call" and call.name == "f"
    assert json.loads(call.arguments) == {"x": 1} and r.model == "m1"
    assert backend.calls == 1 and st.slots.in_use == 0


async def test_handler_streams_and_gives_the_slot_back() -> None:
    st, _ = state(text=CALL)
    response = await EndpointHandlers(st).responses(request(body(stream=True)))
    datas = [json.loads(line[6:]) for line in (await sent_body(response)).split(b"\n")
             if line.startswith(b"data: ")]
    final = EVENTS.validate_python(datas[-1])
    assert final.type == "response.completed"
    assert [i.type for i in final.response.output][-1] == "function_call"
    assert st.slots.in_use == 0


@pytest.mark.parametrize("case, status", [("not ready", 503), ("stateful", 400),
                                          ("key", 401)])
async def test_handler_refusals(case: str, status: int) -> None:
    st, backend = state(ready=case != "not ready", api_key="k" if case == "key" else None)
    extra = {"previous_response_id": "resp_1"} if case == "stateful" else {}
    with pytest.raises(GatewayError) as err:
        await EndpointHandlers(st).responses(request(body(**extra)))
    assert err.value.status == status and backend.calls == 0 and st.slots.in_use == 0


async def test_stored_responses_are_a_clear_404() -> None:
    st, _ = state()
    with pytest.raises(GatewayError) as err:
        await EndpointHandlers(st).stored_response(
            request(method="GET", path="/v1/responses/resp_1"))
    assert err.value.status == 404 and "stateless" in err.value.message
    req = request({"model": "m", "input": "hi"}, path="/v1/responses/input_tokens")
    req.scope["path_params"] = {"response_id": "input_tokens"}
    with pytest.raises(GatewayError) as err:
        await EndpointHandlers(st).stored_response(req)
    assert err.value.status == 404
    assert err.value.message == "POST /v1/responses/input_tokens is not supported by this " \
        "gateway"


@pytest.mark.parametrize("stream", [False, True])
async def test_handler_prepares_a_small_request_inline(stream: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """As chat's handler: a small body is prepared on the loop (no thread hop)."""
    st, _ = state(text=CALL)
    service = st.chat_service()
    seen: list[bool] = []
    prepare = service.prepare_async

    async def spy(req: p.ChatCompletionRequest, squeeze: int = 1, *, small: bool = False
                  ) -> Any:
        seen.append(small)
        return await prepare(req, squeeze, small=small)

    monkeypatch.setattr(service, "prepare_async", spy)
    response = await EndpointHandlers(st).responses(request(body(stream=stream)))
    if stream:
        await response.body_iterator.aclose()  # type: ignore[attr-defined]
    assert seen == [True]
