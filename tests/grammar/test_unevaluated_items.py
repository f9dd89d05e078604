"""unevaluatedItems as the items after the positions evaluated beside it (prefixItems and
items of the schema, its allOf branches and $ref targets; a nested unevaluatedItems sees
only its own); refused where anyOf/oneOf/if/contains could evaluate more. Differential over
every short array of a small pool."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from gateway.grammar import SchemaError, schema_to_gbnf

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf
from tests.grammar.grammar_helpers import is_valid

S = {"type": "string"}
BUILT = [
    {"unevaluatedItems": False},
    {"unevaluatedItems": S},
    {"items": {"type": "number"}, "unevaluatedItems": S},
    {"prefixItems": [S], "unevaluatedItems": False},
    {"prefixItems": [S], "items": True, "unevaluatedItems": False},
    {"prefixItems": [S], "allOf": [{"prefixItems": [True, {"type": "number"}]}],
     "unevaluatedItems": False},
    {"allOf": [{"prefixItems": [S], "items": True}], "unevaluatedItems": False},
    {"allOf": [{"prefixItems": [S]}, {"unevaluatedItems": True}], "unevaluatedItems": False},
    {"allOf": [{"prefixItems": [True]}, {"unevaluatedItems": False}]},
    {"$ref": "#/$defs/bar", "prefixItems": [S], "unevaluatedItems": False,
     "$defs": {"bar": {"prefixItems": [True, S]}}},
    {"type": "array", "prefixItems": [{"const": "foo"}], "not": {"type": "null"},
     "unevaluatedItems": {"type": "integer"}},
]
REFUSED = [
    {"prefixItems": [S], "anyOf": [{"prefixItems": [True, S]}, True],
     "unevaluatedItems": False},
    {"prefixItems": [True], "contains": S, "unevaluatedItems": False},
    {"if": {"prefixItems": [{"const": "a"}]}, "unevaluatedItems": False},
]
POOL = ["foo", 1, 2.5, None]
ARRAYS = [list(p) for n in range(4) for p in itertools.product(POOL, repeat=n)]


@pytest.mark.parametrize("schema", BUILT, ids=lambda s: json.dumps(s)[:70])
def test_unevaluated_items_exact(schema: dict[str, Any]) -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    grammar = parse_gbnf(schema_to_gbnf(schema))
    for arr in ARRAYS:
        text = json.dumps(arr, separators=(",", ":"))
        assert accepts(grammar, text) is is_valid(schema, arr), text


@pytest.mark.parametrize("schema", REFUSED, ids=lambda s: json.dumps(s)[:70])
def test_unevaluated_items_refused(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf({"type": "object", "properties": {"x": schema}})
    assert err.value.keyword == "unevaluatedItems"
    assert err.value.path == "#/properties/x/unevaluatedItems"
