"""multipleOf beyond small integer ranges: the multiples of m = M·10^-K with M = 2^a·5^b
(0.01, 0.5, 0.25, 4, …) by their last digits, of other small M (0.3, 7, 1.5) by a remainder
automaton, without bounds or from 0 up, and of any m in a range holding few of them.
Differential: numbers drawn at random are accepted exactly when they are multiples in
range (judged on the decimal text), up to the forms left out by design."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from gateway.grammar import SchemaError, schema_to_gbnf

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf
from tests.grammar.grammar_helpers import is_valid

BUILT = [
    {"type": "number", "multipleOf": 0.01},
    {"type": "number", "multipleOf": 0.5},
    {"type": "number", "multipleOf": 0.25, "minimum": 0},
    {"type": "number", "multipleOf": 0.05, "exclusiveMinimum": 0},
    {"type": "number", "multipleOf": 0.125},
    {"type": "integer", "multipleOf": 4},
    {"type": "integer", "multipleOf": 10, "minimum": 0},
    {"type": "integer", "multipleOf": 0.5},
    {"type": "number", "multipleOf": 2.5},
    {"type": "number", "multipleOf": 0.3, "minimum": -3, "maximum": 7.5},
    {"type": "number", "multipleOf": 1.5, "exclusiveMinimum": 0, "exclusiveMaximum": 9},
    {"type": "integer", "multipleOf": 7, "minimum": 0, "maximum": 100},
    # other factors than 2 and 5: the remainder automaton
    {"type": "number", "multipleOf": 0.3},
    {"type": "number", "multipleOf": 1.5, "minimum": 0},
    {"type": "integer", "multipleOf": 7},
    {"type": "integer", "multipleOf": 12},
    {"type": "number", "multipleOf": 0.07},
]
REFUSED = [
    {"type": "number", "multipleOf": 0.123456789},
    {"type": "number", "multipleOf": 0.3, "exclusiveMinimum": 0},
    {"type": "number", "multipleOf": 0.01, "minimum": 1},
    {"type": "number", "multipleOf": 0.5, "maximum": 10},
]


def _texts(seed: int) -> set[str]:
    rng = random.Random(seed)
    out = set()
    for _ in range(1500):
        ip = rng.choice(["0", str(rng.randrange(1, 20)), str(rng.randrange(1, 10**6)),
                         str(rng.randrange(1, 10)) + "00", "7", "10", "100"])
        fp = rng.choice(["", "", "." + "".join(rng.choice("0123456789")
                                             for _ in range(rng.randrange(1, 5))),
                         ".5", ".25", ".05", ".125", ".75", ".3", ".01", ".1", ".2"])
        out.add(rng.choice(["", "-"]) + ip + fp)
    return out


def _by_design(text: str, schema: dict[str, Any]) -> bool:
    """Forms a multiple may take that the grammar leaves out on purpose."""
    frac = text.split(".")[1] if "." in text else ""
    if schema["type"] == "integer" and frac or frac.endswith("0"):
        return True  # integers have no fraction; fractions end in a significant digit
    if schema["type"] == "number" and frac and Decimal(text) == int(Decimal(text)):
        return True  # an integral value with a fraction
    return text.startswith("-0") and Decimal(text) == 0  # zero has no sign


@pytest.mark.parametrize("schema", BUILT, ids=lambda s: repr(s))
def test_multiples_exact(schema: dict[str, Any]) -> None:
    grammar = parse_gbnf(schema_to_gbnf(schema))
    seen = 0
    for text in sorted(_texts(len(repr(schema)))):
        value = float(text) if "." in text else int(text)
        valid = is_valid(schema, value) and repr(value) == text or (
            is_valid(schema, value) and "." not in text)
        got = accepts(grammar, text)
        if got:
            assert is_valid(schema, value), f"accepted an invalid number {text}"
            seen += 1
        elif valid and not _by_design(text, schema):
            raise AssertionError(f"rejected the valid number {text}")
    assert seen >= 2


@pytest.mark.parametrize("schema", REFUSED, ids=lambda s: repr(s))
def test_multiples_refused(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaError) as err:
        schema_to_gbnf({"type": "object", "properties": {"x": schema}, "required": ["x"]})
    assert err.value.keyword == "multipleOf"
    assert err.value.path == "#/properties/x/multipleOf"
    schema_to_gbnf(schema, strict=False)  # lax drops it


def test_decimal_multiple_in_a_document() -> None:
    schema = {"type": "object", "required": ["price"], "additionalProperties": False,
              "properties": {"price": {"type": "number", "multipleOf": 0.01,
                                       "exclusiveMinimum": 0}}}
    grammar = parse_gbnf(schema_to_gbnf(schema))
    for doc, ok in [('{"price":12.5}', True), ('{"price":0.07}', True), ('{"price":3}', True),
                    ('{"price":0.001}', False), ('{"price":0}', False), ('{"price":0.0}', False),
                    ('{"price":-1.5}', False), ('{"price":1.234}', False)]:
        assert accepts(grammar, doc) is ok, doc


def test_exact_oracle_judges_the_decimal_text() -> None:
    # the helpers' validator divides decimals, not floats (0.3 / 0.1 is 2.9999999999999996)
    assert is_valid({"multipleOf": 0.1}, 0.3)
    assert not is_valid({"multipleOf": 0.1}, 0.31)
    assert not is_valid({"multipleOf": 0.123456789}, 1e308)
