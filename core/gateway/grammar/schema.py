"""JSON Schema → llama.cpp GBNF, exact or refused.

Every keyword is either enforced exactly by the grammar, or — with ``strict=True`` —
refused with a SchemaError naming the keyword and its JSON path. Enforcing "exactly" means
every string the grammar produces is the compact JSON text of a valid instance; the
grammar may produce fewer shapes than the schema allows (sound subset): declared key order,
no whitespace, bounded digit runs, no exponent on bounded numbers, extra object keys only
when ``additionalProperties`` is given explicitly, an untyped schema with object keywords
produces only objects.

With ``strict=False`` these keywords are dropped instead of refused (the grammar then
admits instances that violate them): not, if/then/else, dependentSchemas,
patternProperties, propertyNames, contains/minContains/maxContains, unevaluatedProperties,
unevaluatedItems, multipleOf (beyond the exact cases), uniqueItems (beyond enum items),
unknown formats, and a pattern combined with format or length bounds; a oneOf whose
branches are not provably disjoint is treated as anyOf; conflicting allOf keywords keep
the first branch's value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from . import arrays, primitives as prim
from .errors import GrammarLimits, SchemaError, Unsatisfiable
from .formats import INT_FORMATS, NUMBER_FORMATS, format_body
from .gbnf import GrammarBuilder, literal, rule_name
from .numbers import decimal_range, int_range
from .objects import MAX_PRESENCE_COMBOS, Member, key_excluding, object_body
from .oneof import make_disjoint
from .regex import pattern_body
from .resolve import ANNOTATIONS, FORBID, Resolver, Schema, canon, merge, pointer
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
    "not": None, "then": None, "else": None, "dependentSchemas": "object",
    "patternProperties": "object", "propertyNames": "object", "contains": "array",
    "minContains": "array", "maxContains": "array", "unevaluatedProperties": "object",
    "unevaluatedItems": "array", "$dynamicRef": None, "$recursiveRef": None,
}
MAX_STEPS = 100_000


class Converter:
    def __init__(self, root: Any, strict: bool, limits: GrammarLimits) -> None:
        self.b = GrammarBuilder(limits)
        self.res = Resolver(root)
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

    def _levels(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.active.items()) if v)

    def refuse(self, keyword: str, path: str, why: str) -> None:
        """Under strict: raise; otherwise the keyword is dropped."""
        if self.strict:
            raise SchemaError(why, keyword=keyword, path=pointer(path, keyword))

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
            branches = [{"allOf": [rest, br]} for br in branches]
        if kw == "oneOf":
            flat, fpaths = [], []
            for br, p in zip(branches, paths):
                try:
                    flat.append(merge(self.res.flatten(br, p), self.strict))
                    fpaths.append(p)
                except Unsatisfiable:
                    continue  # a branch no value satisfies changes nothing
            branches, paths = flat, fpaths
            disjoint = make_disjoint(flat, self.res)
            if disjoint is None:
                self.refuse("oneOf", path, "cannot prove the oneOf branches mutually exclusive"
                            " (give them different types, or a const/enum discriminator"
                            " property required in each)")
            else:
                branches = disjoint
        alts = []
        for br, p in zip(branches, paths):
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
        types = self.types(s, path)
        for kw, applies in _UNSUPPORTED.items():
            if kw in s and (applies is None or applies in types
                            or applies == "number" and "integer" in types):
                self.refuse(kw, path, f"'{kw}' cannot be enforced by a grammar")
        if "dependencies" in s and "object" in types:
            deps = s["dependencies"]
            if any(not isinstance(v, list) for v in deps.values()):
                self.refuse("dependencies", path, "schema dependencies cannot be enforced")
            s = {**s, "dependentRequired": {k: v for k, v in deps.items() if isinstance(v, list)}}
        if "enum" in s or "const" in s:
            return self.enum(s, types, path)
        makers: dict[str, Callable[[Schema, str], str | None]] = {
            "null": lambda s, p: prim.null(self.b),
            "boolean": lambda s, p: prim.boolean(self.b),
            "integer": self.integer, "number": self.number, "string": self.string,
            "array": lambda s, p: arrays.array(self, s, p), "object": self.object,
        }
        alts = [a for t in types if (a := makers[t](s, path)) is not None]
        if not alts:
            raise Unsatisfiable("no value satisfies this schema", path=path)
        if len(alts) == len(_TYPES) - 1 and alts[0] == "null" and len(s) == 0:
            return prim.any_value(self.b)
        return self.alternatives(alts)

    def enum(self, s: Schema, types: list[str], path: str) -> str:
        values = [s["const"]] if "const" in s else s["enum"]
        if not isinstance(values, list):
            raise SchemaError("enum must be an array", keyword="enum", path=path)
        checked = {k: v for k, v in s.items() if k not in ("enum", "const")}
        checked["type"] = types
        keep = []
        for v in values:
            ok = value_ok(v, checked)
            if ok is None:
                self.refuse("enum", path, "cannot check enum values against sibling keywords")
                ok = True
            if ok:
                keep.append(literal(json.dumps(v, separators=(",", ":"), ensure_ascii=False)))
        if not keep:
            raise Unsatisfiable("no enum value satisfies the other keywords", keyword="enum",
                              path=pointer(path, "enum"))
        return self.alternatives(keep, "enum")

    def bounds(self, s: Schema) -> tuple[Decimal | None, bool, Decimal | None, bool]:
        lo, lx, hi, hx = None, False, None, False
        if isinstance(s.get("minimum"), int | float):
            lo = Decimal(str(s["minimum"]))
            lx = s.get("exclusiveMinimum") is True
        if isinstance(s.get("maximum"), int | float):
            hi = Decimal(str(s["maximum"]))
            hx = s.get("exclusiveMaximum") is True
        em, eM = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
        if isinstance(em, int | float) and not isinstance(em, bool):
            if lo is None or Decimal(str(em)) >= lo:
                lo, lx = Decimal(str(em)), True
        if isinstance(eM, int | float) and not isinstance(eM, bool):
            if hi is None or Decimal(str(eM)) <= hi:
                hi, hx = Decimal(str(eM)), True
        return lo, lx, hi, hx

    def integer(self, s: Schema, path: str, step: int = 1) -> str | None:
        lo, lx, hi, hx = self.bounds(s)
        ilo = None if lo is None else int(lo.to_integral_value("ROUND_FLOOR")) + 1 if (
            lx or lo != lo.to_integral_value()) else (None if lo is None else int(lo))
        ihi = None if hi is None else int(hi.to_integral_value("ROUND_CEILING")) - 1 if (
            hx or hi != hi.to_integral_value()) else (None if hi is None else int(hi))
        fmt = s.get("format")
        if fmt in INT_FORMATS:
            flo, fhi = INT_FORMATS[fmt]
            ilo, ihi = max(flo, ilo if ilo is not None else flo), min(fhi, ihi if ihi is not None else fhi)
        m = s.get("multipleOf")
        if m is not None:
            return self.int_multiple(m, ilo, ihi, path)
        body = int_range(ilo, ihi)
        if body is None:
            return None
        return prim.integer(self.b) if ilo is None and ihi is None else self.b.add("int", body)

    def int_multiple(self, m: Any, lo: int | None, hi: int | None, path: str) -> str | None:
        if isinstance(m, float) and m.is_integer():
            m = int(m)
        if m == 1 or not isinstance(m, int) or m <= 0:
            if m != 1:
                self.refuse("multipleOf", path, "only integer multipleOf is supported")
            body = int_range(lo, hi)
            return None if body is None else self.b.add("int", body)
        if lo is None or hi is None or (hi - lo) // m > 256:
            self.refuse("multipleOf", path, "multipleOf needs both bounds and at most 256"
                        " multiples in range to be exact")
            body = int_range(lo, hi)
            return None if body is None else self.b.add("int", body)
        first = -(-lo // m) * m
        vals = [literal(str(v)) for v in range(first, hi + 1, m)]
        return self.alternatives(vals, "mult") if vals else None

    def number(self, s: Schema, path: str) -> str | None:
        m = s.get("multipleOf")
        if m is not None:
            if isinstance(m, int) or isinstance(m, float) and m.is_integer():
                return self.integer(s, path)
            self.refuse("multipleOf", path, "a fractional multipleOf cannot be enforced")
        fmt = s.get("format")
        if fmt is not None and fmt not in NUMBER_FORMATS and fmt not in INT_FORMATS:
            self.refuse("format", path, f"unknown numeric format {fmt!r}")
        lo, lx, hi, hx = self.bounds(s)
        if lo is None and hi is None:
            return prim.number(self.b)
        body = decimal_range(lo, lx, hi, hx)
        return None if body is None else self.b.add("num", body)

    def string(self, s: Schema, path: str) -> str | None:
        lo = int(s.get("minLength", 0))
        hi = s.get("maxLength")
        hi = None if hi is None else int(hi)
        if hi is not None and hi < lo:
            return None
        fmt, pattern = s.get("format"), s.get("pattern")
        q = '"\\""'
        if fmt is not None:
            spec = format_body(self.b, fmt) if isinstance(fmt, str) else None
            if spec is None:
                self.refuse("format", path, f"format {fmt!r} is not supported")
            elif spec[0]:
                body, flo, fhi = spec
                if pattern is not None:
                    self.refuse("pattern", path, "pattern together with format cannot be"
                                " enforced exactly")
                if flo < lo or hi is not None and (fhi is None or fhi > hi):
                    self.refuse("maxLength" if hi is not None else "minLength", path,
                                f"length bounds together with format {fmt!r} cannot be"
                                " enforced exactly")
                return self.b.add(f"str-{rule_name(fmt)}", f"{q} {body} {q}")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise SchemaError("pattern must be a string", keyword="pattern",
                                  path=pointer(path, "pattern"))
            where = pointer(path, "pattern")
            try:
                body = pattern_body(self.b, pattern, path=where, min_len=lo, max_len=hi)
            except SchemaError:
                if self.strict or (lo == 0 and hi is None):
                    raise
                body = pattern_body(self.b, pattern, path=where)  # non-strict: drop lengths
            return self.b.add("str-re", f"{q} {body} {q}")
        if lo == 0 and hi is None:
            return prim.string(self.b)
        return self.b.add("str", f"{q} {self.b.repeat(prim.char(self.b), lo, hi)} {q}")

    # -- objects -------------------------------------------------------------------------
    def object(self, s: Schema, path: str) -> str | None:
        props: dict[str, Any] = dict(s.get("properties") or {})
        required = list(dict.fromkeys(s.get("required") or []))
        addl = s.get("additionalProperties")
        forbidden = set(s.get(FORBID, ())) | {k for k, v in props.items() if v is False}
        deps: dict[str, list[str]] = dict(s.get("dependentRequired") or {})
        for k in required:
            if k in forbidden:
                raise Unsatisfiable(f"required property {k!r} is forbidden",
                                  keyword="required", path=pointer(path, "required"))
            if k not in props:
                if addl is False:
                    raise Unsatisfiable(f"required property {k!r} is not allowed by"
                                      " additionalProperties: false", keyword="required",
                                      path=pointer(path, "required"))
                props[k] = True if addl is None else addl
        props = {k: v for k, v in props.items() if k not in forbidden}
        excluded = sorted(set(props) | forbidden | set(deps) | {d for v in deps.values() for d in v})
        extra = None
        if addl is not None and addl is not False:
            value = self.attempt(lambda: self.gen(addl, pointer(path, "additionalProperties")))
            if value is not None:
                extra = self.b.add("extra-kv", f'{key_excluding(self.b, excluded)} ":" {value}')
        kvs: dict[str, str] = {}
        for k, v in props.items():
            where = pointer(path, "properties", k)
            # an optional property no value satisfies (e.g. recursion cut) is left out
            value = self.gen(v, where) if k in required else self.attempt(
                lambda: self.gen(v, where))  # noqa: B023
            if value is not None:
                key = literal(json.dumps(k, ensure_ascii=False) + ":")
                kvs[k] = self.b.add(f"kv-{k}", f"{key} {value}")
        props = {k: v for k, v in props.items() if k in kvs}
        lo, hi = int(s.get("minProperties", 0)), s.get("maxProperties")
        hi = None if hi is None else int(hi)
        alts = []
        for present in self.presence(props, required, deps, path):
            members = [Member(k, kvs[k], k in present or k in required)
                       for k in props if present.get(k, True)]
            body = object_body(self.b, members, extra, lo, hi, path)
            if body is not None:
                alts.append(body)
        if not alts:
            if extra is not None and lo > 0:
                raise SchemaError("minProperties can only be met with extra keys, whose names a"
                                  " grammar cannot keep distinct", keyword="minProperties",
                                  path=pointer(path, "minProperties"))
            return None
        return self.alternatives(alts, "obj")

    def presence(self, props: dict[str, Any], required: list[str],
                 deps: dict[str, list[str]], path: str) -> list[dict[str, bool]]:
        """Presence assignments of the dependentRequired keys that satisfy every dependency."""
        keys = [k for k in props if k in deps or any(k in v for v in deps.values())]
        if not keys:
            return [{}]
        if 2 ** len(keys) > MAX_PRESENCE_COMBOS * 4:
            self.refuse("dependentRequired", path, "too many keys involved to expand exactly")
            return [{}]
        out = []
        for mask in range(2 ** len(keys)):
            present = {k: bool(mask >> i & 1) for i, k in enumerate(keys)}
            if any(k in required and not present[k] for k in keys):
                continue
            if all(not present.get(t, t in required) or all(present.get(d, d in required)
                   if d in props else False for d in ds) for t, ds in deps.items()):
                out.append(present)
        if len(out) > MAX_PRESENCE_COMBOS:
            self.refuse("dependentRequired", path, "expands into too many alternatives")
            return [{}]
        return out


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


def schema_to_gbnf(
    schema: dict[str, Any] | bool, *, strict: bool = True, limits: GrammarLimits = GrammarLimits()
) -> str:
    """A standalone GBNF grammar (start rule ``root``) for the compact JSON text of valid
    instances of ``schema``; raises SchemaError when that cannot be done exactly (strict)."""
    try:
        size = len(json.dumps(schema, ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"schema is not JSON: {exc}") from None
    if size > limits.max_schema_bytes:
        raise SchemaError(f"schema is {size} bytes, more than {limits.max_schema_bytes}",
                          limit="max_schema_bytes")
    if _depth(schema, limits.max_depth * 2 + 2) > limits.max_depth * 2 + 1:
        # each schema level is an object inside an object ("properties": {"a": {...}})
        raise SchemaError(f"schema nests deeper than {limits.max_depth} levels",
                          limit="max_depth")
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
    schema: dict[str, Any] | bool, *, strict: bool = True, limits: GrammarLimits = GrammarLimits()
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
