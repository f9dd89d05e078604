"""Fuzzing the request surface: bodies generated from the gateway's own request schema
(msgspec's JSON Schema of ChatCompletionRequest), arbitrary JSON, and arbitrary tool and
response_format schemas. Zero 5xx: bad input is a 4xx, and every stream that starts ends
with `[DONE]`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from gateway import protocol as p
from gateway.chat import ChatService
from gateway.chat_request import decode_request
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.plugins import create_plugins
from gateway.templating import ChatTemplate
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

import tests.grammar.grammar_helpers  # noqa: F401 - adapts hypothesis-jsonschema to Hypothesis
from tests.grammar.gbnf_recognizer import parse_gbnf
from tests.inprocess import call, gateway_on_stub
from tests.stub_llama import CHATML
from tests.test_fuzz_converter import schemas

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
REQUEST_SCHEMA = msgspec.json.schema(p.ChatCompletionRequest)
# the protocol accepts any string for a role at the type level; most bodies should get past
# decoding, so the strategy also draws from the real roles
requests = from_schema(REQUEST_SCHEMA)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20)


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[Any, asyncio.AbstractEventLoop]]:
    """The in-process gateway on a stub, its event loop running in a thread of its own (so
    hypothesis can drive it from a plain test function)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    stack = contextlib.AsyncExitStack()
    app, _, _ = asyncio.run_coroutine_threadsafe(
        stack.enter_async_context(gateway_on_stub(max_concurrent=8)), loop).result(60)
    yield app, loop
    asyncio.run_coroutine_threadsafe(stack.aclose(), loop).result(60)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def post(gateway: tuple[Any, asyncio.AbstractEventLoop], body: Any) -> Any:
    app, loop = gateway
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return asyncio.run_coroutine_threadsafe(
        call(app, "/v1/chat/completions", raw), loop).result(60)


def check_reply(reply: Any) -> None:
    assert reply.status < 500, reply.body[:500]
    if reply.status != 200:
        err = reply.json()["error"]
        assert set(err) == {"message", "type", "param", "code"} and err["message"]
    elif reply.headers.get("content-type", "").startswith("text/event-stream"):
        assert reply.events()[-1] == "[DONE]"


@FUZZ
@given(body=requests)
def test_schema_shaped_requests_never_5xx(gateway, body: dict[str, Any]) -> None:
    check_reply(post(gateway, body))


@FUZZ
@given(body=json_values)
def test_arbitrary_json_never_5xx(gateway, body: Any) -> None:
    check_reply(post(gateway, body))


@pytest.fixture(scope="module")
def service() -> ChatService:
    plugins = create_plugins(["generic"])
    return ChatService(plugins=plugins, backend=None,  # type: ignore[arg-type]  # not called
                       template=ChatTemplate(CHATML), dialect=plugins.dialects["generic"],
                       model_id="m", settings=Settings())


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(schema=schemas, where=st.sampled_from(["tool", "response_format"]),
       choice=st.sampled_from(["auto", "required"]))
@example(schema={"allOf": [{}], "type": ["object", 5]}, where="response_format", choice="auto")
def test_any_schema_in_a_request_is_a_grammar_or_a_400(service: ChatService, schema: Any,
                                                       where: str, choice: str) -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 64}
    if where == "tool":
        body.update(tools=[{"type": "function", "function": {"name": "f", "parameters": schema}}],
                    tool_choice=choice)
    else:
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "r", "schema": schema}}
    try:
        prepared = service.prepare(decode_request(json.dumps(body).encode()))
    except GatewayError as exc:
        assert exc.status == 400 and exc.message, exc.message
        return
    if prepared.payload.get("grammar"):
        parse_gbnf(prepared.payload["grammar"])
