"""oneOf made exact: prove the branches' grammars cannot produce an instance valid for two
branches; where object branches differ in required keys, stop each branch from emitting the
keys the others require (a sound restriction that makes them disjoint)."""

from __future__ import annotations

from typing import Any

from .automaton import empty
from .errors import SchemaError, Unsatisfiable
from .resolve import (
    FORBID,
    NEED_ANY,
    NOT_PATTERNS,
    PATTERNS,
    Resolver,
    Schema,
    canon,
    merge,
    with_branch,
)
from .values import json_type, value_ok

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


def _combined(s: Schema, own: set[str], res: Resolver | None, depth: int) -> set[str]:
    """``own`` narrowed by the schema's anyOf/oneOf (union of branches), allOf and $ref
    (each an over-approximation, so their intersection is one too)."""
    if depth > 6 or res is None:
        return own if not any(k in s for k in ("anyOf", "oneOf", "$ref", "allOf")) else set(_ALL)
    out = set(own)
    try:
        if "$ref" in s:
            target, _ = res.target(s["$ref"], "#")
            out &= accepted_types(target, res, depth + 1)
        for kw in ("anyOf", "oneOf"):
            if isinstance(s.get(kw), list):
                out &= set().union(*(accepted_types(b, res, depth + 1) for b in s[kw]))
        for b in s.get("allOf") or []:
            out &= accepted_types(b, res, depth + 1)
    except Exception:  # a bad reference is reported by the converter itself
        return set(own)
    if "integer" in own and "number" in out:
        out.add("integer")
    return out


def accepted_types(s: Any, res: Resolver | None = None, depth: int = 0) -> set[str]:
    """Types the *schema* accepts (over-approximation)."""
    if not isinstance(s, dict):
        return set(_ALL) if s is not False else set()
    if "enum" in s or "const" in s:
        return {json_type(v) for v in _values(s)}
    ts = _declared(s)
    return _combined(s, set(_ALL) if ts is None else ts, res, depth)


def emitted_types(s: Any, res: Resolver | None = None, depth: int = 0) -> set[str]:
    """Types the converter's grammar for ``s`` produces (over-approximation)."""
    if not isinstance(s, dict):
        return set(_ALL) if s is not False else set()
    if "enum" in s or "const" in s:
        return {json_type(v) for v in _values(s)}
    if any(k in s for k in ("anyOf", "oneOf", "$ref", "allOf")):
        # merged with siblings, a branch may lose the types its keywords imply: fall back to
        # what the schema accepts (the grammar is sound, so it emits no more)
        return accepted_types(s, res, depth)
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


def excludes(x: Any, y: Any, res: Resolver, depth: int = 0, opened: bool = False) -> bool:
    """True when no instance produced by the grammar of ``x`` is valid against ``y``."""
    if depth > 4:
        return False
    x = _merged(res.deref(x, "#")[0], res) if isinstance(x, dict) else x
    y = _merged(res.deref(y, "#")[0], res) if isinstance(y, dict) else y
    if x is False:
        return True
    if not isinstance(x, dict) or not isinstance(y, dict):
        return y is False
    # a union excludes (is excluded) when each of its branches does
    for kw in ("anyOf", "oneOf"):
        if isinstance(x.get(kw), list) and x[kw]:
            rest = {k: v for k, v in x.items() if k != kw}
            if all(excludes(with_branch(rest, b) if rest else b, y, res, depth + 1, opened)
                   for b in x[kw]):
                return True
        if isinstance(y.get(kw), list) and y[kw]:
            rest = {k: v for k, v in y.items() if k != kw}
            if all(excludes(x, with_branch(rest, b) if rest else b, res, depth + 1, opened)
                   for b in y[kw]):
                return True
    ex, ac = emitted_types(x, res), accepted_types(y, res)
    if not _overlap(ex, ac):
        return True
    if ("enum" in x or "const" in x) and ("enum" in y or "const" in y) and not (
            {canon(v) for v in _values(x)} & {canon(v) for v in _values(y)}):
        return True
    if ("enum" in x or "const" in x) and all(rejects(y, v, res) for v in _values(x)):
        return True
    # y admits only its values, and x (whose grammar is sound) rejects each of them
    if ("enum" in y or "const" in y) and all(rejects(x, v, res) for v in _values(y)):
        return True
    if _overlap(ex - {"object", "array", "string"}, ac - {"object", "array", "string"}):
        return False
    if "string" in ex and "string" in ac and not _strings_apart(x, y):
        return False
    if "array" in ex and "array" in ac and not _arrays_exclude(x, y, res, depth, opened):
        return False
    return "object" not in ex or "object" not in ac or _objects_exclude(x, y, res, depth, opened)


