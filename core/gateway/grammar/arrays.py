"""Arrays: items, prefixItems (and draft-7 tuple items/additionalItems), counts, and
uniqueItems when the items are a small finite set of values."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import SchemaError
from .gbnf import literal
from .resolve import Schema, pointer
from .values import value_ok

if TYPE_CHECKING:
    from .schema import Converter

MAX_UNIQUE_VALUES = 8


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
    if s.get("uniqueItems") is True and (hi is None or hi > 1):
        if prefix:
            conv.refuse("uniqueItems", path, "uniqueItems with prefixItems cannot be enforced")
        else:
            unique = unique_array(conv, items, lo, hi, path)
            if unique is not None or conv.strict:
                return unique
    if prefix:
        return tuple_array(conv, prefix, items, lo, hi, path)
    item = None if items is False else conv.attempt(
        lambda: conv.gen(items, pointer(path, "items")))
    if item is None:  # no item can be written: only the empty array
        return b.add("arr-empty", '"[" "]"') if lo == 0 else None
    if hi == 0:
        return b.add("arr-empty", '"[" "]"')
    more = b.add("arr-more", f'"," {item}')
    rest = b.repeat(more, max(lo - 1, 0), None if hi is None else hi - 1)
    inner = f"{item} {rest}"
    return b.add("arr", f'"[" {inner} "]"' if lo else f'"[" ({inner})? "]"')


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
        more = b.add("arr-more", f'"," {item}')
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
        expr = f'{"" if i == 0 else chr(34) + "," + chr(34) + " "}{el} {expr}'.strip()
        if i >= lo:  # array may stop before element i
            expr = f"({expr})?"
    return b.add("tuple", f'"[" {expr} "]"')


def unique_array(conv: Converter, items: Any, lo: int, hi: int | None, path: str) -> str | None:
    """Arrays of distinct values when items is a small enum/const/boolean: one state per
    set of values used so far (so no value repeats)."""
    b = conv.b
    target, _ = conv.res.deref(items, path) if isinstance(items, dict) else (items, path)
    values: list[Any] | None = None
    if isinstance(target, dict):
        if "const" in target:
            values = [target["const"]]
        elif isinstance(target.get("enum"), list):
            values = [v for v in target["enum"] if value_ok(v, target) is not False]
        elif target.get("type") == "boolean":
            values = [True, False]
    if values is None or len(values) > MAX_UNIQUE_VALUES:
        conv.refuse("uniqueItems", path, "uniqueItems is enforced only for items that are a"
                    f" const, boolean or enum of at most {MAX_UNIQUE_VALUES} values")
        return None
    texts = list(dict.fromkeys(json.dumps(v, separators=(",", ":"), ensure_ascii=False)
                               for v in values))
    n = len(texts)
    top = n if hi is None else min(hi, n)
    if lo > top:
        raise SchemaError("uniqueItems with these items cannot reach minItems",
                          keyword="minItems", path=pointer(path, "minItems"))
    memo: dict[int, str] = {}

    def state(used: int) -> str:
        if used in memo:
            return memo[used]
        count = bin(used).count("1")
        alts = []
        if count < top:
            sep = '"," ' if count else ""
            alts += [f"{sep}{literal(t)} {state(used | 1 << i)}"
                     for i, t in enumerate(texts) if not used >> i & 1]
        if count >= lo:
            alts.append('""')
        memo[used] = b.add("uniq", " | ".join(alts))
        return memo[used]

    return b.add("arr-uniq", f'"[" {state(0)} "]"')
