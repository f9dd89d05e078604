"""End-to-end: the generic dialect's `ground_values` on the real llama.cpp and demo model. A
call's string value that shares no word with the conversation (the demo model copies `CA`
from a tool description that says "use short form like CA") is written again as an excerpt
of the user's message; values the model took from the request stay as they were."""

from __future__ import annotations

import json

import pytest
from gateway.toolprior import COMMON_WORDS, words

pytestmark = pytest.mark.e2e

WEATHER = [{"type": "function", "function": {
    "name": "get_current_weather",
    "description": "Retrieves the current weather conditions for a specified city and state. "
                   "If using state, then use short form like CA.",
    "parameters": {"type": "object", "required": ["location"], "properties": {
        "location": {"type": "string", "description":
                     "The location for which to get the weather, in the format of 'City, "
                     "State (abbr)', such as 'San Francisco, CA' if State for the city exists."
                     " 'City, Country' if State for the city doesn't exist."},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}}]
ASKED = ["Could you tell me the current weather conditions in Naples, Florida?",
         "What are the current weather conditions in Tel Aviv, and could you provide that "
         "in Fahrenheit, please?",
         "Im at Riga, Latvia, Can you tell me the current temperature?",
         "How is the weather in Boston today?"]


def location(client, asked: str, stream: bool = False) -> str:
    body = dict(model="demo", messages=[{"role": "user", "content": asked}], tools=WEATHER,
                tool_choice="required", max_tokens=128, temperature=0)
    if not stream:
        [call] = client.chat.completions.create(**body).choices[0].message.tool_calls
        return json.loads(call.function.arguments)["location"]
    arguments = ""
    for chunk in client.chat.completions.create(**body, stream=True):
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                arguments += tc.function.arguments or ""
    return json.loads(arguments)["location"]


def from_request(value: str, asked: str) -> bool:
    shared = set(words(value)) & (set(words(asked)) - COMMON_WORDS)
    return bool(shared) or value.lower() in asked.lower()


def test_values_the_request_never_gave_are_taken_from_it(gateway_factory, backend_url):
    def client(ground: str):
        return gateway_factory("--endpoint", backend_url, "--dialect", "generic",
                               "--dialect-option", f"ground_values={ground}").openai()
    off, on = client("off"), client("on")
    before = {asked: location(off, asked) for asked in ASKED}
    invented = [asked for asked, value in before.items() if not from_request(value, asked)]
    assert invented, f"the demo model took every location from the request: {before}"
    for asked, value in before.items():
        now = location(on, asked)
        assert from_request(now, asked), (asked, now)
        if asked not in invented:
            assert now == value  # a value of the request is never written again
        assert location(on, asked, stream=True) == now


INTEREST = [{"type": "function", "function": {
    "name": "compound_interest", "description": "Compound interest earned on a principal.",
    "parameters": {"type": "object", "required": ["principal", "rate", "years"], "properties": {
        "principal": {"type": "number", "description": "amount invested"},
        "rate": {"type": "number", "description": "annual rate in percent"},
        "years": {"type": "integer", "description": "number of years"}}}}}]
ON_5000 = [{"role": "user", "content": "How much interest do I earn on 5000 at 4 percent for "
                                       "3 years?"}]


@pytest.mark.parametrize("ground", ["on", "off"])
def test_a_number_the_request_never_gave_is_taken_from_it(gateway_factory, backend_url,
                                                         ground):
    """The demo model writes a principal of 10000 where the user said 5000. With
    `ground_numbers` (the default) the number is written again as one of the request's,
    the one beside a word of the argument's name first; off, the invented one stays."""
    c = gateway_factory("--endpoint", backend_url, "--dialect", "generic",
                        "--dialect-option", f"ground_numbers={ground}").openai()
    body = dict(model="demo", messages=ON_5000, tools=INTEREST, tool_choice="required",
                parallel_tool_calls=False, max_tokens=128, temperature=0)
    [call] = c.chat.completions.create(**body).choices[0].message.tool_calls
    args = json.loads(call.function.arguments)
    said = {5000, 4, 3, 0.04}
    assert (args["principal"] in said) == (ground == "on"), args
    arguments = ""
    for chunk in c.chat.completions.create(**body, stream=True):
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                arguments += tc.function.arguments or ""
    assert json.loads(arguments) == args
