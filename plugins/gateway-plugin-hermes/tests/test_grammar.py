"""The grammars the dialect builds, checked with the GBNF recognizer: what each tool_choice
and parallel_tool_calls setting accepts and rejects."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.dialect import ToolDef
from gateway.grammar import GrammarLimits
from gateway.testing import CLOCK, WEATHER, DialectCase, accepts, make_case, parse_gbnf
from gateway_plugin_hermes import HermesDialect
from gateway_plugin_hermes.grammar import build_plan

DIALECT = HermesDialect()
LIMITS = GrammarLimits()
COUNT = ToolDef("count", "", {"type": "object", "properties": {
    "n": {"type": "integer", "minimum": 1, "maximum": 5}}, "required": ["n"],
    "additionalProperties": False})


def ctx(tool_choice: str = "auto", parallel: bool = True, template: Any = None,
        **kw: Any) -> DialectCase:
    return make_case(DIALECT, [WEATHER, CLOCK, COUNT], tool_choice, template=template,
                        parallel_tool_calls=parallel, **kw)


def call(name: str, args: str) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {args}}}\n</tool_call>'


PARIS = call("get_weather", '{"city":"Paris","unit":"c"}')
TIME = call("get_time", "{}")
THREE = call("count", '{"n":3}')


def check(c: DialectCase, good: list[str], bad: list[str]) -> None:
    plan = c.plan()
    assert plan.grammar
    g = parse_gbnf(plan.grammar)
    for text in good:
        assert accepts(g, text), f"rejected: {text!r}"
    for text in bad:
        assert not accepts(g, text), f"accepted: {text!r}"


INVALID = [
    call("get_wether", '{"city":"Paris"}'),  # unknown tool
    call("get_weather", '{"unit":"c"}'),  # required key missing
    call("get_weather", '{"city":"Paris","unit":"k"}'),  # not in the enum
    call("count", '{"n":9}'),  # over the maximum
    call("count", '{"n":3,"m":1}'),  # additionalProperties false
    '<tool_call>\n{"name":"get_time","arguments":{}}\n</tool_call>',  # other key spacing
    TIME + "\n\n" + TIME,  # free whitespace between calls
    "Sure! " + TIME,  # text before the call
    "",
]


@pytest.mark.parametrize("choice", ["auto", "required"])
def test_parallel_calls(choice: str) -> None:
    check(ctx(choice), [PARIS, TIME, THREE, PARIS + "\n" + TIME, THREE + "\n" + THREE + "\n" +
                        PARIS], INVALID)


@pytest.mark.parametrize("choice", ["auto", "required"])
def test_one_call_when_not_parallel(choice: str) -> None:
    check(ctx(choice, parallel=False), [PARIS, TIME], [PARIS + "\n" + TIME, *INVALID])


def test_parallel_calls_are_bounded() -> None:
    eight = "\n".join([TIME] * 8)
    check(ctx("required"), [eight], [eight + "\n" + TIME])
    check(ctx("auto", options={"max_parallel_calls": 2}), [TIME + "\n" + TIME],
          [TIME + "\n" + TIME + "\n" + TIME])


def test_named_allows_only_that_tool() -> None:
    check(ctx("count"), [THREE, THREE + "\n" + THREE], [PARIS, TIME, call("count", "{}")])
    check(ctx("count", parallel=False), [THREE], [THREE + "\n" + THREE, PARIS])


def test_auto_is_lazy_on_the_word_trigger() -> None:
    plan = ctx("auto").plan()
    assert plan.lazy
    assert plan.triggers == [{"type": 1, "value": "<tool_call>"}]  # 1 = word in llama.cpp
    assert plan.preserved_tokens == ["<tool_call>", "</tool_call>"]
    assert plan.grammar and plan.grammar.startswith("root ::= calls")


def test_required_is_not_lazy() -> None:
    plan = ctx("required").plan()
    assert not plan.lazy and not plan.triggers
    assert "<tool_call>" in plan.preserved_tokens


def test_none_has_no_grammar() -> None:
    plan = ctx("none").plan()
    assert plan.grammar is None
    assert ctx("none", tools=[]).plan().grammar is None


def test_response_format_under_none_and_auto() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    check(ctx("none", response_schema=schema), ['{"a":1}'], [TIME, "hi"])
    check(ctx("auto", response_schema=schema), ['{"a":1}', TIME], ["hi", '{"b":1}'])
    assert not ctx("auto", response_schema=schema).plan().lazy


def test_qwen3_allows_a_bounded_think_block(load_template: Any) -> None:
    t = load_template("Qwen-Qwen3-0.6B.jinja")
    c = ctx("required", template=t, options={"think_max_chars": 150})
    think = "<think>\nThe user wants the time, x < y.\n</think>\n\n"
    check(c, [TIME, think + TIME, "<think></think>" + PARIS],
          ["<think>\nno end " + TIME, "<think>" + "a" * 300 + "</think>" + TIME,
           "<think>a</b></think>" + TIME, think + "Sure. " + TIME])
    plan = c.plan()
    assert {"<think>", "</think>"} <= set(plan.preserved_tokens)


def test_qwq_think_is_already_open(load_template: Any) -> None:
    c = ctx("named", template=load_template("Qwen-QwQ-32B.jinja"), forced_tool="get_time")
    check(c, ["Time.\n</think>\n\n" + TIME, "</think>" + TIME], [TIME, "<think>" + TIME])


def test_hermes3_has_no_think_block(load_template: Any) -> None:
    c = ctx("required", template=load_template("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja"))
    check(c, [TIME], ["<think></think>" + TIME])


def test_lazy_root_starts_with_the_trigger(load_template: Any) -> None:
    # llama.cpp feeds the grammar from the trigger word on: every accepted text starts with it
    c = ctx("auto", template=load_template("Qwen-QwQ-32B.jinja"))
    plan = build_plan(c.ctx, c.model, c.grammars)
    assert plan.lazy and plan.grammar
    assert not accepts(plan.grammar, "</think>" + TIME)
    assert accepts(plan.grammar, TIME)
