"""The generic dialect against the conformance suite, plus its grammar and prompt."""

from __future__ import annotations

import json

import pytest
from gateway.dialects.generic import DIALECT, THOUGHT, GenericDialect, _plain_history
from gateway.testing import (
    CLOCK,
    WEATHER,
    DialectCase,
    DialectConformance,
    Golden,
    make_case,
    parse_all,
)


def env(thought: str, step: dict, choice: str = "auto") -> str:
    """The envelope: with a thought when the model decides (auto/none), the bare step when a
    call is required (no budget spent on a thought the client did not ask for)."""
    if choice in ("required", "named"):
        return json.dumps(step, separators=(",", ":"), ensure_ascii=False)
    return json.dumps({THOUGHT: thought, "next_step": step}, separators=(",", ":"),
                      ensure_ascii=False)


class TestGenericConformance(DialectConformance):
    dialect = DIALECT
    goldens = [
        Golden("one call", env("need weather", {"tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}]}),
            reasoning="need weather", calls=[("get_weather", {"city": "Paris", "unit": "c"})],
            grammar=True),
        Golden("empty arguments", env("", {"tool_calls": [{"name": "get_time", "arguments": {}}]}),
               calls=[("get_time", {})], tags={"empty_arguments"}, grammar=True),
        Golden("several calls", env("two", {"tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Oslo \"N\" \u00e9"}},
            {"name": "get_time", "arguments": {}}]}), reasoning="two",
            calls=[("get_weather", {"city": "Oslo \"N\" \u00e9"}), ("get_time", {})],
            tags={"several_calls"}, grammar=True),
        Golden("thought before call is reasoning, not content", env("I will call\nnow", {
            "tool_calls": [{"name": "get_time", "arguments": {}}]}),
            reasoning="I will call\nnow", calls=[("get_time", {})],
            tags={"content_before_call"}, grammar=True),
        Golden("result", env("answer", {"result": "It is \"sunny\"\n\u2600"}),
               reasoning="answer", content="It is \"sunny\"\n\u2600"),
        Golden("result as schema JSON", env("x", {"result": {"a": [1, 2.5, None]}}),
               reasoning="x", content='{"a":[1,2.5,null]}', ctx={"json_mode": True}),
        Golden("plain text is content", "Hello there, no JSON.", content="Hello there, no JSON.",
               tags={"malformed"}),
        Golden("truncated envelope", '{"' + THOUGHT + '":"abc","next_step":{"tool_calls":[{"na',
               reasoning="abc", tags={"malformed"}),
    ]


def ctx(tool_choice: str = "auto", **kw) -> DialectCase:
    return make_case(DIALECT, [WEATHER, CLOCK], tool_choice, **kw)


@pytest.fixture(scope="module")
def recognizer():
    from tests.grammar.gbnf_recognizer import accepts  # the test suite's GBNF recognizer

    return accepts


CALL_W = {"name": "get_weather", "arguments": {"city": "Rome"}}
CALL_T = {"name": "get_time", "arguments": {}}
CASES = [
    # (tool_choice, forced, parallel, step, accepted?)
    ("auto", None, True, {"tool_calls": [CALL_W]}, True),
    ("auto", None, True, {"result": "hi"}, True),
    ("auto", None, True, {"tool_calls": [CALL_W, CALL_T]}, True),
    ("auto", None, False, {"tool_calls": [CALL_W, CALL_T]}, False),
    ("auto", None, True, {"tool_calls": []}, False),
    ("required", None, True, {"result": "hi"}, False),
    ("required", None, True, {"tool_calls": [CALL_T]}, True),
    ("none", None, True, {"tool_calls": [CALL_T]}, False),
    ("none", None, True, {"result": "hi"}, True),
    ("named", "get_time", True, {"tool_calls": [CALL_W]}, False),
    ("named", "get_time", True, {"tool_calls": [CALL_T]}, True),
    ("auto", None, True, {"tool_calls": [{"name": "nope", "arguments": {}}]}, False),
    ("auto", None, True, {"tool_calls": [{"name": "get_weather", "arguments": {}}]}, False),
    ("auto", None, True, {"tool_calls": [{"name": "get_weather",
                                          "arguments": {"city": "R", "unit": "k"}}]}, False),
]


