"""GBNF text helpers: escaping, a rule collector with dedup, bounded repetition, renaming.

llama.cpp's GBNF: rule names are ``[a-zA-Z0-9-]+``; literals and classes accept only the
escapes ``\\x \\u \\U \\t \\r \\n \\\\ \\" \\[ \\]``, so every other special character is
written as ``\\xHH`` (``\\-`` or ``\\^`` would be parse errors there).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from .errors import GrammarLimits, SchemaError

# llama.cpp expands x{m,n} into m copies plus n-m rules and rejects counts above ~2000.
REP_CAP = 1000
_BLOCK = 100

# names of the start rule and the shared rules (fixed()), whose bodies refer to each other
# by these names: no other rule may take one
_WELL_KNOWN = re.compile(r"root|char|string|number|integer|boolean|null|short-string|scalar"
                         r"|key-char|key-char-raw|(value|object|array)(-[0-9]+)?")
_SAFE = re.compile(r"[A-Za-z0-9 !#$%&'()*+,./:;<=>?@_`{|}~-]")
_NAME_BAD = re.compile(r"[^a-zA-Z0-9-]+")


def _esc(cp: int, *, in_class: bool) -> str:
    ch = chr(cp)
    if cp < 0x80 and _SAFE.fullmatch(ch) and not (in_class and ch in "-^"):
        return ch
    if ch == '"' and not in_class:
        return '\\"'
    if ch == "\\":
        return "\\\\"
    if cp < 0x100:
        return f"\\x{cp:02X}"
    if cp < 0x10000:
        return f"\\u{cp:04X}"
    return f"\\U{cp:08X}"


_ALL_SAFE = re.compile(r"[A-Za-z0-9 !#$%&'()*+,./:;<=>?@_`{|}~^-]*")


@lru_cache(maxsize=4096)
def literal(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly."""
    if _ALL_SAFE.fullmatch(text):
        return f'"{text}"'
    return '"' + "".join(_esc(ord(c), in_class=False) for c in text) + '"'


def char_class(ranges: Iterable[tuple[int, int]], *, negated: bool = False) -> str:
    """A GBNF character class from inclusive code-point ranges."""
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(_esc(lo, in_class=True))
        elif hi == lo + 1:
            parts.append(_esc(lo, in_class=True) + _esc(hi, in_class=True))
        else:
            parts.append(_esc(lo, in_class=True) + "-" + _esc(hi, in_class=True))
    return "[" + ("^" if negated else "") + "".join(parts) + "]"


def rule_name(hint: str) -> str:
    name = _NAME_BAD.sub("-", hint).strip("-")[:40].strip("-")
    return name or "r"


