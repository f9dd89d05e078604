"""The grammars per tool_choice and parallel flag, checked with the GBNF recognizer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from gateway.dialect import ToolDef
from gateway.templating import ChatTemplate
from gateway.testing import CLOCK, WEATHER, DialectCase, make_case
from gateway_plugin_llama3 import DIALECT

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf

L32 = "meta-llama-Llama-3.2-3B-Instruct.jinja"
L33 = "meta-llama-Llama-3.3-70B-Instruct.jinja"
COUNT = ToolDef("count", "", {"type": "object", "properties": {
    "n": {"type": "integer", "minimum": 1, "maximum": 5}}, "required": ["n"],
    "additionalProperties": False})
SEARCH = ToolDef("brave_search", "Search the web", {
    "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]})
CODE = ToolDef("code_interpreter", "Run Python", {
    "type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]})


def ctx(template: ChatTemplate, choice: str = "auto", parallel: bool = True,
        tools: list[ToolDef] | None = None, **kw: Any) -> DialectCase:
    return make_case(DIALECT, tools or [WEATHER, CLOCK, COUNT], choice, template=template,
                     parallel_tool_calls=parallel, **kw)


def call(name: str, args: str) -> str:
    return f'{{"name": "{name}", "parameters": {args}}}'


def check(c: DialectCase, good: list[str], bad: list[str]) -> None:
    plan = c.plan()
    assert plan.grammar
    g = parse_gbnf(plan.grammar)
    for text in good:
        assert accepts(g, text), f"rejected: {text!r}"
    for text in bad:
        assert not accepts(g, text), f"accepted: {text!r}"


TIME, THREE = call("get_time", "{}"), call("count", '{"n":3}')
INVALID = [call("count", '{"n":9}'), call("nope", "{}"), '{"name": "get_time", "arguments": {}}',
           '{"name":"get_time","parameters":{}}', "Sure " + TIME, TIME + "\n\n" + TIME, ""]


@pytest.mark.parametrize("choice", ["auto", "required"])
def test_parallel_on_and_off(choice: str, load_template: Callable[..., Any]) -> None:
    t = load_template(L32)
    check(ctx(t, choice), [TIME, THREE, TIME + "\n" + THREE], INVALID)
    check(ctx(t, choice, parallel=False), [TIME, THREE], [TIME + "\n" + THREE, *INVALID])
    check(ctx(t, "required", options={"max_parallel_calls": 2}), [TIME + "\n" + TIME],
          [TIME + "\n" + TIME + "\n" + TIME])


def test_named_allows_only_that_tool(load_template: Callable[..., Any]) -> None:
    check(ctx(load_template(L32), "count"), [THREE], [TIME, call("count", "{}")])


def test_builtins_use_the_python_tag_on_llama33(load_template: Callable[..., Any]) -> None:
    c = ctx(load_template(L33), "required", tools=[WEATHER, SEARCH, CODE])
    search = '<|python_tag|>brave_search.call(query="news today")'
    check(c, [search, "<|python_tag|>print(1 < 2)", call("get_weather", '{"city":"Rome"}')],
          [call("brave_search", '{"query":"x"}'), search + "\n" + search, "<|python_tag|>",
           "<|python_tag|>print(1)<|eom_id|>"])
    no_code = ctx(load_template(L33), "required", tools=[WEATHER, SEARCH])
    check(no_code, [search], ['<|python_tag|>brave_search.call(q="x")',
                              "<|python_tag|>print(1)", search + ")"])
    plan = c.plan()
    assert "<|python_tag|>" in plan.preserved_tokens and plan.stop == ["<|eom_id|>"]
    auto = ctx(load_template(L33), "auto", tools=[WEATHER, SEARCH]).plan()
    assert [t["value"] for t in auto.triggers] == ['{"name": "', "<|python_tag|>"]


def test_auto_is_lazy_on_the_call_head(load_template: Callable[..., Any]) -> None:
    plan = ctx(load_template(L32), "auto").plan()
    assert plan.lazy and plan.triggers == [{"type": 1, "value": '{"name": "'}]
    assert plan.grammar and plan.grammar.startswith("root ::= calls")
    assert not plan.preserved_tokens  # no python tag without built-in tools


def test_none_and_response_format(load_template: Callable[..., Any]) -> None:
    t = load_template(L32)
    assert ctx(t, "none").plan().grammar is None
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    check(ctx(t, "none", response_schema=schema), ['{"a":1}'], [TIME])
    check(ctx(t, "auto", response_schema=schema), ['{"a":1}', TIME], ["hi"])
