"""A schema's definition may carry the name of a shared rule ("string", "value", "root",
…): its rule gets another name, so neither it nor the shared rule changes meaning."""

from __future__ import annotations

import pytest
from gateway.grammar import schema_to_gbnf

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf

NAMES = ["root", "string", "char", "number", "integer", "boolean", "null", "value",
         "value-3", "object-6", "array-1", "scalar", "short-string", "key-char", "fmt-date"]


@pytest.mark.parametrize("name", NAMES)
def test_definition_named_like_a_shared_rule(name: str) -> None:
    schema = {"$defs": {name: {"type": "string", "maxLength": 3}}, "type": "object",
              "properties": {"c": {"$ref": f"#/$defs/{name}"}, "d": {}, "e": {"format": "date"},
                             "f": {"type": "number"}, "g": {"type": "boolean"}},
              "required": ["c"]}
    grammar = parse_gbnf(schema_to_gbnf(schema))
    good = '{"c":"abc","d":{"x":[null,"y"]},"e":"2020-01-31","f":-1.5,"g":true}'
    assert accepts(grammar, good)
    for bad in ('{"c":"abcd"}', '{"c":1}', '{"c":{"c":"a"}}', '{"c":null}',
                '{"c":"a","e":"2020-13-01"}'):
        assert not accepts(grammar, bad), bad
