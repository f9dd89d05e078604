"""An unconstrained value (a tool parameter typed `any`, `{}`) shrinks under a token budget:
fewer members, shorter strings, shallower nesting — a small model looping inside one still
closes the call before max_tokens. Without a budget the usual bounds hold."""

from __future__ import annotations

import json

from gateway.gbnf_recognizer import accepts
from gateway.grammar import GrammarLimits, schema_to_gbnf

SCHEMA = {"type": "object", "properties": {"f": {}}, "required": ["f"]}
BUDGET_256 = GrammarLimits(max_free_items=4, max_free_string=64)  # what a 256-token budget gives
RETRY = GrammarLimits(max_free_items=2, max_free_string=12)  # the ⅛-budget retry


def doc(value: object) -> str:
    return json.dumps({"f": value}, separators=(",", ":"))


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_without_a_budget_the_usual_bounds() -> None:
    g = schema_to_gbnf(SCHEMA, strict=False)
    assert accepts(g, doc({f"k{i}": i for i in range(8)}))
    assert accepts(g, doc(nested(5)))
    assert accepts(g, doc("x" * 64))


def test_a_budget_shrinks_members_depth_and_strings() -> None:
    g = schema_to_gbnf(SCHEMA, strict=False, limits=BUDGET_256)
    assert accepts(g, doc({f"k{i}": i for i in range(4)}))
    assert not accepts(g, doc({f"k{i}": i for i in range(5)}))
    assert accepts(g, doc(nested(2))) and not accepts(g, doc(nested(3)))
    r = schema_to_gbnf(SCHEMA, strict=False, limits=RETRY)
    assert accepts(r, doc(["abc", 2])) and not accepts(r, doc([1, 2, 3]))
    assert not accepts(r, doc("x" * 13)) and not accepts(r, doc(nested(2)))
