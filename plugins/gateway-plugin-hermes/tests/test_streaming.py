"""The parser streams: a call starts once its name is complete, its arguments flow as they
arrive (not at the end), and nothing is emitted twice."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gateway.dialect import assemble
from gateway_plugin_hermes.parser import HermesParser
from hypothesis import given, settings
from hypothesis import strategies as st


def test_call_starts_at_name_and_arguments_stream() -> None:
    p = HermesParser()
    assert [d.kind for d in p.feed("Let me look.\n<tool_call>\n{\"name\": \"get_wea")]
    assert p.feed('ther"') [0].kind == "tool_start"  # fmt: skip
    out = p.feed(', "arguments": {"city": "Pa')
    assert [(d.kind, d.text) for d in out] == [("tool_args", '{"city":"Pa')]
    out = p.feed('ris", "unit": "c"')  # the key waits for its value, then goes with it
    assert "".join(d.text for d in out) == 'ris","unit":"c"'
    out = p.feed("}}\n</tool_call>") + p.finish()
    assert [(d.kind, d.text) for d in out] == [("tool_args", "}")]


def test_separator_newline_waits_for_what_follows() -> None:
    p = HermesParser()
    assert [(d.kind, d.text) for d in p.feed("Hi\n")] == [("content", "Hi")]
    assert p.feed("<tool_call>") == []
    p2 = HermesParser()
    p2.feed("Hi\n")
    assert [(d.kind, d.text) for d in p2.feed("there")] == [("content", "\nthere")]


def test_second_call_gets_next_index_and_own_id() -> None:
    p = HermesParser()
    text = '<tool_call>\n{"name": "a", "arguments": {}}\n</tool_call>\n' * 2
    starts = [d for d in p.feed(text) + p.finish() if d.kind == "tool_start"]
    assert [d.index for d in starts] == [0, 1]
    assert starts[0].id != starts[1].id


PIECES = ["<tool_call>", "</tool_call>", "<think>", "</think>", "\n", " ", "{", "}", "[", "]",
          '"name"', '"arguments"', ":", ",", '"get_time"', '"a\\"b"', "1", "tru", "x", "<"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30), st.integers(0, 400), st.booleans())
def test_any_output_parses_the_same_split_or_not(parts: list[str], cut: int, think: bool
                                                 ) -> None:
    text = "".join(parts)
    whole = _parse([text], think)
    assert _parse([text[:cut], text[cut:]], think) == whole
    assert _parse(list(text), think) == whole
    for _, args in whole[2]:
        json.loads(args)  # never a call with broken arguments
    if not whole[2]:  # nothing but whitespace may vanish
        kept = _solid((whole[0] or "") + (whole[1] or ""))
        assert kept >= _solid(text) - sum(len(m) for m in ("<think>", "</think>") if m in text)


def _parse(pieces: list[str], think: bool) -> tuple[Any, ...]:
    p = HermesParser(think_open=think)
    deltas = [d for piece in pieces for d in p.feed(piece)] + p.finish()
    out = assemble(deltas)
    return out.content, out.reasoning, [(c.name, c.arguments) for c in out.tool_calls]


def _solid(text: str) -> int:
    return sum(not c.isspace() for c in text)


def test_raw_newline_inside_a_key_still_gives_json_arguments() -> None:
    from gateway.dialect import assemble
    from gateway.testing import CLOCK, WEATHER, make_case
    from gateway_plugin_hermes import DIALECT

    ctx = make_case(DIALECT, [WEATHER, CLOCK], messages=[])
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"ci\nty": "Rome"}}\n</tool_call>'
    for pieces in ([text], list(text)):
        parser = ctx.parser()
        deltas = [d for p in pieces for d in parser.feed(p)] + parser.finish()
        calls = assemble(deltas).tool_calls
        assert len(calls) == 1 and json.loads(calls[0].arguments) == {"ci\nty": "Rome"}


@pytest.mark.parametrize("think_open", [True, False])
def test_a_call_rehearsed_while_thinking_is_reasoning_when_a_call_is_required(think_open: bool
                                                                              ) -> None:
    """Required/named: the grammar puts the calls after the `<think>` block, so a
    `<tool_call>` a small model writes while thinking is reasoning, and the call after
    `</think>` is the one call (with tool_choice auto a call there is a call)."""
    rehearsal = 'I will call <tool_call>\n{"name": "function_name", "arguments": {"city":'
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    text = ("" if think_open else "<think>") + rehearsal + "\n</think>\n\n" + call
    for pieces in ([text], list(text)):
        p = HermesParser(think_open=think_open, calls_in_reasoning=False)
        out = assemble([d for piece in pieces for d in p.feed(piece)] + p.finish())
        assert out.reasoning == rehearsal and not out.content
        assert [(c.name, c.arguments) for c in out.tool_calls] == [
            ("get_weather", '{"city":"Paris"}')]


@pytest.mark.parametrize("think_open", [True, False])
def test_the_think_close_after_calls_made_while_thinking_is_markup(think_open: bool) -> None:
    """tool_choice auto: calls written inside `<think>` are calls, and the `</think>` they
    interrupted, coming after them, is markup, not the start of the content."""
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    text = ("" if think_open else "<think>") + "I will call\n" + call + "\n" + call.replace(
        "Paris", "Oslo") + "\n</think>\n\nDone."
    for pieces in ([text], list(text)):
        p = HermesParser(think_open=think_open)
        out = assemble([d for piece in pieces for d in p.feed(piece)] + p.finish())
        assert out.reasoning == "I will call" and out.content == "Done."
        assert [json.loads(c.arguments)["city"] for c in out.tool_calls] == ["Paris", "Oslo"]
