"""Arrays: items, prefixItems (and draft-7 tuple items/additionalItems), counts, and
uniqueItems when the items are a small finite set of values."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import SchemaError
from .gbnf import literal
from .resolve import ANNOTATIONS, Schema, pointer
from .values import value_ok

if TYPE_CHECKING:
    from .schema import Converter

MAX_UNIQUE_VALUES = 8  # up to this many values: any order
MAX_ORDERED_VALUES = 1000  # up to this many: in the order they are listed
MAX_ORDERED_STATES = 4000


def array(conv: Converter, s: Schema, path: str) -> str | None:
    b = conv.b
    lo, hi = int(s.get("minItems", 0)), s.get("maxItems")
    hi = None if hi is None else int(hi)
    if hi is None and b.limits.max_free_items is not None:
        hi = max(lo, b.limits.max_free_items)
    if hi is not None and hi < lo:
        return None
    prefix: list[Any] = list(s.get("prefixItems") or [])
    items: Any = s.get("items", True)
    if isinstance(items, list):  # draft 4-7 tuple form
        prefix, items = items, s.get("additionalItems", True)
    if "additionalItems" in s and "prefixItems" in s:
        items = s.get("items", True)
    if s.get("uniqueItems") is True and (hi is None or hi > 1) and b.limits.unique_one and (
            not prefix and lo <= 1 and isinstance(items, dict)
            and finite_values(conv, items, path) is None):
        hi = 1  # free items: at most one, trivially distinct (a sound bound, when asked)
    if s.get("uniqueItems") is True and (hi is None or hi > 1):
        if prefix:
            conv.refuse("uniqueItems", path, "uniqueItems with prefixItems cannot be enforced")
        else:
            unique = unique_array(conv, items, lo, hi, path)
            if unique is not None or conv.strict:
                return unique
    if "contains" in s:
        made = contains_array(conv, s, items, prefix, lo, hi, path)
        if made != "":
            return made
    if prefix:
        return tuple_array(conv, prefix, items, lo, hi, path)
    item = None if items is False else conv.attempt(
        lambda: conv.gen(items, pointer(path, "items")))
    if item is None:  # no item can be written: only the empty array
        return b.add("arr-empty", '"[" "]"') if lo == 0 else None
    if hi == 0:
        return b.add("arr-empty", '"[" "]"')
    more = b.add("arr-more", f'{b.comma} {item}')
    rest = b.repeat(more, max(lo - 1, 0), None if hi is None else hi - 1)
    inner = f"{item} {rest}"
    return b.add("arr", f'"[" {inner} "]"' if lo else f'"[" ({inner})? "]"')


def contains_array(conv: Converter, s: Schema, items: Any, prefix: list[Any], lo: int,
                   hi: int | None, path: str) -> str | None:
    """contains/minContains/maxContains: each item either matches C (items and C) or not
    (items and not C, the negation folded like any ``not``), the matches counted:
    N* M (N* M){min-1} then any items, or N* (M N*){0..max} with a maxContains. "" when that
    cannot be exact here (refused under strict; the caller drops contains)."""
    b = conv.b
    c_lo = int(s.get("minContains", 1))
    c_hi = s.get("maxContains")
    c_hi = None if c_hi is None else int(c_hi)
    where = pointer(path, "contains")
    if c_lo == 0 and c_hi is None:
        return ""  # every array contains at least zero matches: nothing to enforce
    if c_hi is not None and c_hi < c_lo:
        return None
    declared_max = s.get("maxItems") is not None
    if prefix or s.get("uniqueItems") is True or declared_max or lo > max(c_lo, 1):
        kw = "prefixItems" if prefix else "uniqueItems" if s.get("uniqueItems") is True else (
            "maxItems" if declared_max else "minItems")
        conv.refuse("contains", path, f"contains together with {kw} cannot be enforced")
        return ""
    try:
        match = conv.attempt(lambda: conv.gen({"allOf": [items, s["contains"]]}, where))
        miss = conv.attempt(lambda: conv.gen({"allOf": [items, {"not": s["contains"]}]},
                                             where))
    except SchemaError as err:
        conv.refuse("contains", path, f"items that do not match contains: {err.message}")
        return ""
    budget = hi  # only the request's budget (maxItems is refused above): a sound bound
    if match is None:
        return None if c_lo else b.add("arr-empty", '"[" "]"')

    def star(el: str | None) -> str:
        if el is None:
            return ""
        return b.repeat(b.add("arr-more", f'{b.comma} {el}'), 0, budget)

    m_c = b.add("arr-more", f'{b.comma} {match}')
    n_star = star(miss)
    after = f"{n_star} {m_c}".strip()  # (N* M) with leading commas
    if c_lo:
        first = match if miss is None else b.add(
            "arr-first", f"{miss} {n_star} {m_c} | {match}")
        parts = [first, b.repeat(b.add("arr-next", after), c_lo - 1, c_lo - 1)]
        if c_hi is None:
            parts.append(star(conv.gen(items, pointer(path, "items"))))
        else:
            parts += [n_star, b.repeat(b.add("arr-next", f"{m_c} {n_star}".strip()), 0,
                                       c_hi - c_lo)]
        return b.add("arr", '"[" ' + " ".join(p for p in parts if p) + ' "]"')
    alts = [] if lo else ['""']
    later = b.add("arr-next", f"{m_c} {n_star}".strip())
    if miss is not None:
        alts.append(f"{miss} {n_star} {b.repeat(later, 0, c_hi)}")
    if c_hi:
        alts.append(f"{match} {n_star} {b.repeat(later, 0, c_hi - 1)}")
    if not alts:
        return None
    return b.add("arr", f'"[" ({" | ".join(a.strip() for a in alts)}) "]"')


def tuple_array(conv: Converter, prefix: list[Any], items: Any, lo: int, hi: int | None,
                path: str) -> str | None:
    b = conv.b
    k = len(prefix) if hi is None else min(len(prefix), hi)
    if items is False and lo > len(prefix):
        return None
    # tail after all prefix items: further items, count bounded by the remaining room
    tail = ""
    item = None
    if items is not False and (hi is None or hi > len(prefix)) and k == len(prefix):
        item = conv.attempt(lambda: conv.gen(items, pointer(path, "items")))
    if item is None and lo > len(prefix):
        return None
    if item is not None:
        more = b.add("arr-more", f'{b.comma} {item}')
        tail = b.repeat(more, max(lo - len(prefix), 0), None if hi is None else hi - len(prefix))
    expr = tail
    for i in range(k - 1, -1, -1):
        where = pointer(path, "prefixItems", i)
        el = conv.attempt(lambda: conv.gen(prefix[i], where))  # noqa: B023
        if el is None:  # element i cannot be written: the array ends before it
            if i < lo:
                return None
            expr = ""
            continue
        expr = f'{"" if i == 0 else b.comma + " "}{el} {expr}'.strip()
        if i >= lo:  # array may stop before element i
            expr = f"({expr})?"
    return b.add("tuple", f'"[" {expr} "]"')


def finite_values(conv: Converter, s: Any, path: str, depth: int = 0) -> list[Any] | None:
    """Every value ``s`` admits, when that is a short list (const, enum, boolean, null, a
    small integer range, anyOf/oneOf of those); None otherwise."""
    if depth > 4 or not isinstance(s, dict):
        return None
    s, _ = conv.res.deref(s, path)
    if not isinstance(s, dict):
        return None
    if "const" in s or "enum" in s:
        vals = [s["const"]] if "const" in s else s["enum"]
        if not isinstance(vals, list):
            return None
        return [v for v in vals if value_ok(v, {k: w for k, w in s.items()
                                                if k not in ("enum", "const")}) is not False]
    for kw in ("anyOf", "oneOf"):
        if isinstance(s.get(kw), list) and set(s) - ANNOTATIONS <= {kw}:
            out: list[Any] = []
            for br in s[kw]:
                vals = finite_values(conv, br, path, depth + 1)
                if vals is None:
                    return None
                out += vals
            if kw == "oneOf":  # a value two branches admit is not valid
                texts = [_text(v) for v in out]
                out = [v for v, x in zip(out, texts, strict=True) if texts.count(x) == 1]
            return out
    types = s.get("type")
    rest = set(s) - ANNOTATIONS - {"type"}
    if types == "boolean" and not rest:
        return [True, False]
    if types == "null" and not rest:
        return [None]
    if types == "integer" and rest <= {"minimum", "maximum"} and isinstance(
            s.get("minimum"), int) and isinstance(s.get("maximum"), int) and (
            s["maximum"] - s["minimum"] < MAX_ORDERED_VALUES):
        return list(range(s["minimum"], s["maximum"] + 1))
    return None


def _text(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def unique_array(conv: Converter, items: Any, lo: int, hi: int | None, path: str) -> str | None:
    """Arrays of distinct values when the items admit a short list of values: any order for
    a few values (one state per set of values used), in the listed order for more."""
    values = finite_values(conv, items, path) if isinstance(items, dict) else None
    if values is None or len(values) > MAX_ORDERED_VALUES:
        conv.refuse("uniqueItems", path, "uniqueItems is enforced only for items with a finite"
                    f" set of at most {MAX_ORDERED_VALUES} values (const, enum, boolean, a small"
                    " integer range): distinct free strings or numbers are beyond a grammar")
        return None
    texts = list(dict.fromkeys(conv.b.text(v) for v in values))
    n = len(texts)
    top = n if hi is None else min(hi, n)
    if lo > top:
        raise SchemaError("uniqueItems with these items cannot reach minItems",
                          keyword="minItems", path=pointer(path, "minItems"))
    if n > MAX_UNIQUE_VALUES:
        return _ordered(conv, texts, lo, top, path)
    b = conv.b
    memo: dict[int, str] = {}

    def state(used: int) -> str:
        if used in memo:
            return memo[used]
        count = bin(used).count("1")
        alts = []
        if count < top:
            sep = b.comma + " " if count else ""
            alts += [f"{sep}{literal(t)} {state(used | 1 << i)}"
                     for i, t in enumerate(texts) if not used >> i & 1]
        if count >= lo:
            alts.append('""')
        memo[used] = b.add("uniq", " | ".join(alts))
        return memo[used]

    return b.add("arr-uniq", f'"[" {state(0)} "]"')


def _ordered(conv: Converter, texts: list[str], lo: int, top: int, path: str) -> str | None:
    """Distinct values in the listed order: from value i on, each is taken or skipped;
    the count of items written is tracked up to what the separator, minItems and maxItems
    need."""
    n = len(texts)
    real_cap = top < n
    cap = top if real_cap else max(lo, 1)
    if n * (cap + 1) > MAX_ORDERED_STATES:
        conv.refuse("uniqueItems", path, "uniqueItems over this many values and items needs"
                    " too large a grammar")
        return None
    b = conv.b
    memo: dict[tuple[int, int], str | None] = {}

    def state(i: int, count: int) -> str | None:
        count = count if real_cap else min(count, cap)
        if (i, count) in memo:
            return memo[(i, count)]
        alts = []
        if i < n:
            if count < top:
                nxt = state(i + 1, count + 1)
                if nxt is not None:
                    alts.append(f'{b.comma + " " if count else ""}'
                                f"{literal(texts[i])} {nxt}")
            skip = state(i + 1, count)
            if skip is not None and skip != '""':
                alts.append(skip)
        if count >= lo:
            alts.append('""')
        res = b.add("uniq", " | ".join(dict.fromkeys(alts))) if alts else None
        memo[(i, count)] = res
        return res

    body = state(0, 0)
    return None if body is None else b.add("arr-uniq", f'"[" {body} "]"')
