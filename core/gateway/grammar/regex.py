"""ECMA-262 regular expression (JSON Schema ``pattern``) → GBNF over JSON string text.

Supported: literals, escapes (\\d \\w \\s \\D \\W \\S \\t \\n \\r \\v \\f \\0 \\cX \\xHH \\uHHHH
\\u{H…}, identity escapes), classes (negated, ranges, escapes inside), ``.``, groups
``(…)`` ``(?:…)`` ``(?<n>…)``, alternation, greedy and lazy quantifiers, and ``^``/``$`` at
the very start/end of a top-level alternative. A pattern without ``^`` (``$``) may be
preceded (followed) by anything: JSON Schema patterns are "contains" matches.
Refused with SchemaError(keyword="pattern"): lookaround, backreferences, ``\\b``/``\\B``,
unicode property escapes, anchors elsewhere, an unbounded quantifier over something that
can match the empty string (llama.cpp would see left recursion).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from . import charset as cs
from .errors import SchemaError
from .gbnf import GrammarBuilder

_DIGIT = cs.of("0123456789")
_WORD = cs.normalize([(48, 57), (65, 90), (97, 122), (95, 95)])
_SPACE = cs.normalize(
    [(9, 13), (32, 32), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029),
     (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF)]
)
_DOT = cs.complement(cs.of("\n\r\u2028\u2029"))
_CLASS_ESC = {"d": _DIGIT, "w": _WORD, "s": _SPACE}
_CTRL_ESC = {"t": 9, "n": 10, "r": 13, "v": 11, "f": 12, "0": 0}


@dataclass(frozen=True)
class Chars:
    set: cs.Ranges


@dataclass(frozen=True)
class Seq:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Rep:
    item: Node
    lo: int
    hi: int | None


@dataclass(frozen=True)
class Anchor:
    start: bool


Node = Chars | Seq | Alt | Rep | Anchor


class _Parser:
    def __init__(self, src: str, path: str) -> None:
        self.s, self.i, self.path = src, 0, path

    def fail(self, msg: str) -> SchemaError:
        return SchemaError(f"{msg} in pattern {self.s!r}", keyword="pattern", path=self.path)

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def parse(self) -> Node:
        node = self.alt()
        if self.i < len(self.s):
            raise self.fail(f"unbalanced ')' at offset {self.i}")
        return node

    def alt(self) -> Node:
        branches = [self.seq()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.seq())
        return branches[0] if len(branches) == 1 else Alt(tuple(branches))

    def seq(self) -> Node:
        items: list[Node] = []
        while self.peek() not in ("", "|", ")"):
            atom = self.atom()
            items.append(self.quantified(atom))
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def quantified(self, atom: Node) -> Node:
        c = self.peek()
        bounds: tuple[int, int | None] | None = None
        if c in "*+?" and c:
            self.i += 1
            bounds = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
        elif c == "{":
            bounds = self.braces()
        if bounds is None:
            return atom
        if isinstance(atom, Anchor):
            raise self.fail("quantified anchor")
        if self.peek() == "?":  # lazy: same language
            self.i += 1
        if self.peek() and self.peek() in "*+?" or self.peek() == "{" and self.braces(True):
            raise self.fail("nothing to repeat")
        lo, hi = bounds
        return Rep(atom, lo, hi)

    def braces(self, probe: bool = False) -> tuple[int, int | None] | None:
        j = self.s.find("}", self.i)
        body = self.s[self.i + 1 : j] if j > 0 else ""
        parts = body.split(",")
        if j < 0 or len(parts) > 2 or not parts[0].isdigit() or (
            len(parts) == 2 and parts[1] and not parts[1].isdigit()
        ):
            return None  # Annex B: a '{' that is not a quantifier is a literal
        lo = int(parts[0])
        hi = lo if len(parts) == 1 else (int(parts[1]) if parts[1] else None)
        if hi is not None and hi < lo:
            raise self.fail("numbers out of order in {} quantifier")
        if not probe:
            self.i = j + 1
        return lo, hi

    def atom(self) -> Node:
        c = self.s[self.i]
        self.i += 1
        if c == "^":
            return Anchor(True)
        if c == "$":
            return Anchor(False)
        if c == ".":
            return Chars(_DOT)
        if c == "[":
            return Chars(self.klass())
        if c == "(":
            return self.group()
        if c in "*+?":
            raise self.fail("nothing to repeat")
        if c == "{" and self.braces(True) is not None:
            self.i -= 1
            raise self.fail("nothing to repeat")
        if c == "\\":
            return Chars(self.escape(in_class=False))
        return Chars(cs.of(c))

    def group(self) -> Node:
        if self.s.startswith("?", self.i):
            rest = self.s[self.i : self.i + 3]
            if rest.startswith("?:"):
                self.i += 2
            elif rest in ("?<=", "?<!") or rest[:2] in ("?=", "?!"):
                raise self.fail("lookaround assertions cannot be enforced by a grammar")
            elif rest.startswith("?<"):
                j = self.s.find(">", self.i)
                if j < 0 or not self.s[self.i + 2 : j].isidentifier():
                    raise self.fail("invalid group name")
                self.i = j + 1
            else:
                raise self.fail("invalid group")
        node = self.alt()
        if self.peek() != ")":
            raise self.fail("missing ')'")
        self.i += 1
        return node

    def klass(self) -> cs.Ranges:
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        ranges: list[tuple[int, int]] = []
        while True:
            if self.i >= len(self.s):
                raise self.fail("unterminated character class")
            if self.s[self.i] == "]":  # ECMA: "[]" is the empty class, "[^]" any character
                self.i += 1
                break
            lo = self.class_atom()
            if self.peek() == "-" and self.s[self.i + 1 : self.i + 2] not in ("]", ""):
                self.i += 1
                hi = self.class_atom()
                if len(lo) != 1 or len(hi) != 1 or lo[0][0] != lo[0][1] or hi[0][0] != hi[0][1]:
                    raise self.fail("invalid range in character class")
                if hi[0][0] < lo[0][0]:
                    raise self.fail("range out of order in character class")
                ranges.append((lo[0][0], hi[0][0]))
            else:
                ranges.extend(lo)
        s = cs.normalize(ranges)
        return cs.complement(s) if negated else s

    def class_atom(self) -> cs.Ranges:
        c = self.s[self.i]
        self.i += 1
        if c == "\\":
            if self.peek() == "b":
                self.i += 1
                return ((8, 8),)
            if self.peek() == "-":
                self.i += 1
                return cs.of("-")
            return self.escape(in_class=True)
        return cs.of(c)

    def hex(self, n: int) -> int:
        h = self.s[self.i : self.i + n]
        if len(h) != n or any(ch not in "0123456789abcdefABCDEF" for ch in h):
            raise self.fail("invalid hex escape")
        self.i += n
        return int(h, 16)

    def escape(self, *, in_class: bool) -> cs.Ranges:
        if self.i >= len(self.s):
            raise self.fail("trailing backslash")
        c = self.s[self.i]
        self.i += 1
        if c.lower() in _CLASS_ESC:
            s = _CLASS_ESC[c.lower()]
            return cs.complement(s) if c.isupper() else s
        if c in _CTRL_ESC:
            if c == "0" and self.peek().isdigit():
                raise self.fail("octal escapes are not supported")
            return ((_CTRL_ESC[c],) * 2,)
        if c in "bB":
            raise self.fail("word-boundary assertions cannot be enforced by a grammar")
        if c.isdigit() or c == "k":
            raise self.fail("backreferences cannot be enforced by a grammar")
        if c in "pP":
            raise self.fail("unicode property escapes are not supported")
        if c == "x":
            cp = self.hex(2)
        elif c == "u":
            if self.peek() == "{":
                j = self.s.find("}", self.i)
                try:
                    cp = int(self.s[self.i + 1 : j], 16)
                except ValueError:
                    raise self.fail("invalid \\u{...} escape") from None
                if j < 0 or cp > cs.MAX_CP:
                    raise self.fail("invalid \\u{...} escape")
                self.i = j + 1
            else:
                cp = self.hex(4)
        elif c == "c":
            letter = self.peek()
            if not letter.isascii() or not letter.isalpha():
                raise self.fail("invalid control escape")
            self.i += 1
            cp = ord(letter) % 32
        elif c.isalnum():
            raise self.fail(f"unknown escape \\{c}")
        else:
            cp = ord(c)
        return ((cp, cp),)


def parse(pattern: str, path: str = "#") -> Node:
    try:
        return _parse(pattern)
    except SchemaError as err:
        raise SchemaError(err.message, keyword="pattern", path=path) from None


@lru_cache(maxsize=1024)
def _parse(pattern: str) -> Node:
    return _Parser(pattern, "#").parse()


def length_bounds(node: Node) -> tuple[int, int | None]:
    """Min and max number of characters of the strings a node matches (None: unbounded)."""
    if isinstance(node, Chars):
        return 1, 1
    if isinstance(node, Anchor):
        return 0, 0
    if isinstance(node, Rep):
        lo, hi = length_bounds(node.item)
        top = None if node.hi is None or hi is None else hi * node.hi
        return lo * node.lo, (0 if node.hi == 0 or hi == 0 else top)
    bounds = [length_bounds(n) for n in node.items]
    if isinstance(node, Seq):
        his = [h for _, h in bounds]
        return sum(lo for lo, _ in bounds), None if None in his else sum(h for h in his if h)
    his = [h for _, h in bounds]
    top = None if None in his else max(h for h in his if h is not None)
    return min(lo for lo, _ in bounds), top


def _nullable(node: Node) -> bool:
    return length_bounds(node)[0] == 0


class _Emitter:
    def __init__(self, b: GrammarBuilder, path: str) -> None:
        self.b, self.path = b, path

    def chars(self, s: cs.Ranges) -> str:
        alts = cs.json_chars(s)
        if alts is None:
            return "[^\\x00-\\U0010FFFF]"  # matches nothing: empty class in the pattern
        return alts if " | " not in alts else self.b.add("re-char", alts)

    def emit(self, node: Node) -> str:
        if isinstance(node, Chars):
            return self.chars(node.set)
        if isinstance(node, Anchor):
            raise SchemaError(
                "anchors are only supported at the start or end of the pattern",
                keyword="pattern", path=self.path,
            )
        if isinstance(node, Seq):
            return " ".join(self.emit(n) for n in node.items) or '""'
        if isinstance(node, Alt):
            return "(" + " | ".join(self.emit(n) or '""' for n in node.items) + ")"
        if node.hi is None and _nullable(node.item):
            raise SchemaError(
                "an unbounded quantifier over a sub-pattern that can match the empty string",
                keyword="pattern", path=self.path,
            )
        inner = self.emit(node.item)
        item = inner if _is_element(inner) else self.b.add("re-group", inner)
        return self.b.repeat(item, node.lo, node.hi)


_ONE_CLASS = re.compile(r"\[(?:\\.|[^\]\\])*\]")


def _is_element(expr: str) -> bool:
    """One GBNF element a quantifier can follow: a single class or a rule name (a class
    followed by its own quantifier, "[0-9]+ [,]", is not one)."""
    if _ONE_CLASS.fullmatch(expr):
        return True
    return all(ch.isalnum() or ch == "-" for ch in expr)


def branches(node: Node) -> list[tuple[bool, bool, Node]]:
    """Top-level alternatives as (anchored at start, anchored at end, body)."""
    out = []
    for br in node.items if isinstance(node, Alt) else (node,):
        items = list(br.items) if isinstance(br, Seq) else [br]
        start = end = False
        while items and items[0] == Anchor(True):
            items.pop(0)
            start = True
        while items and items[-1] == Anchor(False):
            items.pop()
            end = True
        body: Node = items[0] if len(items) == 1 else Seq(tuple(items))
        out.append((start, end, body))
    return out


def with_length(body: Node, lo: int, hi: int | None) -> Node | None:
    """``body`` restricted to lengths lo..hi when that is exact and simple, else None.

    Exact when the bounds are already implied, or when the body is a sequence with one
    variable-length repeated character class whose count absorbs the bounds.
    """
    blo, bhi = length_bounds(body)
    if blo >= lo and (hi is None or (bhi is not None and bhi <= hi)):
        return body
    items = list(body.items) if isinstance(body, Seq) else [body]
    var = [i for i, n in enumerate(items) if length_bounds(n)[0] != length_bounds(n)[1]]
    if len(var) != 1:
        return None
    k = var[0]
    rep = items[k]
    if not (isinstance(rep, Rep) and isinstance(rep.item, Chars)):
        return None
    fixed = sum(length_bounds(n)[0] for i, n in enumerate(items) if i != k)
    nlo = max(rep.lo, lo - fixed)
    nhi = rep.hi if hi is None else (hi - fixed if rep.hi is None else min(rep.hi, hi - fixed))
    if nhi is not None and nhi < nlo:
        return None
    items[k] = Rep(rep.item, nlo, nhi)
    return Seq(tuple(items))


def pattern_body(
    b: GrammarBuilder, pattern: str, *, path: str = "#", min_len: int = 0,
    max_len: int | None = None,
) -> str:
    """GBNF for the *content* of a JSON string (no quotes) whose value matches ``pattern``."""
    em = _Emitter(b, path)
    anyc = b.add("re-any", cs.json_chars(cs.ANY) or "")
    alts = []
    for start, end, body in branches(parse(pattern, path)):
        if min_len or max_len is not None:
            if not (start and end):
                raise SchemaError(
                    "an unanchored pattern combined with minLength/maxLength cannot be enforced"
                    " exactly", keyword="pattern", path=path,
                )
            restricted = with_length(body, min_len, max_len)
            if restricted is None:
                raise SchemaError(
                    "this pattern combined with minLength/maxLength cannot be enforced exactly",
                    keyword="pattern", path=path,
                )
            body = restricted
        parts = ([] if start else [f"{anyc}*"]) + [em.emit(body)] + ([] if end else [f"{anyc}*"])
        alts.append(" ".join(p for p in parts if p != '""') or '""')
    return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"


def regex_to_gbnf(pattern: str, *, name: str = "root") -> str:
    """A standalone grammar: JSON string literals (with quotes) whose value matches."""
    b = GrammarBuilder()
    body = pattern_body(b, pattern)
    root = f'"\\"" {body} "\\""'
    text = b.render(root)
    if name != "root":
        text = text.replace("root ::=", f"{name} ::=", 1)
    return text
