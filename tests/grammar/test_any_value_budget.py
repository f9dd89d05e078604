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


def test_a_formatted_string_shrinks_under_a_budget_too() -> None:
    """A URI (200 characters and a 50-character fragment without a budget) is bounded like a
    free string: seen, a model writing "finance-finance-…" into a receipt URL ran out of
    tokens inside it, and the retry's tighter grammar did not bound it either."""
    schema = {"type": "object", "properties": {"u": {"type": "string", "format": "uri"},
                                               "r": {"type": "string", "format": "uri-reference"},
                                               "d": {"type": "string", "format": "date"}},
              "required": ["u", "r", "d"]}

    def url(n: int) -> str:
        return json.dumps({"u": "https://" + "a" * n, "r": "/x", "d": "2024-02-29"},
                          separators=(",", ":"))

    free, budget, retry = (schema_to_gbnf(schema, limits=limits)
                           for limits in (GrammarLimits(), BUDGET_256, RETRY))
    assert accepts(free, url(150))
    assert accepts(budget, url(40)) and not accepts(budget, url(100))
    assert accepts(retry, url(4)) and not accepts(retry, url(20))
    assert accepts(retry, json.dumps({"u": "https://a", "r": "/" + "b" * 11,
                                      "d": "2024-02-29"}, separators=(",", ":")))
