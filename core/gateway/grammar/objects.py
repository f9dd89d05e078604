"""Objects: declared keys in declared order, each at most once, optional ones omittable.

Commas stay correct for any subset: after the first emitted member every further member
carries a leading comma. Without count constraints the grammar is linear in the number of
properties (one alternation over "which optional property comes first", then a flat
tail); with minProperties/maxProperties a (position, count) automaton is built.
Extra keys (keys.py: additionalProperties, patternProperties, propertyNames, open objects)
never equal a declared, forbidden or dependency key, so no declared key can appear twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import charset as cs
from . import keys
from .errors import SchemaError, Unsatisfiable
from .gbnf import GrammarBuilder, literal
from .resolve import FORBID, NEED_ANY, NOT_ALL, Schema, pointer

if TYPE_CHECKING:
    from .schema import Converter

MAX_COUNT_STATES = 2000
MAX_PRESENCE_COMBOS = 64


@dataclass(frozen=True)
class Member:
    name: str
    kv: str  # GBNF element for '"name":value'
    required: bool


def key_excluding(b: GrammarBuilder, names: list[str]) -> str:
    """A JSON string key (with quotes) whose decoded value is none of ``names``.

    Only canonical escapes are written, so a name cannot be smuggled in through an
    equivalent escaped spelling. Built as the complement of a trie: linear size.
    """
    # Escapes are allowed (each character has one spelling: the canonical escape of a
    # character that must be escaped) unless a name holds such a character itself.
    plain = all(c >= " " and c not in '"\\' for n in names for c in n)
    raw = cs.ANY if plain else cs.minus(cs.ANY, cs.MUST_ESCAPE)
    kchar = b.fixed("key-char" if plain else "key-char-raw", cs.json_chars(raw) or "")
    trie: dict[str, dict] = {}
    for n in names:
        node = trie
        for ch in n:
            node = node.setdefault(ch, {})
        node["\x00end"] = {}

    quote = '"\\""'
    # the request's budget bounds these strings like any free string
    free = b.limits.max_free_string
    tail = f"{kchar}*" if free is None else b.repeat(kchar, 0, max(free - 1, 0))

    def rule(node: dict) -> str:
        """Rest of the key (and its closing quote) after the prefix that led to ``node``."""
        # names with characters that extra keys never contain need no exclusion
        children = sorted(c for c in node if c != "\x00end" and c >= " " and c not in '"\\')
        alts: list[str] = []
        other = cs.json_chars(cs.minus(raw, cs.of("".join(children))))
        if other is not None:
            alts.append(f"({other}) {tail} {quote}")
        alts += [f"{literal(c)} {rule(node[c])}" for c in children]
        if "\x00end" not in node:
            alts.append(quote)
        return b.add("xkey", " | ".join(alts))

    return f'"\\"" {rule(trie)}'


def object_body(
    b: GrammarBuilder,
    members: list[Member],
    extra: str | None,
    min_props: int,
    max_props: int | None,
    path: str,
    cap: int | None = None,
) -> str | None:
    """GBNF between (and including) the braces; None when no object can satisfy the counts.
    ``cap`` bounds how many extra keys one object carries."""
    if min_props == 0 and max_props is None:
        return "\"{\" " + _simple(b, members, extra, cap) + " \"}\""
    inner = _counted(b, members, extra, min_props, max_props, path, cap)
    return None if inner is None else f'"{{" {inner} "}}"'


def _extras(b: GrammarBuilder, extra: str, cap: int | None, lead: bool) -> str:
    """Up to ``cap`` extra members; ``lead``: each one after a comma."""
    more = b.repeat(b.add("obj-extra", f'{b.comma} {extra}'), 0, None if cap is None else cap - 1)
    if lead:
        return b.repeat(b.add("obj-extra", f'{b.comma} {extra}'), 0, cap)
    return f"({extra} {more})?"


def _tail(b: GrammarBuilder, members: list[Member], extra: str | None,
          cap: int | None) -> str:
    parts = [f'{b.comma} {m.kv}' if m.required else f'({b.comma} {m.kv})?' for m in members]
    if extra and cap != 0:
        parts.append(_extras(b, extra, cap, True))
    return " ".join(parts)


def _simple(b: GrammarBuilder, members: list[Member], extra: str | None,
            cap: int | None = None) -> str:
    r = next((i for i, m in enumerate(members) if m.required), len(members))
    if r == 0 and members:
        return " ".join([members[0].kv, _tail(b, members[1:], extra, cap)]).strip()
    # Some optional members come first: choose which one is emitted first.
    if r < len(members):
        nothing = " ".join([members[r].kv, _tail(b, members[r + 1 :], extra, cap)]).strip()
    else:
        nothing = _extras(b, extra, cap, False) if extra and cap != 0 else ""
    # T_i = ("," kv_i)? T_{i+1} for i < r, as rules so the alternation stays linear.
    nxt = b.add("obj-rest", _tail(b, members[r:], extra, cap) or '""')
    rests = [nxt]
    for i in range(r - 1, 0, -1):
        nxt = b.add("obj-rest", f'({b.comma} {members[i].kv})? {nxt}')
        rests.append(nxt)
    rests.reverse()  # rests[i] follows member i
    alts = [f"{members[i].kv} {rests[i]}" for i in range(r)]
    alts.append(nothing or '""')
    return "(" + " | ".join(alts) + ")"


def _counted(
    b: GrammarBuilder,
    members: list[Member],
    extra: str | None,
    lo: int,
    hi: int | None,
    path: str,
    extra_cap: int | None = None,
) -> str | None:
    n = len(members)
    cap = hi if hi is not None else max(lo, 1)
    if (n + 1) * (cap + 1) > MAX_COUNT_STATES:
        raise SchemaError("minProperties/maxProperties need too large a grammar",
                          keyword="maxProperties" if hi is not None else "minProperties",
                          path=path)
    memo: dict[tuple[int, int], str | None] = {}

    def state(i: int, c: int) -> str | None:
        key = (i, c)
        if key in memo:
            return memo[key]
        sep = b.comma + " " if c else ""
        if i == n:
            # Extra keys never count towards minProperties beyond the first one: a grammar
            # cannot keep their names apart from each other (the first one is apart from
            # the declared keys, so it counts).
            need = max(lo - c, 0)
            if need > 1 or need and extra is None:
                res: str | None = None
            elif extra is None:
                res = '""'
            else:
                room = None if hi is None else hi - c
                if extra_cap is not None:
                    room = extra_cap if room is None else min(room, extra_cap)
                if room is not None and room < need:
                    res = None
                elif room == 0:
                    res = '""'
                else:
                    item = b.add("obj-extra", f'{b.comma} {extra}')
                    if c:
                        res = b.repeat(item, need, room)
                    else:
                        more = b.repeat(item, max(need - 1, 0), None if room is None else room - 1)
                        res = f"{extra} {more}" if need else f"({extra} {more})?"
            memo[key] = res
            return res
        alts: list[str] = []
        if hi is None or c < hi:
            take = state(i + 1, min(c + 1, cap))
            if take is not None:
                alts.append(f"{sep}{members[i].kv} {take}")
        if not members[i].required:
            skip = state(i + 1, c)
            if skip is not None:
                alts.append(skip)
        res = None if not alts else b.add("obj-state", " | ".join(alts))
        memo[key] = res
        return res

    return state(0, 0)


# -- objects -------------------------------------------------------------------------
def object_schema(conv: Converter, s: Schema, path: str) -> str | None:
    props: dict[str, Any] = dict(s.get("properties") or {})
    required = list(dict.fromkeys(s.get("required") or []))
    addl = s.get("additionalProperties")
    # what an undeclared key gets: additionalProperties, else (a merged object's)
    # unevaluatedProperties, as for extra keys (keys.extras)
    undeclared = addl if addl is not None else s.get("unevaluatedProperties")
    forbidden = set(s.get(FORBID, ())) | {k for k, v in props.items() if v is False}
    deps: dict[str, list[str]] = dict(s.get("dependentRequired") or {})
    for k in required:
        if k in forbidden:
            raise Unsatisfiable(f"required property {k!r} is forbidden",
                              keyword="required", path=pointer(path, "required"))
        if k not in props:
            if undeclared is False:
                raise Unsatisfiable(f"required property {k!r} is not allowed by"
                                  " additionalProperties: false", keyword="required",
                                  path=pointer(path, "required"))
            props[k] = True if undeclared is None or keys.pattern_match(s, k) else undeclared
    if undeclared is not False and (undeclared is not None or not conv.strict
                                    and conv.b.limits.open_objects):
        # an undeclared key a dependency names may be written (extra keys never take
        # those names, so they are declared here, with the schema an extra key gets)
        for k in [*deps, *(d for v in deps.values() for d in v)]:
            if k not in props and k not in forbidden:
                props[k] = True if undeclared is None or keys.pattern_match(
                    s, k) else undeclared
    not_all: list[list[str]] = list(s.get(NOT_ALL) or [])
    need_any: list[list[str]] = list(s.get(NEED_ANY) or [])
    forbidden |= keys.check_names(conv, s, list(props), required, path)
    props = keys.merge_patterns(s, {k: v for k, v in props.items() if k not in forbidden})
    excluded = sorted(set(props) | forbidden | set(deps) | {d for v in deps.values() for d in v}
                      | {k for g in not_all + need_any for k in g})
    extra = keys.extras(conv, s, excluded, path)
    cap = keys.extra_cap(conv, s)
    kvs: dict[str, str] = {}
    for k, v in props.items():
        where = pointer(path, "properties", k)
        # an optional property no value satisfies (e.g. recursion cut) is left out
        value = conv.gen(v, where) if k in required else conv.attempt(
            lambda: conv.gen(v, where))  # noqa: B023
        if value is not None:
            key = literal(json.dumps(k, ensure_ascii=False) + ":")
            kvs[k] = conv.b.add(f"kv-{k}", f"{key}{conv.b.space} {value}")
    props = {k: v for k, v in props.items() if k in kvs}
    lo, hi = int(s.get("minProperties", 0)), s.get("maxProperties")
    hi = None if hi is None else int(hi)
    alts = []
    for present in presence(conv, props, required, deps, path, not_all, need_any):
        members = [Member(k, kvs[k], k in present or k in required)
                   for k in props if present.get(k, True)]
        body = object_body(conv.b, members, extra, lo, hi, path, cap)
        if body is not None:
            alts.append(body)
    if not alts:
        if extra is not None and lo > 1:
            raise SchemaError("minProperties can only be met with extra keys, whose names a"
                              " grammar cannot keep distinct", keyword="minProperties",
                              path=pointer(path, "minProperties"))
        return None
    return conv.alternatives(alts, "obj")

def presence(conv: Converter, props: dict[str, Any], required: list[str],
             deps: dict[str, list[str]], path: str, not_all: list[list[str]] | None = None,
             need_any: list[list[str]] | None = None) -> list[dict[str, bool]]:
    """Presence assignments of the dependentRequired keys (and of the keys of NOT_ALL and
    NEED_ANY groups) that satisfy every dependency, leave out at least one key of each
    NOT_ALL group and hold at least one key of each NEED_ANY group."""
    # a group with a key the object never has is always satisfied
    groups = [g for g in not_all or [] if all(k in props for k in g)]
    # a NEED_ANY group only counts its keys the object can have (none: no object)
    needs = [[k for k in g if k in props] for g in need_any or []]
    if any(not g for g in needs):
        return []
    needs = [g for g in needs if not any(k in required for k in g)]
    keys = [k for k in props if k in deps or any(k in v for v in deps.values())
            or any(k in g for g in groups + needs)]
    if not keys:
        return [{}]
    if 2 ** len(keys) > MAX_PRESENCE_COMBOS * 4:
        conv.refuse("dependentRequired" if deps else "not", path,
                    "too many keys involved to expand exactly")
        return [{}]
    out = []
    for mask in range(2 ** len(keys)):
        present = {k: bool(mask >> i & 1) for i, k in enumerate(keys)}
        if any(k in required and not present[k] for k in keys):
            continue
        if all(not present.get(t, t in required) or all(present.get(d, d in required)
               if d in props else False for d in ds) for t, ds in deps.items()) and not any(
               all(present[k] for k in g) for g in groups) and all(
               any(present[k] for k in g) for g in needs):
            out.append(present)
    if len(out) > MAX_PRESENCE_COMBOS:
        conv.refuse("dependentRequired" if deps else "not", path,
                    "expands into too many alternatives")
        return [{}]
    return out