@pytest.mark.parametrize("choice,forced,parallel,step,ok", CASES)
def test_grammar_enforces_tool_choice(recognizer, choice, forced, parallel, step, ok):
    c = ctx(tool_choice=choice, forced_tool=forced, parallel_tool_calls=parallel)
    plan = c.plan()
    assert plan.grammar and not plan.lazy
    assert recognizer(plan.grammar, env("t", step, choice)) is ok
    if choice in ("required", "named"):
        assert not recognizer(plan.grammar, env("t", step))  # no thought there


def test_grammar_bounds_thought_and_forbids_whitespace(recognizer):
    plan = ctx().plan()
    call = {"tool_calls": [CALL_T]}
    assert recognizer(plan.grammar, env("x" * 200, call))
    assert not recognizer(plan.grammar, env("x" * 201, call))
    assert not recognizer(plan.grammar, env("t", call).replace(":", ": ", 1))


def test_no_tools_no_grammar_unless_response_format():
    c = ctx(tools=[])
    assert c.plan().grammar is None
    c = c.replace(response_schema={"type": "object", "properties": {"a": {"type": "integer"}}})
    assert c.plan().grammar


def test_prompt_describes_tools_in_both_styles():
    from gateway.templating import ChatTemplate

    t = ChatTemplate("{% for m in messages %}<{{m.role}}>{{m.content}}\n{% endfor %}")
    for style, needle in (("typescript", "type get_weather = (_: {"),
                          ("json", '"name": "get_weather"')):
        c = ctx(template=t, options={"tool_style": style})
        prompt = GenericDialect().render_prompt(c.ctx, c.model)
        assert needle in prompt and "get_time" in prompt and prompt.startswith("<system>")


def test_enum_values_the_request_names_are_shown_first_then_the_default():
    from gateway.dialect import ToolDef
    from gateway.templating import ChatTemplate

    t = ChatTemplate("{% for m in messages %}<{{m.role}}>{{m.content}}\n{% endfor %}")
    weather = ToolDef("get_weather", "Weather for a city", {"type": "object", "properties": {
        "city": {"type": "string"},
        "unit": {"enum": ["celsius", "fahrenheit"], "default": "fahrenheit"},
        "days": {"type": "array", "items": {"enum": ["today", "tomorrow", "next week"]}}}})

    def shown(ask: str, style: str = "typescript") -> str:
        c = ctx(template=t, tools=[weather], messages=[{"role": "user", "content": ask}],
                options={"tool_style": style})
        return GenericDialect().render_prompt(c.ctx, c.model)
    assert 'unit?: "fahrenheit" | "celsius"' in shown("Weather in Oslo?")  # the default first
    said = shown("Weather in Oslo in Celsius, for next week")
    assert 'unit?: "celsius" | "fahrenheit"' in said
    assert '("next week" | "today" | "tomorrow")[]' in said  # every word of it named
    assert '("today" | "tomorrow" | "next week")[]' in shown("Oslo next Monday")
    # the json style shows the schema as given
    assert '["celsius", "fahrenheit"]' in shown("Weather in Oslo?", "json")


