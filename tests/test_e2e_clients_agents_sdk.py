"""The OpenAI Agents SDK (`openai-agents`) against the real gateway (demo model), with its
chat-completions model and with its default one, the Responses API model: an agent calls a
Python tool and gives a final answer, run to completion and streamed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunContextWrapper,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from agents.items import ToolCallItem, ToolCallOutputItem
from openai import AsyncOpenAI

pytestmark = pytest.mark.e2e


@dataclass
class Trip:
    """The run's context: the cities the tool was asked about."""
    cities: list[str] = field(default_factory=list)


def _not_yet_used(ctx: RunContextWrapper[Trip], agent: object) -> bool:
    # A 135M model given the tool again after its result calls it again until max_turns;
    # a tool that answers once per run (the SDK's `is_enabled`) leaves it only the answer.
    return not ctx.context.cities


@function_tool(is_enabled=_not_yet_used)
def get_weather(ctx: RunContextWrapper[Trip], city: str) -> str:
    """Current weather in a city.

    Args:
        city: the city name.
    """
    ctx.context.cities.append(city)
    return f"It is sunny and 21 degrees in {city}."


@pytest.fixture(scope="module", params=[OpenAIChatCompletionsModel, OpenAIResponsesModel],
                ids=["chat_completions", "responses"])
def weather_agent(request, gateway_server):
    set_tracing_disabled(True)  # no trace upload to a remote service
    client = AsyncOpenAI(base_url=gateway_server.url + "/v1", api_key="none", max_retries=0)
    # The first turn must call (a 135M model seldom chooses to); the SDK resets tool_choice
    # after a tool call (reset_tool_choice).
    return Agent(name="weather", instructions="Answer weather questions with get_weather.",
                 tools=[get_weather],
                 model=request.param(model="demo", openai_client=client),
                 model_settings=ModelSettings(tool_choice="required", max_tokens=64,
                                              temperature=0))


def _check(items, final_output) -> None:
    calls = [i for i in items if isinstance(i, ToolCallItem)]
    outputs = [i for i in items if isinstance(i, ToolCallOutputItem)]
    assert calls and outputs, items
    raw = calls[0].raw_item
    assert raw.name == "get_weather"
    assert isinstance(json.loads(raw.arguments)["city"], str)
    assert "sunny" in outputs[0].output
    assert isinstance(final_output, str) and final_output.strip()


async def test_agent_calls_tool_and_answers(weather_agent):
    trip = Trip()
    result = await Runner.run(weather_agent, "What is the weather in Paris?", context=trip,
                              max_turns=4)
    assert trip.cities, "the tool function never ran"
    _check(result.new_items, result.final_output)


async def test_agent_streamed(weather_agent):
    trip = Trip()
    result = Runner.run_streamed(weather_agent, "What is the weather in Rome?", context=trip,
                                 max_turns=4)
    kinds = []
    async for event in result.stream_events():
        kinds.append(event.type)
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    assert trip.cities and result.is_complete
    _check(result.new_items, result.final_output)
