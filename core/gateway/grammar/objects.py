"""Objects: declared keys in declared order, each at most once, optional ones omittable.

Commas stay correct for any subset: after the first emitted member every further member
carries a leading comma. Without count constraints the grammar is linear in the number of
properties (one alternation over "which optional property comes first", then a flat
tail); with minProperties/maxProperties a (position, count) automaton is built.
Extra keys are emitted only when ``additionalProperties`` is given explicitly (true or a
schema): their names never equal a declared, forbidden or dependency key, so no declared key
can appear twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import charset as cs
from .errors import SchemaError, Unsatisfiable
from .gbnf import GrammarBuilder, literal
from .resolve import FORBID, Schema, pointer

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

    Key characters are written raw (no escapes), so a name cannot be smuggled in through
    an equivalent escaped spelling. Built as the complement of a trie: linear size.
    """
    raw = cs.minus(cs.ANY, cs.MUST_ESCAPE)
    kchar = b.fixed("key-char", cs.json_chars(raw) or "")
    trie: dict[str, dict] = {}
    for n in names:
        node = trie
        for ch in n:
            node = node.setdefault(ch, {})
        node["\x00end"] = {}

    quote = '"\\""'

    def rule(node: dict) -> str:
        """Rest of the key (and its closing quote) after the prefix that led to ``node``."""
        # names with characters that extra keys never contain need no exclusion
        children = sorted(c for c in node if c != "\x00end" and c >= " " and c not in '"\\')
        alts: list[str] = []
        other = cs.json_chars(cs.minus(raw, cs.of("".join(children))))
        if other is not None:
            alts.append(f"({other}) {kchar}* {quote}")
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
) -> str | None:
    """GBNF between (and including) the braces; None when no object can satisfy the counts."""
    if min_props == 0 and max_props is None:
        return "\"{\" " + _simple(b, members, extra) + " \"}\""
    inner = _counted(b, members, extra, min_props, max_props, path)
    return None if inner is None else f'"{{" {inner} "}}"'


def _tail(members: list[Member], extra: str | None) -> str:
    parts = [f'"," {m.kv}' if m.required else f'("," {m.kv})?' for m in members]
    if extra:
        parts.append(f'("," {extra})*')
    return " ".join(parts)


def _simple(b: GrammarBuilder, members: list[Member], extra: str | None) -> str:
    r = next((i for i, m in enumerate(members) if m.required), len(members))
    if r == 0 and members:
        return " ".join([members[0].kv, _tail(members[1:], extra)]).strip()
    # Some optional members come first: choose which one is emitted first.
    if r < len(members):
        nothing = " ".join([members[r].kv, _tail(members[r + 1 :], extra)]).strip()
    else:
        nothing = f"({extra} (\",\" {extra})*)?" if extra else ""
    # T_i = ("," kv_i)? T_{i+1} for i < r, as rules so the alternation stays linear.
    nxt = b.add("obj-rest", _tail(members[r:], extra) or '""')
    rests = [nxt]
    for i in range(r - 1, 0, -1):
        nxt = b.add("obj-rest", f'("," {members[i].kv})? {nxt}')
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
        sep = '"," ' if c else ""
        if i == n:
            # Extra keys never count towards minProperties: a grammar cannot keep their
            # names distinct, and a duplicated key would count once.
            if c < lo:
                res: str | None = None
            elif extra is None:
                res = '""'
            else:
                need = 0
                room = None if hi is None else hi - c
                if room is not None and room < need:
                    res = None
                elif room == 0:
                    res = '""'
                else:
                    item = b.add("obj-extra", f'"," {extra}')
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
        value = conv.attempt(lambda: conv.gen(addl, pointer(path, "additionalProperties")))
        if value is not None:
            extra = conv.b.add("extra-kv", f'{key_excluding(conv.b, excluded)} ":" {value}')
    kvs: dict[str, str] = {}
    for k, v in props.items():
        where = pointer(path, "properties", k)
        # an optional property no value satisfies (e.g. recursion cut) is left out
        value = conv.gen(v, where) if k in required else conv.attempt(
            lambda: conv.gen(v, where))  # noqa: B023
        if value is not None:
            key = literal(json.dumps(k, ensure_ascii=False) + ":")
            kvs[k] = conv.b.add(f"kv-{k}", f"{key} {value}")
    props = {k: v for k, v in props.items() if k in kvs}
    lo, hi = int(s.get("minProperties", 0)), s.get("maxProperties")
    hi = None if hi is None else int(hi)
    alts = []
    for present in presence(conv, props, required, deps, path):
        members = [Member(k, kvs[k], k in present or k in required)
                   for k in props if present.get(k, True)]
        body = object_body(conv.b, members, extra, lo, hi, path)
        if body is not None:
            alts.append(body)
    if not alts:
        if extra is not None and lo > 0:
            raise SchemaError("minProperties can only be met with extra keys, whose names a"
                              " grammar cannot keep distinct", keyword="minProperties",
                              path=pointer(path, "minProperties"))
        return None
    return conv.alternatives(alts, "obj")

def presence(conv: Converter, props: dict[str, Any], required: list[str],
             deps: dict[str, list[str]], path: str) -> list[dict[str, bool]]:
    """Presence assignments of the dependentRequired keys that satisfy every dependency."""
    keys = [k for k in props if k in deps or any(k in v for v in deps.values())]
    if not keys:
        return [{}]
    if 2 ** len(keys) > MAX_PRESENCE_COMBOS * 4:
        conv.refuse("dependentRequired", path, "too many keys involved to expand exactly")
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
        conv.refuse("dependentRequired", path, "expands into too many alternatives")
        return [{}]
    return out
