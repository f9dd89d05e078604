"""uniqueItems over items with a finite set of values: any order for a few values, the
listed order for more (a sound subset); refused for free items. Differential tests over
random arrays: nothing invalid is accepted, and every valid array in the grammar's order is."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from gateway.grammar import GrammarLimits, SchemaError, schema_to_gbnf

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf, sample
from tests.grammar.grammar_helpers import is_valid

# name → (items, values to draw from (listed order first), how many values items admit)
ITEMS: dict[str, tuple[dict[str, Any], list[Any], int]] = {
    "small_enum": ({"enum": ["a", "b", "c"]}, ["a", "b", "c", "d"], 3),
    "boolean": ({"type": "boolean"}, [True, False, 0], 2),
    "large_enum": ({"enum": [f"v{i}" for i in range(30)]}, [f"v{i}" for i in range(32)], 30),
    "integer_range": ({"type": "integer", "minimum": 1, "maximum": 20}, list(range(0, 22)),
                      20),
    "any_of_consts": ({"anyOf": [{"const": 1}, {"const": "x"}, {"type": "null"},
                                 {"enum": [2, 3, 4, 5, 6, 7, 8, 9]}]},
                      [1, "x", None, 2, 5, 9, 10, "y"], 11),
    "ref_to_enum": ({"$ref": "#/$defs/e"}, ["p", "q", "r"], 3),
}
BOUNDS = [(0, None), (1, None), (2, 4), (0, 1), (3, None)]


def _order(values: list[Any], arr: list[Any]) -> list[Any]:
    pos = {json.dumps(v): i for i, v in enumerate(values)}
    return sorted(arr, key=lambda v: pos.get(json.dumps(v), len(pos)))


@pytest.mark.parametrize("name", sorted(ITEMS))
@pytest.mark.parametrize("lo,hi", BOUNDS)
def test_unique_items_exact(name: str, lo: int, hi: int | None) -> None:
    items, pool, count = ITEMS[name]
    schema: dict[str, Any] = {"type": "array", "items": items, "uniqueItems": True,
                              "minItems": lo, "$defs": {"e": {"enum": ["p", "q", "r"]}}}
    if hi is not None:
        schema["maxItems"] = hi
    try:
        g = parse_gbnf(schema_to_gbnf(schema))
    except SchemaError as err:  # minItems beyond the number of values
        assert err.keyword == "minItems" and lo > count
        return
    listed = [v for v in pool if is_valid({**schema, "uniqueItems": False, "minItems": 0,
                                           "maxItems": 1}, [v])]
    rng = random.Random(f"{name}{lo}{hi}")
    for _ in range(300):
        arr = [rng.choice(pool) for _ in range(rng.randrange(0, 6))]
        for doc in (arr, _order(listed, arr)):
            text = json.dumps(doc, separators=(",", ":"))
            valid, got = is_valid(schema, doc), accepts(g, text)
            assert not got or valid, f"invalid accepted: {text}"
            if doc is not arr or count <= 8:  # few values: any order
                assert got or not valid, f"valid rejected: {text}"
    for _ in range(40):
        text = sample(g, rng)
        assert is_valid(schema, json.loads(text)), text


@pytest.mark.parametrize("items", [{"type": "string"}, {"type": "integer"},
                                   {"type": "string", "minLength": 1}])
def test_free_items_refused(items: dict[str, Any]) -> None:
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf({"type": "object", "properties": {"t": {
            "type": "array", "items": items, "uniqueItems": True}}})
    assert err.value.keyword == "uniqueItems" and err.value.path == "#/properties/t/uniqueItems"


def test_free_items_at_most_one_when_asked() -> None:
    schema = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    g = parse_gbnf(schema_to_gbnf(schema, limits=GrammarLimits(unique_one=True)))
    assert accepts(g, "[]") and accepts(g, '["a"]')
    assert not accepts(g, '["a","b"]') and not accepts(g, '["a","a"]')
    with pytest.raises(SchemaError):  # two distinct items required: still refused
        schema_to_gbnf({**schema, "minItems": 2}, limits=GrammarLimits(unique_one=True))
