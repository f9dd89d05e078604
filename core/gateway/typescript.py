"""JSON Schema → TypeScript-like type text, to describe tools to a model compactly."""

from __future__ import annotations

import json
from typing import Any

_PRIMITIVE = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean",
              "null": "null"}


def ts_type(schema: Any, indent: str = "", depth: int = 0) -> str:
    if not isinstance(schema, dict) or depth > 8:
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    if "enum" in schema:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(ts_type(s, indent, depth + 1) for s in schema[key])
    t = schema.get("type")
    if isinstance(t, list):
        return " | ".join(ts_type({**schema, "type": x}, indent, depth + 1) for x in t)
    nullable = " | null" if schema.get("nullable") else ""
    if t == "array" or "items" in schema:
        item = ts_type(schema.get("items", {}), indent, depth + 1)
        return (f"({item})[]" if "|" in item else f"{item}[]") + nullable
    if t == "object" or "properties" in schema:
        return _ts_object(schema, indent, depth) + nullable
    return _PRIMITIVE.get(str(t), "any") + nullable


def _ts_object(schema: dict[str, Any], indent: str, depth: int) -> str:
    props = schema.get("properties") or {}
    if not props:
        return "object"
    required = set(schema.get("required") or [])
    inner = indent + "  "
    lines = ["{"]
    for name, sub in props.items():
        sub = sub if isinstance(sub, dict) else {}
        doc = sub.get("description")
        notes = [str(doc)] if doc else []
        if sub.get("type") == "integer":
            notes.append("integer")
        for k in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
                  "pattern", "format", "default"):
            if k in sub:
                notes.append(f"{k}: {json.dumps(sub[k], ensure_ascii=False)}")
        opt = "" if name in required else "?"
        comment = f" // {'; '.join(notes)}" if notes else ""
        lines.append(f"{inner}{name}{opt}: {ts_type(sub, inner, depth + 1)},{comment}")
    lines.append(indent + "}")
    return "\n".join(lines)


def ts_function(name: str, description: str, parameters: dict[str, Any]) -> str:
    doc = "".join(f"// {line}\n" for line in description.splitlines() if line.strip())
    return f"{doc}type {name} = (_: {ts_type(parameters)}) => any;"
