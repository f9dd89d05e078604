"""Structured outputs: `not`, patternProperties, propertyNames, more oneOf proofs, open
objects for non-strict schemas, every number form. Property tests: instances generated from
each schema are accepted (keys in the grammar's order), mutated invalid ones rejected, and
strings sampled from the grammar are valid."""

from __future__ import annotations

import copy
import json
import random
import re
from typing import Any

import pytest
from gateway.grammar import GrammarLimits, SchemaError, schema_to_gbnf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis_jsonschema import from_schema

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf, sample
from tests.grammar.grammar_helpers import is_valid

OPEN = GrammarLimits(open_objects=True)

# name → (schema, strict, limits)
CASES: dict[str, tuple[dict[str, Any], bool, GrammarLimits]] = {
    "not_type": ({"type": ["string", "integer", "null"], "not": {"type": "null"}}, True,
                 GrammarLimits()),
    "not_enum_string": ({"type": "object", "properties": {"color": {
        "type": "string", "not": {"enum": ["red", "green"]}}}, "required": ["color"],
        "additionalProperties": False}, True, GrammarLimits()),
    "not_enum_int": ({"type": "integer", "minimum": -5, "maximum": 20,
                      "not": {"enum": [0, 7, 20]}}, True, GrammarLimits()),
    "not_const_number": ({"type": "number", "not": {"const": 0}}, True, GrammarLimits()),
    "not_required": ({"type": "object", "properties": {"a": {"type": "integer"},
                      "b": {"type": "string"}}, "not": {"required": ["b"]},
                      "additionalProperties": False}, True, GrammarLimits()),
    "not_required_pair": ({"type": "object", "properties": {
        "a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}},
        "not": {"required": ["a", "b"]}, "additionalProperties": False}, True, GrammarLimits()),
    "not_anyof_required": ({"type": "object", "properties": {
        "x": {"type": "integer"}, "y": {"type": "integer"}, "z": {"type": "integer"}},
        "not": {"anyOf": [{"required": ["x"]}, {"required": ["y"]}]},
        "additionalProperties": False}, True, GrammarLimits()),
    "not_property": ({"type": "object", "properties": {"kind": {"enum": ["a", "b", "c"]},
                      "n": {"type": "integer"}}, "required": ["kind"],
                      "not": {"properties": {"kind": {"const": "b"}}, "required": ["kind"]},
                      "additionalProperties": False}, True, GrammarLimits()),
    "pattern_properties": ({"type": "object", "properties": {"name": {"type": "string"}},
                            "patternProperties": {"^x-": {"type": "integer"},
                                                  "^y-": {"type": "boolean"}},
                            "additionalProperties": False}, True, GrammarLimits()),
    "property_names": ({"type": "object", "propertyNames": {"pattern": "^[a-z]{1,8}$"},
                        "additionalProperties": {"type": "integer"}}, True, GrammarLimits()),
    "oneof_arrays": ({"oneOf": [
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        {"type": "array", "items": {"type": "integer"}, "minItems": 1}]}, True, GrammarLimits()),
    "oneof_not_required": ({"type": "object", "properties": {
        "run": {"type": "string"}, "uses": {"type": "string"}},
        "additionalProperties": False,
        "oneOf": [{"required": ["run"]}, {"not": {"required": ["run"]}}]}, True, GrammarLimits()),
    "oneof_ref_types": ({"$defs": {"s": {"anyOf": [{"type": "string"}, {"type": "boolean"}]}},
                         "oneOf": [{"$ref": "#/$defs/s"}, {"type": "object",
                                   "properties": {"a": {"type": "integer"}},
                                   "additionalProperties": False}]}, True, GrammarLimits()),
    "open_object": ({"type": "object", "properties": {"a": {"type": "integer"},
                     "b": {"type": "array", "items": {"type": "string"}}}, "required": ["a"]},
                    False, OPEN),
    "open_min_properties": ({"type": "object", "additionalProperties": {"type": "integer"},
                             "minProperties": 1}, False, OPEN),
    "if_then_else": ({"type": "object", "properties": {
        "kind": {"enum": ["file", "url"]}, "path": {"type": "string"}, "href": {"type": "string"}},
        "required": ["kind"], "additionalProperties": False,
        "if": {"properties": {"kind": {"const": "file"}}},
        "then": {"required": ["path"]}, "else": {"required": ["href"]}}, True, GrammarLimits()),
    "allof_merges": ({"allOf": [
        {"type": "object", "markdownDescription": "one", "not": {"required": ["b"]},
         "properties": {"a": {"type": "integer", "multipleOf": 2}}},
        {"markdownDescription": "two", "not": {"required": ["c"]},
         "properties": {"a": {"multipleOf": 3, "minimum": 0, "maximum": 60}}}],
        "properties": {"b": {"type": "integer"}, "c": {"type": "integer"}, "d": {"type": "string"}},
        "additionalProperties": False}, True, GrammarLimits()),
    "allof_two_oneofs": ({"allOf": [
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        {"oneOf": [{"const": "a"}, {"const": 1}, {"type": "boolean"}]}]}, True, GrammarLimits()),
    "numbers": ({"type": "array", "items": {"type": "number"}}, True, GrammarLimits()),
}


def _grammar(name: str) -> Any:
    schema, strict, limits = CASES[name]
    return parse_gbnf(schema_to_gbnf(schema, strict=strict, limits=limits))


def _ordered(schema: dict[str, Any], value: Any) -> Any:
    """Declared keys first in declared order, then the others (the grammar's order)."""
    if isinstance(value, list):
        return [_ordered(schema.get("items", {}), v) for v in value]
    if not isinstance(value, dict):
        return value
    props = schema.get("properties") or {}
    out = {k: _ordered(props[k], value[k]) for k in props if k in value}
    out.update({k: v for k, v in value.items() if k not in props})
    return out


def _text(schema: dict[str, Any], value: Any) -> str:
    return json.dumps(_ordered(schema, value), separators=(",", ":"), ensure_ascii=False)


def _representable(value: Any, depth: int = 0) -> bool:
    """Within the deliberate bounds of open extras (primitives.py: any_value)."""
    if isinstance(value, str):
        return len(value) <= 64
    if isinstance(value, dict | list):
        return depth < 6 and len(value) <= 8 and all(
            _representable(v, depth + 1) and _representable(k, depth + 1)
            for k, v in (value.items() if isinstance(value, dict) else enumerate(value, 0))
            if not isinstance(k, int) or True)
    return True


@pytest.mark.parametrize("name", sorted(CASES))
def test_valid_instances_accepted(name: str) -> None:
    schema = CASES[name][0]
    grammar = _grammar(name)

    @settings(max_examples=20, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(from_schema(schema))
    def check(instance: Any) -> None:
        assume(is_valid(schema, instance))
        if CASES[name][2].open_objects:
            assume(_representable(instance) and len(instance) <= 9)
        text = _text(schema, instance)
        assume(all(len(t) <= 20 for t in re.findall(r"[0-9]+", text)))  # digit bounds
        if name == "not_const_number":  # split into ranges: bounded digits, no exponent
            assume("e" not in text and len(text) < 16 and len(text.partition(".")[2]) <= 10)
        assert accepts(grammar, text), f"{name}: valid instance rejected: {text}"

    check()


def _mutations(value: Any, rng: random.Random) -> list[Any]:
    out = []
    for _ in range(8):
        doc = copy.deepcopy(value)
        holders: list[tuple[Any, Any]] = []

        def walk(v: Any) -> None:
            for k, x in (v.items() if isinstance(v, dict) else enumerate(v)):
                holders.append((v, k))  # noqa: B023
                if isinstance(x, dict | list):
                    walk(x)

        if isinstance(doc, dict | list):
            walk(doc)
        kind = rng.randrange(4)
        if kind == 0 and holders:
            parent, key = rng.choice(holders)
            parent[key] = rng.choice([None, "x", 0, 1.5, True, [], {}, "red", 7, "b"])
        elif kind == 1 and isinstance(doc, dict):
            doc[rng.choice(["b", "run", "x", "y", "zz", "x-1", "A"])] = rng.choice([1, "s"])
        elif kind == 2 and isinstance(doc, dict) and doc:
            doc.pop(rng.choice(list(doc)))
        else:
            doc = rng.choice([None, 0, "red", 7, 20, [], {}, ["a", 1]])
        out.append(doc)
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_mutated_invalid_rejected(name: str) -> None:
    schema = CASES[name][0]
    grammar = _grammar(name)
    rng = random.Random(name)

    @settings(max_examples=12, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(from_schema(schema))
    def check(instance: Any) -> None:
        for bad in _mutations(instance, rng):
            if not is_valid(schema, bad):
                text = _text(schema, bad)
                assert not accepts(grammar, text), f"{name}: invalid accepted: {text}"

    check()


@pytest.mark.parametrize("name", sorted(CASES))
def test_grammar_output_is_valid(name: str) -> None:
    schema, grammar = CASES[name][0], _grammar(name)
    rng = random.Random(name)
    for _ in range(40):
        text = sample(grammar, rng)
        assert is_valid(schema, json.loads(text)), f"{name}: grammar produced invalid {text}"


@pytest.mark.parametrize("text", ["1e5", "-2.5E-3", "0.1234567890123456789", "-12345678901234567",
                                  "9223372036854775807", "1.5e+300", "-0.0"])
def test_number_forms(text: str) -> None:
    g = parse_gbnf(schema_to_gbnf({"type": "number"}))
    assert accepts(g, text)


def test_escaped_keys_and_empty_containers() -> None:
    g = _grammar("open_object")
    for doc in ['{"a":1}', '{"a":1,"b":[]}', '{"a":1,"q\\"x":{}}', '{"a":1,"\\n":[]}',
                '{"a":1,"é":""}']:
        assert accepts(g, doc), doc
    # a declared key cannot come back as an extra one, escaped or not
    for doc in ['{"a":1,"a":2}', '{"a":1,"\\u0061":2}', '{"a":1,"b":[],"b":[]}']:
        assert not accepts(g, doc), doc


def test_open_objects_only_when_asked() -> None:
    schema = CASES["open_object"][0]
    closed = parse_gbnf(schema_to_gbnf(schema, strict=False))
    strict = parse_gbnf(schema_to_gbnf(schema, strict=True, limits=OPEN))
    for g in (closed, strict):
        assert accepts(g, '{"a":1}') and not accepts(g, '{"a":1,"z":2}')


def test_open_extras_are_bounded() -> None:
    g = _grammar("open_object")
    many = ",".join(f'"k{i}":{i}' for i in range(9))
    assert accepts(g, '{"a":1,' + ",".join(f'"k{i}":{i}' for i in range(8)) + "}")
    assert not accepts(g, '{"a":1,' + many + "}")
    budget = GrammarLimits(open_objects=True, max_free_items=2)
    small = parse_gbnf(schema_to_gbnf(CASES["open_object"][0], strict=False, limits=budget))
    assert not accepts(small, '{"a":1,"k0":0,"k1":1,"k2":2}')


@pytest.mark.parametrize("schema,keyword,path", [
    ({"type": "string", "not": {"minLength": 2}}, "not", "#/not"),
    ({"type": "object", "patternProperties": {c: {"maxProperties": i} for i, c in
                                              enumerate("abcde")}},
     "patternProperties", "#/patternProperties/a"),
    ({"type": "object", "properties": {"ab": {}}, "additionalProperties": True,
      "propertyNames": {"format": "date"}}, "propertyNames", "#/propertyNames"),
])
def test_refused_with_keyword_and_path(schema: dict[str, Any], keyword: str, path: str) -> None:
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf(schema, strict=True)
    assert err.value.keyword == keyword and err.value.path == path, (err.value.keyword,
                                                                      err.value.path)


def test_custom_format_is_an_annotation() -> None:
    g = parse_gbnf(schema_to_gbnf({"type": "string", "format": "simple-template"}))
    assert accepts(g, '"anything"')


_DURATION = re.compile(r"P(?:(?:\d+D|\d+M(?:\d+D)?|\d+Y(?:\d+M(?:\d+D)?)?)(?:T(?:\d+H(?:\d+M)?"
                       r"(?:\d+S)?|\d+M(?:\d+S)?|\d+S))?|T(?:\d+H(?:\d+M)?(?:\d+S)?|\d+M(?:\d+S)?"
                       r"|\d+S)|\d+W)")
_URI_CHARS = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@/?#-]|%[0-9A-Fa-f]{2})*")


def _uri_reference(v: str) -> bool:
    if not _URI_CHARS.fullmatch(v) or v.count("#") > 1:
        return False
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", v):
        return True
    first = re.split(r"[/?#]", v, maxsplit=1)[0]
    return ":" not in first and not v.startswith("//")


@pytest.mark.parametrize("fmt,check,good", [
    ("regex", lambda v: re.compile(v) is not None, ["^[a-z]+$", "a.*b", "\\d{3}", ""]),
    ("duration", _DURATION.fullmatch, ["P1D", "PT5M", "P1Y2M3DT4H5M6S", "P2W"]),
    ("uri-reference", _uri_reference, ["/a/b", "a/b", "http://x.com/y", "../x", "#frag", ""]),
])
def test_more_formats(fmt: str, check: Any, good: list[str]) -> None:
    g = parse_gbnf(schema_to_gbnf({"type": "string", "format": fmt}))
    rng = random.Random(fmt)
    for _ in range(300):
        text = sample(g, rng)
        assert check(json.loads(text)), f"{fmt}: grammar produced {text}"
    for v in good:
        assert accepts(g, json.dumps(v)), v
