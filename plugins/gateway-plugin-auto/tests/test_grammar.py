"""The grammars built from derived specs, checked with the core's GBNF recognizer: the
template's own markers, planted calls as the template writes them, and what each tool_choice
and parallel_tool_calls setting accepts and rejects."""

from __future__ import annotations

import json
from typing import Any

import pytest
from auto_helpers import context, load, spec_of
from gateway.dialect import ToolDef, word_trigger
from gateway.grammar import SchemaError, literal
from gateway.testing import CLOCK, WEATHER, accepts, parse_gbnf
from gateway_plugin_auto import Spec
from test_derivation import DERIVED

COUNT = ToolDef("count", "", {"type": "object", "properties": {
    "n": {"type": "integer", "minimum": 1, "maximum": 5}}, "required": ["n"],
    "additionalProperties": False})
TOOLS = [WEATHER, CLOCK, COUNT]
PARIS = ("get_weather", {"city": "Paris", "unit": "c"})
TIME = ("get_time", {})
THREE = ("count", {"n": 3})


def model_text(spec: Spec, calls: list[tuple[str, dict[str, Any]]], lazy: bool = False,
               before: str = "") -> str:
    """The calls as a grammar-following model writes them: the template's own syntax, with
    JSON arguments compact (the schema converter's form)."""
    text = spec.render_calls(calls)
    if spec.args is None:
        for _, args in calls:
            text = text.replace(json.dumps(args, separators=spec.json_spacing),
                                json.dumps(args, separators=(",", ":")))
    if lazy:
        at = spec.trigger_in_open
        return text[at:] if at >= 0 else text
    if spec.think and spec.think_forced:
        return spec.think[1] + "\n\n" + before + text  # the opened block is closed first
    return before + text


def grammar(template: Any, choice: str = "auto", **kw: Any) -> Any:
    plan = context(template, TOOLS, choice, **kw).plan()
    assert plan.grammar
    return plan, parse_gbnf(plan.grammar)


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_planted_calls_rendered_by_the_template_are_accepted(name: str) -> None:
    t = load(name)
    spec = spec_of(t)
    several = [PARIS] if spec.single_call else [PARIS, TIME, THREE]
    plan, g = grammar(t, "required")
    assert not plan.lazy and spec.trigger in plan.preserved_tokens
    for calls in ([PARIS], [TIME], several):
        assert accepts(g, model_text(spec, calls)), calls
    assert not accepts(g, model_text(spec, [("get_wether", {"city": "Paris"})]))
    assert not accepts(g, model_text(spec, [("count", {})]))  # required argument missing
    assert not accepts(g, model_text(spec, [TIME], before="Sure. "))  # no text before calls
    plan, g = grammar(t, "auto")
    assert plan.lazy and plan.triggers == [word_trigger(spec.trigger)]
    assert plan.grammar is not None and literal(spec.trigger).strip('"') in plan.grammar
    for calls in ([PARIS], several):
        assert accepts(g, model_text(spec, calls, lazy=True)), calls


@pytest.mark.parametrize("name", ["Qwen-Qwen3-Coder.jinja", "zai-org-GLM-4.6.jinja",
                                  "moonshotai-Kimi-K2-Instruct.jinja",
                                  "LiquidAI-LFM2.5-8B-A1B.jinja"])
def test_parallel_calls_and_named(name: str) -> None:
    t = load(name)
    spec = spec_of(t)
    one, two = model_text(spec, [TIME]), model_text(spec, [TIME, PARIS])
    _, g = grammar(t, "required", parallel_tool_calls=False)
    assert accepts(g, one) and not accepts(g, two)
    four = model_text(spec, [TIME] * 4)
    _, g = grammar(t, "required")
    assert accepts(g, four) and not accepts(g, model_text(spec, [TIME] * 5))
    _, g = grammar(t, "required", options={"max_parallel_calls": 2})
    assert accepts(g, two) and not accepts(g, model_text(spec, [TIME] * 3))
    _, g = grammar(t, "count")
    assert accepts(g, model_text(spec, [THREE])) and not accepts(g, one)


def test_tagged_values_follow_each_parameter_schema() -> None:
    t = load("Qwen-Qwen3-Coder.jinja")
    spec = spec_of(t)
    _, g = grammar(t, "required", options={"value_max_chars": 150})
    ok = [PARIS, ("get_weather", {"city": "São Paulo\nBR"}), ("get_weather", {"city": "x<y"})]
    for call in ok:
        assert accepts(g, model_text(spec, [call])), call
    bad = [("get_weather", {"city": "Paris", "unit": "k"}),  # not in the enum
           ("count", {"n": 9}),  # over the maximum
           ("get_weather", {"unit": "c", "city": "Paris"}),  # not in declared order
           ("get_weather", {"city": "a</b"}),  # could be the end marker
           ("get_weather", {"city": "x" * 300})]  # over value_max_chars
    for call in bad:
        assert not accepts(g, model_text(spec, [call])), call
    twice = model_text(spec, [PARIS]).replace("</parameter>\n", "</parameter>\n<parameter=city>"
                                              "\nRome\n</parameter>\n", 1)
    assert not accepts(g, twice)  # each parameter at most once


