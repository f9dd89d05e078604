"""Keys an object may carry beyond its declared properties: additionalProperties (explicit,
or implied by JSON Schema when a non-strict schema leaves it out), patternProperties and
propertyNames — each exact, or refused with keyword and path.

Exact means: an extra key never equals a declared (or forbidden/dependency) key, a key
written for one pattern matches no other pattern with a different schema, a generic extra
key matches no pattern, and every key satisfies propertyNames. Where the literal-prefix
proof does not suffice, automata (automaton.py) split the keys by the set of patterns they
match (up to MAX_PATTERN_SETS patterns), each set with the conjunction of its schemas, and
keep every extra key off the declared names. Where a grammar cannot keep two key sets
apart the keyword is refused (strict) or that kind of extra key is not
emitted at all (a sound subset).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import primitives as prim
from .automaton import string_body
from .errors import SchemaError, Unsatisfiable
from .negation import EXCLUDE
from .regex import parse, pattern_body
from .resolve import ANNOTATIONS, Schema, canon, pointer
from .values import value_ok

if TYPE_CHECKING:
    from .schema import Converter

OPEN_EXTRAS = 8  # undeclared keys a non-strict open object may carry (a small model loops)


def _matches(pattern: str, name: str) -> bool | None:
    try:
        return re.search(pattern, name, re.ASCII) is not None
    except (re.error, TypeError):
        return None


def _literal_prefix(pattern: str) -> str | None:
    """The literal text an anchored pattern starts with ('' if none); None if unanchored."""
    if not pattern.startswith("^"):
        return None
    out = []
    i = 1
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and not pattern[i + 1].isalnum():
            out.append(pattern[i + 1])
            i += 2
            continue
        if c in ".[]()*+?{}|^$\\":
            # a quantifier makes the last char optional
            if c in "*?{" and out:
                out.pop()
            break
        out.append(c)
        i += 1
    return "".join(out)


def disjoint(p: str, q: str) -> bool:
    """Whether no key can match both patterns (proved by their literal prefixes)."""
    a, b = _literal_prefix(p), _literal_prefix(q)
    return a is not None and b is not None and not a.startswith(b) and not b.startswith(a)


def name_schema(conv: Converter, s: Schema, path: str) -> Any:
    pn = s.get("propertyNames")
    if pn is None or pn is True:
        return None
    if isinstance(pn, dict):
        pn, _ = conv.res.deref(pn, path)
    return pn


def check_names(conv: Converter, s: Schema, names: list[str], required: list[str], path: str
                ) -> set[str]:
    """Declared names that propertyNames forbids (never emitted); required ones: no object."""
    pn = name_schema(conv, s, path)
    if pn is None:
        return set()
    if pn is False:
        bad = set(names)
    else:
        bad = set()
        for n in names:
            ok = value_ok(n, {**pn, "type": "string"}) if isinstance(pn, dict) else None
            if ok is None:
                conv.refuse("propertyNames", path, "cannot check declared names against"
                            " propertyNames")
                continue
            if not ok:
                bad.add(n)
    for k in required:
        if k in bad:
            raise Unsatisfiable(f"required property {k!r} violates propertyNames",
                                keyword="propertyNames", path=pointer(path, "propertyNames"))
    return bad


def pattern_match(s: Schema, name: str) -> bool:
    """Whether ``name`` may match one of the patternProperties (then additionalProperties
    does not apply to it; the patterns' schemas do, through merge_patterns)."""
    return any(_matches(p, name) is not False for p in s.get("patternProperties") or {})


def merge_patterns(s: Schema, props: dict[str, Any]) -> dict[str, Any]:
    """Declared properties whose name matches a pattern also satisfy its schema."""
    pats = s.get("patternProperties") or {}
    out = {}
    for k, v in props.items():
        extra = [ps for p, ps in pats.items() if _matches(p, k)]
        out[k] = v if not extra else {"allOf": [v, *extra]}
    return out


def extras(conv: Converter, s: Schema, excluded: list[str], path: str) -> str | None:
    """One GBNF element for a single '"key":value' beyond the declared properties (None:
    no extra key may be written)."""
    addl = s.get("additionalProperties")
    pats: dict[str, Any] = s.get("patternProperties") or {}
    pn = name_schema(conv, s, path)
    if pn is False:
        return None
    if addl is None and "unevaluatedProperties" in s:
        addl = s["unevaluatedProperties"]  # merged allOf: nothing else evaluates these keys
    opened = addl is None and not conv.strict and conv.b.limits.open_objects
    alts: list[str] = []
    if pats and _needs_automaton(conv, pats, pn, excluded, addl, opened):
        alts = _pattern_keys(conv, pats, pn, excluded, addl, path)
        return conv.alternatives(alts, "extra-kv") if alts else None
    for i, (p, ps) in enumerate(pats.items()):
        where = pointer(path, "patternProperties", p)
        if _matches(p, "") is None:
            conv.refuse_at("patternProperties", where, "this pattern cannot be checked")
            continue
        clash = [n for n in excluded if _matches(p, n)]
        if clash:
            conv.refuse_at("patternProperties", where, f"declared property {clash[0]!r} matches"
                        " this pattern: its extra keys cannot be kept apart from it")
            continue
        others = [q for j, (q, qs) in enumerate(pats.items())
                  if j != i and canon(qs) != canon(ps) and not disjoint(p, q)]
        if others:
            conv.refuse_at("patternProperties", where, f"keys may match both {p!r} and"
                        f" {others[0]!r}: the grammar cannot apply both schemas")
            continue
        if pn is not None:
            conv.refuse("propertyNames", path, "propertyNames together with"
                        " patternProperties cannot be enforced exactly")
            continue
        try:
            key = pattern_body(conv.b, p, path=where)
        except SchemaError:
            if conv.strict:
                raise
            continue
        value = conv.attempt(lambda: conv.gen(ps, where))  # noqa: B023
        if value is not None:
            alts.append(conv.b.add("pat-kv", f'"\\"" {key} "\\"" {conv.b.colon} {value}'))
    generic = _generic(conv, addl, opened, pats, pn, excluded, path)
    if generic is not None:
        alts.append(generic)
    if not alts:
        return None
    return conv.alternatives(alts, "extra-kv")


def _generic(conv: Converter, addl: Any, opened: bool, pats: dict[str, Any], pn: Any,
             excluded: list[str], path: str) -> str | None:
    if addl is False or addl is None and not opened:
        return None
    where = pointer(path, "additionalProperties")
    if pats:
        if not opened:  # additionalProperties only for keys that match no pattern
            conv.refuse_at("additionalProperties", where, "additionalProperties together with"
                        " patternProperties: a grammar cannot keep keys off the patterns")
        return None
    value: str | None
    if opened:
        # with a token budget, undeclared keys hold scalars or flat containers only: a
        # small model otherwise spends the budget on deep made-up values
        budget = conv.b.limits.max_free_items is not None
        value = prim.any_value(conv.b, 1 if budget else prim.ANY_DEPTH)
    else:
        value = conv.attempt(lambda: conv.gen(addl, where))
    if value is None:
        return None
    key: str | None
    if pn is None:
        from .objects import key_excluding  # objects imports this module

        key = key_excluding(conv.b, excluded)
    else:
        names = {**pn, "type": "string"} if isinstance(pn, dict) else pn
        clash = [n for n in excluded if value_ok(n, names) is not False]
        if clash and isinstance(names, dict):  # extra keys are none of the declared ones
            names = {**names, EXCLUDE: list(dict.fromkeys(list(names.get(EXCLUDE, []))
                                                          + clash))}
        elif clash:
            conv.refuse("propertyNames", path, f"declared property {clash[0]!r} satisfies"
                        " propertyNames: extra keys cannot be kept apart from it")
            return None
        key = conv.attempt(lambda: conv.gen(names, pointer(path, "propertyNames")))
        if key is None:
            return None
    return conv.b.add("extra-kv", f'{key} {conv.b.colon} {value}')


def extra_cap(conv: Converter, s: Schema) -> int | None:
    """How many extra keys one object may carry."""
    free = conv.b.limits.max_free_items
    addl = s.get("additionalProperties", s.get("unevaluatedProperties"))
    if addl is None and not conv.strict and conv.b.limits.open_objects:
        return OPEN_EXTRAS if free is None else min(OPEN_EXTRAS, max(free // 2, 1))
    return free



MAX_PATTERN_SETS = 4  # patternProperties whose overlaps are split exactly (2^n - 1 key sets)


def _needs_automaton(conv: Converter, pats: dict[str, Any], pn: Any, excluded: list[str],
                     addl: Any, opened: bool) -> bool:
    """Whether the per-pattern grammars would be refused: a declared name matches a
    pattern, patterns with different schemas overlap, propertyNames applies, or keys off
    the patterns are allowed."""
    if len(pats) > MAX_PATTERN_SETS or any(_matches(p, "") is None for p in pats):
        return False
    items = list(pats.items())
    overlap = any(canon(ps) != canon(qs) and not disjoint(p, q)
                  for i, (p, ps) in enumerate(items) for q, qs in items[i + 1:])
    clash = any(_matches(p, n) for p in pats for n in excluded)
    generic = not (addl is False or addl is None and not opened)
    return overlap or clash or pn is not None or generic


def _name_parts(pn: Any) -> tuple[list[str], list[str], int, int | None] | None:
    """propertyNames as (patterns, excluded patterns, min length, max length), when it is
    only those."""
    if pn is None:
        return [], [], 0, None
    if not isinstance(pn, dict):
        return None
    pos = [pn["pattern"]] if isinstance(pn.get("pattern"), str) else []
    neg: list[str] = []
    n = pn.get("not")
    if n is not None:
        forms = n.get("anyOf") if isinstance(n, dict) and set(n) == {"anyOf"} else [n]
        for f in forms or []:
            if not (isinstance(f, dict) and set(f) == {"pattern"}):
                return None
            neg.append(f["pattern"])
    if any(k not in ("pattern", "not", "minLength", "maxLength", "type") and k not in ANNOTATIONS
           for k in pn) or pn.get("type", "string") != "string":
        return None
    hi = pn.get("maxLength")
    return pos, neg, int(pn.get("minLength", 0)), None if hi is None else int(hi)


def _pattern_keys(conv: Converter, pats: dict[str, Any], pn: Any, excluded: list[str],
                  addl: Any, path: str) -> list[str]:
    """Extra members split by which patterns their key matches (each non-empty set of
    patterns gets the key language 'all of these, none of the others' and the conjunction
    of their schemas), keys off every pattern for additionalProperties; every key satisfies
    propertyNames and differs from the declared names. Exact, built from automata."""
    parts = _name_parts(pn)
    where = pointer(path, "patternProperties")
    if parts is None:
        conv.refuse("propertyNames", path, "propertyNames together with patternProperties"
                    " is enforced only for patterns and lengths")
        return []
    pos, neg, lo, hi = parts
    items = []
    dropped = False
    for p, ps in pats.items():  # a pattern no grammar can express: refused at its own path
        try:
            parse(p, pointer(path, "patternProperties", p))
        except SchemaError:
            if conv.strict:
                raise
            dropped = True  # non-strict: its keys, and keys off the patterns, not written
            continue
        items.append((p, ps))
    groups: list[tuple[list[str], list[str], Any]] = []
    for mask in range(1, 2 ** len(items)):
        inside = [items[i] for i in range(len(items)) if mask >> i & 1]
        outside = [items[i][0] for i in range(len(items)) if not mask >> i & 1]
        schemas = [ps for _, ps in inside]
        both = schemas[0] if len(schemas) == 1 else {"allOf": schemas}
        groups.append(([p for p, _ in inside], outside, both))
    if not dropped and not (addl is False or addl is None and not (
            not conv.strict and conv.b.limits.open_objects)):
        extra = addl if addl is not None else True
        groups.append(([], list(pats), extra))
    alts = []
    for inside_p, outside_p, value_schema in groups:
        try:
            key = string_body(conv.b, inside_p + pos, outside_p + neg, excluded, lo, hi, where,
                              "patternProperties")
        except SchemaError:
            if conv.strict:
                raise
            continue  # non-strict: these keys are not written (a sound subset)
        if key is None:
            continue
        if value_schema is True and addl is None:
            budget = conv.b.limits.max_free_items is not None
            value: str | None = prim.any_value(conv.b, 1 if budget else prim.ANY_DEPTH)
        else:
            value = conv.attempt(lambda: conv.gen(value_schema, where))  # noqa: B023
        if value is not None:
            alts.append(conv.b.add("pat-kv", f'"\\"" {key} "\\"" {conv.b.colon} {value}'))
    return alts
