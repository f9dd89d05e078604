"""What the grammar leaves out of a schema's valid documents by design, to tell those
rejections apart from completeness holes in the benches (contrib/bench)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema

from tests.grammar.grammar_helpers import is_valid, openapi_nullable
from tests.grammar.ordering import declared_order, dumps, undeclared_keys

# keywords whose value is a schema / a map of schemas / a list of schemas
_ONE = ("items", "additionalItems", "additionalProperties", "not", "contains", "propertyNames",
        "if", "then", "else", "unevaluatedItems", "unevaluatedProperties")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_IMPLIED = {
    "object": ("properties", "required", "additionalProperties", "minProperties",
               "maxProperties", "dependentRequired", "patternProperties", "propertyNames",
               "dependentSchemas", "unevaluatedProperties", "dependencies"),
    "array": ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains",
              "minContains", "maxContains", "unevaluatedItems", "additionalItems"),
    "string": ("minLength", "maxLength", "pattern", "format"),
    "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
}


def typed(schema: Any) -> Any:
    """``schema`` with the type its keywords imply written out where it has none (the
    converter's deliberate subset: an untyped schema with string keywords writes strings)."""
    if isinstance(schema, list):
        return [typed(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for k in _ONE:
        if isinstance(out.get(k), dict | bool):
            out[k] = typed(out[k])
    for k in _MAP:
        if isinstance(out.get(k), dict):
            out[k] = {n: typed(v) for n, v in out[k].items()}
    for k in _LIST:
        if isinstance(out.get(k), list):
            out[k] = [typed(v) for v in out[k]]
    if "type" not in out and not any(k in out for k in ("enum", "const", "$ref")):
        implied = [t for t, kws in _IMPLIED.items() if any(k in out for k in kws)]
        if "number" in implied:
            implied.append("integer")
        if implied:
            out["type"] = implied
    return out


def integral(value: Any) -> Any:
    """``value`` with integral floats written as integers (1.0 → 1)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, list):
        return [integral(v) for v in value]
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    return value


def big(value: Any) -> bool:
    """Whether ``value`` holds a number beyond int64 (what encoders write as integers)."""
    if isinstance(value, list):
        return any(big(v) for v in value)
    if isinstance(value, dict):
        return any(big(v) for v in value.values())
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= 2**63


def _ascii_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not re.search(pattern, instance, re.ASCII):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r} (ECMA)")


def ecma_valid(schema: Any, value: Any) -> bool:
    """Validity (formats aside) with ECMA-262 classes in patterns (\\d, \\w ASCII, as JSON
    Schema says; Python's re matches Unicode digits there)."""
    schema = openapi_nullable(schema)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    ecma = jsonschema.validators.extend(cls, {"pattern": _ascii_pattern})
    return bool(ecma(schema).is_valid(value))


def by_design(schema: Any, data: Any, strict: bool, validator: Any,
              accepts: Callable[[str], bool] | None) -> str | None:
    """Why a valid document the grammar rejects is outside its deliberate subset (None: it
    is not, a completeness hole). ``accepts`` tells whether the grammar takes a text."""
    if strict and undeclared_keys(schema, schema, data):
        return "undeclared keys (strict closes objects)"
    try:
        if not ecma_valid(schema, data):
            return "valid only with Python's Unicode \\d/\\w (invalid under ECMA-262)"
        if not validator(typed(schema)).is_valid(data):
            return "another type than an untyped schema's keywords imply"
        if not is_valid(schema, data):
            return "format asserted (only an annotation by default in 2020-12)"
    except Exception:  # a pattern Python's re cannot check: no excuse
        return None
    if big(data):
        return "integer beyond int64 (encoders' range)"
    if accepts is not None and accepts(dumps(declared_order(schema, schema, integral(data)))):
        return "integral number written with a fraction"
    return None
