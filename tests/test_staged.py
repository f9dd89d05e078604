"""Generation call by call (gateway.staged): the first call, then after each call "one more
call?" decided on the probability read at the decision point. A fake backend records what
is asked."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from typing import Any

import pytest
from gateway.dialect import CallDecision
from gateway.errors import GatewayError
from gateway.staged import (
    BAN,
    coordinated,
    found_whole,
    go_on_probability,
    looping,
    novel_values,
    parallel_variant,
    request_values,
    staged_stream,
    value_tokens,
)

DECISION = CallDecision(first="FIRST", one="ONE", more="MORE", rest="REST", close="]}",
                        threshold=0.3, cap=2, each=True)
FIRST_ONLY = CallDecision(first="FIRST", one="ONE", more="MORE", rest="REST", close="]}",
                          threshold=0.3, cap=4)


def probs(**tops: float) -> dict[str, Any]:
    """A one-token /completion answer with top probabilities {token text: p}."""
    return {"content": "x", "completion_probabilities": [{"top_logprobs": [
        {"token": t, "logprob": math.log(p)} for t, p in tops.items()]}]}


class FakeBackend:
    def __init__(self, probe: dict[str, Any] | list[dict[str, Any]], first_stop: str = "eos"
                 ) -> None:
        self.answers = probe if isinstance(probe, list) else None
        self.probe = probe if isinstance(probe, dict) else {}
        self.first_stop = first_stop
        self.streams: list[dict[str, Any]] = []
        self.probes: list[dict[str, Any]] = []

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.probes.append(payload)
        if self.answers is not None:
            self.probe = self.answers[len(self.probes) - 1]
        if "error" in self.probe:
            raise GatewayError(self.probe["error"], 502)
        return self.probe

    async def stream(self, payload: dict[str, Any]) -> Any:
        self.streams.append(payload)
        if payload["grammar"] == "FIRST":
            yield {"content": '{"tool_calls":[{"a":1}'}
            yield {"content": "", "stop": True, "stop_type": self.first_stop,
                   "tokens_predicted": 10, "tokens_evaluated": 50}
        else:
            n = len(self.streams)
            closed = payload["grammar"] in ("REST", "MORE")
            yield {"content": f',{{"b":{n}}}' + ("]}" if closed else "")}
            yield {"content": "", "stop": True, "stop_type": "eos", "tokens_predicted": 6,
                   "tokens_evaluated": 60}


def run(backend: FakeBackend, decision: CallDecision = DECISION) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        payload = {"prompt": "P", "n_predict": 100, "grammar": "WHOLE", "temperature": 0}
        return [e async for e in staged_stream(backend, payload, decision)]
    return asyncio.run(go())


def text(events: list[dict[str, Any]]) -> str:
    return "".join(e.get("content", "") for e in events)


def test_likely_more_goes_on_from_the_text_so_far() -> None:
    b = FakeBackend(probs(**{",": 0.2, "]}": 0.3, "}": 0.5}))  # 0.2 / 0.5 >= 0.3
    events = run(b)
    assert text(events) == '{"tool_calls":[{"a":1},{"b":2}]}'
    assert [s["grammar"] for s in b.streams] == ["FIRST", "ONE"]
    assert b.probes[0]["prompt"] == 'P{"tool_calls":[{"a":1}' == b.streams[1]["prompt"]
    assert b.probes[0]["n_predict"] == 1 and b.probes[0]["n_probs"] > 0
    assert b.streams[1]["n_predict"] == 90  # what the first part left
    assert len(b.probes) == 1  # at the cap of 2 calls the list closes without asking
    last = events[-1]
    assert last["stop"] and last["tokens_predicted"] == 17 and last["tokens_evaluated"] == 50
    assert sum(bool(e.get("stop")) for e in events) == 1


def test_each_boundary_is_decided_on_its_own() -> None:
    more, end = probs(**{",": 0.9, "]": 0.1}), probs(**{",": 0.1, "]": 0.9})
    b = FakeBackend([more, more, end])
    events = run(b, CallDecision(first="FIRST", one="ONE", more="MORE", rest="REST",
                                 close="]}", threshold=0.3, cap=4, each=True))
    assert text(events) == '{"tool_calls":[{"a":1},{"b":2},{"b":3}]}'
    assert [s["grammar"] for s in b.streams] == ["FIRST", "ONE", "ONE"]
    assert b.probes[2]["prompt"] == 'P{"tool_calls":[{"a":1},{"b":2},{"b":3}'
    assert [s["n_predict"] for s in b.streams] == [100, 90, 84]
    assert events[-1]["tokens_predicted"] == 23


def test_unlikely_more_closes_without_generating() -> None:
    b = FakeBackend(probs(**{" ,": 0.1, "]}": 0.4, "]": 0.2}))  # 0.1 / 0.7 < 0.3
    events = run(b)
    assert text(events) == '{"tool_calls":[{"a":1}]}'
    assert [s["grammar"] for s in b.streams] == ["FIRST"]
    assert events[-1]["stop"] and events[-1]["stop_type"] == "eos"


@pytest.mark.parametrize("probe", [{"content": "x"}, probs(**{"}": 0.9}),
                                   {"error": "n_probs not supported"}])
def test_without_probabilities_the_model_chooses(probe: dict[str, Any]) -> None:
    b = FakeBackend(probe)
    events = run(b)
    assert text(events) == '{"tool_calls":[{"a":1},{"b":2}]}'
    assert [s["grammar"] for s in b.streams] == ["FIRST", "REST"]
    assert events[-1]["tokens_predicted"] == 16  # the model closed the list itself


@pytest.mark.parametrize("stop_type", ["limit", "word"])
def test_a_cut_first_part_ends_there(stop_type: str) -> None:
    b = FakeBackend(probs(**{",": 0.9}), first_stop=stop_type)
    events = run(b)
    assert text(events) == '{"tool_calls":[{"a":1}'
    assert events[-1]["stop_type"] == stop_type and not b.probes and len(b.streams) == 1


def test_go_on_probability_reads_both_answer_shapes() -> None:
    assert go_on_probability(probs(**{",": 0.3, "]": 0.1}), DECISION) == pytest.approx(0.75)
    post = {"completion_probabilities": [{"top_probs": [{"token": ",{", "prob": 0.2},
                                                        {"token": "]}", "prob": 0.2}]}]}
    assert go_on_probability(post, DECISION) == pytest.approx(0.5)
    assert go_on_probability({"completion_probabilities": []}, DECISION) is None


def test_without_each_only_the_first_boundary_is_decided() -> None:
    b = FakeBackend(probs(**{",": 0.9, "]": 0.1}))
    events = run(b, FIRST_ONLY)
    assert text(events) == '{"tool_calls":[{"a":1},{"b":2}]}'  # the model closed it
    assert [s["grammar"] for s in b.streams] == ["FIRST", "MORE"] and len(b.probes) == 1
    assert events[-1]["tokens_predicted"] == 16
    b = FakeBackend(probs(**{",": 0.1, "]": 0.9}))
    assert text(run(b, FIRST_ONLY)) == '{"tool_calls":[{"a":1}]}'
    assert [s["grammar"] for s in b.streams] == ["FIRST"]


# -- further calls kept only when new (CallDecision.novel) ---------------------------------

class ScriptedBackend:
    """The first call, then the given further calls one per part; p(more) always 0.9."""

    def __init__(self, first: str, further: list[tuple[str, str]], tokens: bool = True
                 ) -> None:
        self.first, self.further, self.tokens = first, further, tokens
        self.streams: list[dict[str, Any]] = []

    async def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        if not self.tokens:
            raise GatewayError("no tokenizer here", 502)
        return [ord(c) for c in text]  # one token per character

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        return probs(**{",": 0.9, "]": 0.1})

    async def stream(self, payload: dict[str, Any]) -> Any:
        self.streams.append(payload)
        text, stop = ((self.first, "eos") if payload["grammar"] == "FIRST"
                      else self.further[len(self.streams) - 2])
        for piece in (text[: len(text) // 2], text[len(text) // 2:]):
            yield {"content": piece}
        yield {"content": "", "stop": True, "stop_type": stop, "tokens_predicted": 5,
               "tokens_evaluated": 40}


NOVEL = CallDecision(first="FIRST", one="ONE", more="MORE", rest="REST", close="]}",
                     threshold=0.3, cap=4, novel=True,
                     request="Weather in Oslo and in São Paulo, in celsius please")
OSLO = '{"tool_calls":[{"name":"weather","arguments":{"city":"Oslo","unit":"celsius"}}'


def call(city: str, unit: str = "celsius") -> str:
    return f',{{"name":"weather","arguments":{{"city":"{city}","unit":"{unit}"}}}}'


def test_a_further_call_with_a_new_value_of_the_request_is_kept() -> None:
    b = ScriptedBackend(OSLO, [(call("São Paulo"), "eos"), (call("Oslo", "kelvin"), "eos")])
    events = run(b, NOVEL)  # type: ignore[arg-type]
    assert text(events) == OSLO + call("São Paulo") + "]}"
    assert [s["grammar"] for s in b.streams] == ["FIRST", "ONE", "ONE"]
    # the third call (Oslo again, a unit the request never gave) was generated, not sent
    assert b.streams[2]["prompt"] == "P" + OSLO + call("São Paulo")
    assert events[-1]["tokens_predicted"] == 11  # 5 + 5 kept + the closing bracket


@pytest.mark.parametrize("further", [call("Oslo"), call("oslo", "fahrenheit"), call("Bergen"),
                                     call("São PauloPauloPauloPaulo"),
                                     ',{"name":"weather","arguments":{"city":"Oslo, celsius"}}'])
def test_a_further_call_with_nothing_new_is_never_sent(further: str) -> None:
    b = ScriptedBackend(OSLO, [(further, "eos")])
    events = run(b, NOVEL)  # type: ignore[arg-type]
    assert text(events) == OSLO + "]}"  # not a piece of the dropped call reached the stream
    assert events[-1]["stop"] and events[-1]["tokens_predicted"] == 6


def test_a_further_call_cut_by_the_budget_is_dropped_and_the_list_closed() -> None:
    b = ScriptedBackend(OSLO, [(call("São Paulo")[:20], "limit")])
    events = run(b, NOVEL)  # type: ignore[arg-type]
    assert text(events) == OSLO + "]}"
    assert sum(bool(e.get("stop")) for e in events) == 1


RETRY = replace(NOVEL, retry=True)


def test_a_further_call_with_nothing_new_is_tried_once_more_steered_off_the_used_values(
        ) -> None:
    b = ScriptedBackend(OSLO, [(call("Oslo"), "eos"), (call("São Paulo"), "eos"),
                               (call("Oslo", "kelvin"), "eos"), (call("Bergen"), "eos")])
    events = run(b, RETRY)  # type: ignore[arg-type]
    assert text(events) == OSLO + call("São Paulo") + "]}"
    assert [s["grammar"] for s in b.streams] == ["FIRST", "ONE", "ONE", "ONE", "ONE"]
    first_try, second_try = b.streams[1], b.streams[2]
    assert "logit_bias" not in first_try and first_try["prompt"] == second_try["prompt"]
    # the first token of each value the earlier call took from the request: Oslo, celsius
    assert second_try["logit_bias"] == [[ord("O"), BAN], [ord("c"), BAN]]
    # a kept call's successor starts unsteered; its own second try avoids São Paulo too
    assert "logit_bias" not in b.streams[3]
    assert [t for t, _ in b.streams[4]["logit_bias"]] == [ord("O"), ord("c"), ord("S")]
    # tokens: first 5, São Paulo 5 (kept), the dropped tries not counted, the bracket
    assert events[-1]["tokens_predicted"] == 11


def test_a_second_try_with_nothing_new_closes_the_list() -> None:
    b = ScriptedBackend(OSLO, [(call("Oslo"), "eos"), (call("oslo", "kelvin"), "eos")])
    events = run(b, RETRY)  # type: ignore[arg-type]
    assert text(events) == OSLO + "]}"
    assert len(b.streams) == 3 and sum(bool(e.get("stop")) for e in events) == 1


@pytest.mark.parametrize("decision,backend", [
    (NOVEL, ScriptedBackend(OSLO, [(call("Oslo"), "eos")])),  # retry off
    (RETRY, ScriptedBackend(OSLO, [(call("São Paulo")[:20], "limit")])),  # cut: no retry
    (RETRY, ScriptedBackend(OSLO, [(call("Oslo"), "eos")], tokens=False)),  # no tokenizer
])
def test_no_second_try(decision: CallDecision, backend: ScriptedBackend) -> None:
    events = run(backend, decision)  # type: ignore[arg-type]
    assert text(events) == OSLO + "]}" and len(backend.streams) == 2


def test_value_tokens_are_the_first_token_of_each_grounded_value_in_place() -> None:
    class Words:
        """A tokenizer of words and single other characters."""
        async def tokenize(self, text: str, add_special: bool = True) -> list[int]:
            import re
            return [hash(w) for w in re.findall(r"\w+|\W", text)]

    request = "radius 5 and 10 for Oslo"
    got = asyncio.run(value_tokens(Words(), '{"r":5,"n":7,"city":"Oslo","k":"r"}',  # type: ignore[arg-type]
                                   request))
    # 7 and "r" (a key's name used as a value, not in the request as a value) left out
    assert got == [hash("5"), hash("Oslo")]


def test_request_values() -> None:
    request = "Area of circles with radius 5 and 10.0, both in cm; 北京和上海"
    text = '{"name":"f","arguments":{"radius":5.0,"unit":"cm","city":"上海","n":7}}'
    # keys (radius, unit), values the request never gave (7, f) and common words left out
    assert request_values(text, request) == {"5", "cm", "上海"}
    assert request_values('{"r":10}', request) == {"10"}
    assert not novel_values(',{"r":5,"unit":"CM"}', text, request)
    assert novel_values(',{"r":10}', text, request)


def test_found_whole() -> None:
    said = "order 1234 for oslo, 北京和上海"
    assert found_whole("1234", said) and not found_whole("234", said)
    assert found_whole("oslo", said) and not found_whole("slo", said)
    assert found_whole("上海", said)  # no word edges in CJK


def test_parallel_variant() -> None:
    request = "Area of circles with radius 5 and 10, and the weather in Oslo"
    first = '{"tool_calls":[{"name":"area","arguments":{"radius":5,"unit":"cm"}}'
    assert parallel_variant(',{"name":"area","arguments":{"radius":10,"unit":"cm"}}', first,
                            request)
    # the same tool with a value of the request in an argument not filled from it before
    assert not parallel_variant(',{"name":"area","arguments":{"radius":5,"unit":"oslo"}}',
                                first, request)
    # another tool: any value of the request not used yet
    assert parallel_variant(',{"name":"weather","arguments":{"city":"Oslo"}}', first, request)
    # a word of the request is not enough: the value must be found whole
    assert not parallel_variant(',{"name":"weather","arguments":{"city":"Oslo, Norway"}}',
                                first, request)
    assert not parallel_variant(',{"name":"area","arguments":{"radius":5}}', first, request)


def test_looping() -> None:
    request = "Book the B125 and the haha show, 1000000 seats"
    assert looping(',{"a":"P125_B125_B125_B125_B125"}', request)
    assert looping(',{"a":"TOKUKUKUKUKU"}', request)
    assert not looping(',{"a":"B125"}', request)
    assert not looping(',{"a":"hahahaha"}', "say hahahaha")  # the request has it
    assert not looping(',{"a":"1000000","n":10000000000}', request)  # numbers, zeros
    assert not looping(',{"abababab":"x"}', request)  # a key


# -- a further call that only repeats the earlier values, varied (CallDecision.vary) --------

class VaryingBackend(ScriptedBackend):
    """ScriptedBackend that also answers the varied values: `answers`, one per request
    with a grammar (p(more) 0.9 for the probes)."""

    def __init__(self, first: str, further: list[tuple[str, str]], answers: list[str]
                 ) -> None:
        super().__init__(first, further)
        self.answers = answers
        self.asked: list[dict[str, Any]] = []

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        if "grammar" not in payload:
            return probs(**{",": 0.9, "]": 0.1})
        self.asked.append(payload)
        return {"content": self.answers[len(self.asked) - 1], "stop_type": "eos",
                "tokens_predicted": 3}


TRIP = "Hotels in Oslo for 2 nights and in Bergen for 5 nights"
VARY = replace(RETRY, vary=0.5, request=TRIP, context=TRIP, schemas=(("hotel", {
    "type": "object", "required": ["city", "nights"],
    "properties": {"city": {"type": "string"}, "nights": {"type": "integer"},
                   "unit": {"type": "string", "enum": ["night"]}}}),))


def hotel(city: str, nights: int, first: bool = False) -> str:
    head = '{"tool_calls":[' if first else ","
    return head + f'{{"name":"hotel","arguments":{{"city":"{city}","nights":{nights}}}}}'


def test_a_repeated_call_has_its_request_values_varied_to_unused_ones() -> None:
    b = VaryingBackend(hotel("Oslo", 2, True), [(hotel("Oslo", 2), "eos")],
                       ['Bergen"', "5}"])
    events = run(b, replace(VARY, cap=2))  # type: ignore[arg-type]
    assert text(events) == hotel("Oslo", 2, True) + hotel("Bergen", 5) + "]}"
    city, nights = b.asked
    # the city: an excerpt of the request, after the call's text up to its opening quote,
    # with the first token of each value the earlier call took from the request held back
    assert city["prompt"] == "P" + hotel("Oslo", 2, True) + ',{"name":"hotel","arguments":{"city":"'
    assert "Bergen" in city["grammar"] and [ord("O"), BAN] in city["logit_bias"]
    # the number: one of the request's numbers no call used (not 2)
    assert nights["grammar"] == 'root ::= ("5") "}"\n'
    assert nights["prompt"].endswith('"city":"Bergen","nights":')
    # only the streamed pieces count: first 5, the kept further call 5, the bracket
    assert events[-1]["tokens_predicted"] == 11


def test_a_varied_call_that_does_not_validate_or_brings_nothing_new_is_not_kept() -> None:
    # "Oslo" again (the bias failed): nothing new; the banned retry then copies too
    b = VaryingBackend(hotel("Oslo", 2, True), [(hotel("Oslo", 2), "eos"),
                                                (hotel("Oslo", 2), "eos")], ['Oslo"', "2}"])
    assert text(run(b, VARY)) == hotel("Oslo", 2, True) + "]}"  # type: ignore[arg-type]
    # a number the schema refuses for an integer argument
    trip = "Hotels in Oslo for 2 nights and in Bergen for 2.5 nights"
    decision = replace(VARY, request=trip, context=trip)
    b = VaryingBackend(hotel("Oslo", 2, True), [(hotel("Oslo", 2), "eos"),
                                                (hotel("Oslo", 2), "eos")], ['Bergen"', "2.5}"])
    assert text(run(b, decision)) == hotel("Oslo", 2, True) + "]}"  # type: ignore[arg-type]


def test_no_variation_below_its_probability_or_when_off() -> None:
    for decision in (replace(VARY, vary=0.95), replace(VARY, vary=0.0)):
        b = VaryingBackend(hotel("Oslo", 2, True), [(hotel("Oslo", 2), "eos"),
                                                    (hotel("Oslo", 2), "eos")], [])
        assert text(run(b, decision)) == hotel("Oslo", 2, True) + "]}"  # type: ignore[arg-type]
        assert b.asked == []


def test_coordinated_values_are_items_of_one_list_in_the_request() -> None:
    asked = "Could you tell me the weather for Boston, MA and also for San Francisco?"
    assert coordinated("Boston, MA", "San Francisco", asked)
    assert coordinated("San Francisco", "boston, ma", asked)  # either order, any case
    assert not coordinated("Boston", "MA", asked)  # a comma alone qualifies: "Boston, MA"
    assert not coordinated("Bangkok", "Thailand", "the weather in Bangkok, Thailand")
    assert coordinated("36", "48", "the highest common factor of 36 and 48, and then x^2")
    # too far apart, or across a sentence end
    assert not coordinated("36", "2", "the highest common factor of 36 and 48, and then "
                                      "tell me how steep the curve of f(x) = x^2 is")
    assert not coordinated("Weather", "Also", "the 'Weather' class? Also its signature")
    assert coordinated("Playa del Carmen", "Tulum", "Cancún, QR, Playa del Carmen, QR y Tulum")
    assert coordinated("北京", "上海", "北京和上海的天气")
    assert not coordinated("Oslo", "Bergen", "Oslo")  # one of them not in the request



# -- a further call's copied values put in step with the request (CallDecision.pair) ------

def test_a_kept_further_call_has_its_copied_values_put_in_step() -> None:
    paired = replace(VARY, vary=0.0, pair=True, cap=3)
    # Bergen moved on, the nights stayed at Oslo's 2: written as Bergen's 5
    b = VaryingBackend(hotel("Oslo", 2, True), [(hotel("Bergen", 2), "eos"),
                                                (hotel("Oslo", 2), "eos"),
                                                (hotel("Oslo", 2), "eos")], [])
    events = run(b, paired)  # type: ignore[arg-type]
    assert text(events) == hotel("Oslo", 2, True) + hotel("Bergen", 5) + "]}"
    assert b.asked == []  # read off the request: nothing generated for it
    # off: the call as the model wrote it
    b = VaryingBackend(hotel("Oslo", 2, True), [(hotel("Bergen", 2), "eos"),
                                                (hotel("Oslo", 2), "eos"),
                                                (hotel("Oslo", 2), "eos")], [])
    events = run(b, replace(paired, pair=False))  # type: ignore[arg-type]
    assert text(events) == hotel("Oslo", 2, True) + hotel("Bergen", 2) + "]}"
    # a value the schema refuses is not written: the call stays as it was
    trip = "Hotels in Oslo for 2 nights and in Bergen for 2.5 nights"
    b = VaryingBackend(hotel("Oslo", 2, True), [(hotel("Bergen", 2), "eos"),
                                                (hotel("Oslo", 2), "eos"),
                                                (hotel("Oslo", 2), "eos")], [])
    events = run(b, replace(paired, request=trip, context=trip))  # type: ignore[arg-type]
    assert text(events) == hotel("Oslo", 2, True) + hotel("Bergen", 2) + "]}"


def test_a_varied_value_in_the_same_slot_of_another_group_is_kept() -> None:
    # "Oslo" and "Bergen" are not listed together (a sentence end between them), but both
    # stand "in _ for": the same item of two groups
    trip = "A hotel in Oslo for 2 nights. Then a hotel in Bergen for 5 nights."
    decision = replace(VARY, request=trip, context=trip, cap=2)
    b = VaryingBackend(hotel("Oslo", 2, True), [(hotel("Oslo", 2), "eos")], ['Bergen"', "5}"])
    assert text(run(b, decision)) == hotel("Oslo", 2, True) + hotel("Bergen", 5) + "]}"  # type: ignore[arg-type]
    # a word that only stands near it ("Then") is refused (the number, in its slot, is
    # varied; put in step, the city follows it)
    b = VaryingBackend(hotel("Oslo", 2, True), [(hotel("Oslo", 2), "eos"),
                                                (hotel("Oslo", 2), "eos")], ['Then"', "5}"])
    assert text(run(b, decision)) == hotel("Oslo", 2, True) + hotel("Oslo", 5) + "]}"  # type: ignore[arg-type]
    b = VaryingBackend(hotel("Oslo", 2, True), [(hotel("Oslo", 2), "eos"),
                                                (hotel("Oslo", 2), "eos")], ['Then"', "5}"])
    assert text(run(b, replace(decision, pair=True))) == \
        hotel("Oslo", 2, True) + hotel("Bergen", 5) + "]}"  # type: ignore[arg-type]


# -- earlier calls put in step by a later one (CallDecision.realign) -----------------------

def test_a_later_call_puts_the_first_one_in_step_before_anything_is_sent() -> None:
    grades = "Get Maria's average in chemistry and Tom's average in history."
    schema = {"type": "object", "required": ["student", "subject"],
              "properties": {"student": {"type": "string"}, "subject": {"type": "string"}}}

    def avg(student: str, subject: str, first: bool = False) -> str:
        head = '{"tool_calls":[' if first else ","
        return head + (f'{{"name":"avg","arguments":{{"student":"{student}",'
                       f'"subject":"{subject}"}}}}')
    decision = replace(VARY, vary=0.0, request=grades, context=grades, cap=2, realign=True,
                       schemas=(("avg", schema),))
    b = VaryingBackend(avg("Maria", "history", True), [(avg("Tom", "history"), "eos")], [])
    events = run(b, decision)  # type: ignore[arg-type]
    assert text(events) == avg("Maria", "chemistry", True) + avg("Tom", "history") + "]}"
    # off: the first call as the model wrote it
    b = VaryingBackend(avg("Maria", "history", True), [(avg("Tom", "history"), "eos")], [])
    events = run(b, replace(decision, realign=False))  # type: ignore[arg-type]
    assert text(events) == avg("Maria", "history", True) + avg("Tom", "history") + "]}"
