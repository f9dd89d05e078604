"""Fuzzing the JSON Schema → GBNF converter with arbitrary, often nonsensical schemas: each
one gives a grammar that parses (and, end to end, that llama.cpp accepts) or a SchemaError
(a clean 400 for the client); never another exception, never a hang."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from gateway.callgate import validator_for
from gateway.grammar import GrammarLimits, SchemaError, schema_to_gbnf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.grammar.gbnf_recognizer import parse_gbnf

TYPES = ["object", "array", "string", "integer", "number", "boolean", "null", "dict", 5]
FORMATS = ["date", "date-time", "time", "uuid", "email", "ipv4", "uri", "hostname", "x-odd"]
PATTERNS = ["^[a-z]+$", "\\d{3}-\\d{4}", "(a|b)*c", "[", "^(?=x)y$", ".*", "\\w+@\\w+",
            "^\\p{L}+$", "a{2,}", "(?i)abc", "^$", "\\"]
LIMITS = GrammarLimits(max_grammar_bytes=200_000, max_rules=2000)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.text(max_size=8))
numbers = st.one_of(st.integers(-10**12, 10**12), st.floats(-1e9, 1e9, allow_nan=False),
                    st.sampled_from([0, -1, 0.5, 1e-9, 10**20]), st.text(max_size=3))
small = st.integers(-2, 40)


def keyword_values(schema: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    names = st.text(st.characters(codec="utf-8"), max_size=6)
    return {
        "type": st.one_of(st.sampled_from(TYPES), st.lists(st.sampled_from(TYPES), max_size=3)),
        "properties": st.dictionaries(names, schema, max_size=4),
        "required": st.lists(names, max_size=4),
        "additionalProperties": st.one_of(st.booleans(), schema),
        "items": st.one_of(schema, st.lists(schema, max_size=3), st.booleans()),
        "prefixItems": st.lists(schema, max_size=3),
        "enum": st.lists(scalars, max_size=5),
        "const": scalars,
        "anyOf": st.lists(schema, max_size=3),
        "oneOf": st.lists(schema, max_size=3),
        "allOf": st.lists(schema, max_size=3),
        "not": schema,
        "$ref": st.sampled_from(["#", "#/$defs/a", "#/$defs/missing", "#/properties/x",
                                 "http://example.com/s.json", "#/definitions/a", "??"]),
        "$defs": st.dictionaries(st.sampled_from(["a", "b"]), schema, max_size=2),
        "definitions": st.dictionaries(st.sampled_from(["a"]), schema, max_size=1),
        "pattern": st.sampled_from(PATTERNS),
        "format": st.sampled_from(FORMATS),
        "minimum": numbers, "maximum": numbers, "exclusiveMinimum": numbers,
        "exclusiveMaximum": numbers, "multipleOf": numbers,
        "minLength": small, "maxLength": small, "minItems": small, "maxItems": small,
        "minProperties": small, "maxProperties": small,
        "uniqueItems": st.booleans(),
        "dependentRequired": st.dictionaries(names, st.lists(names, max_size=2), max_size=2),
        "patternProperties": st.dictionaries(st.sampled_from(PATTERNS), schema, max_size=2),
        "if": schema, "then": schema, "else": schema,
        "nullable": st.booleans(),
        "description": st.text(max_size=10),
        "default": scalars,
    }


def schema_node(schema: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    values = keyword_values(schema)
    keyword_sets = st.lists(st.sampled_from(sorted(values)), max_size=5, unique=True)
    return st.one_of(
        st.booleans(),
        keyword_sets.flatmap(lambda ks: st.fixed_dictionaries({k: values[k] for k in ks})),
    )


schemas = st.recursive(st.one_of(st.booleans(), st.just({}), scalars),
                       schema_node, max_leaves=25)


def convert_bounded(schema: Any, strict: bool, timeout: float = 60.0) -> str | SchemaError:
    """The conversion in a thread, so a hang is a failure instead of a stuck test run."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["grammar"] = schema_to_gbnf(schema, strict=strict, limits=LIMITS)
        except SchemaError as exc:
            out["grammar"] = exc
        except BaseException as exc:  # noqa: BLE001 - reported below
            out["crash"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the converter hung on {json.dumps(schema)[:500]}"
    if "crash" in out:
        raise AssertionError(f"crashed on {json.dumps(schema)[:500]}") from out["crash"]
    return out["grammar"]


def is_json_schema(schema: Any) -> bool:
    try:
        validator_for(schema)
    except Exception:  # noqa: BLE001 - the gateway refuses these before converting (400)
        return False
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(schema=schemas, strict=st.booleans())
def test_any_valid_schema_gives_a_grammar_or_a_schema_error(schema: Any, strict: bool) -> None:
    assume(is_json_schema(schema))
    result = convert_bounded(schema, strict)
    if isinstance(result, SchemaError):
        assert str(result)  # says what is wrong
    else:
        parse_gbnf(result)  # well-formed GBNF with a root rule
        assert "root ::=" in result


@pytest.mark.e2e
def test_fuzzed_grammars_are_accepted_by_llama_cpp(backend_url: str) -> None:
    """A sample of fuzzed schemas that converted: llama.cpp parses each grammar (it answers
    400 for one it cannot parse)."""
    grammars: list[tuple[Any, str]] = []

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(schema=schemas)
    def collect(schema: Any) -> None:
        if not is_json_schema(schema):
            return
        result = convert_bounded(schema, strict=False)
        if isinstance(result, str) and len(grammars) < 40:
            grammars.append((schema, result))

    collect()
    assert len(grammars) >= 10
    refused = []
    for schema, grammar in grammars:
        body = {"prompt": "JSON:", "grammar": grammar, "n_predict": 1, "cache_prompt": True,
                "response_fields": ["content"]}
        req = urllib.request.Request(backend_url + "/completion", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                assert resp.status == 200
        except urllib.error.HTTPError as exc:
            refused.append((json.dumps(schema)[:300], exc.read()[:300]))
    assert not refused, refused[:3]
