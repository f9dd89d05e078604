"""$ref resolution and allOf merging (pure schema → schema transformations)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

from .errors import SchemaError, Unsatisfiable
from .values import json_type

Schema = dict[str, Any]
FORBID = "\x00forbid"  # internal: keys the grammar must not emit (schema semantics unchanged)
NEED_ANY = "\x00needany"  # internal (oneof.py): groups of keys of which one must be present
NOT_ALL = "\x00notall"  # internal (negation.py): groups of keys never all present
NOT_PATTERNS = "\x00notpatterns"  # internal (negation.py): patterns a string must not match
PATTERNS = "\x00patterns"  # internal: patterns a string must match besides "pattern"

ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated",
     "readOnly", "writeOnly", "$defs", "definitions", "$anchor", "example", "externalDocs",
     "xml", "discriminator", "contentMediaType", "contentEncoding"}
)
# keywords that constrain instances (anything else in a schema is an annotation)
VALIDATION = frozenset({
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
    "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties", "required",
    "dependentRequired", "properties", "patternProperties", "additionalProperties",
    "propertyNames", "items", "prefixItems", "additionalItems", "contains", "allOf", "anyOf",
    "oneOf", "not", "if", "then", "else", "dependentSchemas", "dependencies",
    "unevaluatedItems", "unevaluatedProperties", "format", "$ref", "$dynamicRef",
    "$recursiveRef", "nullable", FORBID, "\x00exclude", NOT_ALL, NEED_ANY, NOT_PATTERNS,
    PATTERNS,
})
# keywords through which a subschema evaluates object keys (for unevaluatedProperties)
_EVALUATING = ("properties", "patternProperties", "additionalProperties",
               "unevaluatedProperties", "$ref", "dependentSchemas", "if")
_DEPENDENT = ("dependentSchemas", "dependencies")
# keywords through which a subschema evaluates array items (for unevaluatedItems)
_ITEMS_EVALUATING = ("prefixItems", "items", "additionalItems", "contains",
                     "unevaluatedItems", "$ref", "$dynamicRef")
MAX_COMBOS = 128  # alternatives an allOf of several anyOf/oneOf (or if/then) may expand to
_MIN_KEYS = ("minimum", "minLength", "minItems", "minProperties", "minContains")
_MAX_KEYS = ("maximum", "maxLength", "maxItems", "maxProperties", "maxContains")


def canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def pointer(path: str, *parts: str | int) -> str:
    for p in parts:
        path += "/" + str(p).replace("~", "~0").replace("/", "~1")
    return path


class Resolver:
    """Follows local JSON-pointer $refs of one root document."""

    def __init__(self, root: Any, strict: bool = True) -> None:
        self.root = root
        self.strict = strict
        self._anchors: dict[str, str | None] | None = None  # name → pointer (None: twice)
        self._embedded = False  # a subschema's $id starts another resource (another base)
        rid = root.get("$id") if isinstance(root, dict) else None
        self._base = urldefrag(rid).url if isinstance(rid, str) else ""

    def _index(self) -> dict[str, str | None]:
        """Anchors ($anchor, $dynamicAnchor, draft-7 "$id": "#name") of the document."""
        if self._anchors is None:
            anchors: dict[str, str | None] = {}
            stack: list[tuple[Any, str]] = [(self.root, "#")]
            while stack:
                node, ptr = stack.pop()
                if isinstance(node, list):
                    stack += [(v, f"{ptr}/{i}") for i, v in enumerate(node)]
                    continue
                if not isinstance(node, dict):
                    continue
                names = [node.get("$anchor"), node.get("$dynamicAnchor")]
                sid = node.get("$id")
                if isinstance(sid, str) and node is not self.root:
                    uri, frag = urldefrag(sid)
                    if uri:
                        self._embedded = True
                    names.append(frag)
                for name in names:
                    if isinstance(name, str) and name:
                        anchors[name] = ptr if name not in anchors else None
                stack += [(v, pointer(ptr, k)) for k, v in node.items()
                          if k not in ("enum", "const", "examples", "default")]
            self._anchors = anchors
        return self._anchors

    def _local(self, ref: str) -> str | None:
        """A reference that is not a local pointer, as one: a plain-name fragment (an
        anchor) or a URI that resolves to this document's own $id. None when it points
        elsewhere, or when embedded resources (another $id base) make that ambiguous."""
        anchors = self._index()
        if self._embedded:
            return None
        uri, frag = urldefrag(urljoin(self._base, ref))
        if uri != self._base:
            return None
        if frag == "" or frag.startswith("/"):
            return "#" + frag
        return anchors.get(frag)

    def target(self, ref: Any, path: str) -> tuple[Any, str]:
        if isinstance(ref, str) and not (ref == "#" or ref.startswith("#/")):
            ref = self._local(ref) or ref
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            raise SchemaError(
                "only references within the schema document are supported (a local JSON"
                f" pointer, an anchor or the document's own $id), got {ref!r}",
                keyword="$ref", path=path,
            )
        node: Any = self.root
        for raw in ref[2:].split("/") if ref != "#" else []:
            part = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaError(f"unresolvable reference {ref!r}", keyword="$ref", path=path)
        return node, ref

    def deref(self, schema: Any, path: str, stack: tuple[str, ...] = ()) -> tuple[Any, str]:
        """Follow a chain of bare $refs (no siblings); a cycle consumes no input → error."""
        while isinstance(schema, dict) and "$ref" in schema and _bare_ref(schema):
            ref = schema["$ref"]
            if ref in stack:
                raise SchemaError(
                    f"reference cycle {' -> '.join(stack + (ref,))} never consumes input",
                    keyword="$ref", path=path,
                )
            stack += (ref,)
            schema, path = self.target(ref, path)
        return schema, path

    def flatten(
        self, schema: Any, path: str, stack: tuple[str, ...] = (), nested: bool = False
    ) -> list[tuple[Any, str]]:
        """The conjuncts of a schema: allOf branches and $ref targets (``nested``: one of
        those), recursively."""
        if isinstance(schema, dict) and any(k in schema for k in _DEPENDENT):
            schema = dependent(schema)
        if isinstance(schema, dict) and any(k in schema for k in ("if", "then", "else")):
            schema = conditional(schema)
        if nested:
            schema = self.scoped(schema, path, stack)
        if isinstance(schema, dict) and "$ref" in schema:
            ref = schema["$ref"]
            if ref in stack:
                raise SchemaError(
                    f"reference cycle {' -> '.join(stack + (ref,))} never consumes input",
                    keyword="allOf", path=path,
                )
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            target, tpath = self.target(ref, path)
            return (self.flatten(target, tpath, stack + (ref,), True)
                    + self.flatten(rest, path, stack))
        if isinstance(schema, dict) and "allOf" in schema:
            branches = schema["allOf"]
            if not isinstance(branches, list) or not branches:
                raise SchemaError("allOf must be a non-empty array", keyword="allOf", path=path)
            out = self.flatten({k: v for k, v in schema.items() if k != "allOf"}, path, stack)
            for i, br in enumerate(branches):
                out += self.flatten(br, pointer(path, "allOf", i), stack, True)
            return out
        return [(schema, path)]

    def unevaluated_items(self, schema: Schema, path: str,
                          stack: tuple[str, ...] = ()) -> Schema:
        """unevaluatedItems as items after the positions evaluated next to it: the longest
        prefixItems among the schema's own conjuncts (allOf branches, $ref targets), or
        every position when one of them has items. Exact when no anyOf/oneOf/if/contains
        there could evaluate more (``not`` never does); else refused (strict) or dropped."""
        u = schema["unevaluatedItems"]
        rest = {k: v for k, v in schema.items() if k != "unevaluatedItems"}
        if u is True:  # every item is evaluated here, so none is left to an outer one
            key = "additionalItems" if isinstance(rest.get("items"), list) else "items"
            return {**rest, key: rest.get(key, True)}
        n, every = 0, False
        for s, _ in self.flatten(rest, path, stack):
            if not isinstance(s, dict):
                continue
            branches = [s[k] for k in ("anyOf", "oneOf", "if", "then", "else",
                                       "dependentSchemas", "contains", "$dynamicRef") if k in s]
            if branches and (any(k in s for k in ("contains", "$dynamicRef")) or any(
                    f'"{k}"' in canon(branches) for k in _ITEMS_EVALUATING)):
                if self.strict:
                    raise SchemaError("cannot tell which items the anyOf/oneOf/if/contains"
                                      " there evaluate", keyword="unevaluatedItems",
                                      path=pointer(path, "unevaluatedItems"))
                return rest
            pre, tail = _tuple(s)
            n = max(n, len(pre))
            every = every or "additionalItems" in s if isinstance(s.get("items"), list) else (
                every or "items" in s)
        if every:
            return rest
        pre, _ = _tuple(rest)
        out = {k: v for k, v in rest.items() if k not in ("items", "additionalItems")}
        out["prefixItems"] = pre + [True] * (n - len(pre))
        out["items"] = u
        return out

    def scoped(self, schema: Any, path: str, stack: tuple[str, ...]) -> Any:
        """A schema met inside an allOf branch or a $ref target, ready to be merged with its
        siblings: its unevaluatedProperties sees only the keys evaluated inside it, so it
        becomes additionalProperties next to those keys (as properties and patterns that
        constrain nothing); refused (strict) or dropped where anyOf/oneOf/if branches inside
        it could evaluate more keys."""
        if isinstance(schema, dict) and "unevaluatedItems" in schema:
            schema = self.unevaluated_items(schema, path, stack)
        if not isinstance(schema, dict) or "unevaluatedProperties" not in schema:
            return schema
        u = schema["unevaluatedProperties"]
        rest = {k: v for k, v in schema.items() if k != "unevaluatedProperties"}
        if u is True:  # every key is evaluated here, so none is left to an outer one
            return {**rest, "additionalProperties": rest.get("additionalProperties", True)}
        names: dict[str, Any] = {}
        pats: dict[str, Any] = {}
        for s, _ in self.flatten(rest, path, stack):
            if not isinstance(s, dict):
                continue
            if "additionalProperties" in s:  # every key is evaluated inside already
                return rest
            branches = [s[k] for k in ("anyOf", "oneOf", "dependentSchemas", "dependencies")
                        if k in s]
            if branches and any(f'"{k}"' in canon(branches) for k in _EVALUATING):
                if self.strict:
                    raise SchemaError("cannot tell which keys the anyOf/oneOf branches inside"
                                      " evaluate", keyword="unevaluatedProperties",
                                      path=pointer(path, "unevaluatedProperties"))
                return rest
            names.update(dict.fromkeys(s.get("properties") or {}, True))
            pats.update(dict.fromkeys(s.get("patternProperties") or {}, True))
        out = {**rest, "additionalProperties": u}
        out["properties"] = {**names, **(rest.get("properties") or {})}
        if pats:
            out["patternProperties"] = {**pats, **(rest.get("patternProperties") or {})}
        return out


def conditional(schema: Schema) -> Any:
    """if/then/else as (if and then) or (not if and else): the two branches exclude each
    other, and ``not if`` is folded like any other ``not`` (or refused)."""
    rest = {k: v for k, v in schema.items() if k not in ("if", "then", "else")}
    if "if" not in schema:
        return rest  # then/else without if constrain nothing
    cond = schema["if"]
    alts = [{"allOf": [cond, schema.get("then", True)]},
            {"allOf": [{"not": cond}, schema.get("else", True)]}]
    return with_branch(rest, {"anyOf": alts}) if rest else {"anyOf": alts}


def dependent(schema: Schema) -> Schema:
    """dependentSchemas (and draft-7 schema ``dependencies``) as conditionals: for each key k
    with schema S, if k is present then S, i.e. (k present and S) or (k absent), which
    conditional() writes as two disjoint branches. Only objects are meant: an untyped schema
    gets type object, as the converter emits objects alone for object keywords anyway."""
    deps = schema.get("dependentSchemas")
    old = schema.get("dependencies")
    olds = {k: v for k, v in old.items() if not isinstance(v, list)} if isinstance(
        old, dict) else {}
    if not isinstance(deps, dict) and not olds:
        return schema
    pairs = {**(deps if isinstance(deps, dict) else {}), **olds}
    rest = {k: v for k, v in schema.items() if k != "dependentSchemas"}
    if olds and isinstance(old, dict):
        rest["dependencies"] = {k: v for k, v in old.items() if isinstance(v, list)}
        if not rest["dependencies"]:
            del rest["dependencies"]
    conds = [{"if": {"required": [k]}, "then": v} for k, v in pairs.items() if v is not True]
    if "type" not in rest:
        rest["type"] = "object"
    if not conds:
        return rest
    return {**rest, "allOf": [*(rest.get("allOf") or []), *conds]}


def with_branch(outer: Schema, branch: Any) -> Schema:
    """``outer`` and ``branch`` together, ``outer`` staying the outer schema (so its
    unevaluatedProperties sees the keys the branch evaluates)."""
    more = outer.get("allOf", [])
    if not isinstance(more, list):
        return {"allOf": [outer, branch]}  # malformed: refused when flattened
    return {**outer, "allOf": [*more, branch]}


def _bare_ref(schema: Schema) -> bool:
    return all(k == "$ref" or k in ANNOTATIONS for k in schema)


def _types(s: Schema) -> set[str] | None:
    t = s.get("type")
    if t is None:
        return None
    return set(t) if isinstance(t, list) else {t}


def merge(parts: list[tuple[Any, str]], strict: bool) -> Schema:
    """One schema equivalent to the conjunction of ``parts`` (each already flattened)."""
    out: Schema = {}
    path = parts[0][1] if parts else "#"
    dicts: list[Schema] = []
    for s, p in parts:
        if s is False:
            raise Unsatisfiable("allOf contains a false schema: no value is valid",
                              keyword="allOf", path=p)
        if s is True:
            continue
        if not isinstance(s, dict):
            raise SchemaError("a schema must be an object or a boolean", path=p)
        dicts.append(s)

    def conflict(kw: str) -> None:
        if strict:
            raise SchemaError(f"cannot merge two different '{kw}' constraints in allOf",
                              keyword="allOf", path=path)

    types: set[str] | None = None
    props: dict[str, list[Any]] = {}
    anyofs: list[list[Any]] = []
    oneofs: list[list[Any]] = []
    nots: list[Any] = []
    patterns: dict[str, list[Any]] = {}
    names: list[Any] = []
    for s in dicts:
        t = _types(s)
        if t is not None:
            if types is None:
                types = set(t)
            else:
                both = types & t
                if "integer" in types and "number" in t or "number" in types and "integer" in t:
                    both.add("integer")
                types = both
        for k, v in s.items():
            if k in ANNOTATIONS or k == "type":
                continue
            if k == "properties":
                for name, sub in v.items():
                    props.setdefault(name, []).append(sub)
            elif k in ("required", FORBID):
                out[k] = list(dict.fromkeys(out.get(k, []) + list(v)))
            elif k in (NOT_ALL, NEED_ANY, NOT_PATTERNS, PATTERNS):  # every member applies
                out[k] = out.get(k, []) + [g for g in v if g not in out.get(k, [])]
            elif k == "pattern" and k in out and out[k] != v:  # both must match
                out[PATTERNS] = list(dict.fromkeys(out.get(PATTERNS, []) + [v]))
            elif k == "dependentRequired":
                dep = dict(out.get(k, {}))
                for name, req in v.items():
                    dep[name] = list(dict.fromkeys(dep.get(name, []) + list(req)))
                out[k] = dep
            elif k in ("enum", "const"):
                vals = [v] if k == "const" else list(v)
                if "enum" in out:
                    keep = {canon(x) for x in vals}
                    out["enum"] = [x for x in out["enum"] if canon(x) in keep]
                else:
                    out["enum"] = vals
            elif k in _MIN_KEYS or k == "exclusiveMinimum" and not isinstance(v, bool):
                out[k] = v if k not in out else max(out[k], v)
            elif k in _MAX_KEYS or k == "exclusiveMaximum" and not isinstance(v, bool):
                out[k] = v if k not in out else min(out[k], v)
            elif k in ("anyOf", "oneOf") and (union := enum_union(v, k)) is not None:
                if "enum" in out:  # the branches are plain value sets: one enum (exact)
                    keep = {canon(x) for x in union}
                    out["enum"] = [x for x in out["enum"] if canon(x) in keep]
                else:
                    out["enum"] = union
            elif k == "anyOf":
                anyofs.append(list(v))
            elif k == "oneOf":
                oneofs.append(list(v))
            elif k == "not":
                nots.append(v)
            elif k == "patternProperties" and isinstance(v, dict):
                for pat, sub in v.items():
                    patterns.setdefault(pat, []).append(sub)
            elif k == "propertyNames":
                names.append(v)
            elif k == "multipleOf" and k in out and _ints(out[k], v):
                out[k] = math.lcm(int(out[k]), int(v))
            elif k not in VALIDATION:
                continue  # an annotation of some vocabulary (markdownDescription, x-…)
            elif k in ("items", "prefixItems", "additionalItems"):
                continue  # merged below, position by position
            elif k == "additionalProperties":
                if k in out and out[k] != v:
                    out[k] = _conj(out[k], v)
                else:
                    out[k] = v
            elif k == "uniqueItems":
                out[k] = bool(out.get(k)) or bool(v)
            elif k == "nullable":
                out[k] = out.get(k, True) and bool(v)
            elif k in out and canon(out[k]) != canon(v):
                conflict(k)
            else:
                out.setdefault(k, v)
    if types is not None:
        if not types:
            raise Unsatisfiable("allOf requires conflicting types", keyword="allOf", path=path)
        out["type"] = sorted(types)
    if "enum" in out:  # values of another type (or left out by another enum) never match
        out["enum"] = [v for v in out["enum"] if types is None or json_type(v) in types
                       or json_type(v) == "integer" and "number" in types]
        if not out["enum"]:
            raise Unsatisfiable("allOf leaves no enum value", keyword="allOf", path=path)
    if "nullable" in out and types is not None and "null" not in types:
        out.pop("nullable")
    if props:
        merged_props: dict[str, Any] = {}
        for name, subs in props.items():
            # additionalProperties of a branch constrains keys that branch does not declare
            # (a key matching one of its patterns gets that pattern's schema instead, as
            # merged patternProperties apply to declared keys too)
            for s in dicts:
                ap = s.get("additionalProperties", True)
                if ap is not True and name not in s.get("properties", {}) and not any(
                        pattern_search(p, name) is not False
                        for p in s.get("patternProperties", {})):
                    subs = subs + [ap]
            merged_props[name] = subs[0] if len(subs) == 1 else {"allOf": subs}
        out["properties"] = merged_props
    for kw, groups in (("anyOf", anyofs), ("oneOf", oneofs)):
        # exactly one combination (a_i, b_j) is valid iff exactly one a_i and one b_j are
        if groups:
            combos: list[list[Any]] = [[]]
            for alts in groups:
                combos = [c + [a] for c in combos for a in alts]
                if len(groups) > 1 and len(combos) > MAX_COMBOS:
                    raise SchemaError(f"allOf of several {kw} expands to too many alternatives",
                                      keyword=kw, path=path)
            out[kw] = [c[0] if len(c) == 1 else {"allOf": c} for c in combos]
    if "anyOf" in out and "oneOf" in out:
        out["anyOf"] = [{"allOf": [a, {"oneOf": out["oneOf"]}]} for a in out["anyOf"]]
        del out["oneOf"]
    if nots:  # not A and not B = not (A or B)
        out["not"] = nots[0] if len(nots) == 1 else {"anyOf": nots}
    if patterns:
        for pat in patterns:
            # a key matching a pattern another branch does not list is additional to that
            # branch, so its additionalProperties applies too: exact when that branch has no
            # pattern and no declared name the key could also match
            for s in dicts:
                ap = s.get("additionalProperties", True)
                if ap is True or pat in (s.get("patternProperties") or {}):
                    continue
                if s.get("patternProperties") or any(
                        pattern_search(pat, n) is not False for n in s.get("properties") or {}):
                    conflict("additionalProperties")
                patterns[pat] = patterns[pat] + [ap]
        out["patternProperties"] = {p: subs[0] if len(subs) == 1 else {"allOf": subs}
                                    for p, subs in patterns.items()}
    out.update(_merge_items(dicts))
    if names:
        out["propertyNames"] = names[0] if len(names) == 1 else {"allOf": names}
    return out


def enum_union(branches: Any, kw: str) -> list[Any] | None:
    """The values of an anyOf/oneOf whose branches are all plain value sets (const/enum and
    annotations only), as one enum; None otherwise. A oneOf counts only when no value is in
    two branches (a value in two would be excluded by oneOf)."""
    if not isinstance(branches, list) or not branches:
        return None
    values: dict[str, Any] = {}
    for br in branches:
        if not isinstance(br, dict) or not any(k in br for k in ("enum", "const")):
            return None
        if any(k in VALIDATION for k in br if k not in ("enum", "const")):
            return None
        vals = [br["const"]] if "const" in br else br["enum"]
        if not isinstance(vals, list):
            return None
        if "const" in br and "enum" in br:
            if not any(_same(br["const"], x) for x in br["enum"]):
                continue
            vals = [br["const"]]
        for x in dict((_key(x), x) for x in vals).values():
            if _key(x) in values and kw == "oneOf":
                return None
            values[_key(x)] = x
    return list(values.values())


def _key(v: Any) -> str:
    """canon() with 1.0 and 1 the same value, as JSON Schema equality has it."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, list):
        return "[" + ",".join(_key(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{canon(k)}:{_key(x)}" for k, x in sorted(v.items())) + "}"
    return canon(v)


def _same(a: Any, b: Any) -> bool:
    return json_type(a) == json_type(b) and _key(a) == _key(b) and (
        isinstance(a, bool) == isinstance(b, bool))


def _tuple(s: Schema) -> tuple[list[Any], Any]:
    """The positional item schemas of one schema and the schema of the items after them."""
    if isinstance(s.get("prefixItems"), list):
        return list(s["prefixItems"]), s.get("items", True)
    if isinstance(s.get("items"), list):  # draft 4-7 tuple form
        return list(s["items"]), s.get("additionalItems", True)
    return [], s.get("items", True)


def _merge_items(dicts: list[Schema]) -> Schema:
    """prefixItems/items/additionalItems of several conjuncts, position by position: each
    branch's items apply from the end of its own prefixItems, not of the merged one."""
    arrays = [s for s in dicts if any(k in s for k in ("items", "prefixItems"))]
    if len(arrays) == 1:
        s = arrays[0]
        return {k: s[k] for k in ("items", "prefixItems", "additionalItems") if k in s}
    if not arrays:
        return {}
    tuples = [_tuple(s) for s in arrays]
    n = max(len(pre) for pre, _ in tuples)

    def conj(subs: list[Any]) -> Any:
        out: Any = True
        for x in {canon(x): x for x in subs}.values():
            out = _conj(out, x)
        return out

    out: Schema = {"items": conj([tail for _, tail in tuples])}
    if n:
        out["prefixItems"] = [conj([pre[i] if i < len(pre) else tail for pre, tail in tuples])
                              for i in range(n)]
    return out


def pattern_search(pattern: str, name: str) -> bool | None:
    """Whether ``name`` matches ``pattern`` (None: the pattern cannot be checked here)."""
    try:
        return re.search(pattern, name, re.ASCII) is not None
    except (re.error, TypeError):
        return None


def _ints(a: Any, b: Any) -> bool:
    return all(isinstance(x, int) and not isinstance(x, bool) and x > 0 or
               isinstance(x, float) and x.is_integer() and x > 0 for x in (a, b))


def _conj(a: Any, b: Any) -> Any:
    if a is False or b is False:
        return False
    if a is True:
        return b
    if b is True:
        return a
    return {"allOf": [a, b]}


def drop_keys(schema: Schema, keys: Callable[[str], bool]) -> Schema:
    return {k: v for k, v in schema.items() if not keys(k)}
