"""LangChain's `ChatAnthropic` (langchain-anthropic) against the real gateway's Messages API
(demo model): `bind_tools` with Anthropic's tool_choice forms, the tool loop with a
ToolMessage sent back, streamed tool-call chunks aggregated into a whole call, and
`with_structured_output` (which LangChain does by a forced tool)."""

from __future__ import annotations

from functools import reduce

import jsonschema
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessageChunk, ToolMessage

from tests.test_e2e_clients_langchain import ASK, SCHEMAS, TOOLS, Person, get_weather

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def llm(gateway_server):
    return ChatAnthropic(base_url=gateway_server.url, api_key="none", model="demo",
                         max_retries=0, max_tokens=96, temperature=0)


def _calls(msg, allowed: set[str]) -> list[dict]:
    assert not msg.invalid_tool_calls, msg.invalid_tool_calls
    for call in msg.tool_calls:
        assert call["name"] in allowed and call["id"].startswith("toolu_")
        jsonschema.validate(call["args"], SCHEMAS[call["name"]])
    return msg.tool_calls


@pytest.mark.parametrize("choice", ["any", "get_weather", {"type": "tool", "name": "add"}])
def test_bind_tools_forced_choices_call_a_tool(llm, choice):
    msg = llm.bind_tools(TOOLS, tool_choice=choice).invoke(ASK)
    calls = _calls(msg, {"get_weather", "add"})
    assert calls and msg.response_metadata["stop_reason"] == "tool_use", msg
    if choice != "any":
        expected = choice if isinstance(choice, str) else choice["name"]
        assert {c["name"] for c in calls} == {expected}


def test_the_tool_loop_sends_the_result_back(llm):
    msg = llm.bind_tools(TOOLS, tool_choice="get_weather").invoke(ASK)
    call = _calls(msg, {"get_weather"})[0]
    result = ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])
    answer = llm.bind_tools(TOOLS).invoke([*ASK, msg, result])
    assert answer.content or answer.tool_calls
    _calls(answer, {"get_weather", "add"})


def test_streamed_tool_call_chunks_aggregate(llm):
    chunks = list(llm.bind_tools(TOOLS, tool_choice="get_weather").stream(ASK))
    assert len(chunks) > 1 and all(isinstance(c, AIMessageChunk) for c in chunks)
    whole = reduce(lambda a, b: a + b, chunks)
    assert len(_calls(whole, {"get_weather"})) == 1


def test_with_structured_output(llm):
    out = llm.with_structured_output(Person, include_raw=True).invoke(
        "Invent a person: a name and an age.")
    assert out["parsing_error"] is None, out["raw"]
    assert isinstance(out["parsed"], Person)