_STRING_KEYS = ("pattern", PATTERNS, NOT_PATTERNS, "minLength", "maxLength")


def _strings_apart(x: Schema, y: Schema) -> bool:
    """No string satisfies both (patterns, excluded patterns and lengths of each, decided on
    their product automaton)."""
    if any(k in s for s in (x, y) for k in ("anyOf", "oneOf", "allOf", "$ref", "format",
                                            "enum", "const")):
        return False
    if not any(k in s for s in (x, y) for k in (*_STRING_KEYS, "not")):
        return False
    pos = [p for s in (x, y) for p in ([s["pattern"]] if "pattern" in s else [])
           + list(s.get(PATTERNS) or [])]
    neg = [p for s in (x, y) for p in s.get(NOT_PATTERNS) or []]
    for s in (x, y):
        if "not" in s:
            n = s["not"]
            forms = n.get("anyOf") if isinstance(n, dict) and set(n) == {"anyOf"} else [n]
            if not isinstance(forms, list) or not forms or not all(
                    isinstance(f, dict) and set(f) == {"pattern"} for f in forms):
                return False
            neg += [f["pattern"] for f in forms]
    if not all(isinstance(p, str) for p in pos + neg):
        return False
    lo = max(int(s.get("minLength", 0)) for s in (x, y))
    his = [int(s["maxLength"]) for s in (x, y) if "maxLength" in s]
    return empty(pos, neg, lo, min(his) if his else None) is True


def _arrays_exclude(x: Schema, y: Schema, res: Resolver, depth: int, opened: bool) -> bool:
    """x's arrays have a first item y's items reject, or lengths y does not allow."""
    if any(k in x or k in y for k in ("anyOf", "oneOf", "allOf", "$ref")):
        return False
    xlo, xhi = int(x.get("minItems", 0)), x.get("maxItems")
    ylo, yhi = int(y.get("minItems", 0)), y.get("maxItems")
    if yhi is not None and xlo > yhi or xhi is not None and xhi < ylo:
        return True
    xi, yi = x.get("items", True), y.get("items", True)
    if isinstance(xi, list) or isinstance(yi, list) or "prefixItems" in x or "prefixItems" in y:
        return False
    return xlo >= 1 and excludes(xi, yi, res, depth + 1, opened)


def _objects_exclude(x: Schema, y: Schema, res: Resolver, depth: int, opened: bool) -> bool:
    xprops, yprops = x.get("properties") or {}, y.get("properties") or {}
    xreq, yreq = set(x.get("required") or []), set(y.get("required") or [])
    forbid = set(x.get(FORBID) or [])
    for k in xreq:
        if k in yprops and excludes(xprops.get(k, True), yprops[k], res, depth + 1, opened):
            return True  # a discriminator: x always emits k with a value y rejects
        if k not in yprops and y.get("additionalProperties") is False and (
            "patternProperties" not in y
        ):
            return True
        if yprops.get(k) is False:
            return True
    for k in xreq:  # y says not: {required: [k]} (possibly under anyOf: any one of them)
        if _forbids(y, k):
            return True
    x_extras = x.get("additionalProperties") not in (None, False) or bool(
        x.get("patternProperties")) or opened and x.get("additionalProperties") is None
    # x never emits a key y requires
    if any(j in forbid or (j not in xprops and not x_extras) for j in yreq):
        return True
    # x always emits one key of a group, and y accepts none of them
    if any(all(not _accepts_key(y, k, res) for k in g) for g in x.get(NEED_ANY) or []):
        return True
    return _keys_apart(x, y, res)


def _closed(s: Schema) -> bool:
    """Only the declared properties are allowed (a finite key set)."""
    return s.get("additionalProperties") is False and not s.get("patternProperties")


def _name_rejected(s: Schema, k: str, res: Resolver) -> bool:
    pn = s.get("propertyNames")
    return pn is False or isinstance(pn, dict) and rejects({**pn, "type": "string"}, k, res)


def _accepts_key(y: Schema, k: str, res: Resolver) -> bool:
    """False when every object with key ``k`` is invalid against ``y`` (schema semantics)."""
    yprops = y.get("properties") or {}
    return not (yprops.get(k) is False or _closed(y) and k not in yprops
                or _name_rejected(y, k, res) or _forbids(y, k))


