"""End-to-end: the first call's tool chosen on the demo model's probabilities where the name
begins times the prior from the request's words (gateway.toolprior), on the real llama.cpp.
The demo model alone picks among several tools little better than chance."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e


def tool(name: str, description: str, **props: str) -> dict:
    return {"type": "function", "function": {
        "name": name, "description": description, "parameters": {
            "type": "object", "required": list(props), "additionalProperties": False,
            "properties": {k: {"type": "string", "description": v} for k, v in props.items()}}}}


TOOLS = [
    tool("Weather.current", "Current weather conditions at a location",
         location="City and country"),
    tool("Home.control_device", "Switch a home appliance such as a washing machine, a "
         "heater or an air conditioner", command="room, device, action"),
    tool("News.search", "Search recent news articles", keyword="what to search for"),
    tool("Recipes.find", "Find cooking recipes", dish="the dish to cook"),
]
ASKS = [
    ("I'm going hiking near Big Sur tomorrow, what are the weather conditions there?",
     "Weather.current"),
    ("Please stop the washing machine in the laundry room.", "Home.control_device"),
    ("How do I cook a good risotto? Find me a recipe.", "Recipes.find"),
]


def first_call(client, ask: str, stream: bool) -> tuple[str, dict]:
    body = dict(model="demo", messages=[{"role": "user", "content": ask}], tools=TOOLS,
                tool_choice="required", max_tokens=96, temperature=0)
    if not stream:
        call = client.chat.completions.create(**body).choices[0].message.tool_calls[0]
        return call.function.name, json.loads(call.function.arguments)
    name, args = "", ""
    for chunk in client.chat.completions.create(**body, stream=True):
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                if tc.index == 0:
                    name += tc.function.name or ""
                    args += tc.function.arguments or ""
    return name, json.loads(args)


@pytest.fixture(scope="module")
def clients(gateway_factory, backend_url):
    on = gateway_factory("--endpoint", backend_url, "--dialect", "generic").openai()
    off = gateway_factory("--endpoint", backend_url, "--dialect", "generic",
                          "--dialect-option", "name_prior_odds=0").openai()
    return on, off


@pytest.mark.parametrize("stream", [False, True])
def test_the_request_words_steer_an_unsure_model_to_the_right_tool(clients, stream) -> None:
    on, off = clients
    wrong_alone = 0
    for ask, want in ASKS:
        name, args = first_call(on, ask, stream)
        assert name == want, (ask, name)
        schema = next(t["function"]["parameters"] for t in TOOLS
                      if t["function"]["name"] == name)
        assert set(args) == set(schema["properties"])  # valid: the tool's own arguments
        wrong_alone += first_call(off, ask, stream)[0] != want
    # the model alone gets at least one of them wrong: the prior is what picked the tool
    assert wrong_alone >= 1
