"""A minimal validator for enum/const values against their sibling keywords."""

from __future__ import annotations

import re
from typing import Any


def json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "integer" if v.is_integer() else "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def value_ok(v: Any, s: dict[str, Any]) -> bool | None:
    """Whether ``v`` satisfies ``s``; None when ``s`` has keywords this cannot check."""
    t = json_type(v)
    types = s.get("type")
    if types is not None:
        ts = types if isinstance(types, list) else [types]
        if t not in ts and not (t == "integer" and "number" in ts):
            return False
    # keywords this does not check, for the values they apply to
    if t == "object" and any(k in s for k in ("properties", "additionalProperties")) or (
            t == "array" and any(k in s for k in ("items", "prefixItems"))):
        return None
    if t in ("integer", "number"):
        if not s.get("minimum", v) <= v <= s.get("maximum", v):
            return False
        em, eM = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
        if isinstance(em, int | float) and not isinstance(em, bool) and not v > em:
            return False
        if isinstance(eM, int | float) and not isinstance(eM, bool) and not v < eM:
            return False
        m = s.get("multipleOf")
        if m and (v / m) != int(v / m):
            return False
    if t == "string":
        if not s.get("minLength", 0) <= len(v) <= s.get("maxLength", len(v)):
            return False
        if "pattern" in s:
            try:
                if re.search(s["pattern"], v) is None:
                    return False
            except re.error:
                return None
        if "format" in s:
            return None
    if t == "array" and not s.get("minItems", 0) <= len(v) <= s.get("maxItems", len(v)):
        return False
    if t == "object":
        if any(k not in v for k in s.get("required", [])):
            return False
        if not s.get("minProperties", 0) <= len(v) <= s.get("maxProperties", len(v)):
            return False
    return True
