"""LangChain's `ChatOpenAI` (langchain-openai) against the real gateway (demo model):
`bind_tools` with each tool_choice, streamed tool-call chunks aggregated into whole calls,
and `with_structured_output` by json_schema and by function calling."""

from __future__ import annotations

import json
from functools import reduce
from typing import Literal

import jsonschema
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

pytestmark = pytest.mark.e2e



@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather in a city.

    Args:
        city: the city name.
        unit: temperature unit.
    """
    return f"sunny in {city}"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


TOOLS = [get_weather, add]
SCHEMAS = {t.name: convert_to_openai_tool(t)["function"]["parameters"] for t in TOOLS}
ASK = [HumanMessage("What is the weather in Paris?")]


class Person(BaseModel):
    """A person."""
    name: str = Field(description="first name")
    age: int


@pytest.fixture(scope="module")
def llm(gateway_server):
    return ChatOpenAI(
        base_url=gateway_server.url + "/v1", api_key="none", model="demo", max_retries=0,
        max_tokens=96, temperature=0)


def _check_calls(msg, allowed: set[str]) -> list[dict]:
    assert not msg.invalid_tool_calls, msg.invalid_tool_calls
    for call in msg.tool_calls:
        assert call["name"] in allowed and call["id"]
        jsonschema.validate(call["args"], SCHEMAS[call["name"]])
    return msg.tool_calls


@pytest.mark.parametrize("choice", ["required", "any", True, "get_weather",
                                    {"type": "function", "function": {"name": "add"}}])
def test_bind_tools_forced_choices_call_a_tool(llm, choice):
    msg = llm.bind_tools(TOOLS, tool_choice=choice).invoke(ASK)
    calls = _check_calls(msg, {"get_weather", "add"})
    assert calls, msg
    if choice == "get_weather" or isinstance(choice, dict):
        expected = choice if isinstance(choice, str) else choice["function"]["name"]
        assert {c["name"] for c in calls} == {expected}


def test_bind_tools_auto_gives_a_call_or_text(llm):
    msg = llm.bind_tools(TOOLS, tool_choice="auto").invoke(ASK)
    calls = _check_calls(msg, {"get_weather", "add"})
    assert calls or (isinstance(msg.content, str) and msg.content)


def test_bind_tools_none_gives_text(llm):
    msg = llm.bind_tools(TOOLS, tool_choice="none").invoke(ASK)
    assert not msg.tool_calls and isinstance(msg.content, str) and msg.content


def test_streamed_tool_call_chunks_aggregate(llm):
    chunks = list(llm.bind_tools(TOOLS, tool_choice="get_weather").stream(ASK))
    assert len(chunks) > 1 and all(isinstance(c, AIMessageChunk) for c in chunks)
    whole = reduce(lambda a, b: a + b, chunks)
    calls = _check_calls(whole, {"get_weather"})
    assert len(calls) == 1
    raw = "".join(tc["args"] or "" for c in chunks for tc in c.tool_call_chunks)
    assert json.loads(raw) == calls[0]["args"]


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_with_structured_output(llm, method):
    structured = llm.with_structured_output(Person, method=method, include_raw=True)
    out = structured.invoke("Invent a person: a name and an age.")
    assert out["parsing_error"] is None, out["raw"]
    assert isinstance(out["parsed"], Person)
