"""Any output, however it is split, parses the same; nothing but separator whitespace and
markup vanishes; no call carries broken arguments; each call's id is Mistral-shaped."""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.dialect import assemble
from gateway_plugin_mistral.parser import MistralParser
from hypothesis import given, settings
from hypothesis import strategies as st

PIECES = ["[TOOL_CALLS]", "[CALL_ID]", "[ARGS]", "[THINK]", "[/THINK]", "[", "]", "{", "}",
          "get_time", "a1B2c3D4e", '"name"', '"arguments"', '"id"', ":", ",", " ", "\n",
          '"x"', "1", "tru", "<", "TOOL"]


def _parse(pieces: list[str]) -> tuple[Any, ...]:
    p = MistralParser()
    out = assemble([d for piece in pieces for d in p.feed(piece)] + p.finish())
    return out.content, out.reasoning, [(c.id, c.name, c.arguments) for c in out.tool_calls]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30), st.integers(0, 400))
def test_any_output_parses_the_same_split_or_not(parts: list[str], cut: int) -> None:
    text = "".join(parts)
    whole = _parse([text])
    for other in (_parse([text[:cut], text[cut:]]), _parse(list(text))):
        assert other[:2] == whole[:2]
        assert [c[1:] for c in other[2]] == [c[1:] for c in whole[2]]  # fresh ids differ
    for call_id, _, args in whole[2]:
        assert re.fullmatch(r"[A-Za-z0-9]{9}", call_id)
        assert isinstance(json.loads(args), dict)
    if not whole[2]:
        kept = "".join(whole[:2][i] or "" for i in (0, 1))
        solid = sum(not c.isspace() for c in text) - sum(
            len(m) * text.count(m) for m in ("[THINK]", "[/THINK]"))
        assert sum(not c.isspace() for c in kept) >= solid


def test_a_call_rehearsed_while_thinking_is_reasoning_when_a_call_is_required() -> None:
    """Required/named: `[TOOL_CALLS]` inside `[THINK]` is the model rehearsing; the call
    after `[/THINK]` is the answer's one call (with tool_choice auto it is a call)."""
    rehearsal = "call [TOOL_CALLS]get_time"
    text = "[THINK]" + rehearsal + "[/THINK]" + '[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"}'
    for pieces in ([text], list(text)):
        p = MistralParser(calls_in_reasoning=False)
        out = assemble([d for piece in pieces for d in p.feed(piece)] + p.finish())
        assert out.reasoning == rehearsal and not out.content
        assert [(c.name, json.loads(c.arguments)) for c in out.tool_calls] == [
            ("get_weather", {"city": "Oslo"})]


def test_the_think_close_after_calls_made_while_thinking_is_markup() -> None:
    """tool_choice auto: `[TOOL_CALLS]` inside `[THINK]` is a call, and the `[/THINK]` it
    interrupted, coming after the calls, is markup, not the start of the content."""
    text = '[THINK]I will call[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"}[/THINK]Done.'
    for pieces in ([text], list(text)):
        p = MistralParser()
        out = assemble([d for piece in pieces for d in p.feed(piece)] + p.finish())
        assert out.reasoning == "I will call" and out.content == "Done."
        assert [(c.name, json.loads(c.arguments)) for c in out.tool_calls] == [
            ("get_weather", {"city": "Oslo"})]