def _can_emit(x: Schema, k: str, res: Resolver) -> bool:
    """False when the grammar of ``x`` never writes key ``k``."""
    xprops = x.get("properties") or {}
    return not (k in (x.get(FORBID) or ()) or xprops.get(k) is False
                or _closed(x) and k not in xprops or _name_rejected(x, k, res))


def _nonempty(s: Schema) -> bool:
    return int(s.get("minProperties", 0)) >= 1 or bool(s.get("required"))


def _keys_apart(x: Schema, y: Schema, res: Resolver) -> bool:
    """x's objects (or y's) have a key and no key x writes is accepted by y: decided over
    the finite key set of whichever of them is closed."""
    if not (_nonempty(x) or x.get(NEED_ANY) or _nonempty(y)):
        return False
    keys = x.get("properties") if _closed(x) else y.get("properties") if _closed(y) else None
    if keys is None:
        return False
    return not any(_can_emit(x, k, res) and _accepts_key(y, k, res) for k in keys)


def _restrict_keys(x: Schema, y: Schema, res: Resolver) -> None:
    """Against a closed ``y``: ``x`` writes at least one key ``y`` does not accept (an
    object without one is valid for ``y`` too, unless its values differ: a sound cut)."""
    if not _closed(y):
        return
    foreign = [k for k in x.get("properties") or {}
               if _can_emit(x, k, res) and not _accepts_key(y, k, res)]
    if foreign and not set(foreign) & set(x.get("required") or []):
        groups = list(x.get(NEED_ANY) or [])
        if foreign not in groups:
            x[NEED_ANY] = groups + [foreign]


def _forbids(y: Schema, k: str) -> bool:
    n = y.get("not")
    if not isinstance(n, dict):
        return False
    forms: list[Any] = n["anyOf"] if set(n) == {"anyOf"} and isinstance(n["anyOf"], list) \
        else [n]
    for f in forms:
        if isinstance(f, dict) and f.get("required") == [k] and all(
                v is True or v == {} for v in (f.get("properties") or {}).values()) and set(
                f) <= {"required", "properties"}:
            return True
    return False


def make_disjoint(branches: list[Schema], res: Resolver, open_objects: bool = False
                  ) -> list[Schema] | None:
    """Branches (possibly restricted) whose grammars are pairwise exclusive, or None.
    ``open_objects``: objects without additionalProperties carry undeclared keys."""

    out = [dict(b) for b in branches]
    for i, x in enumerate(out):
        for j, y in enumerate(out):
            if i == j or excludes(x, y, res, 0, open_objects):
                continue
            # restrict x: never emit a key that y requires and x does not
            if emitted_types(x) == {"object"} and accepted_types(y) & {"object"}:
                extra = set(y.get("required") or []) - set(x.get("required") or [])
                if extra:
                    x[FORBID] = sorted(set(x.get(FORBID) or []) | extra)
                if not excludes(x, y, res, 0, open_objects):
                    _restrict_keys(x, y, res)
    for i, x in enumerate(out):
        for j, y in enumerate(out):
            if i != j and not excludes(x, y, res, 0, open_objects):
                return None
    return out


_COMBINATORS = ("$ref", "allOf", "anyOf", "oneOf", "not")


def rejects(y: Any, v: Any, res: Resolver, depth: int = 0) -> bool:
    """True when the schema ``y`` certainly rejects the value ``v``."""
    if y is False:
        return True
    if not isinstance(y, dict) or depth > 8:
        return False
    try:
        if "$ref" in y:
            target, _ = res.target(y["$ref"], "#")
            if rejects(target, v, res, depth + 1):
                return True
        if any(rejects(b, v, res, depth + 1) for b in y.get("allOf") or []):
            return True
        for kw in ("anyOf", "oneOf"):
            branches = y.get(kw)
            if isinstance(branches, list) and branches and all(
                    rejects(b, v, res, depth + 1) for b in branches):
                return True
    except Exception:  # a bad reference is reported by the converter itself
        return False
    n = y.get("not")
    if isinstance(n, dict) and set(n) <= {"const", "enum", "type", "pattern"} and n and \
            value_ok(v, n) is True:
        return True
    rest = {k: w for k, w in y.items() if k not in _COMBINATORS}
    return value_ok(v, rest) is False


def _merged(s: Schema, res: Resolver) -> Any:
    """An allOf (or a $ref with siblings) as the one schema the converter merges it into;
    False when no value satisfies it."""
    if "allOf" not in s and "$ref" not in s:
        return s
    try:
        return merge(res.flatten(s, "#"), False)
    except Unsatisfiable:
        return False
    except (SchemaError, RecursionError):
        return s
