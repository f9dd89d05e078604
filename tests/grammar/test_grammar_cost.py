"""Shapes that keep llama.cpp's grammar engine cheap, checked for the same language: free
text as one bounded repetition, a budget that also lowers a long maxLength, escapes behind
one backslash."""

from __future__ import annotations

import json

import pytest
from gateway.callgrammar import text_blocks
from gateway.grammar import GrammarLimits, schema_to_gbnf

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf


@pytest.mark.parametrize("limit,exact,longest", [(64, True, 64), (150, False, 199),
                                                 (250, True, 199), (99, False, 99)])
def test_text_blocks_one_repetition_same_lengths(limit: int, exact: bool, longest: int) -> None:
    rules, expr = text_blocks("t", "[a]", limit, exact)
    assert expr == f"t-char{{0,{longest}}}"  # no block-or-tail split below DIRECT_MAX
    g = parse_gbnf("\n".join([f"root ::= {expr}", *rules]))
    assert accepts(g, "") and accepts(g, "a" * longest) and not accepts(g, "a" * (longest + 1))


def test_long_text_still_in_blocks() -> None:
    _, expr = text_blocks("t", "[a]", 5000)
    assert expr == "t-blk{0,50} t-char{0,99}"


def test_budget_lowers_a_long_max_length() -> None:
    budget = GrammarLimits(max_free_string=64)
    g = parse_gbnf(schema_to_gbnf({"type": "string", "maxLength": 2000}, limits=budget))
    assert accepts(g, json.dumps("a" * 64)) and not accepts(g, json.dumps("a" * 65))
    text = schema_to_gbnf({"type": "string", "maxLength": 2000}, limits=budget)
    assert "blk" not in text
    g = parse_gbnf(schema_to_gbnf({"type": "string", "minLength": 100, "maxLength": 2000},
                                  limits=budget))
    assert accepts(g, json.dumps("a" * 100)) and not accepts(g, json.dumps("a" * 101))
    assert not accepts(g, json.dumps("a" * 99))
    # without a budget the declared bound holds
    g = parse_gbnf(schema_to_gbnf({"type": "string", "maxLength": 1500}))
    assert accepts(g, json.dumps("a" * 1500)) and not accepts(g, json.dumps("a" * 1501))
