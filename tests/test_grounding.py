"""A call's string values that share nothing with the conversation are written again as an
excerpt of the user's last message (gateway.staged.Grounding, the generic dialect's
`ground_values`). A fake backend records what is asked."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

from gateway.dialect import CallDecision, ToolDef, request_plan
from gateway.dialects.generic import GenericDialect
from gateway.errors import GatewayError
from gateway.excerpt import value_excerpt_rules
from gateway.staged import BAN, Grounding, staged_stream
from gateway.testing import make_case
from gateway.toolprior import content_word, conversation_text, words

from tests.grammar.gbnf_recognizer import accepts

SCHEMA = {"type": "object", "required": ["city"], "properties": {
    "city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]},
    "days": {"type": "integer"}}}
ASKED = "Could you tell me the weather in Naples, Florida for 3 days?"
DECISION = CallDecision(first="FIRST", one="ONE", more="MORE", rest="REST", close="]}",
                        threshold=0.3, cap=1, ground=True, request=ASKED,
                        context=ASKED, schemas=(("weather", SCHEMA),),
                        fixed=frozenset({"c", "f"}))


def call_text(**arguments: Any) -> str:
    return '{"tool_calls":[' + json.dumps({"name": "weather", "arguments": arguments},
                                          separators=(",", ":"))


class Backend:
    """Streams one call (`written`), answers excerpt requests with `excerpt`."""

    def __init__(self, written: str, excerpt: str = 'Naples, Florida,"',
                 stop_type: str = "eos") -> None:
        self.written, self.excerpt, self.stop_type = written, excerpt, stop_type
        self.completions: list[dict[str, Any]] = []

    async def stream(self, payload: dict[str, Any]) -> Any:
        yield {"content": self.written}
        yield {"content": "", "stop": True, "stop_type": "eos", "tokens_predicted": 12,
               "tokens_evaluated": 40}

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.completions.append(payload)
        if self.excerpt == "error":
            raise GatewayError("backend down", 502)
        return {"content": self.excerpt, "stop_type": self.stop_type, "tokens_predicted": 4}

    async def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return [ord(c) for c in text]  # one token a character


def run(backend: Backend, decision: CallDecision = DECISION) -> str:
    async def go() -> str:
        payload = {"prompt": "P", "n_predict": 100, "grammar": "WHOLE", "temperature": 0.3}
        return "".join([e.get("content", "") async for e in
                        staged_stream(backend, payload, decision)])
    return asyncio.run(go())


def test_an_unfounded_value_is_written_again_as_an_excerpt() -> None:
    written = call_text(city="CA", unit="f", days=3)
    backend = Backend(written)
    out = run(backend)
    assert out == call_text(city="Naples, Florida", unit="f", days=3) + "]}"
    [asked] = backend.completions
    # after the text up to the value's opening quote, under the excerpt grammar, with the
    # request's sampling, the model's own value (its first token, its first character) held
    # back
    assert asked["prompt"] == "P" + written[:written.index('"CA"') + 1]
    assert asked["grammar"] == Grounding(DECISION).excerpt and asked["temperature"] == 0.3
    assert accepts(asked["grammar"], 'Naples, Florida"')
    assert asked["logit_bias"] == [[ord("C"), BAN]]
    assert "n_probs" not in asked


def test_values_of_the_conversation_enum_values_names_and_numbers_stay() -> None:
    for written in (call_text(city="naples", unit="c", days=3),  # a word of the request
                    call_text(city="Florida", unit="f", days=12),  # numbers are left alone
                    call_text(city="Naples, FL"),
                    call_text(city="2024-01-01T10:00Z"),  # more digits than letters
                    call_text(city="https://weather.example/naples"),  # a URL, a path
                    call_text(city="ops@example.org"),
                    call_text(city="f")):  # an enum value (or a default)
        backend = Backend(written)
        assert run(backend) == written + "]}"
        assert backend.completions == []
    # a value of common words only, not in the request, has no word of the conversation
    backend = Backend(call_text(city="and"))
    assert run(backend) == call_text(city="Naples, Florida") + "]}"


def test_the_call_is_kept_as_written_when_the_excerpt_fails() -> None:
    written = call_text(city="CA", unit="f")
    for backend in (Backend(written, stop_type="limit"),  # cut
                    Backend(written, excerpt='"'),  # nothing
                    Backend(written, excerpt="error")):  # the backend failed
        assert run(backend) == written + "]}"
    # the rewritten call would not validate: the model's own call stays
    pattern = {**SCHEMA, "properties": {**SCHEMA["properties"],
                                        "city": {"type": "string", "pattern": "^[A-Z]{2}$"}}}
    backend = Backend(written)
    assert run(backend, replace(DECISION, schemas=(("weather", pattern),))) == written + "]}"
    assert len(backend.completions) == 1


def test_no_grounding_when_off_or_without_a_request() -> None:
    written = call_text(city="CA")
    for decision in (replace(DECISION, ground=False), replace(DECISION, request=""),
                     replace(DECISION, request="you and me")):  # no word worth copying
        backend = Backend(written)
        assert run(backend, decision) == written + "]}"
        assert backend.completions == []


def test_values_from_tool_results_and_earlier_calls_are_founded() -> None:
    messages = [
        {"role": "user", "content": "Book it"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "c1", "type": "function",
            "function": {"name": "find", "arguments": '{"hotel":"Ritz"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"booking_ref": "XK42Q"}'},
        {"role": "user", "content": [{"type": "text", "text": "for two nights"}]}]
    text = conversation_text(messages)
    assert all(piece in text for piece in ("Book it", "Ritz", "XK42Q", "two nights"))
    grounding = Grounding(replace(DECISION, context=text))
    for value in ("XK42Q", "Ritz", "two"):
        assert grounding.unfounded(json.dumps({"ref": value})) is None
    assert grounding.unfounded(json.dumps({"ref": "Paris"})) is not None


def test_the_excerpt_begins_at_a_content_word_and_is_short() -> None:
    made = value_excerpt_rules(ASKED + " Then Tampa. And Miami", "value", 4, content_word)
    assert made is not None
    grammar = f'root ::= {made[1]} "\\""\n' + "\n".join(made[0]) + "\n"
    for good in ("Naples, Florida", "Naples,", "weather in Naples,", "Florida for 3 days?",
                 "Tampa.", "Miami"):  # a number may be in an excerpt, not begin it
        assert accepts(grammar, good + '"'), good
    for bad in ("Could you", "the weather", "in Naples", "Napl", "Orlando", "3 days?",
                "tell me the weather in",  # five words
                "days? Then", "Tampa. And"):  # past the end of a sentence
        assert not accepts(grammar, bad + '"'), bad
    assert not content_word("you,") and not content_word("?") and content_word("3D")
    assert not content_word("15000") and not content_word("3")  # a value with letters
    assert value_excerpt_rules("  ", "value", 4, content_word) is None
    # common words only: no excerpt (nothing worth copying); a word too long to be a value
    assert value_excerpt_rules("you and me", "value", 2, content_word) is None
    made = value_excerpt_rules("Oslo " + "x" * 100 + " Bergen", "value", 3, content_word)
    assert made is not None
    grammar = f'root ::= {made[1]}\n' + "\n".join(made[0]) + "\n"
    assert accepts(grammar, "Oslo") and accepts(grammar, "Bergen")
    assert not accepts(grammar, "Oslo " + "x" * 100) and "x" * 100 not in grammar


def test_the_generic_plan_for_this_request_carries_the_excerpt() -> None:
    tools = [ToolDef(name="weather", description="Weather of a city", parameters=SCHEMA)]
    case = make_case(GenericDialect(), tools, tool_choice="required",
                     messages=[{"role": "user", "content": ASKED}])
    plan = request_plan(case.plan(), case.ctx, case.model)
    decision = plan.decision
    assert decision is not None and decision.ground and decision.request == ASKED
    assert decision.context == ASKED
    excerpt = Grounding(decision).excerpt
    assert accepts(excerpt, 'Naples, Florida"') and not accepts(excerpt, 'Could you"')
    assert decision.schemas == (("weather", SCHEMA),) and {"c", "f"} <= decision.fixed
    with_default = ToolDef(name="w", description="", parameters={
        "type": "object", "properties": {"url": {"type": "string", "default": "https://x.org"}}})
    case = make_case(GenericDialect(), [with_default], tool_choice="required")
    assert set(words("https://x.org")) <= case.plan().decision.fixed
    off = make_case(GenericDialect(), tools, tool_choice="required",
                    messages=[{"role": "user", "content": ASKED}],
                    options={"ground_values": "off", "more_calls_pct": 0,
                             "name_prior_odds": 0})
    assert off.plan().decision is None


def test_a_tool_name_is_never_written_again_nor_a_call_to_no_known_tool_kept() -> None:
    # with the `quote` option a call begins with its quote, so the name is not first
    written = ('{"tool_calls":[{"quote":"weather in Naples","name":"weather",'
               '"arguments":{"city":"CA"}}')
    backend = Backend(written, excerpt='Naples"')
    out = run(backend)
    assert out == written.replace('"CA"', '"Naples"') + "]}"
    assert len(backend.completions) == 1  # the name (no word of the request) left alone
    unknown = '{"tool_calls":[{"name":"nowhere","arguments":{"city":"CA"}}'
    assert run(Backend(unknown)) == unknown + "]}"  # no validator: never rewritten


def test_the_excerpt_keeps_within_max_tokens() -> None:
    written = call_text(city="CA", unit="f")
    backend = Backend(written)

    async def go(n_predict: int) -> str:
        payload = {"prompt": "P", "n_predict": n_predict, "grammar": "WHOLE"}
        return "".join([e.get("content", "") async for e in
                        staged_stream(backend, payload, DECISION)])
    assert asyncio.run(go(15)) == call_text(city="Naples, Florida", unit="f") + "]}"
    assert backend.completions[-1]["n_predict"] == 3  # 12 spent on the call
    backend.completions.clear()
    assert asyncio.run(go(12)) == written + "]}"  # nothing left: as written
    assert backend.completions == []


def test_a_backend_that_cannot_tokenize_still_grounds_without_the_bias() -> None:
    class NoTokenizer(Backend):
        async def tokenize(self, text: str, add_special: bool = True) -> list[int]:
            raise OSError("connection reset")
    backend = NoTokenizer(call_text(city="CA"))
    assert run(backend) == call_text(city="Naples, Florida") + "]}"
    assert "logit_bias" not in backend.completions[0]


def test_escaped_tool_results_and_quoted_description_words_are_founded() -> None:
    messages = [{"role": "user", "content": "weather at the office"},
                {"role": "tool", "tool_call_id": "c", "content": json.dumps({"city": "Zürich"})}]
    grounding = Grounding(replace(DECISION, context=conversation_text(messages)))
    assert grounding.unfounded(json.dumps({"city": "Zürich"}, ensure_ascii=False)) is None
    tool = ToolDef(name="list", description="Lists items.", parameters={
        "type": "object", "properties": {"order": {
            "type": "string", "description": "'asc' or 'desc'; e.g. 'newest first'"}}})
    fixed = make_case(GenericDialect(), [tool], tool_choice="required").plan().decision.fixed
    assert {"asc", "desc"} <= fixed and "newest" not in fixed


def test_a_camel_case_value_is_founded_by_its_words() -> None:
    """`CellResult.getCellValue` has the words of `'CellResult'` and `'getCellValue'` in the
    request: its words are read before the value is lower-cased (which would merge them)."""
    asked = "Which classes relate to 'CellResult'? And the signature of 'getCellValue'?"
    decision = replace(DECISION, request=asked, context=asked)
    written = call_text(city="CellResult.getCellValue")
    backend = Backend(written)
    assert run(backend, decision) == written + "]}"
    assert backend.completions == []


# -- numbers the conversation never gave (CallDecision.ground_numbers) ----------------------

NUMBERS = replace(DECISION, ground_numbers=True)


def test_an_invented_number_is_written_again_as_one_the_request_gives() -> None:
    written = call_text(city="Naples", days=12)
    backend = Backend(written, excerpt="3}")
    assert run(backend, NUMBERS) == call_text(city="Naples", days=3) + "]}"
    [asked] = backend.completions
    assert asked["prompt"] == "P" + written[:written.index("12")]
    # one of the request's numbers, then the character after the model's own: the model
    # ends the number by choice ("1" is not cut short of "10")
    assert asked["grammar"] == 'root ::= ("3") "}"\n' and "logit_bias" not in asked
    # off (the decision's default): the number as the model wrote it
    assert run(Backend(written, excerpt="3")) == written + "]}"


def test_numbers_given_worked_out_or_in_the_schemas_stay() -> None:
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"],
                                       "days": {"type": "integer", "maximum": 14}}}
    decision = replace(NUMBERS, schemas=(("weather", schema),))
    for days in (3, 0, 1, 72, 14):  # given; a flag or a count; 3 days in hours; a bound
        backend = Backend(call_text(city="Naples", days=days), excerpt="3")
        assert run(backend, decision) == call_text(city="Naples", days=days) + "]}"
        assert backend.completions == []
    # a request that gives no number: nothing to write instead
    asked = "Weather in Naples, Florida for a few days?"
    backend = Backend(call_text(city="Naples", days=5), excerpt="3")
    assert run(backend, replace(NUMBERS, request=asked, context=asked)) == \
        call_text(city="Naples", days=5) + "]}"
    # the number the request gives is refused by the schema (2.5 for an integer): kept
    asked = "Weather in Naples, Florida for 2.5 days?"
    backend = Backend(call_text(city="Naples", days=5), excerpt="2.5}")
    assert run(backend, replace(NUMBERS, request=asked, context=asked)) == \
        call_text(city="Naples", days=5) + "]}"
    assert len(backend.completions) == 1


def test_the_generic_plan_grounds_numbers_unless_off() -> None:
    tools = [ToolDef(name="weather", description="Weather of a city", parameters=SCHEMA)]
    for options, on in (({}, True), ({"ground_numbers": "off"}, False),
                        ({"ground_values": "off"}, False)):
        case = make_case(GenericDialect(), tools, tool_choice="required", options=options,
                         messages=[{"role": "user", "content": ASKED}])
        decision = case.plan().decision
        assert decision is not None and decision.ground_numbers is on


def test_a_number_written_again_is_near_its_argument_and_unused_by_earlier_calls() -> None:
    asked = "Weather in Naples for 3 days at 20 degrees and in Rome for 5 days"
    decision = replace(NUMBERS, request=asked, context=asked)
    written = ',' + call_text(city="Rome", days=9)[len('{"tool_calls":['):]
    backend = Backend(written, excerpt="5}")
    earlier = call_text(city="Naples", days=3)
    out, _ = asyncio.run(Grounding(decision).apply(backend, {"temperature": 0}, "P", written,
                                                   None, earlier))
    assert out == written.replace("9", "5")
    # "days" stands beside 3 and 5 (not 20); 3 is the earlier call's
    assert backend.completions[0]["grammar"] == 'root ::= ("5") "}"\n'