class GrammarBuilder:
    """Collects named rules; identical bodies share one rule."""

    def __init__(self, limits: GrammarLimits | None = None) -> None:
        self.rules: dict[str, str] = {}
        self._by_body: dict[str, str] = {}
        self.limits = limits or GrammarLimits()
        self._max_rules = self.limits.max_rules
        self._size = 0
        self._max_bytes = (limits or GrammarLimits()).max_grammar_bytes
        # JSON's separators, and what may follow a key literal that ends with its colon
        # (limits.spaced: one optional space after each, as models write JSON unforced)
        spaced = ' " "?' if self.limits.spaced else ""
        self.comma, self.colon, self.space = f'","{spaced}', f'":"{spaced}', spaced

    def text(self, value: Any) -> str:
        """A JSON value (a const, an enum value) as this grammar writes it."""
        seps = (", ", ": ") if self.limits.spaced else (",", ":")
        return json.dumps(value, separators=seps, ensure_ascii=False)

    def _fresh(self, hint: str) -> str:
        base = rule_name(hint)
        if _WELL_KNOWN.fullmatch(base) or base.startswith("fmt-"):
            base = "s-" + base  # a schema's definition called "string" is not the primitive
        name, n = base, 1
        while name in self.rules:
            n += 1
            name = f"{base}-{n}"
        if len(self.rules) >= self._max_rules:
            raise SchemaError(
                f"grammar needs more than {self._max_rules} rules", limit="max_rules"
            )
        self.rules[name] = ""
        return name

    def reserve(self, hint: str) -> str:
        """A fresh name whose body is given later (for recursive references)."""
        return self._fresh(hint)

    def define(self, name: str, body: str) -> None:
        self.rules[name] = body
        self._size += len(name) + len(body) + 6
        if self._size > self._max_bytes:
            raise SchemaError(
                f"grammar exceeds {self._max_bytes} bytes", limit="max_grammar_bytes"
            )

    def add(self, hint: str, body: str) -> str:
        """Name for ``body``: an existing rule with the same body, else a new one."""
        found = self._by_body.get(body)
        if found is not None:
            return found
        name = self._fresh(hint)
        self.define(name, body)
        self._by_body[body] = name
        return name

    def fixed(self, name: str, body: str) -> str:
        """Define a rule under an exact, well-known name (shared primitives)."""
        if name not in self.rules:
            self.rules[name] = ""
            self.define(name, body)
            self._by_body.setdefault(body, name)
        return name

    def checkpoint(self) -> int:
        return len(self.rules)

    def rollback(self, mark: int) -> None:
        """Forget the rules added since ``mark`` (an attempt that turned out unsatisfiable)."""
        for name in list(self.rules)[mark:]:
            body = self.rules.pop(name)
            if self._by_body.get(body) == name:
                del self._by_body[body]

    def render(self, root_body: str) -> str:
        lines = [f"root ::= {root_body}"]
        lines += [f"{n} ::= {b}" for n, b in self.rules.items() if n != "root"]
        text = "\n".join(lines) + "\n"
        if len(text.encode()) > self._max_bytes:
            raise SchemaError(
                f"grammar exceeds {self._max_bytes} bytes", limit="max_grammar_bytes"
            )
        return text

    # -- repetition ---------------------------------------------------------------------
    def repeat(self, item: str, lo: int, hi: int | None) -> str:
        """``item`` repeated lo..hi times (hi None: unbounded); ``item`` is one element.

        Counts above REP_CAP are composed from blocks so llama.cpp's expansion stays small;
        the decomposition is exact and unambiguous.
        """
        if hi is not None and hi < lo:
            raise SchemaError("empty repetition range", keyword=None)
        if hi == 0:
            return '""'
        if lo > REP_CAP:
            q, r = divmod(lo, _BLOCK)
            blk = self.add("blk", f"{item}{{{_BLOCK}}}")
            head = self.repeat(blk, q, q)
            rest = self.repeat(item, r, None if hi is None else hi - q * _BLOCK)
            return f"{head} {rest}"
        if hi is None:
            return {0: f"{item}*", 1: f"{item}+"}.get(lo, f"{item}{{{lo},}}")
        if hi <= REP_CAP:
            if lo == hi:
                return item if lo == 1 else f"{item}{{{lo}}}"
            if (lo, hi) == (0, 1):
                return f"{item}?"
            return f"{item}{{{lo},{hi}}}"
        # lo <= REP_CAP < hi: item{lo} item{0,hi-lo}
        head = "" if lo == 0 else self.repeat(item, lo, lo) + " "
        q, r = divmod(hi - lo, _BLOCK)
        blk = self.add("blk", f"{item}{{{_BLOCK}}}")
        low = f"{self.repeat(blk, 0, q - 1)} {item}{{0,{_BLOCK - 1}}}"
        top = f"{self.repeat(blk, q, q)} {self.repeat(item, 0, r) if r else ''}".strip()
        return f"{head}({low} | {top})"


_TOKEN = re.compile(
    r'"(?:\\.|[^"\\])*"'  # literal
    r"|\[(?:\\.|[^\]\\])*\]"  # char class
    r"|#[^\n]*"  # comment
    r"|<\[[0-9]+\]>|<[^>\s]+>"  # token references (newer llama.cpp)
    r"|[a-zA-Z0-9-]+"  # identifier (or repetition count digits inside {})
    r"|\{[0-9, ]*\}"  # repetition counts
    r"|\s+|.",
    re.S,
)


def rename_rules(grammar_text: str, prefix: str) -> tuple[str, str]:
    """Prefix every rule name of a standalone grammar (definitions and references).

    Returns the renamed rules and the new name of its ``root`` rule, so several grammars
    can be embedded in one bigger grammar without name clashes.
    """
    if not re.fullmatch(r"[a-zA-Z0-9-]*", prefix):
        raise ValueError(f"invalid GBNF rule-name prefix {prefix!r}")
    out: list[str] = []
    for tok in _TOKEN.findall(grammar_text):
        c = tok[0]
        if c.isalnum() or c == "-":
            out.append(prefix + tok)
        elif c == "#":
            continue
        else:
            out.append(tok)
    return "".join(out), prefix + "root"
