"""Keywords whose reach depends on where they stand (found by the JSON-Schema-Test-Suite
bench, contrib/bench/bench_test_suite.py): merging allOf branches and $ref siblings must not
widen or narrow them. Each document's label is checked by jsonschema first."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.grammar import GrammarLimits, schema_to_gbnf

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf
from tests.grammar.grammar_helpers import is_valid
from tests.grammar.ordering import declared_order, dumps

LAX = GrammarLimits(open_objects=True)

# (schema, strict, valid documents, invalid documents)
CASES: dict[str, tuple[Any, bool, list[Any], list[Any]]] = {
    # items of the outer schema apply from index 0: the branch's prefixItems is not its own
    "items-after-branch-prefix": (
        {"allOf": [{"prefixItems": [{"minimum": 3}]}], "items": {"minimum": 5}},
        True, [[5, 5], [6]], [[3, 5], [4]]),
    # each branch's items start after its own prefix
    "prefixes-of-two-lengths": (
        {"type": "array", "allOf": [
            {"prefixItems": [{"type": "integer"}], "items": {"type": "string"}},
            {"prefixItems": [{"minimum": 0}, {"minimum": 0}]}]},
        True, [[1, "a"], [0, "a", "b"]], [[1, 2], [-1, "a"]]),
    # unevaluatedProperties of a $ref target does not see the referring schema's properties
    "ref-target-unevaluated": (
        {"$defs": {"A": {"unevaluatedProperties": False}},
         "properties": {"prop1": {"type": "string"}}, "$ref": "#/$defs/A"},
        True, [{}], [{"prop1": "match"}]),
    # nor does one allOf branch see a cousin's
    "cousin-unevaluated": (
        {"type": "object", "allOf": [{"properties": {"foo": True}},
                                     {"unevaluatedProperties": False}]},
        False, [{}], [{"foo": 1}]),
    # an outer unevaluatedProperties sees the keys of the anyOf branch that matched
    "outer-unevaluated-sees-anyof": (
        {"type": "object", "properties": {"foo": {"type": "string"}},
         "anyOf": [{"properties": {"bar": {"type": "string"}}, "required": ["bar"]}],
         "unevaluatedProperties": False},
        True, [{"foo": "a", "bar": "b"}, {"bar": "b"}], [{"bar": "b", "baz": "c"}, {}]),
    # ... and those of if/then (the condition's keys count when it holds)
    "outer-unevaluated-sees-if-then": (
        {"type": "object",
         "if": {"properties": {"foo": {"const": "then"}}, "required": ["foo"]},
         "then": {"properties": {"bar": {"type": "string"}}, "required": ["bar"]},
         "else": {"properties": {"baz": {"type": "string"}}, "required": ["baz"]},
         "unevaluatedProperties": False},
        True, [{"foo": "then", "bar": "bar"}, {"baz": "baz"}],
        [{"foo": "then", "bar": "bar", "baz": "baz"}, {"foo": "else", "baz": "baz"}]),
    # ... and those of the oneOf branch that matched (two matching: invalid)
    "outer-unevaluated-sees-oneof": (
        {"type": "object", "unevaluatedProperties": False, "oneOf": [
            {"properties": {"a": {"const": 1}}, "required": ["a"]},
            {"properties": {"b": {"const": 1}}, "required": ["b"]}]},
        True, [{"a": 1}, {"b": 1}], [{"a": 1, "b": 1}, {"a": 1, "c": 1}, {}]),
    # an inner unevaluatedProperties: true evaluates every key, leaving none to the outer one
    "inner-unevaluated-true": (
        {"type": "object", "properties": {"foo": {"type": "string"}},
         "allOf": [{"unevaluatedProperties": True}],
         "unevaluatedProperties": {"type": "string", "maxLength": 2}},
        True, [{"foo": "foo", "bar": "bar"}], [{"foo": 1}]),
    # additionalProperties: false of one branch also forbids the other branch's pattern keys
    "branch-closed-against-patterns": (
        {"type": "object", "allOf": [
            {"properties": {"a": {"type": "integer"}}, "additionalProperties": False},
            {"patternProperties": {"^x": {"type": "integer"}}}]},
        False, [{"a": 1}, {}], [{"xy": 1}, {"a": 1, "xb": 2}]),
    # a declared key matching a branch's pattern takes that pattern's schema, not that
    # branch's additionalProperties
    "declared-key-in-branch-pattern": (
        {"type": "object", "allOf": [
            {"patternProperties": {"^x": {"type": "integer"}}, "additionalProperties": False},
            {"properties": {"xa": {"minimum": 2}}, "required": ["xa"]}]},
        True, [{"xa": 2}], [{"xa": 1}, {"xa": "s"}]),
    # keys a dependency names may be written where undeclared keys are allowed
    "dependency-keys-open-object": (
        {"type": "object", "dependentRequired": {"bar": ["foo"]}},
        False, [{"foo": 1}, {"bar": 2, "foo": 1}, {}], [{"bar": 2}]),
    # a float const with no fraction is the integer too (2.0 == 2 in JSON Schema)
    "integral-float-const": ({"const": -2.0}, True, [-2, -2.0], [-3, 2, "-2"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_scope(name: str) -> None:
    schema, strict, good, bad = CASES[name]
    grammar = parse_gbnf(schema_to_gbnf(schema, strict=strict,
                                        limits=GrammarLimits() if strict else LAX))
    for doc in good:
        assert is_valid(schema, doc), doc
        text = dumps(declared_order(schema, schema, doc))
        assert accepts(grammar, text), f"valid {text} rejected"
    for doc in bad:
        assert not is_valid(schema, doc), doc
        text = dumps(declared_order(schema, schema, doc))
        assert not accepts(grammar, text), f"invalid {text} accepted"


def test_unevaluated_with_unknown_evaluations_is_refused() -> None:
    """Inside a branch, an unevaluatedProperties whose own anyOf might evaluate keys cannot
    be placed exactly: refused with keyword and path under strict."""
    from gateway.grammar import SchemaError

    schema = {"allOf": [{"anyOf": [{"properties": {"a": True}}, {"required": ["b"]}],
                         "unevaluatedProperties": False}], "properties": {"c": True}}
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf(schema, strict=True)
    assert err.value.keyword == "unevaluatedProperties"
    assert err.value.path == "#/allOf/0/unevaluatedProperties"
