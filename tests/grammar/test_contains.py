"""contains/minContains/maxContains: items split exactly into those that match contains and
those that do not (the negation folded like any ``not``), matches counted. Differential over
every short array of a small pool: accepted exactly when jsonschema finds it valid."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from gateway.grammar import GrammarLimits, SchemaError, schema_to_gbnf
from gateway.grammar.errors import Unsatisfiable

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf
from tests.grammar.grammar_helpers import is_valid

POOL = [1, 2, "a", None, [1], {"k": 1}]
ARRAYS = [list(p) for n in range(5) for p in itertools.product(POOL[:4], repeat=n)] + [
    [[1]], [{"k": 1}, 1], [2, [1], 1, 1]]
CONTAINS = [{"const": 1}, {"enum": [1, "a"]}, {"type": "string"}, {"type": ["null", "array"]},
            {"type": "boolean"}]
COUNTS = [{}, {"minContains": 2}, {"maxContains": 1}, {"minContains": 0, "maxContains": 1},
          {"minContains": 2, "maxContains": 3}, {"minItems": 1, "minContains": 0,
                                                  "maxContains": 2},
          {"items": {"type": ["integer", "string"]}}, {"minContains": 0},
          {"maxContains": 0, "minContains": 0}]


@pytest.mark.parametrize("counts", COUNTS, ids=lambda c: json.dumps(c))
@pytest.mark.parametrize("contains", CONTAINS, ids=lambda c: json.dumps(c))
def test_contains_exact(contains: dict[str, Any], counts: dict[str, Any]) -> None:
    schema = {"type": "array", "contains": contains, **counts}
    try:
        grammar = parse_gbnf(schema_to_gbnf(schema))
    except Unsatisfiable:  # no item can match: no array is valid
        assert not any(is_valid(schema, arr) for arr in ARRAYS)
        return
    for arr in ARRAYS:
        text = json.dumps(arr, separators=(",", ":"))
        valid, got = is_valid(schema, arr), accepts(grammar, text)
        assert valid or not got, f"accepted the invalid {text}"
        # strict closes objects: an item object with keys no schema declares is not written
        if not any(isinstance(x, dict) for x in arr):
            assert got or not valid, f"rejected the valid {text}"


def test_contains_in_an_object_with_budget() -> None:
    schema = {"type": "object", "required": ["tags"], "properties": {
        "tags": {"type": "array", "items": {"type": "string"}, "contains": {"const": "main"}}}}
    grammar = parse_gbnf(schema_to_gbnf(schema, limits=GrammarLimits(max_free_items=3)))
    assert accepts(grammar, '{"tags":["x","main","y"]}')
    assert not accepts(grammar, '{"tags":["x","y"]}')
    assert not accepts(grammar, '{"tags":[]}')
    assert not accepts(grammar, '{"tags":["main",1]}')


@pytest.mark.parametrize("schema,kw", [
    ({"type": "array", "contains": {"type": "integer", "minimum": 2}}, "contains"),
    ({"type": "array", "contains": {"const": 1}, "maxItems": 3}, "contains"),
    ({"type": "array", "contains": {"const": 1}, "minItems": 3}, "contains"),
    ({"type": "array", "prefixItems": [{}], "contains": {"const": 1}}, "contains"),
])
def test_contains_refused(schema: dict[str, Any], kw: str) -> None:
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf({"type": "object", "properties": {"x": schema}})
    assert err.value.keyword == kw and err.value.path == "#/properties/x/contains"
    schema_to_gbnf(schema, strict=False)
