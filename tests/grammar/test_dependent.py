"""dependentSchemas (and draft-7 schema ``dependencies``) as conditionals: each present key's
schema applies, (k present and S) or (k absent). Differential over small objects: nothing
invalid is accepted, and with open objects every valid one (in declared order) is."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from gateway.grammar import GrammarLimits, SchemaError, schema_to_gbnf

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf
from tests.grammar.grammar_helpers import is_valid
from tests.grammar.ordering import declared_order, dumps

SCHEMAS = [
    {"dependentSchemas": {"bar": {"properties": {"foo": {"type": "integer"},
                                                 "bar": {"type": "integer"}}}}},
    {"dependentSchemas": {"foo": True, "bar": False}},
    {"properties": {"foo": {}}, "dependentSchemas": {
        "foo": {"properties": {"bar": {}}, "additionalProperties": False}}},
    {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"},
                                      "c": {"type": "boolean"}},
     "dependentSchemas": {"a": {"required": ["b"]}, "c": {"properties": {"b": {"minimum": 3}}}}},
    {"$schema": "http://json-schema.org/draft-07/schema#",
     "dependencies": {"bar": {"properties": {"foo": {"type": "integer"}}}, "q": ["foo"]}},
]
VALUES = [None, 1, 5, "x", True]


def _docs() -> list[Any]:
    docs: list[Any] = []
    for n in range(3):
        for keys in itertools.permutations(["foo", "bar", "a", "b", "c", "q"], n):
            docs += [dict(zip(keys, vs, strict=True))
                     for vs in itertools.product(VALUES, repeat=n)]
    return docs


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: json.dumps(s)[:60])
def test_dependent_schemas_exact(schema: dict[str, Any]) -> None:
    strict = parse_gbnf(schema_to_gbnf(schema))
    opened = parse_gbnf(schema_to_gbnf(schema, strict=False,
                                       limits=GrammarLimits(open_objects=True)))
    for doc in _docs():
        text = dumps(declared_order(schema, schema, doc))
        valid = is_valid(schema, doc)
        assert valid or not accepts(strict, text), f"strict accepted the invalid {text}"
        assert valid is accepts(opened, text), text
    assert not accepts(strict, '"s"')  # objects only, as for any object keyword


def test_dependent_schema_refused_with_keyword() -> None:
    # the dependent schema itself holds what cannot be enforced: refused, keyword named
    schema = {"type": "object", "dependentSchemas": {"a": {"not": {"minProperties": 3}}}}
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf(schema)
    assert err.value.keyword in ("not", "minProperties")


@pytest.mark.parametrize("schema", [
    {"required": ["foo"], "unevaluatedProperties": {"type": "string"}},
    {"type": "object", "allOf": [{"required": ["foo"]}], "unevaluatedProperties":
        {"type": "string"}},
    {"properties": {"foo2": {}}, "unevaluatedProperties": {"type": "string"},
     "dependentSchemas": {"foo": {}, "foo2": {"properties": {"bar": {}}}}},
])
def test_required_key_not_declared_gets_unevaluated_properties(schema: dict[str, Any]) -> None:
    # a required (or dependency) key no properties declare is unevaluated: it takes
    # unevaluatedProperties (it used to be written with any value)
    grammar = parse_gbnf(schema_to_gbnf(schema))
    for doc in ({"foo": 1}, {"foo": "a"}, {"foo": "a", "foo2": 1, "bar": 1}):
        text = dumps(declared_order(schema, schema, doc))
        assert accepts(grammar, text) is is_valid(schema, doc) or not accepts(
            grammar, text), text
    assert not accepts(grammar, '{"foo":1}')
