"""Shared GBNF rules: JSON scalars and the depth-bounded "any JSON value"."""

from __future__ import annotations

from .gbnf import GrammarBuilder
from .numbers import INTEGER, NUMBER

ANY_DEPTH = 6  # containers nest at most this deep inside an unconstrained value
ANY_ITEMS = 8  # and hold at most this many members/items (a small model loops otherwise)
ANY_STRING = 64  # strings inside an unconstrained value: at most this many characters

# One decoded character as JSON text; \u escapes exclude surrogates so that every escape
# is exactly one character for minLength/maxLength.
CHAR = (
    '[^"\\\\\\x00-\\x1F] | "\\\\" (["\\\\/bfnrt] | "u" ([0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3}'
    ' | [dD] [0-7] [0-9a-fA-F]{2}))'
)


def char(b: GrammarBuilder) -> str:
    return b.fixed("char", CHAR)


def string(b: GrammarBuilder) -> str:
    char(b)
    return b.fixed("string", '"\\"" char* "\\""')


def number(b: GrammarBuilder) -> str:
    return b.fixed("number", NUMBER)


def integer(b: GrammarBuilder) -> str:
    return b.fixed("integer", INTEGER)


def boolean(b: GrammarBuilder) -> str:
    return b.fixed("boolean", '"true" | "false"')


def null(b: GrammarBuilder) -> str:
    return b.fixed("null", '"null"')


def any_value(b: GrammarBuilder, depth: int | None = None) -> str:
    """``value`` (or ``value-<d>``): any compact JSON value with containers nested <= depth
    (default ANY_DEPTH). Under a token budget (``limits.max_free_items``/``max_free_string``)
    containers hold fewer members, strings fewer characters and nesting is shallower, so a
    model looping inside a free value still closes it in time."""
    items, chars, top = _any_bounds(b)
    depth = top if depth is None else min(depth, top)
    name = "value" if depth == top else f"value-{depth}"
    if name in b.rules:
        return name
    short = b.fixed("short-string", f'"\\"" {char(b)}{{0,{chars}}} "\\""')
    scalar = b.fixed("scalar", f"{short} | {number(b)} | {boolean(b)} | {null(b)}")
    if depth == 0:
        return b.fixed(name, '"{}" | "[]" | ' + scalar)
    inner = any_value(b, depth - 1)
    more = f"{{0,{items - 1}}}"
    member = f'{short} {b.colon} {inner}'
    obj = b.fixed(f"object-{depth}", f'"{{" ({member} ({b.comma} {member}){more})? "}}"')
    arr = b.fixed(f"array-{depth}", f'"[" ({inner} ({b.comma} {inner}){more})? "]"')
    return b.fixed(name, f"{obj} | {arr} | {scalar}")


def _any_bounds(b: GrammarBuilder) -> tuple[int, int, int]:
    """(members per container, characters per string, depth) of an unconstrained value."""
    items, chars, depth = ANY_ITEMS, ANY_STRING, ANY_DEPTH
    if b.limits.max_free_items is not None:
        items = max(1, min(items, b.limits.max_free_items))
        depth = max(1, min(depth, b.limits.max_free_items // 2))
    if b.limits.max_free_string is not None:
        chars = max(1, min(chars, b.limits.max_free_string))
    return items, chars, depth


def any_object(b: GrammarBuilder) -> str:
    any_value(b)
    return f"object-{_any_bounds(b)[2]}"
