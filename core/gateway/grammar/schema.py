"""JSON Schema → llama.cpp GBNF, exact or refused.

Every keyword is either enforced exactly by the grammar, or — with ``strict=True`` —
refused with a SchemaError naming the keyword and its JSON path. Enforcing "exactly" means
every string the grammar produces is the compact JSON text of a valid instance; the
grammar may produce fewer shapes than the schema allows (a sound subset), on purpose, so a
small model cannot loop: no whitespace, declared key order with each key at most once,
bounded digit runs (numbers.py: every int64 and double as encoders write them when free),
no exponent on bounded numbers, recursion through a $ref unrolled at most
``limits.max_recursion`` deep, unconstrained values (``{}``/``true``) nested <= 6 deep with
<= 8 members and strings of <= 64 characters, bounded formats (formats.py); an untyped
schema with object keywords produces only objects. Free strings and arrays have no cap
unless maxLength/maxItems or the request's budget (``limits.max_free_*``) gives one; the
budget also lowers a longer maxLength of a plain string (a sound subset).

Undeclared object keys (keys.py): with ``limits.open_objects`` (the chat path sets it for a
non-strict response_format) an object without additionalProperties takes up to 8 of them,
as JSON Schema allows; otherwise (strict, tool arguments) it stays closed. Explicit
additionalProperties, patternProperties and propertyNames keys never collide with declared
ones or with each other (key automata split overlapping patterns and keep extra keys off the
declared names and the patterns; else refused); only the first extra key counts towards
minProperties (a grammar cannot keep several apart).

Exact beyond llama.cpp's own converter: oneOf whose branches are disjoint by type (through
anyOf/allOf/$ref; a union branch branch by branch), by a const/enum discriminator (also one
the other branch excludes with ``not``), by enum values the other branch rejects (either
way round), by array items, by required keys (each branch is kept from emitting keys the
other branches require), by key sets (a closed object's keys all rejected by the other
branch's properties or propertyNames; a branch without a required key writes at least one
key a closed other branch does not accept), or by string patterns and lengths whose product
automaton is empty; ``not`` in the forms negation.py folds (types, const/enum, required
keys, one property, patterns, allOf/anyOf of those); if/then/else as (if and then) or
(not if and else); dependentSchemas as if {required: [k]} then S (resolve.dependent),
dependentRequired (expanded over presence), uniqueItems over a finite
item set (enum/const/boolean/null/small integer range: any order up to 8 values, the listed
order beyond), minProperties/maxProperties, integer and decimal bounds, multipleOf
(multiples.py: decimal multiples of M·10^-k such as 0.01, 0.25, 0.3 or 7 without bounds or
from 0 up, any multipleOf in a range holding at most 256 multiples), full ECMA regex syntax except
lookaround/backreferences, strings with several patterns, excluded patterns or values, length
bounds and the formats date/uuid/uri (as regexes) (automaton.py: the product automaton,
minimised, one rule per state; a maxLength too long for it is lowered, a sound subset),
allOf merging (with $ref; not, oneOf, patternProperties, propertyNames, patterns and
integer multipleOf merge too),
patternProperties and additionalProperties apart by key automata, unevaluatedProperties of
a merged object (one inside an allOf branch or $ref target sees only the keys evaluated
inside it; prefixItems/items of several branches merge position by position),
unevaluatedItems as items after the positions its own conjuncts evaluate (resolve.py; refused
where anyOf/oneOf/if/contains could evaluate more), OpenAPI
nullable and int32/int64. A format outside JSON Schema's and
OpenAPI's lists is an annotation (validators do not assert it).

With ``strict=False`` what cannot be enforced is dropped instead of refused (the grammar
then admits instances that violate it): other forms of not,
contains whose items cannot be split into matches and non-matches (arrays.py: items and
contains, items and not contains, matches counted) or with maxItems/prefixItems/uniqueItems,
unevaluatedItems next to anyOf/oneOf/if/contains, other multipleOf, other uniqueItems,
unsupported standard formats, a pattern combined with format (the pattern is dropped) or
with length bounds (the lengths are dropped); a oneOf whose branches are not provably
disjoint is treated as anyOf; conflicting allOf keywords keep the first branch's value.
Key sets a grammar cannot keep apart (patternProperties/propertyNames) are not emitted
rather than loosened. Invalid patterns and references are refused in both modes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from . import arrays, objects, scalars
from . import primitives as prim
from .errors import GrammarLimits, SchemaError, Unsatisfiable
from .gbnf import GrammarBuilder, literal
from .negation import EXCLUDE, excluding, fold_not, is_excluded
from .oneof import make_disjoint
from .resolve import (
    ANNOTATIONS,
    FORBID,
    NEED_ANY,
    NOT_ALL,
    VALIDATION,
    Resolver,
    Schema,
    canon,
    conditional,
    dependent,
    merge,
    pointer,
    with_branch,
)
from .values import value_ok

_TYPES = ("null", "boolean", "object", "array", "string", "integer", "number")
_KEYWORD_TYPES: dict[str, str] = {
    **dict.fromkeys(("properties", "required", "additionalProperties", "minProperties",
                     "maxProperties", "dependentRequired", "patternProperties",
                     "propertyNames", "dependentSchemas", "unevaluatedProperties",
                     "dependencies"), "object"),
    **dict.fromkeys(("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains",
                     "minContains", "maxContains", "unevaluatedItems", "additionalItems"),
                    "array"),
    **dict.fromkeys(("minLength", "maxLength", "pattern", "format"), "string"),
    **dict.fromkeys(("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                     "multipleOf"), "number"),
}
# keyword → types it constrains (None: every type); refused under strict
_UNSUPPORTED: dict[str, str | None] = {
    "$dynamicRef": None, "$recursiveRef": None,
}
MAX_STEPS = 100_000


class Converter:
    def __init__(self, root: Any, strict: bool, limits: GrammarLimits) -> None:
        self.b = GrammarBuilder(limits)
        self.res = Resolver(root, strict)
        self.strict = strict
        self.refs: dict[str, str] = {}
        self.active: dict[str, int] = {}  # $ref → how many times it is being expanded
        self.max_recursion = limits.max_recursion
        self.steps = 0

    def attempt(self, make: Callable[[], str]) -> str | None:
        """``make()``, or None (with its partial rules forgotten) when it is unsatisfiable."""
        mark, refs = self.b.checkpoint(), dict(self.refs)
        try:
            return make()
        except Unsatisfiable:
            self.b.rollback(mark)
            self.refs = refs
            return None

    def lenient(self, schema: Schema, fallback: Schema, path: str,
                nc: frozenset[str]) -> str:
        """gen(schema), or gen(fallback) when schema cannot be enforced (non-strict)."""
        mark, refs = self.b.checkpoint(), dict(self.refs)
        try:
            return self.gen(schema, path, nc)
        except Unsatisfiable:
            raise
        except SchemaError as exc:
            if exc.limit is not None:
                raise
            self.b.rollback(mark)
            self.refs = refs
            if isinstance(fallback.get("dependencies"), dict):
                fallback["dependencies"] = {k: v for k, v in fallback["dependencies"].items()
                                            if isinstance(v, list)}
            return self.gen(fallback, path, nc)

    def _levels(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.active.items()) if v)

    def refuse(self, keyword: str, path: str, why: str) -> None:
        """Under strict: raise; otherwise the keyword is dropped."""
        if self.strict:
            raise SchemaError(why, keyword=keyword, path=pointer(path, keyword))

    def refuse_at(self, keyword: str, where: str, why: str) -> None:
        """refuse() with the full JSON pointer of the offending part given."""
        if self.strict:
            raise SchemaError(why, keyword=keyword, path=where)

    # -- dispatch ------------------------------------------------------------------------
    def gen(self, schema: Any, path: str, nc: frozenset[str] = frozenset()) -> str:
        """A GBNF element for the JSON text of instances of ``schema``.

        ``nc`` holds the references entered since the last consumed character: meeting one
        of them again would be a cycle that never consumes input (left recursion).
        """
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SchemaError("schema expands into too many sub-grammars", limit="max_rules",
                              path=path)
        if schema is True:
            return prim.any_value(self.b)
        if schema is False:
            raise Unsatisfiable("the schema 'false' admits no value", path=path)
        if not isinstance(schema, dict):
            raise SchemaError("a schema must be an object or a boolean", path=path)
        if "dependentSchemas" in schema or isinstance(schema.get("dependencies"), dict):
            rewritten = dependent(schema)
            if not self.strict and rewritten is not schema:
                # non-strict: dependent schemas that cannot be enforced are dropped
                return self.lenient(rewritten, {k: v for k, v in schema.items()
                                                if k != "dependentSchemas"}, path, nc)
            schema = rewritten
        if "unevaluatedItems" in schema:
            schema = self.res.unevaluated_items(schema, path)
        if any(k in schema for k in ("if", "then", "else")):
            schema = conditional(schema)
        if "$ref" in schema or "allOf" in schema:
            if "$ref" in schema and all(k == "$ref" or k in ANNOTATIONS for k in schema):
                return self.ref(schema["$ref"], path, nc)
            return self.conjunction(schema, path, nc)
        if schema.get("nullable") is True:
            rest = {k: v for k, v in schema.items() if k != "nullable"}
            if "enum" in rest and None not in rest["enum"]:
                rest["enum"] = list(rest["enum"]) + [None]
                return self.gen(rest, path, nc)
            return self.alternatives([self.gen(rest, path, nc), prim.null(self.b)])
        if "anyOf" in schema or "oneOf" in schema:
            return self.union(schema, path, nc)
        return self.plain(schema, path)

    def alternatives(self, alts: list[str], hint: str = "alt") -> str:
        alts = list(dict.fromkeys(alts))
        return alts[0] if len(alts) == 1 else self.b.add(hint, " | ".join(alts))

    def ref(self, ref: str, path: str, nc: frozenset[str]) -> str:
        if ref in nc:
            raise SchemaError(f"reference cycle through {ref!r} never consumes input",
                              keyword="$ref", path=pointer(path, "$ref"))
        level = self.active.get(ref, 0)
        if level >= self.max_recursion:
            raise Unsatisfiable(f"recursion through {ref!r} deeper than {self.max_recursion}",
                                keyword="$ref", path=path)
        key = f"{ref}@{level}"
        if key in self.refs:
            return self.refs[key]
        name = self.b.reserve(ref.rsplit("/", 1)[-1] or "root-ref")
        self.refs[key] = name
        target, tpath = self.res.target(ref, path)
        self.active[ref] = level + 1
        try:
            self.b.define(name, self.gen(target, tpath, nc | {ref}))
        finally:
            self.active[ref] = level
        return name

    def conjunction(self, schema: Schema, path: str, nc: frozenset[str]) -> str:
        key = "allOf:" + canon(schema)
        if key in nc:
            raise SchemaError("allOf cycle never consumes input", keyword="allOf", path=path)
        mkey = f"{key}@{self._levels()}"
        if mkey in self.refs:
            return self.refs[mkey]
        name = self.b.reserve("all")
        self.refs[mkey] = name
        merged = merge(self.res.flatten(schema, path), self.strict)
        self.b.define(name, self.gen(merged, path, nc | {key}))
        return name

    def memo(self, schema: Schema, path: str, nc: frozenset[str]) -> str:
        """gen() for a synthesized (merged) schema, memoized like a $ref so recursion that
        inlines references still ends, and a cycle without input is still detected."""
        key = "merged:" + canon(schema)
        if key in nc:
            raise SchemaError("oneOf cycle never consumes input", keyword="oneOf", path=path)
        mkey = f"{key}@{self._levels()}"
        if mkey in self.refs:
            return self.refs[mkey]
        name = self.b.reserve("branch")
        self.refs[mkey] = name
        self.b.define(name, self.gen(schema, path, nc | {key}))
        return name

    def union(self, schema: Schema, path: str, nc: frozenset[str]) -> str:
        kw = "anyOf" if "anyOf" in schema else "oneOf"
        branches = schema[kw]
        if not isinstance(branches, list) or not branches:
            raise SchemaError(f"{kw} must be a non-empty array", keyword=kw, path=path)
        rest = {k: v for k, v in schema.items() if k != kw and k not in ANNOTATIONS}
        paths = [pointer(path, kw, i) for i in range(len(branches))]
        if rest:
            branches = [with_branch(rest, br) for br in branches]
        if kw == "oneOf":
            flat, fpaths = [], []
            for br, p in zip(branches, paths, strict=True):
                try:
                    flat.append(merge(self.res.flatten(br, p), self.strict))
                    fpaths.append(p)
                except Unsatisfiable:
                    continue  # a branch no value satisfies changes nothing
            branches, paths = flat, fpaths
            disjoint = make_disjoint(flat, self.res,
                                     not self.strict and self.b.limits.open_objects)
            if disjoint is None:
                self.refuse("oneOf", path, "cannot prove the oneOf branches mutually exclusive"
                            " (give them different types, or a const/enum discriminator"
                            " property required in each)")
            else:
                branches = disjoint
        alts = []
        for br, p in zip(branches, paths, strict=True):
            alt = self.attempt(lambda: self.memo(br, p, nc) if kw == "oneOf"  # noqa: B023
                               else self.gen(br, p, nc))  # noqa: B023
            if alt is not None:
                alts.append(alt)
        if not alts:
            raise Unsatisfiable(f"no {kw} branch can be satisfied", keyword=kw, path=path)
        return self.alternatives(alts, "one" if kw == "oneOf" else "any")

    # -- plain schemas -------------------------------------------------------------------
    def types(self, s: Schema, path: str) -> list[str]:
        t = s.get("type")
        if t is None:
            implied = {_KEYWORD_TYPES[k] for k in s if k in _KEYWORD_TYPES}
            if "number" in implied:
                implied.add("integer")
            return [x for x in _TYPES if x in implied] if implied else list(_TYPES)
        ts = t if isinstance(t, list) else [t]
        for x in ts:
            if x not in _TYPES:
                raise SchemaError(f"unknown type {x!r}", keyword="type", path=pointer(path, "type"))
        if "number" in ts and "integer" in ts:
            ts = [x for x in ts if x != "integer"]
        return [x for x in _TYPES if x in ts]

    def plain(self, s: Schema, path: str) -> str:
        if all(k in ANNOTATIONS for k in s):  # {}: any value, from the bounded grammar
            return prim.any_value(self.b)
        types = self.types(s, path)
        if "not" in s:
            s, types = fold_not(self, s, types, path)
            s = {**s, "type": types}
        for kw in _UNSUPPORTED.keys() & s.keys():
            applies = _UNSUPPORTED[kw]
            if (applies is None or applies in types
                            or applies == "number" and "integer" in types):
                self.refuse(kw, path, f"'{kw}' cannot be enforced by a grammar")
        if "dependencies" in s and "object" in types:
            deps = s["dependencies"]
            if any(not isinstance(v, list) for v in deps.values()):
                self.refuse("dependencies", path, "schema dependencies cannot be enforced")
            s = {**s, "dependentRequired": {k: v for k, v in deps.items() if isinstance(v, list)}}
        if "enum" in s or "const" in s:
            return self.enum(s, types, path)
        if s.get(EXCLUDE):
            alts = [a for t in types if (a := excluding(self, t, s, path)) is not None]
        else:
            alts = [a for t in types if (a := _MAKERS[t](self, s, path)) is not None]
        if not alts:
            raise Unsatisfiable("no value satisfies this schema", path=path)
        return self.alternatives(alts)

    def enum(self, s: Schema, types: list[str], path: str) -> str:
        values = [s["const"]] if "const" in s else s["enum"]
        if not isinstance(values, list):
            raise SchemaError("enum must be an array", keyword="enum", path=path)
        checked = {k: v for k, v in s.items() if k not in ("enum", "const", EXCLUDE, FORBID,
                                                          NOT_ALL, NEED_ANY)}
        checked["type"] = types
        keep = []
        for v in values:
            if is_excluded(v, s.get(EXCLUDE) or ()) or isinstance(v, dict) and (
                    any(k in v for k in s.get(FORBID) or ())
                    or any(all(k in v for k in g) for g in s.get(NOT_ALL) or ())
                    or any(not any(k in v for k in g) for g in s.get(NEED_ANY) or ())):
                continue
            ok = value_ok(v, checked)
            if ok is None:
                self.refuse("enum", path, "cannot check enum values against sibling keywords")
                ok = True
            if ok:
                keep.append(literal(self.b.text(v)))
                if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
                    keep.append(literal(str(int(v))))  # the same number: 2.0 == 2
        if not keep:
            raise Unsatisfiable("no enum value satisfies the other keywords", keyword="enum",
                              path=pointer(path, "enum"))
        return self.alternatives(keep, "enum")

_MAKERS: dict[str, Callable[[Converter, Schema, str], str | None]] = {
    "null": lambda c, s, p: prim.null(c.b),
    "boolean": lambda c, s, p: prim.boolean(c.b),
    "integer": scalars.integer,
    "number": scalars.number,
    "string": scalars.string,
    "array": arrays.array,
    "object": objects.object_schema,
}


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a JSON document (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict | list):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack += [(x, d + 1) for x in (v.values() if isinstance(v, dict) else v)]
    return deepest


_DEFAULT_LIMITS = GrammarLimits()
_ANNOTATED = 4  # a schema may be this many times max_schema_bytes with its annotations
_NAME_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
              "dependentRequired")


def _constraints(schema: Any, is_schema: bool = True) -> Any:
    """``schema`` without annotations (description, title, examples, and a vocabulary's
    own keywords with scalar values such as markdownDescription): what its grammar costs.
    Keys of maps of schemas (properties, $defs, …) and enum/const values are kept as is."""
    if isinstance(schema, list):
        return [_constraints(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    if not is_schema:
        return {k: _constraints(v) for k, v in schema.items()}
    out = {}
    for k, v in schema.items():
        if k in ("enum", "const"):
            out[k] = v
        elif k in VALIDATION or k in ("$defs", "definitions", "$id", "$anchor") or not (
                k in ANNOTATIONS or _scalar(v)):
            out[k] = _constraints(v, k not in _NAME_MAPS)
    return out


def _scalar(v: Any) -> bool:
    return not isinstance(v, dict | list) or isinstance(v, list) and not any(
        isinstance(x, dict | list) for x in v)


def schema_to_gbnf(
    schema: dict[str, Any] | bool, *, strict: bool = True, limits: GrammarLimits = _DEFAULT_LIMITS
) -> str:
    """A standalone GBNF grammar (start rule ``root``) for the compact JSON text of valid
    instances of ``schema``; raises SchemaError when that cannot be done exactly (strict)."""
    try:
        size = len(json.dumps(schema, ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"schema is not JSON: {exc}") from None
    if size > limits.max_schema_bytes * _ANNOTATED:
        raise SchemaError(f"schema is {size} bytes, more than {limits.max_schema_bytes}",
                          limit="max_schema_bytes")
    if _depth(schema, limits.max_depth * 2 + 2) > limits.max_depth * 2 + 1:
        # each schema level is an object inside an object ("properties": {"a": {...}})
        raise SchemaError(f"schema nests deeper than {limits.max_depth} levels",
                          limit="max_depth")
    if size > limits.max_schema_bytes:
        # descriptions and other annotations never reach the grammar: the bound is on the
        # part that constrains instances (a documented real schema is mostly prose)
        size = len(json.dumps(_constraints(schema), ensure_ascii=False).encode())
        if size > limits.max_schema_bytes:
            raise SchemaError(f"schema is {size} bytes without its annotations, more than"
                              f" {limits.max_schema_bytes}", limit="max_schema_bytes")
    conv = Converter(schema, strict, limits)
    try:
        root = conv.gen(schema, "#")
    except RecursionError:
        raise SchemaError(f"schema nests deeper than {limits.max_depth} levels",
                          limit="max_depth") from None
    return conv.b.render(root)


@lru_cache(maxsize=512)
def _cached(key: str, strict: bool, limits: GrammarLimits) -> str:
    return schema_to_gbnf(json.loads(key), strict=strict, limits=limits)


def cached_schema_to_gbnf(
    schema: dict[str, Any] | bool, *, strict: bool = True, limits: GrammarLimits = _DEFAULT_LIMITS
) -> str:
    """schema_to_gbnf memoized on the canonical JSON of the schema (LRU, 512 entries).

    Key order matters for the output (properties are emitted in declared order), so the key
    keeps the order of "properties"; json.dumps without sort_keys is canonical enough for
    schemas that are equal as documents and written the same way.
    """
    return _cached(json.dumps(schema, separators=(",", ":"), ensure_ascii=False), strict, limits)


cache_info = _cached.cache_info
cache_clear = _cached.cache_clear


def json_value_gbnf() -> str:
    """Any compact JSON value (containers nested at most primitives.ANY_DEPTH deep)."""
    b = GrammarBuilder()
    return b.render(prim.any_value(b))


def json_object_gbnf() -> str:
    """Any compact JSON object."""
    b = GrammarBuilder()
    return b.render(prim.any_object(b))
