"""Under strict, what cannot be enforced exactly is refused with keyword and JSON path."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.grammar import GrammarLimits, SchemaError, schema_to_gbnf

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf

OBJ = "#/properties/x"


def _prop(sub: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"x": sub}, "required": ["x"]}


REFUSED = [
    ({"not": {"type": "string", "minLength": 2}}, "not", f"{OBJ}/not"),
    ({"type": "string", "format": "email", "not": {"pattern": "^2"}}, "not", f"{OBJ}/not"),
    ({"type": "object", "not": {"required": ["a"], "minProperties": 2}}, "not", f"{OBJ}/not"),
    ({"type": "string", "if": {"minLength": 2}, "then": {"const": "ab"}}, "not", OBJ),
    ({"type": "object", "patternProperties": {p: {"type": t} for p, t in zip(
        "abcde", ["string", "integer", "null", "boolean", "array"], strict=True)}},
     "patternProperties", f"{OBJ}/patternProperties/a"),
    ({"type": "object", "patternProperties": {"^a": {}}, "additionalProperties": True,
      "propertyNames": {"format": "email"}}, "propertyNames", f"{OBJ}/propertyNames"),
    ({"type": "string", "pattern": "^(a|b)*a(a|b){12}$", "maxLength": 20}, "pattern",
     f"{OBJ}/pattern"),
    ({"type": "array", "contains": {"type": "integer", "minimum": 2}}, "contains",
     f"{OBJ}/contains"),
    ({"type": "array", "anyOf": [{"prefixItems": [True]}, True], "unevaluatedItems": False},
     "unevaluatedItems", f"{OBJ}/unevaluatedItems"),
    ({"type": "number", "multipleOf": 0.123456789}, "multipleOf", f"{OBJ}/multipleOf"),
    ({"type": "integer", "multipleOf": 7, "minimum": 1}, "multipleOf", f"{OBJ}/multipleOf"),
    ({"type": "string", "format": "idn-hostname"}, "format", f"{OBJ}/format"),
    ({"type": "string", "format": "email", "pattern": "^2"}, "pattern", f"{OBJ}/pattern"),
    ({"type": "string", "format": "email", "maxLength": 20}, "maxLength", f"{OBJ}/maxLength"),
    ({"type": "string", "pattern": "(?=a)"}, "pattern", f"{OBJ}/pattern"),
    ({"type": "string", "pattern": "("}, "pattern", f"{OBJ}/pattern"),
    ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "uniqueItems",
     f"{OBJ}/uniqueItems"),
    ({"oneOf": [{"type": "number"}, {"type": "integer"}]}, "oneOf", f"{OBJ}/oneOf"),
    ({"oneOf": [{"type": "object", "properties": {"a": {"type": "string"}}},
                {"type": "object", "properties": {"b": {"type": "string"}}}]}, "oneOf",
     f"{OBJ}/oneOf"),
    ({"$ref": "https://example.com/s.json"}, "$ref", OBJ),
    ({"$ref": "#/$defs/missing"}, "$ref", OBJ),
    ({"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2},
     "minProperties", f"{OBJ}/minProperties"),
]


@pytest.mark.parametrize("sub,keyword,path", REFUSED)
def test_strict_refuses(sub: dict[str, Any], keyword: str, path: str) -> None:
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf(_prop(sub), strict=True)
    assert err.value.keyword == keyword
    assert err.value.path.startswith(path), err.value.path
    assert keyword in str(err.value) and path in str(err.value)


# invalid references and patterns are refused in both modes
NON_STRICT_OK = [r for r in REFUSED if r[1] not in ("$ref", "minProperties")
                 and r[0].get("pattern") not in ("(", "(?=a)")]


@pytest.mark.parametrize("sub,keyword,path", NON_STRICT_OK)
def test_non_strict_drops(sub: dict[str, Any], keyword: str, path: str) -> None:
    if keyword == "pattern" and isinstance(sub.get("pattern"), str) and (
        sub["pattern"] == "(" or "(?=" in sub["pattern"]
    ):
        pytest.skip("invalid patterns are refused in both modes")
    grammar = schema_to_gbnf(_prop(sub), strict=False)
    assert parse_gbnf(grammar)


def test_invalid_pattern_refused_even_non_strict() -> None:
    for p in ("(", "(?=a)", r"(a)\1"):
        with pytest.raises(SchemaError) as err:
            schema_to_gbnf({"type": "string", "pattern": p}, strict=False)
        assert err.value.keyword == "pattern"


def test_non_strict_oneof_is_anyof() -> None:
    g = parse_gbnf(schema_to_gbnf({"oneOf": [{"type": "number"}, {"type": "integer"}]},
                                  strict=False))
    assert accepts(g, "1") and accepts(g, "1.5")


@pytest.mark.parametrize(
    "schema",
    [
        {"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"},
        {"allOf": [{"$ref": "#"}]},
        {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
        {"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "null"}]}},
         "$ref": "#/$defs/a"},
        {"anyOf": [{"$ref": "#"}, {"type": "string"}]},
        {"$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}, {"type": "object"}]},
                   "b": {"oneOf": [{"$ref": "#/$defs/a"}, {"type": "null"}]}},
         "$ref": "#/$defs/a"},
    ],
)
def test_non_consuming_cycles_are_schema_errors(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf(schema)
    assert "never consumes input" in str(err.value)


def test_consuming_recursion_is_fine() -> None:
    schema = {"type": "object", "properties": {"next": {"$ref": "#"}},
              "additionalProperties": False}
    g = parse_gbnf(schema_to_gbnf(schema))
    assert accepts(g, '{"next":{"next":{}}}')


def test_depth_limit() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(40):
        schema = {"type": "object", "properties": {"a": schema}}
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf(schema)
    assert err.value.limit == "max_depth" and "max_depth" in str(err.value)
    assert schema_to_gbnf(schema, limits=GrammarLimits(max_depth=64))


def test_schema_size_limit() -> None:
    schema = {"type": "string", "enum": ["x" * 1000 + str(i) for i in range(300)]}
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf(schema)
    assert err.value.limit == "max_schema_bytes"
    # far more prose than any real schema: refused before it is even looked at
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf({"type": "string", "description": "x" * 1_100_000})
    assert err.value.limit == "max_schema_bytes"


def test_schema_size_counts_what_constrains() -> None:
    # descriptions (and a vocabulary's own scalar keywords) never reach the grammar: a
    # documented schema over max_schema_bytes is measured without them
    props = {f"p{i}": {"type": "string", "description": "d" * 3000, "x-doc": "d" * 1000}
             for i in range(100)}
    schema = {"type": "object", "properties": props, "required": ["p0"]}
    text = schema_to_gbnf(schema)
    assert "kv-p99 ::= " in text
    # the names of properties and enum values do count
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf({"type": "object", "properties": {
            "d" * 3000 + str(i): {"description": "d"} for i in range(100)}})
    assert err.value.limit == "max_schema_bytes"


def test_grammar_size_limit() -> None:
    schema = {"type": "object", "properties": {f"p{i}": {"enum": [f"v{i}-{j}" for j in range(50)]}
                                               for i in range(40)}}
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf(schema, limits=GrammarLimits(max_grammar_bytes=10_000))
    assert err.value.limit == "max_grammar_bytes"


def test_rule_count_limit() -> None:
    schema = {"type": "object", "properties": {f"p{i}": {"type": "integer", "minimum": i}
                                               for i in range(60)}}
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf(schema, limits=GrammarLimits(max_rules=50))
    assert err.value.limit == "max_rules"


@pytest.mark.parametrize(
    "schema,keyword",
    [
        ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "allOf"),
        ({"allOf": [{"type": "string", "format": "date"}, {"format": "email"}]}, "allOf"),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"],
          "additionalProperties": False}, "required"),
        ({"enum": [1, 2], "type": "string"}, "enum"),
        ({"type": "integer", "minimum": 5, "maximum": 4}, None),
        ({"allOf": [False]}, "allOf"),
        ({"type": "wat"}, "type"),
    ],
)
def test_unsatisfiable_or_conflicting(schema: dict[str, Any], keyword: str | None) -> None:
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf(schema)
    assert err.value.keyword == keyword


def test_false_schema() -> None:
    with pytest.raises(SchemaError):
        schema_to_gbnf(False)
    assert parse_gbnf(schema_to_gbnf(True))


def test_unknown_keywords_and_annotations_ignored() -> None:
    g = parse_gbnf(schema_to_gbnf({"type": "string", "x-vendor": 1, "title": "t",
                                   "description": "d", "examples": ["a"], "deprecated": True,
                                   "$comment": "c", "readOnly": True, "default": "z"}))
    assert accepts(g, '"abc"')
