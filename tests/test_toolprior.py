"""The first call's tool chosen on the model's probabilities where the name begins times a
prior from the request's words (gateway.toolprior, gateway.staged)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from gateway.dialect import CallDecision, ToolDef
from gateway.staged import staged_stream
from gateway.toolprior import (
    choose,
    name_masses,
    prior,
    request_text,
    tool_scores,
    words,
)

from tests.test_staged import FakeBackend, probs

OBJ = {"type": "object", "properties": {}}
WEATHER = ToolDef("OpenWeatherMap.get_current_weather", "Current weather at a location",
                  {"type": "object", "properties": {"location": {
                      "type": "string", "description": "City name"}}})
APPLIANCE = ToolDef("ControlAppliance.execute", "Turn a home appliance on or off, such as "
                    "the washing machine or the air conditioner", OBJ)
NEWS = ToolDef("HNA_NEWS.search", "Search recent news articles", {
    "type": "object", "properties": {"category": {
        "type": "string", "description": "Sports, Politics or Technology"}}})
TOOLS = [WEATHER, APPLIANCE, NEWS]


def test_words_split_names_and_drop_plurals() -> None:
    assert words("getCurrentWeather") == ["get", "current", "weather"]
    assert words("HNA_NEWS.search articles") == ["hna", "new", "search", "article"]
    assert words("class pass") == ["class", "pass"]  # -ss is not a plural
    assert words("다용도실 통돌이") == ["다용도실", "통돌이"]


@pytest.mark.parametrize("query, best", [
    ("Could you stop the washing machine in the utility room?", 1),
    ("I need the current weather conditions in Big Sur", 0),
    ("find me recent news about Son's latest goal", 2),
    ("anything in the Sports category?", 2),  # a parameter's description counts too
])
def test_scores_point_at_the_tool_the_words_name(query: str, best: int) -> None:
    scores = tool_scores(TOOLS, query)
    assert max(range(3), key=scores.__getitem__) == best, scores
    assert sorted(scores)[-2] < scores[best]


def test_words_every_tool_shares_count_for_little() -> None:
    a = ToolDef("weather_now", "weather now", OBJ)
    b = ToolDef("weather_tomorrow", "weather tomorrow", OBJ)
    scores = tool_scores([a, b], "weather tomorrow")
    assert scores[1] > scores[0] > 0
    assert tool_scores([a, b], "weather") == [scores[0], scores[0]]


def test_prior_is_bounded_and_absent_without_evidence() -> None:
    w = prior([0.0, 2.0, 1.0], math.log(20))
    assert w[0] == pytest.approx(1) and w[1] == pytest.approx(20)
    assert w[2] == pytest.approx(math.sqrt(20))
    assert prior([0.0, 0.0], 3.0) == () and prior([1.0, 1.0], 3.0) == ()
    assert prior([0.0, 1.0], 0.0) == ()


def test_request_text_is_the_last_user_message() -> None:
    msgs = [{"role": "user", "content": "old"}, {"role": "assistant", "content": "x"},
            {"role": "user", "content": [{"type": "text", "text": "new"},
                                         {"type": "image_url", "image_url": {"url": "u"}},
                                         {"type": "text", "text": "words"}]},
            {"role": "tool", "content": "result"}]
    assert request_text(msgs) == "new words"
    assert request_text([{"role": "system", "content": "s"}]) == ""


def test_name_masses_match_tokens_to_names() -> None:
    names = ['get_weather"', 'get_time"', 'search"']
    tops = [("get", 0.5), ("search", 0.2), ('search"', 0.1), ("sea", 0.05), (" get", 0.1)]
    assert name_masses(tops, names) == pytest.approx([0.5, 0.5, 0.35])
    weak = [("S", 0.1), ("C", 0.02), ("B", 0.004)]  # none of the names but one: floors
    assert name_masses(weak, ['OpenWeather"', 'Control"']) == [0.004, 0.02]
    # a name no top token begins: the least top probability, what it may have at most
    assert name_masses([('get_time","', 0.3), ("x", 0.01)], names) == [0.01, 0.3, 0.01]
    assert name_masses([], names) == [0.0, 0.0, 0.0]


def test_choose_multiplies_and_keeps_ties() -> None:
    assert choose([0.6, 0.4], [1.0, 20.0]) == [1]  # an unsure model is steered
    assert choose([0.99, 0.01], [1.0, 20.0]) == [0]  # a sure one keeps its choice
    assert choose([0.5, 0.5, 0.1], [1.0, 1.0, 2.0]) == [0, 1]  # tied: the model picks
    assert choose([0.0, 0.0], [1.0, 2.0]) == []


ROOT = 'root ::= "[" call\nBODY'
PICK = CallDecision(first=ROOT, one="ONE", more="MORE", rest="REST", close="]}",
                    threshold=0.3, cap=1, probe_more=False,
                    picks=("call0", "call1", "call2"),
                    names=('get_weather"', 'get_time"', 'search"'),
                    name_open='[{"name":"', pick_open='"["', prior_strength=3.0,
                    prior=(1.0, 20.0, 1.0))


class NameBackend(FakeBackend):
    """The first part is any grammar that starts a root (the name's choice rewrites it)."""

    async def stream(self, payload: dict[str, Any]) -> Any:
        first = payload["grammar"].startswith("root ::=")
        events = super().stream({**payload, "grammar": "FIRST" if first else
                                 payload["grammar"]})
        async for event in events:
            self.streams[-1] = payload  # as sent
            yield event


def run(backend: FakeBackend, decision: CallDecision) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        payload = {"prompt": "P", "n_predict": 100, "grammar": "WHOLE"}
        return [e async for e in staged_stream(backend, payload, decision)]
    return asyncio.run(go())


def test_the_first_call_is_limited_to_the_chosen_tool() -> None:
    b = NameBackend(probs(**{"get": 0.7, "search": 0.2}))  # get_weather/get_time 0.7 each
    events = run(b, PICK)
    assert b.probes[0]["prompt"] == 'P[{"name":"' and b.probes[0]["n_probs"] >= 20
    assert b.streams[0]["grammar"] == 'root ::= "[" (call1)\nBODY'  # 0.7 x 20 wins
    assert "".join(e.get("content", "") for e in events) == '{"tool_calls":[{"a":1}]}'
    assert len(b.probes) == 1  # one call at most: no "one more?" probe


def test_a_sure_model_keeps_its_tool() -> None:
    b = NameBackend(probs(**{"search": 0.98, "get": 0.01}))
    run(b, PICK)
    assert b.streams[0]["grammar"] == 'root ::= "[" (call2)\nBODY'


def test_no_name_among_the_top_tokens_leaves_it_to_the_prior() -> None:
    b = NameBackend(probs(**{"}": 0.9, "S": 0.05}))
    run(b, PICK)
    assert b.streams[0]["grammar"] == 'root ::= "[" (call1)\nBODY'


@pytest.mark.parametrize("probe", [{"content": "\ufffd"}, {"error": "n_probs not supported"}])
def test_without_probabilities_at_the_name_the_model_chooses(probe: dict[str, Any]) -> None:
    b = NameBackend(probe)
    run(b, PICK)
    assert b.streams[0]["grammar"] == ROOT


def test_no_prior_no_name_probe() -> None:
    b = NameBackend(probs(**{"get": 0.9}))
    run(b, CallDecision(**{**PICK.__dict__, "prior": ()}))
    assert not b.probes and b.streams[0]["grammar"] == ROOT


def test_after_the_first_call_the_model_decides_more_without_probing() -> None:
    b = NameBackend(probs(**{"get": 0.7, "search": 0.2}))
    events = run(b, CallDecision(**{**PICK.__dict__, "cap": 3}))
    assert [s["grammar"] for s in b.streams][1:] == ["REST"] and len(b.probes) == 1
    assert "".join(e.get("content", "") for e in events).endswith("]}")
