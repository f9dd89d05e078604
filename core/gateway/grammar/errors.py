"""Errors and explicit bounds of the grammar converter."""

from __future__ import annotations

from dataclasses import dataclass


class SchemaError(ValueError):
    """A schema (or pattern) that cannot be turned into an exact grammar.

    ``keyword`` is the JSON Schema keyword at fault (``None`` for limits and
    malformed documents), ``path`` a JSON pointer such as ``#/properties/a/pattern``
    and ``limit`` the name of the :class:`GrammarLimits` field that was exceeded.
    """

    def __init__(
        self,
        message: str,
        *,
        keyword: str | None = None,
        path: str = "#",
        limit: str | None = None,
    ) -> None:
        self.message = message
        self.keyword = keyword
        self.path = path
        self.limit = limit
        where = f" at {path}" if path else ""
        what = f"'{keyword}'" if keyword else (f"limit {limit}" if limit else "schema")
        super().__init__(f"{what}{where}: {message}")


@dataclass(frozen=True)
class GrammarLimits:
    """Bounds on the work one schema may cost; every one is configurable."""

    max_depth: int = 32
    # counted without annotations (descriptions never reach the grammar); with them a
    # schema may be 4 times this
    max_schema_bytes: int = 256_000
    max_grammar_bytes: int = 512_000
    max_rules: int = 5000
    # a recursive $ref is unrolled at most this deep (then its optional branches are cut):
    # a small model otherwise nests forever
    max_recursion: int = 4
    # Budget bounds for what a schema leaves unbounded (set per request from max_tokens, so
    # a small model looping inside a free string or array still closes the call in time):
    # None keeps them unbounded.
    max_free_string: int | None = None
    max_free_items: int | None = None
    # JSON Schema's open objects for non-strict schemas: keys the schema does not declare
    # are allowed (a bounded number of them) unless additionalProperties is false. Off for
    # tool arguments, on for response_format (set per request by the chat path).
    open_objects: bool = False
    # uniqueItems over items with infinitely many values (free strings, numbers) cannot be
    # enforced by a grammar: refused (strict) unless this asks for arrays of at most one
    # such item instead (sound: one item is always distinct; lists are cut to one).
    unique_one: bool = False
    # One optional space after each ":" and "," of the JSON (`{"a": 1, "b": 2}`), as a model
    # writes JSON when nothing forces it otherwise. Forced compact, the model's first choice
    # is refused at every separator, which costs llama.cpp a pass over the whole vocabulary
    # each time and pushes the model off its own text. On for response_format; tool calls
    # stay compact (the dialects' envelopes and the call checks read them so).
    spaced: bool = False


class Unsatisfiable(SchemaError):
    """No value satisfies the (sub)schema: an anyOf/oneOf branch like this is dropped."""
