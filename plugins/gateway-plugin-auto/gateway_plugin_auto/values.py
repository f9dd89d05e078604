"""Tagged argument values → JSON: the tool's schema decides what a raw value means.

A string-typed parameter keeps its text as a string even when it looks like JSON (`"42"`
for a zip code must not become 42). Other values are parsed as JSON, then as a Python
literal (templates that write `True` or `['a', 1]`), and stay a string when neither works.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

_PY = {"True": True, "False": False, "None": None}


def schema_types(schema: Any) -> set[str]:
    """The JSON types a (sub)schema allows, as far as its top level tells."""
    if not isinstance(schema, dict):
        return set()
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    if "enum" in schema and isinstance(schema["enum"], list):
        return {json_type(v) for v in schema["enum"]}
    if "const" in schema:
        return {json_type(schema["const"])}
    out: set[str] = set()
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key) or ():
            out |= schema_types(branch)
    return out


def json_type(v: Any) -> str:
    """The JSON type of a value (`integer` for a whole number, `boolean` before it)."""
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, str):
        return "string"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    return "null" if v is None else ("array" if isinstance(v, list) else "object")


JSON_TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")


def _admits(types: set[str], t: str) -> bool:
    return t in types or (t == "integer" and "number" in types)


def restrict(schema: Any, types: set[str]) -> Any:
    """The part of a schema whose values are of these JSON types (a template that writes a
    value's type in its markup takes each type's values after that type's own markup)."""
    own = schema_types(schema)
    keep = sorted(t for t in JSON_TYPES if t in types and (not own or _admits(own, t)))
    if not isinstance(schema, dict) or (own and all(_admits(types, t) for t in own)):
        return schema  # nothing to cut (or nothing to cut it with)
    if "type" in schema:
        return {**schema, "type": keep[0] if len(keep) == 1 else keep}
    if isinstance(schema.get("enum"), list):
        return {**schema, "enum": [v for v in schema["enum"] if _admits(types, json_type(v))]}
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return {**schema, key: [b for b in schema[key] if not schema_types(b) or
                                    any(_admits(types, t) for t in schema_types(b))]}
    typed = {"type": keep[0] if len(keep) == 1 else keep}
    if any(k in schema for k in ("$ref", "allOf", "not", "if")):
        return {"allOf": [schema, typed]}
    return {**schema, **typed}


def is_string_param(schema: Any) -> bool:
    """Only strings are allowed: the raw text is the value."""
    return schema_types(schema) == {"string"}


def value_json(text: str, schema: Any, quotes: tuple[str, str] | None = None,
               json_strings: bool = False) -> str:
    """Compact JSON for one raw value. `quotes`: the template writes nested values with its
    own string quotes and bare keys (Gemma 4: `{a:<|"|>x<|"|>}`); `json_strings`: it writes
    every value as JSON, strings too."""
    if is_string_param(schema) and not json_strings:
        return json.dumps(text, ensure_ascii=False)
    stripped = text.strip()
    try:
        value = json.loads(stripped)
    except ValueError:
        value = _quoted(stripped, quotes) if quotes else _MISSING
        if value is _MISSING:
            value = _python(stripped)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_MISSING = object()
_BARE_KEY = re.compile(r'([{,])\s*([A-Za-z_][A-Za-z0-9_]*)\s*:')


def _quoted(text: str, quotes: tuple[str, str]) -> Any:
    """JSON-like text with the template's own string quotes and bare keys, as a value."""
    q1, q2 = quotes
    parts = re.split(f"({re.escape(q1)}.*?{re.escape(q2)})", text, flags=re.S)
    out = []
    for part in parts:
        if part.startswith(q1) and part.endswith(q2) and len(part) >= len(q1) + len(q2):
            out.append(json.dumps(part[len(q1): len(part) - len(q2)], ensure_ascii=False))
        else:
            out.append(_BARE_KEY.sub(r'\1"\2":', part))
    try:
        return json.loads("".join(out))
    except ValueError:
        return _MISSING


def _python(text: str) -> Any:
    if text in _PY:
        return _PY[text]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return text
    return value
