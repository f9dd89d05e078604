"""Serialise an instance the way the grammar writes it: declared key order, compact."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.grammar.grammar_helpers import is_valid


class Unrepresentable(Exception):
    """The instance is valid but outside the grammar's deliberate subset."""


def _deref(root: Any, s: Any) -> Any:
    seen = 0
    while isinstance(s, dict) and "$ref" in s and seen < 50:
        ref = s["$ref"]
        node = root
        for part in ref[2:].split("/") if ref != "#" else []:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        rest = {k: v for k, v in s.items() if k != "$ref"}
        s = {"allOf": [node, rest]} if rest else node
        seen += 1
    return s


def _conjuncts(root: Any, s: Any, value: Any) -> list[Any]:
    s = _deref(root, s)
    if not isinstance(s, dict):
        return []
    rest = {k: v for k, v in s.items() if k not in ("allOf", "anyOf", "oneOf", "if", "then",
                                                    "else", "dependentSchemas")}
    out = [rest]
    for br in s.get("allOf", []):
        out += _conjuncts(root, br, value)
    if "if" in s:  # the grammar merges (if and then) or (not if and else)
        if is_valid(_with_root(root, s["if"]), value):
            out += _conjuncts(root, s["if"], value) + _conjuncts(root, s.get("then", {}), value)
        else:
            out += _conjuncts(root, s.get("else", {}), value)
    deps = {**(s.get("dependentSchemas") or {}), **{
        k: v for k, v in (s.get("dependencies") or {}).items() if not isinstance(v, list)}}
    for key, sub in deps.items():  # the grammar merges each present key's schema
        if isinstance(value, dict) and key in value:
            # (a key whose schema is true adds nothing: the grammar does not declare it)
            out += [] if sub is True else [{"required": [key]}, *_conjuncts(root, sub, value)]
    for kw in ("anyOf", "oneOf"):
        for br in s.get(kw, []):
            if is_valid(_with_root(root, br), value):
                out += _conjuncts(root, br, value)
                break
    return out


def _with_root(root: Any, s: Any) -> Any:
    if isinstance(root, dict) and isinstance(s, dict):
        defs = {k: root[k] for k in ("$defs", "definitions") if k in root}
        return {**defs, **s} if "$ref" not in s or s["$ref"] != "#" else root
    return s


def _check_any(value: Any, depth: int = 6) -> None:
    """The bounds of the unconstrained-value grammar (primitives.py)."""
    if isinstance(value, str) and len(value) > 64:
        raise Unrepresentable("long string inside an unconstrained value")
    if isinstance(value, dict | list):
        if depth == 0 and value or len(value) > 8:
            raise Unrepresentable("container beyond the unconstrained-value bounds")
        for k in value if isinstance(value, dict) else ():
            _check_any(k, depth)
        for v in value.values() if isinstance(value, dict) else value:
            _check_any(v, depth - 1)


def order(root: Any, schema: Any, value: Any) -> Any:
    """``value`` rebuilt with object keys in the order the grammar emits them."""
    if schema is True or schema == {}:
        _check_any(value)
    if isinstance(value, str):
        for p in _conjuncts(root, schema, value):
            # patterns are ECMA-262: \d \w are ASCII (Python's re is Unicode-aware)
            if "pattern" in p and not re.search(p["pattern"], value, re.ASCII):
                raise Unrepresentable("matches the pattern only with Unicode classes")
            if p.get("format") == "email":  # the grammar's deliberate bounds (formats.py)
                local, _, domain = value.rpartition("@")
                atoms = local.split(".")
                labels = domain.split(".")
                if len(atoms) > 3 or max(map(len, atoms)) > 20 or len(labels) > 4 or max(
                        map(len, labels)) > 24:
                    raise Unrepresentable("email beyond the grammar's bounds")
            if p.get("format") == "hostname" and value.count(".") > 7:
                raise Unrepresentable("hostname beyond the grammar's bounds")
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if len(str(abs(value))) > 15:
            raise Unrepresentable("too many digits")
        return value
    if isinstance(value, float):
        r = round(value, 6) or 0.0  # no "-0.0"
        if abs(r) >= 1e15 or "e" in repr(r):
            raise Unrepresentable("exponent")
        return r
    parts = _conjuncts(root, schema, value)
    if isinstance(value, list):
        return [order(root, item_schema(parts, i), v) for i, v in enumerate(value)]
    declared, addl = declared_keys(parts, None)
    result = {k: order(root, declared[k], value[k]) for k in declared if k in value}
    for k, v in value.items():
        if k not in declared:
            if addl is None:
                raise Unrepresentable("extra keys are emitted only when explicitly allowed")
            if any(c in k for c in '"\\') or any(ord(c) < 32 for c in k):
                raise Unrepresentable("extra key needs escapes")
            result[k] = order(root, addl if addl not in (None, False) else True, v)
    return result


