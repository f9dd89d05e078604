"""Any output, however it is split, parses the same; without calls nothing but separator
whitespace vanishes; no call carries broken arguments."""

from __future__ import annotations

import json
from typing import Any

from gateway.dialect import assemble
from gateway_plugin_llama3.parser import Llama3Parser
from hypothesis import given, settings
from hypothesis import strategies as st

PIECES = ['{"name": ', '"get_time"', '"parameters": ', "{", "}", ",", ":", ";", " ", "\n",
          "<|python_tag|>", "<|eom_id|>", "brave_search.call(", 'query="q"', ")", '"x"', "1",
          "print(1)", "<", "{\"type\""]


def _parse(pieces: list[str], code: bool) -> tuple[Any, ...]:
    p = Llama3Parser(tools={"get_time", "brave_search", "code_interpreter"},
                     code_tool=("code_interpreter", "code") if code else None)
    out = assemble([d for piece in pieces for d in p.feed(piece)] + p.finish())
    return out.content, [(c.name, c.arguments) for c in out.tool_calls]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30), st.integers(0, 400), st.booleans())
def test_any_output_parses_the_same_split_or_not(parts: list[str], cut: int, code: bool
                                                 ) -> None:
    text = "".join(parts)
    whole = _parse([text], code)
    assert _parse([text[:cut], text[cut:]], code) == whole
    assert _parse(list(text), code) == whole
    for _, args in whole[1]:
        assert isinstance(json.loads(args), dict)
    if not whole[1]:  # all is content but whitespace and the end of a python_tag message
        kept = whole[0] or ""
        solid = sum(not c.isspace() for c in text.replace("<|eom_id|>", ""))
        assert sum(not c.isspace() for c in kept.replace("<|eom_id|>", "")) == solid
