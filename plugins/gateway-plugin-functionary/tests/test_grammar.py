"""The grammars per tool_choice and parallel flag, checked with the GBNF recognizer."""

from __future__ import annotations

import pytest
from gateway.dialect import Dialect, ToolDef
from gateway.testing import CLOCK, WEATHER, DialectCase, make_case
from gateway_plugin_functionary import V31, V32

PY = ToolDef("python", "Run Python code", {
    "type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]})

W = '<function=get_weather>{"city":"Rome"}</function>'
W_BAD = '<function=get_weather>{"city":"Rome","unit":"k"}</function>'
T = "<function=get_time>{}</function>"


def ctx(tool_choice: str = "auto", dialect: Dialect = V31, **kw) -> DialectCase:
    return make_case(dialect, [WEATHER, CLOCK], tool_choice, **kw)


@pytest.fixture(scope="module")
def accepts():
    from gateway.testing import accepts

    return accepts


V31_CASES = [
    # (tool_choice, forced, parallel, text, accepted?)
    ("auto", None, True, W, True),
    ("auto", None, True, W + T, True),
    ("auto", None, False, W + T, False),
    ("auto", None, False, T, True),
    ("auto", None, True, W_BAD, False),
    ("auto", None, True, '<function=get_weather>{}</function>', False),  # city is required
    ("auto", None, True, "<function=nope>{}</function>", False),
    ("auto", None, True, W + "\n" + T, False),  # no free whitespace between calls
    ("required", None, True, W, True),
    ("required", None, True, "hello" + W, False),
    ("required", None, True, "", False),
    ("required", None, False, W + W, False),
    ("named", "get_time", True, T, True),
    ("named", "get_time", True, T + T, True),
    ("named", "get_time", True, W, False),
    ("named", "get_time", False, T + T, False),
]


@pytest.mark.parametrize("choice,forced,parallel,text,ok", V31_CASES)
def test_v31_grammar(accepts, choice, forced, parallel, text, ok):
    plan = ctx(tool_choice=choice, forced_tool=forced,
               parallel_tool_calls=parallel).plan()
    assert plan.grammar and plan.lazy is (choice == "auto")
    assert "<|eom_id|>" in plan.stop
    assert accepts(plan.grammar, text) is ok


def test_v31_lazy_trigger_is_where_the_grammar_starts(accepts):
    plan = ctx().plan()
    assert plan.triggers == [{"type": 1, "value": "<function="}]
    assert not accepts(plan.grammar, "x" + T)  # text before the trigger is not grammar


def test_v31_python_tag(accepts):
    plan = ctx(tools=[WEATHER, PY]).plan()
    assert {"type": 1, "value": "<|python_tag|>"} in plan.triggers
    assert plan.preserved_tokens == ["<|python_tag|>"]
    assert accepts(plan.grammar, "<|python_tag|>print(1)\n")
    assert accepts(plan.grammar, W + "<|python_tag|>x = 1")
    # the code runs to the end of the turn: markup after the tag is code, as the parser reads it
    assert accepts(plan.grammar, "<|python_tag|>x = 1" + W)
    single = ctx(tools=[WEATHER, PY], parallel_tool_calls=False).plan()
    assert not accepts(single.grammar, W + "<|python_tag|>x = 1")


def test_v31_none_and_response_format(accepts):
    assert ctx(tool_choice="none").plan().grammar is None
    assert ctx(tools=[]).plan().grammar is None
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    plan = ctx(response_schema=schema).plan()
    assert not plan.lazy
    assert accepts(plan.grammar, '{"a":1}') and accepts(plan.grammar, T)
    assert not accepts(plan.grammar, '{"a":"x"}')
    none = ctx(tool_choice="none", response_schema=schema).plan()
    assert accepts(none.grammar, '{"a":1}') and not accepts(none.grammar, T)


CW, CT = 'get_weather\n{"city":"Rome"}', "get_time\n{}"
V32_CASES = [
    ("auto", None, True, "all\nHello there > you", True),
    ("auto", None, True, "all\nLet me look.>>>" + CW, True),
    ("auto", None, True, CW, True),
    ("auto", None, True, CW + ">>>" + CT, True),
    ("auto", None, True, "all\na>>>b", False),  # `>>>` opens a segment: b is no tool
    ("auto", None, False, CW + ">>>" + CT, False),
    ("auto", None, False, "all\nok>>>" + CT, True),
    ("auto", None, False, "all\nok>>>" + CT + ">>>" + CT, False),
    ("auto", None, True, "Hello", False),
    ("auto", None, True, 'get_weather\n{"city":"Rome","unit":"k"}', False),
    ("auto", None, True, "nope\n{}", False),
    ("required", None, True, CW, True),
    ("required", None, True, CW + ">>>" + CT, True),
    ("required", None, True, "all\nhi", False),
    ("required", None, True, "all\nhi>>>" + CT, False),
    ("required", None, False, CT + ">>>" + CT, False),
    ("named", "get_time", True, CT, True),
    ("named", "get_time", True, CW, False),
    ("named", "get_time", False, CT + ">>>" + CT, False),
]


@pytest.mark.parametrize("choice,forced,parallel,text,ok", V32_CASES)
def test_v32_grammar(accepts, choice, forced, parallel, text, ok):
    plan = ctx(dialect=V32, tool_choice=choice, forced_tool=forced,
               parallel_tool_calls=parallel).plan()
    assert plan.grammar and not plan.lazy
    assert accepts(plan.grammar, text) is ok


def test_v32_python_and_response_format(accepts):
    plan = ctx(dialect=V32, tools=[WEATHER, PY]).plan()
    assert accepts(plan.grammar, "python\nprint(1)>>>" + CW)
    assert accepts(plan.grammar, 'python\n{"code":"1"}')
    assert ctx(dialect=V32, tool_choice="none").plan().grammar is None
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    plan = ctx(dialect=V32, tool_choice="none", response_schema=schema).plan()
    assert accepts(plan.grammar, 'all\n{"a":1}') and not accepts(plan.grammar, CT)
    plan = ctx(dialect=V32, response_schema=schema).plan()
    assert accepts(plan.grammar, 'all\n{"a":1}') and accepts(plan.grammar, CT)
    assert not accepts(plan.grammar, "all\nfree text")