def declared_keys(parts: list[Any], addl: Any) -> tuple[dict[str, Any], Any]:
    """Declared (and required) keys with their schemas, in the grammar's order, and the
    additionalProperties in force (``addl`` when none is given)."""
    declared: dict[str, Any] = {}
    for p in parts:
        for k, v in (p.get("properties") or {}).items():
            declared.setdefault(k, v)
        if "additionalProperties" in p:
            addl = p["additionalProperties"]
    for p in parts:
        for k in p.get("required") or []:
            declared.setdefault(k, True if addl is None else addl)
    if addl is not None and addl is not False:
        # keys a dependency names come next: objects.py declares them where undeclared keys
        # may be written (explicit additionalProperties, or open objects)
        for p in parts:
            deps = {**{k: v for k, v in (p.get("dependencies") or {}).items()
                       if isinstance(v, list)}, **(p.get("dependentRequired") or {})}
            for k in [*deps, *(d for v in deps.values() for d in v)]:
                declared.setdefault(k, True if addl is None else addl)
    return declared, addl


def item_schema(parts: list[Any], i: int) -> Any:
    """The schema of item ``i`` of an array under the conjuncts ``parts``."""
    for p in parts:
        pre = p.get("prefixItems") or (p["items"] if isinstance(p.get("items"), list) else [])
        if i < len(pre):
            return pre[i]
        if "items" in p and not isinstance(p["items"], list):
            return p["items"]
    return True


def declared_order(root: Any, schema: Any, value: Any, depth: int = 0) -> Any:
    """``value`` with declared keys first in declared order (the grammar's order), then the
    undeclared ones in their original order (open objects); no representability checks."""
    if depth > 40 or not isinstance(value, dict | list):
        return value
    try:
        parts = _conjuncts(root, schema, value)
    except Exception:  # an unresolvable schema: keep the value as it is
        parts = []
    if isinstance(value, list):
        return [declared_order(root, item_schema(parts, i), v, depth + 1)
                for i, v in enumerate(value)]
    declared, addl = declared_keys(parts, True)
    out = {k: declared_order(root, declared[k], value[k], depth + 1)
           for k in declared if k in value}
    for k, v in value.items():
        if k not in declared:
            sub = addl
            for p in parts:
                for pat, ps in (p.get("patternProperties") or {}).items():
                    if _search(pat, k):
                        sub = ps
            out[k] = declared_order(root, sub, v, depth + 1)
    return out


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def undeclared_keys(root: Any, schema: Any, value: Any, depth: int = 0) -> bool:
    """Whether ``value`` carries an object key its schema neither declares (properties,
    required, patternProperties) nor admits explicitly (additionalProperties): what a
    strict grammar, closed like OpenAI's strict mode, leaves out by design."""
    if depth > 40 or not isinstance(value, dict | list):
        return False
    try:
        parts = _conjuncts(root, schema, value)
    except Exception:
        return False
    if isinstance(value, list):
        return any(undeclared_keys(root, item_schema(parts, i), v, depth + 1)
                   for i, v in enumerate(value))
    declared, addl = declared_keys(parts, None)
    pats = [(p, s) for part in parts for p, s in (part.get("patternProperties") or {}).items()]
    for k, v in value.items():
        sub = declared.get(k)
        if sub is None:
            sub = next((s for p, s in pats if _search(p, k)), None)
        if sub is None:
            if addl is None:
                return True
            sub = addl
        if undeclared_keys(root, sub, v, depth + 1):
            return True
    return False
