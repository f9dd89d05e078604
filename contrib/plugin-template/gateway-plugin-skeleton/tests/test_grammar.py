"""What the skeleton's grammar accepts and rejects under each tool_choice (checked with the
GBNF recognizer that ships in gateway.testing)."""

from __future__ import annotations

from gateway.testing import CLOCK, WEATHER, accepts, make_case
from gateway_plugin_skeleton import DIALECT

PARIS = '<call:get_weather>{"city":"Paris"}</call>'
TIME = "<call:get_time>{}</call>"


def plan(tool_choice: str = "auto", **kw: object):  # noqa: ANN201 - a GrammarPlan
    return make_case(DIALECT, [WEATHER, CLOCK], tool_choice, **kw).plan()


def test_auto_is_lazy_from_the_call_marker() -> None:
    p = plan("auto")
    assert p.lazy and [t["value"] for t in p.triggers] == ["<call:"]
    assert p.grammar is not None
    assert accepts(p.grammar, PARIS) and accepts(p.grammar, PARIS + "\n" + TIME)
    assert not accepts(p.grammar, '<call:get_weather>{"town":"Paris"}</call>')  # schema
    assert not accepts(p.grammar, "<call:send_mail>{}</call>")  # not a tool


def test_required_starts_with_a_call() -> None:
    p = plan("required")
    assert not p.lazy and p.grammar is not None
    assert accepts(p.grammar, TIME)
    assert not accepts(p.grammar, "Sure. " + TIME)


def test_named_allows_only_that_tool() -> None:
    p = plan("get_time")
    assert p.grammar is not None
    assert accepts(p.grammar, TIME) and not accepts(p.grammar, PARIS)


def test_one_call_without_parallel_calls() -> None:
    p = plan("required", parallel_tool_calls=False)
    assert p.grammar is not None
    assert accepts(p.grammar, TIME) and not accepts(p.grammar, TIME + "\n" + TIME)


def test_none_has_no_grammar() -> None:
    assert plan("none").grammar is None


def test_response_format_under_auto_is_a_call_or_the_json() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    p = plan("auto", response_schema=schema)
    assert not p.lazy and p.grammar is not None
    assert accepts(p.grammar, '{"a":1}') and accepts(p.grammar, TIME)
    assert not accepts(p.grammar, "hello")
