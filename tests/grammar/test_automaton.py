"""Forms made exact by automata (not-pattern, several patterns, patterns with lengths,
excluded values, pattern keys apart from declared ones and from each other, propertyNames)
and by key-set oneOf proofs. Differential tests: over many candidate documents in the
grammar's normal form (compact, declared keys first and in order), the grammar accepts
exactly the valid ones; strings sampled from the grammar are valid."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from gateway.grammar import GrammarLimits, SchemaError, schema_to_gbnf
from gateway.grammar.automaton import string_body
from gateway.grammar.gbnf import GrammarBuilder

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf, sample
from tests.grammar.grammar_helpers import is_valid

STRINGS: dict[str, dict[str, Any]] = {
    "not_pattern": {"type": "string", "not": {"pattern": "^a"}},
    "not_pattern_untyped": {"not": {"pattern": "^a"}},
    "not_patterns_with_pattern_and_length": {
        "type": "string", "maxLength": 12, "pattern": "^[a-z0-9{}-]+$",
        "not": {"anyOf": [{"pattern": "^[0-9]{3}$"}, {"pattern": "\\{\\{m"}]}},
    "prefix_refused_case_insensitive": {
        "type": "string", "minLength": 1, "maxLength": 9, "pattern": "^[A-Za-z][A-Za-z0-9_]*$",
        "not": {"pattern": "^([Bb][Kk]|[Aa][Bb]0)"}},
    "not_const_with_length": {"type": "string", "maxLength": 3, "not": {"const": "a"}},
    "unanchored_pattern_with_length": {"type": "string", "pattern": "a", "maxLength": 5},
    "repeated_group_with_length": {"type": "string", "pattern": "^(ab)+$", "maxLength": 5},
    "oneof_patterns_apart": {"oneOf": [
        {"type": "string", "pattern": "^a[0-9]+$"}, {"type": "string", "pattern": "^[0-9]+$"},
        {"type": "string", "maxLength": 1, "not": {"pattern": "[0-9a]"}}]},
    "date_format_with_pattern": {"type": "string", "format": "date", "pattern": "^20"},
    "uuid_format_not_const": {"type": "string", "format": "uuid",
                              "not": {"pattern": "^0{8}"}},
    "two_patterns": {"allOf": [{"type": "string", "pattern": "^a"}, {"pattern": "b$"}]},
    "if_pattern_then_const": {"type": "string", "if": {"pattern": "^a"},
                              "then": {"const": "ab"}},
}
_ALPHABET = "ab0123{}m-_Bk\u00e9\"\\"
_WORDS = ["2024-02-29", "2023-02-29", "2000-02-29", "1999-12-31", "2024-04-31", "20",
          "00000000-1234-1234-1234-123456789abc", "10000000-1234-1234-1234-123456789abc",
          "", "a", "b", "ab", "ba", "abab", "ababa", "aab", "123", "1234", "{{m", "x{{mx", "bk",
          "Bk1", "ab0", "Ab0x", "a" * 13, "b" * 12, "\u00e9a", "a\"b", "ab\\"]


def _strings(rng: random.Random) -> list[str]:
    return _WORDS + ["".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(0, 14)))
                     for _ in range(400)]


def _check(schema: Any, docs: list[Any], grammar_text: str, *, complete: bool = True) -> None:
    g = parse_gbnf(grammar_text)
    for doc in docs:
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        valid, got = is_valid(schema, doc), accepts(g, text)
        assert not got or valid, f"invalid accepted: {text}"
        if complete:
            assert got or not valid, f"valid rejected: {text}"
    rng = random.Random(0)
    for _ in range(60):
        text = sample(g, rng)
        assert is_valid(schema, json.loads(text)), f"grammar produced invalid {text}"


@pytest.mark.parametrize("name", sorted(STRINGS))
def test_strings_exact(name: str) -> None:
    schema = STRINGS[name]
    docs: list[Any] = _strings(random.Random(name))
    docs += [1, None, True, [], {}]  # other types: only when the schema allows them
    _check(schema, docs, schema_to_gbnf(schema, strict=True))


OBJECTS: dict[str, dict[str, Any]] = {
    "pattern_key_matching_declared": {
        "type": "object", "properties": {"ab": {"type": "integer"}},
        "patternProperties": {"^a": {"type": "integer", "minimum": 0}},
        "additionalProperties": False},
    "overlapping_patterns": {
        "type": "object", "patternProperties": {"a": {"type": "string"}, "b": {"type": "integer"},
                                                "^x": {"type": "boolean"}},
        "additionalProperties": False},
    "additional_off_the_patterns": {
        "type": "object", "patternProperties": {"^x-": {"type": "integer"}},
        "additionalProperties": {"type": "string"}},
    "property_names_length_with_declared": {
        "type": "object", "properties": {"abc": {"type": "integer"}},
        "additionalProperties": {"type": "boolean"}, "propertyNames": {"maxLength": 3}},
    "property_names_not_pattern": {
        "type": "object", "propertyNames": {"not": {"pattern": "^(and|or)$"}},
        "additionalProperties": {"type": "integer"}},
    "property_names_with_patterns": {
        "type": "object", "patternProperties": {"^a": {"type": "integer"}},
        "propertyNames": {"pattern": "^[a-z]+$", "maxLength": 3},
        "additionalProperties": {"type": "string"}},
    "not_all_of_required": {
        "type": "object", "properties": {"when": {"type": "integer"},
                                         "unless": {"type": "integer"}},
        "additionalProperties": False,
        "not": {"allOf": [{"required": ["when"]}, {"required": ["unless"]}]}},
    "not_typed_required": {
        "type": ["object", "string"], "properties": {"a": {"type": "integer"}},
        "additionalProperties": False, "not": {"type": "object", "required": ["a"]}},
    "oneof_closed_objects_without_required": {"oneOf": [
        {"type": "object", "properties": {"env": {"type": "string"}},
         "additionalProperties": False},
        {"type": "object", "properties": {"file": {"type": "string"}},
         "additionalProperties": False}]},
    "oneof_closed_objects_shared_key": {"oneOf": [
        {"type": "object", "properties": {"slack": {"type": "string"}, "if": {"type": "string"}},
         "additionalProperties": False},
        {"type": "object", "properties": {"basecamp": {"type": "string"},
                                          "if": {"type": "string"}},
         "additionalProperties": False},
        {"type": "string", "enum": ["slack", "basecamp"]}]},
    "oneof_key_sets_by_property_names": {"oneOf": [
        {"type": "object", "properties": {"and": {"type": "integer"}, "or": {"type": "integer"}},
         "additionalProperties": False, "minProperties": 1, "maxProperties": 1},
        {"type": "object", "propertyNames": {"not": {"pattern": "^(and|or)$"}},
         "additionalProperties": {"type": "integer"}}]},
    "oneof_enum_rejected_by_the_other_branch": {"oneOf": [
        {"oneOf": [{"type": "object", "additionalProperties": {"type": "string"}},
                   {"type": "string", "pattern": "^.*\\$\\{\\{.*\\}\\}.*$"}]},
        {"type": "string", "enum": ["inherit"]}]},
    "oneof_of_unions_by_discriminator": {"oneOf": [
        {"oneOf": [{"type": "object", "properties": {"base": {"const": "a"}},
                    "required": ["base"], "additionalProperties": False},
                   {"type": "object", "properties": {"base": {"const": "b"}, "x": {}},
                    "required": ["base"], "additionalProperties": False}]},
        {"type": "object", "properties": {"x": {"type": "integer"}},
         "additionalProperties": False, "required": ["x"]}]},
}
_KEYS = ["base", "a", "ab", "b", "ba", "x", "xa", "x-1", "abc", "abcd", "and", "or", "when",
         "unless", "env", "file", "slack", "basecamp", "if", "z", ""]
_VALUES: list[Any] = [0, -1, 7, "x", "ab", True, None, "a", "b"]


def _declared_first(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    order = [k for br in [schema, *schema.get("oneOf", [])] for k in br.get("properties", {})]
    return {**{k: doc[k] for k in order if k in doc},
            **{k: v for k, v in doc.items() if k not in order}}


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_objects_exact(name: str) -> None:
    schema = OBJECTS[name]
    rng = random.Random(name)
    docs: list[Any] = [{}, "slack", "x", 3, "inherit", "${{ x }}", "a${{inherit}}"]
    for k in _KEYS:
        docs += [{k: v} for v in _VALUES]
    for a, b in itertools.combinations(_KEYS, 2):
        docs.append(_declared_first(schema, {a: rng.choice(_VALUES), b: rng.choice(_VALUES)}))
        docs.append(_declared_first(schema, {a: 1, b: 2}))
    g = parse_gbnf(schema_to_gbnf(schema, strict=True))
    for doc in docs:  # any key order the grammar writes
        orders = [dict(p) for p in itertools.permutations(doc.items())] if isinstance(
            doc, dict) else [doc]
        texts = [json.dumps(d, separators=(",", ":")) for d in orders]
        got = [accepts(g, x) for x in texts]
        assert not any(got) or is_valid(schema, doc), f"invalid accepted: {texts}"
        assert any(got) or not is_valid(schema, doc), f"valid rejected: {texts}"
    _check(schema, [], schema_to_gbnf(schema, strict=True))


def test_not_pattern_closes_lax_soundness_hole() -> None:
    """An object branch whose propertyNames exclude the operator names: a lax grammar used
    to drop that and accept an operator with an invalid operand."""
    logic = {"$defs": {"logic": {"oneOf": [
        {"type": ["string", "boolean", "number"]},
        {"type": "object", "minProperties": 1, "maxProperties": 1,
         "additionalProperties": False,
         "properties": {"and": {"type": "array", "items": {"$ref": "#/$defs/logic"}},
                        "matches": {"type": "object", "additionalProperties": False,
                                    "required": ["value"],
                                    "properties": {"value": {"type": "string"}}}}},
        {"type": "object", "propertyNames": {"not": {"pattern": "^(and|matches)$"}}}]}},
        "$ref": "#/$defs/logic"}
    bad = '{"and":[{"matches":{"value":1.5}}]}'
    assert not is_valid(logic, json.loads(bad))
    for strict in (True, False):
        g = parse_gbnf(schema_to_gbnf(logic, strict=strict,
                                      limits=GrammarLimits(open_objects=not strict)))
        assert not accepts(g, bad)
        assert accepts(g, '{"and":[{"matches":{"value":"x"}}]}')
        assert accepts(g, '{"other":1}') is not strict  # strict objects stay closed


def test_long_max_length_is_clamped_soundly() -> None:
    """Beyond the automaton budget a long maxLength is lowered (a sound subset)."""
    schema = {"type": "string", "maxLength": 5000, "not": {"pattern": "xy"}}
    g = parse_gbnf(schema_to_gbnf(schema))
    assert accepts(g, json.dumps("a" * 60 + "x"))
    assert not accepts(g, json.dumps("a" * 30 + "xy"))
    assert not accepts(g, json.dumps("a" * 65))  # beyond the clamp: not produced


def test_automaton_refused_beyond_budget_with_path() -> None:
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf({"type": "object", "properties": {"k": {
            "type": "string", "pattern": "^(a|b)*a(a|b){12}$", "maxLength": 20}}})
    assert err.value.keyword == "pattern" and err.value.path == "#/properties/k/pattern"


def test_unsatisfiable_combination_is_none() -> None:
    b = GrammarBuilder()
    assert string_body(b, ["^a"], ["^a"], [], 0, None, "#") is None
    assert string_body(b, ["^abc$"], [], [], 0, 2, "#") is None


def test_oneof_overlapping_patterns_still_refused() -> None:
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf({"oneOf": [{"type": "string", "pattern": "^a"},
                                  {"type": "string", "pattern": "b$"}]})
    assert err.value.keyword == "oneOf"


def test_escaped_characters_share_one_alternative() -> None:
    """Any character as JSON text: the raw class and one backslash branch, not one
    alternative per escapable character (each would be a stack inside llama.cpp); only
    canonical spellings."""
    from gateway.grammar import charset as cs

    text = cs.json_chars(cs.ANY)
    assert text is not None and text.count(" | ") <= 4 and text.count("u00") == 1
    g = parse_gbnf(f'root ::= "\\"" ({text})* "\\""')
    for doc in ['"a"', '"\\n"', '"\\u001f"', '"\\u0000"', '"\\""', '"\\\\"', '"\u00e9"',
                '"\\u00e9"', '"\\u000a"', '"\\/"', '"\\u001F"']:
        canonical = json.dumps(json.loads(doc), ensure_ascii=False)
        assert accepts(g, doc) is (doc == canonical), doc


def test_inexpressible_key_pattern() -> None:
    """Refused at its own path (strict); non-strict writes neither its keys nor keys off the
    patterns (they could match it), only the other patterns' keys."""
    schema = {"type": "object", "properties": {"ab": {}},
              "patternProperties": {"^a(?=b)": {"type": "integer"}, "^x": {"type": "string"}}}
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf(schema)
    assert err.value.path == "#/patternProperties/^a(?=b)"
    g = parse_gbnf(schema_to_gbnf(schema, strict=False, limits=GrammarLimits(open_objects=True)))
    assert accepts(g, '{"xy":"s"}') and not accepts(g, '{"abc":"s"}')
    assert not accepts(g, '{"zz":1}')


