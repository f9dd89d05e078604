"""References within the document beyond local pointers: anchors and the document's own
$id; anything that could point elsewhere stays refused with keyword and path."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.grammar import SchemaError, schema_to_gbnf

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf
from tests.grammar.grammar_helpers import is_valid

BASE = "https://example.com/schemas/root.json"
RESOLVED: dict[str, tuple[Any, list[str], list[str]]] = {
    "anchor": ({"$ref": "#num", "$defs": {"A": {"$anchor": "num", "type": "integer"}}},
               ["1"], ['"a"', "1.5"]),
    "draft7-fragment-id": ({"$schema": "http://json-schema.org/draft-07/schema#",
                            "allOf": [{"$ref": "#num"}], "definitions": {
        "A": {"$id": "#num", "type": "string", "maxLength": 1}}}, ['"a"'], ['"ab"', "1"]),
    "own-id-pointer": ({"$id": BASE, "type": "object", "properties": {
        "a": {"$ref": f"{BASE}#/$defs/small"}, "b": {"$ref": "root.json#/$defs/small"}},
        "$defs": {"small": {"type": "integer", "maximum": 3}}},
        ['{"a":3,"b":1}'], ['{"a":4}', '{"b":"x"}']),
    "own-id-anchor": ({"$id": BASE, "$ref": f"{BASE}#s",
                       "$defs": {"s": {"$anchor": "s", "const": "x"}}}, ['"x"'], ['"y"']),
}
REFUSED: dict[str, Any] = {
    "remote": {"$ref": "https://example.com/other.json#/$defs/a"},
    "relative-file": {"$ref": "other.json"},
    "unknown-anchor": {"$ref": "#nowhere", "$defs": {"a": {"$anchor": "here"}}},
    "anchor-twice": {"$ref": "#a", "$defs": {"x": {"$anchor": "a", "type": "integer"},
                                             "y": {"$anchor": "a", "type": "string"}}},
    # another resource: its anchors and pointers are relative to its own $id
    "embedded-resource": {"$ref": "#a", "$defs": {
        "x": {"$id": "https://example.com/x.json", "$defs": {"y": {"$anchor": "a"}}}}},
}


@pytest.mark.parametrize("name", sorted(RESOLVED))
def test_resolved(name: str) -> None:
    schema, good, bad = RESOLVED[name]
    grammar = parse_gbnf(schema_to_gbnf(schema))
    for text in good:
        assert accepts(grammar, text), text
    for text in bad:
        assert not accepts(grammar, text), text


def test_resolved_labels_match_jsonschema() -> None:
    import json

    for schema, good, bad in RESOLVED.values():
        assert all(is_valid(schema, json.loads(t)) for t in good)
        assert not any(is_valid(schema, json.loads(t)) for t in bad)


@pytest.mark.parametrize("name", sorted(REFUSED))
@pytest.mark.parametrize("strict", [True, False])
def test_refused(name: str, strict: bool) -> None:
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf(REFUSED[name], strict=strict)
    assert err.value.keyword == "$ref"
    assert err.value.path == "#"
