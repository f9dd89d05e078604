"""The grammars the dialect builds, checked with the GBNF recognizer of the core's tests:
what each tool_choice accepts and rejects."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.dialect import ToolDef
from gateway.grammar import GrammarLimits
from gateway.testing import CLOCK, WEATHER, DialectCase, accepts, make_case, parse_gbnf
from gateway_plugin_harmony import HarmonyDialect

DIALECT = HarmonyDialect()
LIMITS = GrammarLimits()
COUNT = ToolDef("count", "", {"type": "object", "properties": {
    "n": {"type": "integer", "minimum": 1, "maximum": 5}}, "required": ["n"],
    "additionalProperties": False})
S = "<|start|>assistant"


def ctx(tool_choice: str = "auto", **kw: Any) -> DialectCase:
    return make_case(DIALECT, [WEATHER, CLOCK, COUNT], tool_choice, **kw)


def call(name: str, args: str) -> str:
    return f" to=functions.{name}<|channel|>commentary json<|message|>{args}"


def call2(name: str, args: str) -> str:  # the order gpt-oss was trained on
    return f"<|channel|>commentary to=functions.{name} <|constrain|>json<|message|>{args}"


def analysis(text: str) -> str:
    return f"<|channel|>analysis<|message|>{text}<|end|>{S}"


PARIS = call("get_weather", '{"city":"Paris","unit":"c"}')
TIME = call("get_time", "{}")
THREE = call2("count", '{"n":3}')
INVALID = [
    call("get_wether", '{"city":"Paris"}'),  # unknown tool
    call("get_weather", '{"unit":"c"}'),  # required key missing
    call("count", '{"n":9}'),  # over the maximum
    call("count", '{"n":3,"m":1}'),  # additionalProperties false
    call("get_time", "{}") + "<|call|>",  # <|call|> ends generation: not in the grammar
    TIME + S + TIME,  # one call per turn
    "<|channel|>final<|message|>Sure.",  # a required call cannot be skipped
    analysis("x") + "<|channel|>final<|message|>Sure." + TIME,
    "",
]


def check(c: DialectCase, good: list[str], bad: list[str]) -> None:
    plan = c.plan()
    assert plan.grammar
    g = parse_gbnf(plan.grammar)
    for text in good:
        assert accepts(g, text), f"rejected: {text!r}"
    for text in bad:
        assert not accepts(g, text), f"accepted: {text!r}"


def test_required_accepts_both_header_orders_and_an_analysis() -> None:
    c = ctx("required")
    check(c, [PARIS, TIME, THREE, call("get_time", "{}").replace(" json", ""),
              call2("get_time", "{}").replace(" <|constrain|>json", " json"),
              analysis("The user wants 3, x < y.") + THREE, analysis("") + TIME], INVALID)
    plan = c.plan()
    assert not plan.lazy and not plan.triggers
    assert {"<|channel|>", "<|message|>", "<|constrain|>", "<|start|>", "<|end|>"} <= set(
        plan.preserved_tokens)


def test_analysis_is_bounded_and_dropped_without_budget() -> None:
    c = ctx("required", options={"think_max_chars": 150})
    check(c, [analysis("a" * 150) + TIME], [analysis("a" * 300) + TIME,
                                            analysis("a<|b") + TIME])
    check(ctx("required", budget_tokens=100), [TIME], [analysis("a") + TIME])


def test_named_allows_only_that_tool() -> None:
    check(ctx("count"), [THREE, analysis("ok") + THREE], [PARIS, TIME, call("count", "{}")])


def test_auto_is_lazy_on_the_recipient_word() -> None:
    plan = ctx("auto").plan()
    assert plan.lazy and plan.grammar and plan.grammar.startswith("root ::= call")
    assert plan.triggers == [{"type": 1, "value": " to=functions."}]  # 1 = word in llama.cpp
    # llama.cpp feeds the grammar from the trigger word on, in either header order
    g = parse_gbnf(plan.grammar)
    assert accepts(g, PARIS) and accepts(g, " to=functions.count <|constrain|>json"
                                            '<|message|>{"n":3}')
    for bad in (INVALID[:4]):
        assert not accepts(g, bad)
    assert not accepts(g, analysis("x") + TIME)


def test_none_has_no_grammar() -> None:
    assert ctx("none").plan().grammar is None
    assert ctx("auto", tools=[]).plan().grammar is None


@pytest.mark.parametrize("choice", ["none", "auto"])
def test_response_format_is_a_final_message(choice: str) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    final = '<|channel|>final<|message|>{"a":1}'
    good = [final, analysis("json") + final] + ([TIME] if choice == "auto" else [])
    bad = ['{"a":1}', "<|channel|>final<|message|>hi", '<|channel|>final<|message|>{"b":1}']
    check(ctx(choice, response_schema=schema), good, bad + ([TIME] if choice == "none" else []))
    assert not ctx(choice, response_schema=schema).plan().lazy
    check(ctx(choice, json_mode=True), ['<|channel|>final<|message|>{"x":[1]}'], ["hi"])
