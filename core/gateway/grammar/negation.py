"""``not`` in the forms real schemas use, folded into positive constraints.

A ``not`` subschema is rewritten into what the rest of the converter enforces exactly:

- ``not: {type: T}``            → T removed from the allowed types;
- ``not: {const: v}`` / ``{enum: [...]}`` (optionally with ``type``) → those values
  excluded (EXCLUDE, enforced by enum filtering, boolean/null literals, integer ranges
  split around them, or a free string that is none of them);
- ``not: {required: [k]}``      → key k is never emitted (FORBID), only objects;
- ``not: {required: [k1, k2, …]}`` → not all of them at once (NOT_ALL, expanded over key
  presence like dependentRequired), only objects;
- ``not: {properties: {k: S}, required: [k]}`` → k, when present, satisfies ``not S``;
- ``not: {pattern: P}`` (optionally with ``type: string``) → strings matching no P
  (automaton.py: the complement of P's automaton, with the string's other constraints);
- ``not: {anyOf: [A, B, …]}``   → ``not A`` and ``not B`` …;
- ``not: {allOf: [A, B, …]}``   → ``not`` of the one schema A, B, … merge into;
- ``not: {not: {required: R}}`` → R required (of objects);
- ``not: true``/``{}`` → nothing is valid, ``not: false`` → no constraint.

Anything else is refused with the keyword and path (strict) or dropped (non-strict, as for
the other keywords no grammar can enforce).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import SchemaError, Unsatisfiable
from .gbnf import literal
from .resolve import (
    ANNOTATIONS,
    FORBID,
    NOT_ALL,
    NOT_PATTERNS,
    PATTERNS,
    VALIDATION,
    Schema,
    canon,
    merge,
    pattern_search,
    pointer,
)
from .values import json_type

if TYPE_CHECKING:
    from .schema import Converter

EXCLUDE = "\x00exclude"  # internal: values the grammar must not produce


def _only(n: Schema, *keys: str) -> bool:
    """``n`` constrains with ``keys`` alone (anything else is an annotation)."""
    return all(k in keys or k in ANNOTATIONS or k not in VALIDATION for k in n)


def fold_not(conv: Converter, s: Schema, types: list[str], path: str) -> tuple[Schema, list[str]]:
    """``s`` without its ``not``, and the types left, the negation folded in (or refused)."""
    out = {k: v for k, v in s.items() if k != "not"}
    return _fold(conv, out, types, s["not"], pointer(path, "not"), 0)


def _fold(conv: Converter, s: Schema, types: list[str], n: Any, path: str,
          depth: int) -> tuple[Schema, list[str]]:
    if isinstance(n, dict) and "$ref" in n and depth < 8:
        target, _ = conv.res.deref(n, path)
        if target is not n:
            return _fold(conv, s, types, target, path, depth + 1)
    if n is False:
        return s, types
    if n is True or n == {} or isinstance(n, dict) and _only(n):
        raise Unsatisfiable("'not' of a schema every value satisfies", keyword="not", path=path)
    if not isinstance(n, dict):
        conv.refuse_at("not", path, "'not' must hold a schema")
        return s, types
    if _only(n, "anyOf") and isinstance(n["anyOf"], list):
        for i, br in enumerate(n["anyOf"]):
            s, types = _fold(conv, s, types, br, pointer(path, "anyOf", i), depth + 1)
        return s, types
    if _only(n, "allOf") and isinstance(n["allOf"], list) and n["allOf"]:
        # not (A and B): fold the one schema they merge into
        try:
            merged = merge(conv.res.flatten(n, path), True)
        except (SchemaError, Unsatisfiable):
            merged = None
        if merged is not None and "allOf" not in merged:
            return _fold(conv, s, types, merged, path, depth + 1)
    if _only(n, "not") and isinstance(n["not"], dict) and _only(n["not"], "required") \
            and isinstance(n["not"].get("required"), list):
        # not (not {required: R}) is {required: R}: objects carry R, other types are free
        req = list(dict.fromkeys(list(s.get("required") or []) + n["not"]["required"]))
        return {**s, "required": req}, types
    if _only(n, "type"):
        gone = set(n["type"] if isinstance(n["type"], list) else [n["type"]])
        if "integer" in gone and "number" in types and "number" not in gone:
            conv.refuse_at("not", path, "'not' an integer leaves fractional numbers only, which a"
                        " grammar cannot tell apart from integers written as decimals")
            return s, types
        left = [t for t in types if t not in gone and not (t == "integer" and "number" in gone)]
        if not left:
            raise Unsatisfiable("'not' excludes every allowed type", keyword="not", path=path)
        return s, left
    if _only(n, "const", "enum", "type") and ("const" in n or "enum" in n):
        values = [n["const"]] if "const" in n else list(n.get("enum") or [])
        if "type" in n:
            ts = n["type"] if isinstance(n["type"], list) else [n["type"]]
            values = [v for v in values if json_type(v) in ts
                      or json_type(v) == "integer" and "number" in ts]
        return {**s, EXCLUDE: list(s.get(EXCLUDE, [])) + values}, types
    if _only(n, "pattern", "type") and isinstance(n.get("pattern"), str) and n.get(
            "type", "string") == "string":
        # {pattern: P} holds for every non-string: its negation leaves strings only
        left = types if "type" in n else [t for t in types if t == "string"]
        if not left:
            raise Unsatisfiable("'not' of a pattern leaves strings only, and this schema"
                                " admits no string", keyword="not", path=path)
        return {**s, NOT_PATTERNS: list(s.get(NOT_PATTERNS, [])) + [n["pattern"]]}, left
    if _only(n, "required", "type") and isinstance(n.get("required"), list) and n[
            "required"] and n.get("type") == "object":
        # not (object with all of them): any other type, or an object without one of them
        if "object" not in types:
            return s, types
        try:
            out, _ = _not_required(s, ["object"], list(dict.fromkeys(n["required"])), path)
        except Unsatisfiable:
            left = [t for t in types if t != "object"]
            if not left:
                raise
            return s, left
        return out, types
    if _only(n, "required") and isinstance(n["required"], list) and n["required"]:
        return _not_required(s, types, list(dict.fromkeys(n["required"])), path)
    if _only(n, "properties", "required", "type") and isinstance(n.get("properties"), dict) \
            and len(n["properties"]) == 1 and n.get("type", "object") == "object":
        (k, sub), = n["properties"].items()
        req = n.get("required") or []
        if set(req) <= {k}:
            # not (k absent-or-valid) needs k present: only when k is required in n is
            # "absent" not a way to satisfy n, otherwise k must be present
            # without type: object in n, every non-object satisfies n vacuously
            left = types if "type" in n else _objects_only(types, path)
            return _not_property(s, k, sub, bool(req)), left
    conv.refuse_at("not", path, "this form of 'not' cannot be enforced by a grammar (supported:"
                " type, const/enum, required, one property, anyOf of those)")
    return s, types


def _objects_only(types: list[str], path: str) -> list[str]:
    # every non-object instance satisfies {required: …}: its negation admits objects only
    if "object" not in types:
        raise Unsatisfiable("'not' of a required-keys schema leaves objects only, and this"
                            " schema admits no object", keyword="not", path=path)
    return ["object"]


def _not_required(s: Schema, types: list[str], keys: list[str], path: str
                  ) -> tuple[Schema, list[str]]:
    types = _objects_only(types, path)
    required = set(s.get("required") or [])
    if all(k in required for k in keys):
        raise Unsatisfiable("'not' forbids keys that are required", keyword="not", path=path)
    if len(keys) == 1:
        return {**s, FORBID: list(dict.fromkeys(list(s.get(FORBID, [])) + keys))}, types
    return {**s, NOT_ALL: list(s.get(NOT_ALL, [])) + [keys]}, types


def _not_property(s: Schema, k: str, sub: Any, k_required: bool) -> Schema:
    """Objects whose k (when present) violates ``sub``; when n did not require k, k must
    also be present (an object without k satisfies n)."""
    props = dict(s.get("properties") or {})
    if k in props:
        base = props[k]
    elif any(pattern_search(p, k) is not False for p in s.get("patternProperties") or {}):
        base = True  # the patterns' schemas apply to declared keys (keys.merge_patterns)
    else:  # an undeclared key: additionalProperties applies, else unevaluatedProperties
        # (a 'not' evaluates no key), else nothing
        base = s.get("additionalProperties", s.get("unevaluatedProperties", True))
    if base is None:
        base = True
    props[k] = {"not": sub} if base is True else {"allOf": [base, {"not": sub}]}
    out = {**s, "properties": props}
    if not k_required:
        out["required"] = list(dict.fromkeys(list(s.get("required") or []) + [k]))
    return out


def _same(a: Any, b: Any) -> bool:
    """JSON Schema equality (1 == 1.0, but true != 1)."""
    ta, tb = json_type(a), json_type(b)
    if {ta, tb} <= {"integer", "number"}:
        return a == b
    return ta == tb and canon(a) == canon(b)


def is_excluded(v: Any, values: Any) -> bool:
    return any(_same(v, x) for x in values)


def excluding(conv: Converter, t: str, s: Schema, path: str) -> str | None:
    """The grammar of type ``t`` under ``s`` without the EXCLUDE values."""
    from .schema import _MAKERS  # schema imports this module

    values = [v for v in s[EXCLUDE] if json_type(v) == t
              or t == "number" and json_type(v) == "integer"]
    plain = {k: v for k, v in s.items() if k != EXCLUDE}
    if not values:
        return _MAKERS[t](conv, plain, path)
    if t == "null":
        return None
    if t == "boolean":
        left = [x for x in (True, False) if not is_excluded(x, values)]
        return conv.alternatives([literal(json.dumps(x)) for x in left]) if left else None
    if t in ("integer", "number"):
        return _numbers_apart(conv, t, plain, sorted(Decimal(str(v)) for v in values), path)
    if t == "string" and not any(k in s for k in ("pattern", "format", "minLength",
                                                   "maxLength", NOT_PATTERNS, PATTERNS)):
        from .objects import key_excluding  # objects imports this module's users

        return conv.b.add("str-not", key_excluding(conv.b, [v for v in values]))
    if t == "string":
        from .scalars import string  # scalars is a sibling maker

        return string(conv, plain, path, tuple(values))
    conv.refuse_at("not", pointer(path, "not"), f"excluding {t} values cannot be enforced by a"
                " grammar here")
    return _MAKERS[t](conv, plain, path)


def _numbers_apart(conv: Converter, t: str, s: Schema, values: list[Decimal], path: str
                   ) -> str | None:
    """Numbers of ``s`` strictly between consecutive excluded values (and beyond them)."""

    base = dict(s)
    if base.get("exclusiveMinimum") is True and "minimum" in base:  # draft 4 → 6
        base["exclusiveMinimum"] = base.pop("minimum")
    elif isinstance(base.get("exclusiveMinimum"), bool):
        base.pop("exclusiveMinimum")
    if base.get("exclusiveMaximum") is True and "maximum" in base:
        base["exclusiveMaximum"] = base.pop("maximum")
    elif isinstance(base.get("exclusiveMaximum"), bool):
        base.pop("exclusiveMaximum")
    alts = []
    edges: list[Decimal | None] = [None, *dict.fromkeys(values), None]
    for lo, hi in zip(edges, edges[1:], strict=False):
        piece = dict(base)
        if lo is not None:
            piece["exclusiveMinimum"] = _tighter(piece.get("exclusiveMinimum"), lo, max)
        if hi is not None:
            piece["exclusiveMaximum"] = _tighter(piece.get("exclusiveMaximum"), hi, min)
        alt = conv.attempt(_maker(conv, t, piece, path))
        if alt is not None:
            alts.append(alt)
    return conv.alternatives(alts, "num-not") if alts else None


def _maker(conv: Converter, t: str, s: Schema, path: str) -> Any:
    from .schema import _MAKERS

    return lambda: _MAKERS[t](conv, s, path)


def _tighter(old: Any, new: Decimal, pick: Any) -> int | float:
    val = int(new) if new == new.to_integral_value() else float(new)
    return val if old is None else pick(old, val)