def test_history_with_calls_and_results_is_plain_turns():
    msgs = [{"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "21C"},
            {"role": "user", "content": "Thanks"}]
    out = _plain_history(msgs)
    assert [m["role"] for m in out] == ["user", "assistant", "user"]
    assert json.loads(out[1]["content"])["next_step"]["tool_calls"][0] == {
        "name": "get_weather", "arguments": {"city": "Rome"}}
    assert "get_weather" in out[2]["content"] and "21C" in out[2]["content"]
    assert out[2]["content"].endswith("Thanks")


def test_parallel_calls_are_bounded(recognizer):
    """A small model repeats a call until max_tokens in an unbounded list: cap it."""
    c = ctx(tool_choice="required", options={"max_parallel_calls": 3})
    grammar = c.plan().grammar
    assert recognizer(grammar, env("t", {"tool_calls": [CALL_T] * 3}, "required"))
    assert not recognizer(grammar, env("t", {"tool_calls": [CALL_T] * 4}, "required"))


def test_thought_option_and_budget(recognizer):
    c = ctx(tool_choice="required", options={"thought": "always"})
    grammar = c.plan().grammar
    assert recognizer(grammar, env("why", {"tool_calls": [CALL_T]}))
    c = ctx(tool_choice="auto")
    c = c.replace(budget_tokens=64)  # a quarter of the budget at most, in characters
    grammar = c.plan().grammar
    assert recognizer(grammar, env("x" * 16, {"tool_calls": [CALL_T]}))
    assert not recognizer(grammar, env("x" * 17, {"tool_calls": [CALL_T]}))
    # and at most budget/64 calls
    assert not recognizer(grammar, env("", {"tool_calls": [CALL_T, CALL_W]}))


def quoting_grammar(messages: list[dict], **kw) -> str:
    plan = ctx("required", messages=messages, options={"quote": "on"}, **kw).plan()
    assert plan.grammar
    return plan.grammar


def test_quote_is_an_excerpt_of_the_last_user_message(recognizer) -> None:
    """With the `quote` option each call first quotes the words of the request it serves:
    the excerpt comes from the conversation (not from the cached plan), so two requests with
    the same tools quote their own message."""
    def answer(quote: str) -> str:
        return json.dumps({"tool_calls": [{"quote": quote, **CALL_W}]}, separators=(",", ":"))

    oslo = quoting_grammar([{"role": "user", "content": "the weather in Rome, now"}])
    paris = quoting_grammar([{"role": "user", "content": "Weather in Paris?"},
                             {"role": "assistant", "content": "Which day?"},
                             {"role": "user", "content": "today in Rome"}])
    assert recognizer(oslo, answer("weather in Rome,"))
    assert not recognizer(oslo, answer("today in Rome"))
    assert recognizer(paris, answer("today in Rome"))
    assert not recognizer(paris, answer("Weather in Paris?"))
    assert not recognizer(oslo, json.dumps({"tool_calls": [CALL_W]}, separators=(",", ":")))


def test_quote_parsed_away() -> None:
    case = ctx("required", options={"quote": "on"})
    text = json.dumps({"tool_calls": [{"quote": "hi", **CALL_W}]}, separators=(",", ":"))
    out = parse_all(case, [text])
    assert [d.kind for d in out if d.kind != "tool_args"] == ["tool_start"]
    assert json.loads("".join(d.text for d in out if d.kind == "tool_args")) == CALL_W["arguments"]


def test_without_a_user_message_calls_do_not_quote(recognizer) -> None:
    g = quoting_grammar([{"role": "system", "content": "be brief"}])
    assert recognizer(g, json.dumps({"tool_calls": [CALL_W]}, separators=(",", ":")))


def test_quote_off_adds_no_rules() -> None:
    case = ctx("required")
    assert DIALECT.conversation_rules(case.ctx, case.model) == ""
    assert "call-open" not in case.plan().grammar


def compact(x: object) -> str:
    return json.dumps(x, separators=(",", ":"))


def test_more_calls_option_splits_the_call_list(recognizer) -> None:
    """`more_calls_pct`: the first call alone, then more calls or the end, each grammar
    from where the last one stopped; together they accept what the whole grammar accepts."""
    c = ctx("required", options={"more_calls_pct": 30, "max_parallel_calls": 3})
    plan = c.plan()
    d = plan.decision
    assert d is not None and d.threshold == 0.3 and d.close == "]}"
    head = '{"tool_calls":[' + compact(CALL_W)
    assert recognizer(d.first, head)
    assert not recognizer(d.first, head + "]}")  # part one ends at the decision
    assert not recognizer(d.first, head + "," + compact(CALL_T))
    assert recognizer(plan.grammar, head + d.close)
    assert recognizer(d.one, "," + compact(CALL_T))
    assert recognizer(d.one, "," + compact(CALL_W))
    assert not recognizer(d.one, "]}")  # going on means one more call
    assert not recognizer(d.one, "," + compact(CALL_T) + "]}")  # and only one: then decide
    assert not recognizer(d.one, ("," + compact(CALL_T)) * 2)
    assert d.cap == 3 and not d.each  # the cap holds: at most two decisions to go on
    assert recognizer(d.more, "," + compact(CALL_T) + "]}")
    assert recognizer(d.more, "," + compact(CALL_T) + "," + compact(CALL_W) + "]}")
    assert not recognizer(d.more, "]}")  # going on means one more call at least
    assert not recognizer(d.more, ("," + compact(CALL_T)) * 3 + "]}")  # the cap holds
    each = ctx("required", options={"more_calls_pct": 30, "more_calls_each": "on"})
    assert each.plan().decision.each
    assert recognizer(d.rest, "]}") and recognizer(d.rest, "," + compact(CALL_T) + "]}")
    assert not recognizer(d.rest, ("," + compact(CALL_T)) * 3 + "]}")


def test_more_calls_option_only_where_a_call_list_is_all() -> None:
    on = {"more_calls_pct": 30}
    for choice, options, kw in [("required", {"more_calls_pct": 0}, {}),
                                ("required", on, {"parallel_tool_calls": False}),
                                ("auto", on, {}),
                                ("required", {**on, "thought": "always"}, {})]:
        d = ctx(choice, options=options, **kw).plan().decision
        assert d is None or not d.probe_more, (choice, options, kw)
        no_prior = ctx(choice, options={**options, "name_prior_odds": 0,
                                        "ground_values": "off"}, **kw)
        assert no_prior.plan().decision is None, (choice, options, kw)
    assert ctx("get_time", options={"more_calls_pct": 30}).plan().decision is not None
    default = ctx("required").plan().decision  # the measured defaults
    assert default.threshold == 0.05 and default.novel
    unchecked = ctx("required", options={"more_calls_novel": "off"}).plan().decision
    assert unchecked.threshold == 0.2 and not unchecked.novel
    assert not ctx("required", options={"more_calls_novel": "off", "more_calls_pct": 10}
                   ).plan().decision.novel


def test_name_prior_decision(recognizer) -> None:
    """With several tools under required: each tool's call rule and name as written; the
    request's words give the prior (the weather tool for a weather request), and
    `first_for` limits the first call to the chosen tools."""
    c = ctx("required", messages=[{"role": "user", "content": "What's the weather in Rome?"}])
    d = c.plan().decision
    assert d is not None and d.picks == ("call0", "call1")
    assert d.names == ('get_weather"', 'get_time"')
    assert d.name_open + d.names[0] == '{"tool_calls":[{"name":"get_weather"'
    assert len(d.prior) == 2 and d.prior[0] > d.prior[1]
    assert abs(max(d.prior) / min(d.prior) - 20) < 1e-6  # the default odds
    head_w, head_t = '{"tool_calls":[' + compact(CALL_W), '{"tool_calls":[' + compact(CALL_T)
    assert recognizer(d.first, head_w) and recognizer(d.first, head_t)
    assert recognizer(d.first_for([0]), head_w) and not recognizer(d.first_for([0]), head_t)
    assert recognizer(d.first_for([1]), head_t) and not recognizer(d.first_for([1]), head_w)
    assert recognizer(d.first_for([0, 1]), head_t)
    # no word of the request in any tool: no prior, the model's choice is left alone
    bare = ctx("required", messages=[{"role": "user", "content": "hello there"}])
    assert bare.plan().decision.prior == ()
    # one tool (named), or quotes in front of the name: nothing to choose
    assert ctx("get_time").plan().decision is None or not ctx("get_time").plan().decision.picks
    quoted = ctx("required", messages=[{"role": "user", "content": "weather in Rome"}],
                 options={"quote": "on"}).plan().decision
    assert quoted is None or not quoted.picks
    odds = ctx("required", messages=[{"role": "user", "content": "weather in Rome"}],
               options={"name_prior_odds": 400}).plan().decision
    assert abs(max(odds.prior) / min(odds.prior) - 400) < 1e-6


def test_more_calls_with_quotes(recognizer) -> None:
    """The conversation's quote rules reach both parts."""
    c = ctx("required", messages=[{"role": "user", "content": "Rome weather and the time"}],
            options={"more_calls_pct": 30, "quote": "on"})
    d = c.plan().decision
    assert d is not None
    assert recognizer(d.first, '{"tool_calls":[' + compact({"quote": "Rome weather", **CALL_W}))
    assert recognizer(d.one, "," + compact({"quote": "the time", **CALL_T}))
    assert not recognizer(d.one, "," + compact({"quote": "Paris", **CALL_T}))
