"""The grammars per call shape, tool_choice and parallel flag, checked with the GBNF
recognizer: what each accepts and rejects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from gateway.dialect import ToolDef
from gateway.templating import ChatTemplate
from gateway.testing import CLOCK, WEATHER, DialectCase, make_case
from gateway_plugin_mistral import DIALECT

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf

NEMO = "mistralai-Mistral-Nemo-Instruct-2407.jinja"
SMALL = "Mistral-Small-3.2-24B-Instruct-2506.jinja"
MINISTRAL = "mistralai-Ministral-3-14B-Reasoning-2512.jinja"
COUNT = ToolDef("count", "", {"type": "object", "properties": {
    "n": {"type": "integer", "minimum": 1, "maximum": 5}}, "required": ["n"],
    "additionalProperties": False})
ID = "a1B2c3D4e"


def ctx(template: ChatTemplate, choice: str = "auto", parallel: bool = True,
        **kw: Any) -> DialectCase:
    return make_case(DIALECT, [WEATHER, CLOCK, COUNT], choice, template=template,
                     parallel_tool_calls=parallel, **kw)


def check(c: DialectCase, good: list[str], bad: list[str]) -> None:
    plan = c.plan()
    assert plan.grammar
    g = parse_gbnf(plan.grammar)
    for text in good:
        assert accepts(g, text), f"rejected: {text!r}"
    for text in bad:
        assert not accepts(g, text), f"accepted: {text!r}"


def small(name: str, args: str, call_id: str = ID) -> str:
    return f"[TOOL_CALLS]{name}[CALL_ID]{call_id}[ARGS]{args}"


def ministral(name: str, args: str) -> str:
    return f"[TOOL_CALLS]{name}[ARGS]{args}"


def nemo(*calls: tuple[str, str]) -> str:
    return "[TOOL_CALLS][" + ", ".join(
        f'{{"name": "{n}", "arguments": {a}, "id": "{ID}"}}' for n, a in calls) + "]"


@pytest.mark.parametrize("choice", ["auto", "required"])
def test_small32_shape_ids_and_parallel(choice: str, load_template: Callable[..., Any]) -> None:
    t = load_template(SMALL)
    one, two = small("get_time", "{}"), small("count", '{"n":3}')
    bad = [small("get_time", "{}", "abc"), small("get_time", "{}", "a1B2c3D4_"),
           small("count", '{"n":9}'), small("nope", "{}"), ministral("get_time", "{}"),
           "Sure " + one, one + " ", ""]
    check(ctx(t, choice), [one, two, one + two], bad)
    check(ctx(t, choice, parallel=False), [one, two], [one + two, *bad])


def test_nemo_array_shape(load_template: Callable[..., Any]) -> None:
    t = load_template(NEMO)
    one = nemo(("get_weather", '{"city":"Paris","unit":"c"}'))
    two = nemo(("get_time", "{}"), ("count", '{"n":2}'))
    bad = ['[TOOL_CALLS][{"name": "get_time", "arguments": {}}]',  # the id is part of it
           nemo(("get_weather", '{"unit":"c"}')), small("get_time", "{}"), one + one, ""]
    check(ctx(t, "required"), [one, two], bad)
    check(ctx(t, "required", parallel=False), [one], [two, *bad])


def test_parallel_calls_are_bounded(load_template: Callable[..., Any]) -> None:
    t = load_template(MINISTRAL)
    call = ministral("get_time", "{}")
    check(ctx(t, "required", options={"think_max_chars": 0}), [call * 8], [call * 9])
    check(ctx(t, "auto", options={"max_parallel_calls": 2}), [call * 2], [call * 3])


def test_named_allows_only_that_tool(load_template: Callable[..., Any]) -> None:
    t = load_template(SMALL)
    check(ctx(t, "count"), [small("count", '{"n":1}')],
          [small("get_time", "{}"), small("count", "{}")])


def test_ministral_think_block_is_bounded(load_template: Callable[..., Any]) -> None:
    t = load_template(MINISTRAL)
    call = ministral("get_weather", '{"city":"Rome"}')
    c = ctx(t, "required", options={"think_max_chars": 150})
    check(c, [call, "[THINK]Rome, x < y [ok].[/THINK]" + call],
          ["[THINK]" + "a" * 300 + "[/THINK]" + call, "[THINK]no end" + call,
           "[THINK]a[/b][/THINK]" + call, "Sure." + call])
    assert {"[THINK]", "[/THINK]", "[TOOL_CALLS]", "[ARGS]"} <= set(
        c.plan().preserved_tokens)
    check(ctx(load_template(SMALL), "required"), [small("get_time", "{}")],
          ["[THINK]x[/THINK]" + small("get_time", "{}")])


def test_auto_is_lazy_on_the_tool_calls_marker(load_template: Callable[..., Any]) -> None:
    for name in (NEMO, SMALL, MINISTRAL):
        plan = ctx(load_template(name), "auto").plan()
        assert plan.lazy and plan.triggers == [{"type": 1, "value": "[TOOL_CALLS]"}]
        assert plan.grammar and plan.grammar.startswith("root ::= calls")
        assert "[TOOL_CALLS]" in plan.preserved_tokens


def test_none_and_response_format(load_template: Callable[..., Any]) -> None:
    t = load_template(SMALL)
    assert ctx(t, "none").plan().grammar is None
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    check(ctx(t, "none", response_schema=schema), ['{"a":1}'], [small("get_time", "{}")])
    check(ctx(t, "auto", response_schema=schema), ['{"a":1}', small("get_time", "{}")], ["hi"])