@pytest.mark.parametrize("fmt", ["date", "uuid", "uri"])
def test_format_regexes_match_the_format_grammars(fmt: str) -> None:
    """A format joins the automata as a regex: the same language as its own grammar."""
    import re

    from gateway.grammar.formats import FORMAT_REGEX, format_body

    b = GrammarBuilder()
    spec = format_body(b, fmt)
    assert spec is not None
    g = parse_gbnf(b.render(f'"\\"" {spec[0]} "\\""'))
    rng = random.Random(fmt)
    cands = ["2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "0000-01-01", "0004-02-29",
             "2024-13-01", "2024-04-31", "12345678-1234-1234-1234-123456789abc",
             "12345678-1234-1234-1234-123456789abg", "http://x", "a:b", "https://a.b/c?d#e",
             "x:", "1a:b", "a:%2", "a:%20", "a:b#c#d", "ab+c.d-e:/x"]
    cands += [f"{rng.randrange(0, 2500):04d}-{rng.randrange(0, 14):02d}-{rng.randrange(0, 33):02d}"
              for _ in range(200)]
    for c in cands:
        assert accepts(g, json.dumps(c)) == bool(re.search(FORMAT_REGEX[fmt], c)), c


E2E_SCHEMAS: dict[str, Any] = {
    **{n: STRINGS[n] for n in ("not_patterns_with_pattern_and_length", "two_patterns",
                               "prefix_refused_case_insensitive", "date_format_with_pattern")},
    **{n: OBJECTS[n] for n in ("overlapping_patterns", "additional_off_the_patterns",
                               "oneof_closed_objects_shared_key",
                               "oneof_key_sets_by_property_names")},
    "uri_with_pattern": {"type": "string", "format": "uri", "pattern": "^https://.+"},
    "unique_large_enum": {"type": "array", "items": {"enum": [f"v{i}" for i in range(30)]},
                          "uniqueItems": True, "minItems": 2, "maxItems": 4},
}


@pytest.mark.e2e
def test_llama_cpp_takes_automaton_grammars(backend_url: str) -> None:
    """The real llama.cpp parses these grammars (many small rules) and what it writes under
    them validates."""
    import urllib.error
    import urllib.request

    prompt = "<|im_start|>user\nGive me JSON.<|im_end|>\n<|im_start|>assistant\n"
    problems = []
    for name, schema in E2E_SCHEMAS.items():
        body = {"prompt": prompt, "grammar": schema_to_gbnf(schema), "n_predict": 256,
                "temperature": 0, "seed": 1}
        req = urllib.request.Request(f"{backend_url}/completion", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=600) as resp:
                out = json.loads(resp.read())
        except urllib.error.HTTPError as err:
            problems.append(f"{name}: HTTP {err.code} {err.read()[:200]!r}")
            continue
        if out.get("stop_type") == "limit":
            continue  # cut by n_predict: nothing to validate
        if not is_valid(schema, json.loads(out["content"])):
            problems.append(f"{name}: invalid {out['content']!r}")
    assert not problems, "\n".join(problems)