def test_no_free_whitespace() -> None:
    t = load("zai-org-GLM-4.6.jinja")
    spec = spec_of(t)
    _, g = grammar(t, "required")
    text = model_text(spec, [PARIS])
    assert accepts(g, text)
    assert not accepts(g, text.replace("\n", "\n\n", 1))
    assert not accepts(g, text.replace("<arg_key>", " <arg_key>", 1))


def test_reasoning_before_required_calls() -> None:
    qwen3, minimax = load("Qwen-Qwen3-0.6B.jinja"), load("MiniMaxAI-MiniMax-M2.jinja")
    call = model_text(spec_of(qwen3), [TIME])
    _, g = grammar(qwen3, "required", options={"think_max_chars": 150})
    assert accepts(g, call) and accepts(g, "<think>\nx < y\n</think>\n\n" + call)
    assert not accepts(g, "<think>" + "a" * 300 + "</think>" + call)
    _, g = grammar(minimax, "required")
    spec = spec_of(minimax)
    assert accepts(g, "Weather.\n</think>\n\n" + spec.render_calls([TIME]))
    assert not accepts(g, spec.render_calls([TIME]))  # the opened block must close first


def test_none_and_response_format() -> None:
    t = load("Qwen-Qwen3-Coder.jinja")
    assert context(t, TOOLS, "none").plan().grammar is None
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    plan, g = grammar(t, "auto", response_schema=schema)
    assert not plan.lazy
    assert accepts(g, '{"a":1}') and accepts(g, spec_of(t).render_calls([TIME]))
    assert not accepts(g, "hi")
    plan = context(t, TOOLS, "none", response_schema=schema).plan()
    assert plan.grammar and accepts(parse_gbnf(plan.grammar), '{"a":1}')


def test_unenforceable_string_keyword_is_refused_under_strict() -> None:
    tool = ToolDef("zip", "", {"type": "object", "properties": {
        "code": {"type": "string", "pattern": "^[0-9]{5}$"}}}, strict=True)
    t = load("Qwen-Qwen3-Coder.jinja")
    with pytest.raises(SchemaError) as err:
        context(t, [tool], "required").plan()
    assert err.value.keyword == "pattern"
    loose = ToolDef("zip", "", tool.parameters)  # not strict: left to the call gate
    assert context(t, [loose], "required").plan().grammar


def test_json_arguments_use_the_schema_converter() -> None:
    t = load("moonshotai-Kimi-K2-Instruct.jinja")
    spec = spec_of(t)
    _, g = grammar(t, "required")
    assert accepts(g, model_text(spec, [THREE]))
    assert not accepts(g, model_text(spec, [("count", {"n": 3, "m": 1})]))
    assert not accepts(g, spec.render_calls([THREE]))  # the template's spacing is not free


def test_a_running_call_number_is_the_one_the_template_writes() -> None:
    t = load("moonshotai-Kimi-K2-Instruct.jinja")
    spec = spec_of(t)
    _, g = grammar(t, "required")
    two = model_text(spec, [TIME, PARIS])
    assert ":0<" in two and ":1<" in two and accepts(g, two)
    assert not accepts(g, two.replace(":1<", ":0<"))  # the second call is number 1
    assert not accepts(g, two.replace(":0<", ":202<"))


def test_the_token_budget_shapes_calls_reasoning_and_values() -> None:
    kimi = load("moonshotai-Kimi-K2-Instruct.jinja")
    spec = spec_of(kimi)
    one, two = model_text(spec, [TIME]), model_text(spec, [TIME, PARIS])
    _, g = grammar(kimi, "required", budget_tokens=128)  # Kimi's markup: one call fits
    assert accepts(g, one) and not accepts(g, two)
    _, g = grammar(kimi, "required", budget_tokens=1024)
    assert accepts(g, model_text(spec, [TIME, PARIS, THREE]))
    minimax = load("MiniMaxAI-MiniMax-M2.jinja")  # its prompt opens <think>
    call = spec_of(minimax).render_calls([TIME])
    _, g = grammar(minimax, "required", budget_tokens=128)
    assert accepts(g, "x" * 20 + "</think>\n\n" + call)
    assert not accepts(g, "x" * 64 + "</think>\n\n" + call)  # leaves room for the call
    qwen3 = load("Qwen-Qwen3-0.6B.jinja")  # optional <think>: none under a small budget
    _, g = grammar(qwen3, "required", budget_tokens=128)
    call = model_text(spec_of(qwen3), [TIME])
    assert accepts(g, call) and not accepts(g, "<think>\nx\n</think>\n\n" + call)
    coder = load("Qwen-Qwen3-Coder.jinja")  # a free raw string: as the core bounds JSON ones
    _, g = grammar(coder, "required", budget_tokens=128)
    assert accepts(g, model_text(spec_of(coder), [("get_weather", {"city": "x" * 32})]))
    assert not accepts(g, model_text(spec_of(coder), [("get_weather", {"city": "x" * 33})]))
