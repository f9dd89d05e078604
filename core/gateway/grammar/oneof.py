"""oneOf made exact: prove the branches' grammars cannot produce an instance valid for two
branches; where object branches differ in required keys, stop each branch from emitting the
keys the others require (a sound restriction that makes them disjoint)."""

from __future__ import annotations

from typing import Any

from .resolve import FORBID, Resolver, Schema, canon
from .values import json_type

_ALL = {"null", "boolean", "object", "array", "string", "integer", "number"}
_IMPLY = {
    "properties": "object", "required": "object", "additionalProperties": "object",
    "items": "array", "prefixItems": "array", "minItems": "array", "maxItems": "array",
    "minLength": "string", "maxLength": "string", "pattern": "string", "format": "string",
    "minimum": "number", "maximum": "number",
}


def _declared(s: Schema) -> set[str] | None:
    t = s.get("type")
    if t is None:
        return None
    ts = set(t) if isinstance(t, list) else {t}
    if s.get("nullable") is True:
        ts.add("null")
    return ts


def accepted_types(s: Any) -> set[str]:
    """Types the *schema* accepts (over-approximation)."""
    if not isinstance(s, dict):
        return set(_ALL)
    if "enum" in s or "const" in s:
        return {json_type(v) for v in _values(s)}
    if "anyOf" in s or "oneOf" in s or "$ref" in s or "allOf" in s:
        return set(_ALL)
    ts = _declared(s)
    return set(_ALL) if ts is None else ts


def emitted_types(s: Any) -> set[str]:
    """Types the converter's grammar for ``s`` produces (over-approximation)."""
    if not isinstance(s, dict) or any(k in s for k in ("anyOf", "oneOf", "$ref", "allOf")):
        return set(_ALL)
    if "enum" in s or "const" in s:
        return {json_type(v) for v in _values(s)}
    ts = _declared(s)
    if ts is None:
        implied = {_IMPLY[k] for k in s if k in _IMPLY}
        ts = implied or set(_ALL)
    return ts


def _values(s: Schema) -> list[Any]:
    return [s["const"]] if "const" in s else list(s.get("enum") or [])


def _overlap(a: set[str], b: set[str]) -> bool:
    if a & b:
        return True
    return "integer" in a and "number" in b or "number" in a and "integer" in b


def excludes(x: Any, y: Any, res: Resolver, depth: int = 0) -> bool:
    """True when no instance produced by the grammar of ``x`` is valid against ``y``."""
    if depth > 4:
        return False
    x = res.deref(x, "#")[0] if isinstance(x, dict) else x
    y = res.deref(y, "#")[0] if isinstance(y, dict) else y
    if not isinstance(x, dict) or not isinstance(y, dict):
        return y is False
    ex, ac = emitted_types(x), accepted_types(y)
    if not _overlap(ex, ac):
        return True
    if ("enum" in x or "const" in x) and ("enum" in y or "const" in y) and not (
            {canon(v) for v in _values(x)} & {canon(v) for v in _values(y)}):
        return True
    if _overlap(ex - {"object"}, ac - {"object"}):
        return False
    return "object" not in ex or "object" not in ac or _objects_exclude(x, y, res, depth)


def _objects_exclude(x: Schema, y: Schema, res: Resolver, depth: int) -> bool:
    xprops, yprops = x.get("properties") or {}, y.get("properties") or {}
    xreq, yreq = set(x.get("required") or []), set(y.get("required") or [])
    forbid = set(x.get(FORBID) or [])
    for k in xreq:
        if k in yprops and excludes(xprops.get(k, True), yprops[k], res, depth + 1):
            return True  # a discriminator: x always emits k with a value y rejects
        if k not in yprops and y.get("additionalProperties") is False and (
            "patternProperties" not in y
        ):
            return True
        if yprops.get(k) is False:
            return True
    x_extras = x.get("additionalProperties") not in (None, False)
    # x never emits a key y requires
    return any(j in forbid or (j not in xprops and not x_extras) for j in yreq)


def make_disjoint(branches: list[Schema], res: Resolver) -> list[Schema] | None:
    """Branches (possibly restricted) whose grammars are pairwise exclusive, or None."""
    out = [dict(b) for b in branches]
    for i, x in enumerate(out):
        for j, y in enumerate(out):
            if i == j or excludes(x, y, res):
                continue
            # restrict x: never emit a key that y requires and x does not
            if emitted_types(x) == {"object"} and accepted_types(y) & {"object"}:
                extra = set(y.get("required") or []) - set(x.get("required") or [])
                if extra:
                    x[FORBID] = sorted(set(x.get(FORBID) or []) | extra)
                    out[i] = x
    for i, x in enumerate(out):
        for j, y in enumerate(out):
            if i != j and not excludes(x, y, res):
                return None
    return out
