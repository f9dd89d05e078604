"""Scalars: integers and numbers with exact bounds, strings with lengths, patterns, formats."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from . import primitives as prim
from .automaton import string_body
from .errors import SchemaError
from .formats import FORMAT_REGEX, INT_FORMATS, NUMBER_FORMATS, STANDARD, format_body
from .gbnf import literal, rule_name
from .multiples import listed, remainder_automaton, unsigned
from .numbers import decimal_range, int_range
from .regex import pattern_body
from .resolve import NOT_PATTERNS, PATTERNS, Schema, pointer

if TYPE_CHECKING:
    from .schema import Converter


def bounds(s: Schema) -> tuple[Decimal | None, bool, Decimal | None, bool]:
    lo, lx, hi, hx = None, False, None, False
    if isinstance(s.get("minimum"), int | float):
        lo = Decimal(str(s["minimum"]))
        lx = s.get("exclusiveMinimum") is True
    if isinstance(s.get("maximum"), int | float):
        hi = Decimal(str(s["maximum"]))
        hx = s.get("exclusiveMaximum") is True
    em, eM = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
    if isinstance(em, int | float) and not isinstance(em, bool) and (
            lo is None or Decimal(str(em)) >= lo):
        lo, lx = Decimal(str(em)), True
    if isinstance(eM, int | float) and not isinstance(eM, bool) and (
            hi is None or Decimal(str(eM)) <= hi):
        hi, hx = Decimal(str(eM)), True
    return lo, lx, hi, hx

def integer(conv: Converter, s: Schema, path: str) -> str | None:
    lo, lx, hi, hx = bounds(s)
    # an integer above a (possibly fractional, possibly exclusive) bound: exact via floor/ceil
    ilo = None if lo is None else int(lo.to_integral_value(ROUND_FLOOR)) + 1 if (
        lx or lo != lo.to_integral_value()) else int(lo)
    ihi = None if hi is None else int(hi.to_integral_value(ROUND_CEILING)) - 1 if (
        hx or hi != hi.to_integral_value()) else int(hi)
    fmt = s.get("format")
    if fmt in INT_FORMATS:
        flo, fhi = INT_FORMATS[fmt]
        ilo = flo if ilo is None else max(flo, ilo)
        ihi = fhi if ihi is None else min(fhi, ihi)
    if s.get("multipleOf") is not None:
        dec = [None if x is None else Decimal(x) for x in (ilo, ihi)]
        made = multiple(conv, s, path, dec[0], False, dec[1], False, True)
        if made != "":
            return made
    body = int_range(ilo, ihi)
    if body is None:
        return None
    return prim.integer(conv.b) if ilo is None and ihi is None else conv.b.add("int", body)


def multiple(conv: Converter, s: Schema, path: str, lo: Decimal | None, lx: bool,
             hi: Decimal | None, hx: bool, integer: bool) -> str | None:
    """The multiples of s["multipleOf"] in the range (multiples.py); "" when that cannot
    be exact here (refused under strict; the caller drops multipleOf)."""
    m = s["multipleOf"]
    if isinstance(m, bool) or not isinstance(m, int | float) or m <= 0:
        raise SchemaError("multipleOf must be a number above 0", keyword="multipleOf",
                          path=pointer(path, "multipleOf"))
    md = Decimal(str(m))
    if md == 1 and integer:
        return ""
    if lo is not None and hi is not None:
        texts = listed(md, lo, lx, hi, hx, integer)
        if texts is not None:
            return conv.alternatives([literal(t) for t in texts], "mult") if texts else None
    if hi is None and (lo is None or lo == 0):
        alts = unsigned(md, integer, nonzero=lo is not None and lx)
        body = None if alts is None else conv.b.add("mult-abs", " | ".join(alts))
        if body is None and not (lo is not None and lx):
            body = remainder_automaton(conv.b, md, integer)
        if body is not None:
            return body if lo is not None else conv.b.add("mult", f'"-"? {body}')
    conv.refuse("multipleOf", path, f"the multiples of {m} are enforced in a range holding"
                " at most 256 of them, or without bounds or from 0 up when multipleOf is a"
                " power of ten times a small integer (0.01, 0.25, 0.3, 7, …; above 0 only for"
                " products of 2s and 5s)")
    return ""

def number(conv: Converter, s: Schema, path: str) -> str | None:
    m = s.get("multipleOf")
    if isinstance(m, int) and not isinstance(m, bool) or isinstance(m, float) and m.is_integer():
        return integer(conv, s, path)
    fmt = s.get("format")
    if fmt in STANDARD and fmt not in NUMBER_FORMATS and fmt not in INT_FORMATS:
        conv.refuse("format", path, f"unknown numeric format {fmt!r}")
    lo, lx, hi, hx = bounds(s)
    if m is not None:
        made = multiple(conv, s, path, lo, lx, hi, hx, False)
        if made != "":
            return made
    if lo is None and hi is None:
        return prim.number(conv.b)
    body = decimal_range(lo, lx, hi, hx)
    return None if body is None else conv.b.add("num", body)

def string(conv: Converter, s: Schema, path: str, literals: tuple[str, ...] = ()) -> str | None:
    """Strings of ``s``; ``literals``: values it must not be (from ``not``)."""
    lo = int(s.get("minLength", 0))
    hi = s.get("maxLength")
    hi = None if hi is None else int(hi)
    if hi is not None and hi < lo:
        return None
    fmt, pattern = s.get("format"), s.get("pattern")
    q = '"\\""'
    if isinstance(fmt, str) and fmt not in STANDARD:
        fmt = None  # a custom format is an annotation for JSON Schema validators
    also, negative = list(s.get(PATTERNS) or []), list(s.get(NOT_PATTERNS) or [])
    if isinstance(fmt, str) and fmt in FORMAT_REGEX and (
            pattern is not None or also or negative or literals):
        # the format as one more pattern: the automaton intersects them exactly
        also, fmt = also + [FORMAT_REGEX[fmt]], None
    if fmt is not None:
        spec = format_body(conv.b, fmt) if isinstance(fmt, str) else None
        if spec is None:
            conv.refuse("format", path, f"format {fmt!r} is not supported")
        elif spec[0]:
            body, flo, fhi = spec
            if pattern is not None or also:
                conv.refuse("pattern", path, "pattern together with format cannot be"
                            " enforced exactly")
            if negative or literals:
                conv.refuse("not", path, "'not' together with format cannot be enforced"
                            " exactly")
            if flo < lo or hi is not None and (fhi is None or fhi > hi):
                conv.refuse("maxLength" if hi is not None else "minLength", path,
                            f"length bounds together with format {fmt!r} cannot be"
                            " enforced exactly")
            return conv.b.add(f"str-{rule_name(fmt)}", f"{q} {body} {q}")
    positive = ([] if pattern is None else [pattern]) + also
    if not all(isinstance(p, str) for p in positive + negative):
        raise SchemaError("pattern must be a string", keyword="pattern",
                          path=pointer(path, "pattern"))
    if positive or negative or literals:
        content = _patterned(conv, positive, negative, literals, lo, hi, path)
        return None if content is None else conv.b.add("str-re", f"{q} {content} {q}")
    free = conv.b.limits.max_free_string
    if free is not None and (hi is None or hi > free):
        # the budget bounds a free string, and a declared maxLength beyond it too (no
        # answer within the budget writes more; a sound subset, and one short repetition
        # where a long maxLength would need blocks that llama.cpp reads two ways at once)
        hi = max(lo, free)
    if lo == 0 and hi is None:
        return prim.string(conv.b)
    return conv.b.add("str", f"{q} {conv.b.repeat(prim.char(conv.b), lo, hi)} {q}")


def _patterned(conv: Converter, positive: list[str], negative: list[str],
               literals: tuple[str, ...], lo: int, hi: int | None, path: str) -> str | None:
    """String content for patterns (and lengths, excluded patterns and values): one
    pattern's own grammar when that is exact, else the product automaton."""
    where = pointer(path, "pattern") if positive else pointer(path, "not")
    if len(positive) == 1 and not negative and not literals:
        try:
            return pattern_body(conv.b, positive[0], path=where, min_len=lo, max_len=hi)
        except SchemaError:
            if lo == 0 and hi is None:
                raise  # the pattern itself is refused (lookaround, …)
    try:
        return string_body(conv.b, positive, negative, literals, lo, hi, where,
                           "pattern" if positive else "not")
    except SchemaError:
        if conv.strict or (lo == 0 and hi is None and not literals):
            raise
    # non-strict: lengths and excluded values dropped, then excluded patterns, then all
    # patterns but the first (what is left is still enforced exactly)
    try:
        return string_body(conv.b, positive, negative, (), 0, None, where)
    except SchemaError:
        if not positive:
            return cs_any(conv)
        return pattern_body(conv.b, positive[0], path=where)


def cs_any(conv: Converter) -> str:
    """The content of any JSON string."""
    return f"{prim.char(conv.b)}*"
