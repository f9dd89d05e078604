"""A small GBNF parser and Earley recognizer: does a grammar accept a string?

Follows llama.cpp's GBNF semantics (literals, classes, groups, alternation, * + ? {m}
{m,} {m,n}, comments, ``.``) and expands repetitions the way llama.cpp does.
Used by the conformance suite (`gateway.testing`) and the grammar tests: plain Earley,
meant for checking grammars against short texts, not for speed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Term = tuple[tuple[tuple[int, int], ...], bool]  # (ranges, negated)
Sym = str | Term

_TOK = re.compile(
    r'(?P<ws>[ \t]+|#[^\n]*)|(?P<nl>\r?\n)|(?P<def>::=)|(?P<lit>"(?:\\.|[^"\\])*")'
    r"|(?P<cls>\[(?:\\.|[^\]\\])*\])|(?P<name>[a-zA-Z0-9-]+)|(?P<rep>\{\s*\d*\s*(?:,\s*\d*\s*)?\})"
    r"|(?P<op>[()|*+?.])",
    re.S,
)


def _chars(body: str) -> list[int]:
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(ord(c))
            i += 1
            continue
        e = body[i + 1]
        size = {"x": 2, "u": 4, "U": 8}.get(e)
        if size:
            h = body[i + 2 : i + 2 + size]
            if len(h) != size or not re.fullmatch(r"[0-9a-fA-F]+", h):
                raise ValueError(f"bad hex escape in {body!r}")
            out.append(int(h, 16))
            i += 2 + size
        elif e in "trn":
            out.append({"t": 9, "r": 13, "n": 10}[e])
            i += 2
        elif e in '\\"[]':
            out.append(ord(e))
            i += 2
        else:
            raise ValueError(f"unknown escape \\{e} in {body!r}")
    return out


def _class(tok: str) -> Term:
    body = tok[1:-1]
    neg = body.startswith("^")
    if neg:
        body = body[1:]
    # decode while remembering which chars were '-' separators (unescaped)
    items: list[tuple[int, bool]] = []
    i = 0
    while i < len(body):
        if body[i] == "\\":
            j = i + 2 + {"x": 2, "u": 4, "U": 8}.get(body[i + 1], 0)
            items.append((_chars(body[i:j])[0], False))
            i = j
        else:
            items.append((ord(body[i]), body[i] == "-"))
            i += 1
    ranges, k = [], 0
    while k < len(items):
        lo = items[k][0]
        if k + 2 < len(items) and items[k + 1][1]:
            ranges.append((lo, items[k + 2][0]))
            k += 3
        else:
            ranges.append((lo, lo))
            k += 1
    return tuple(ranges), neg


@dataclass
class Grammar:
    prods: list[tuple[str, tuple[Sym, ...]]] = field(default_factory=list)
    by_lhs: dict[str, list[int]] = field(default_factory=dict)
    nullable: set[str] = field(default_factory=set)
    _n: int = 0

    def add(self, lhs: str, alts: list[list[Sym]]) -> None:
        for a in alts:
            self.by_lhs.setdefault(lhs, []).append(len(self.prods))
            self.prods.append((lhs, tuple(a)))

    def fresh(self, base: str) -> str:
        self._n += 1
        return f"{base}~{self._n}"


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            m = _TOK.match(text, pos)
            if not m:
                raise ValueError(f"GBNF syntax error at {text[pos:pos + 30]!r}")
            pos = m.end()
            if m.lastgroup != "ws":
                self.toks.append((m.lastgroup or "", m.group()))
        self.i = 0
        self.g = Grammar()

    def peek(self, k: int = 0) -> tuple[str, str]:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("eof", "")

    def parse(self) -> Grammar:
        while self.peek()[0] != "eof":
            if self.peek()[0] == "nl":
                self.i += 1
                continue
            kind, name = self.peek()
            if kind != "name" or self.peek(1)[0] != "def":
                raise ValueError(f"expected rule definition at {name!r}")
            self.i += 2
            if name in self.g.by_lhs:
                raise ValueError(f"rule {name} defined twice")
            self.g.add(name, self.alternatives(name, nested=False))
        for _lhs, body in self.g.prods:
            for s in body:
                if isinstance(s, str) and s not in self.g.by_lhs:
                    raise ValueError(f"undefined rule {s}")
        return self.g

    def alternatives(self, rule: str, nested: bool) -> list[list[Sym]]:
        alts = [self.sequence(rule, nested)]
        while self.peek()[1] == "|":
            self.i += 1
            alts.append(self.sequence(rule, nested))
        return alts

    def sequence(self, rule: str, nested: bool) -> list[Sym]:
        seq: list[Sym] = []
        last: list[Sym] = []
        while True:
            kind, tok = self.peek()
            if kind == "nl":
                if not nested:
                    break
                self.i += 1
                continue
            if kind == "eof" or tok in ("|", ")"):
                break
            if kind == "name" and self.peek(1)[0] == "def":
                break
            self.i += 1
            if kind == "lit":
                last = [(((c, c),), False) for c in _chars(tok[1:-1])]
            elif kind == "cls":
                last = [_class(tok)]
            elif tok == ".":
                last = [(((0, 0x10FFFF),), False)]
            elif kind == "name":
                last = [tok]
            elif tok == "(":
                sub = self.g.fresh(rule)
                self.g.add(sub, self.alternatives(sub, nested=True))
                if self.peek()[1] != ")":
                    raise ValueError("expected )")
                self.i += 1
                last = [sub]
            elif tok in "*+?" or kind == "rep":
                if not last:
                    raise ValueError("repetition without a symbol")
                del seq[len(seq) - len(last) :]
                seq += self.repeat(rule, last, tok)
                last = []
                continue
            else:
                raise ValueError(f"unexpected {tok!r}")
            seq += last
        return seq

    def repeat(self, rule: str, item: list[Sym], tok: str) -> list[Sym]:
        if tok == "*":
            lo, hi = 0, None
        elif tok == "+":
            lo, hi = 1, None
        elif tok == "?":
            lo, hi = 0, 1
        else:
            parts = tok[1:-1].split(",")
            lo = int(parts[0] or 0)
            hi = lo if len(parts) == 1 else (int(parts[1]) if parts[1].strip() else None)
        out = item * lo
        if hi is None:
            rec = self.g.fresh(rule)
            self.g.add(rec, [item + [rec], []])
            return out + [rec]
        last: str | None = None
        for _ in range(hi - lo):
            r = self.g.fresh(rule)
            self.g.add(r, [item + ([last] if last else []), []])
            last = r
        return out + ([last] if last else [])


def parse_gbnf(text: str) -> Grammar:
    g = _Parser(text).parse()
    changed = True
    while changed:
        changed = False
        for lhs, body in g.prods:
            if lhs not in g.nullable and all(isinstance(s, str) and s in g.nullable for s in body):
                g.nullable.add(lhs)
                changed = True
    return g


def _match(t: Term, c: int) -> bool:
    ranges, neg = t
    hit = any(lo <= c <= hi for lo, hi in ranges)
    return hit != neg


def accepts(grammar: Grammar | str, text: str, start: str = "root") -> bool:
    """Earley recognition of the whole ``text`` from rule ``start``."""
    g = parse_gbnf(grammar) if isinstance(grammar, str) else grammar
    prods, by_lhs, nullable = g.prods, g.by_lhs, g.nullable
    n = len(text)
    sets: list[dict[tuple[int, int, int], None]] = [{} for _ in range(n + 1)]
    for p in by_lhs[start]:
        sets[0][(p, 0, 0)] = None
    for i in range(n + 1):
        cur = sets[i]
        agenda = list(cur)
        waiting: dict[str, list[tuple[int, int, int]]] = {}
        done: set[str] = set()
        while agenda:
            item = agenda.pop()
            p, dot, org = item
            body = prods[p][1]
            if dot == len(body):
                lhs = prods[p][0]
                if org == i:
                    done.add(lhs)
                    src = waiting.get(lhs, [])
                else:
                    src = [it for it in sets[org] if _next(prods, it) == lhs]
                for q, qd, qo in list(src):
                    new = (q, qd + 1, qo)
                    if new not in cur:
                        cur[new] = None
                        agenda.append(new)
                continue
            s = body[dot]
            if isinstance(s, str):
                waiting.setdefault(s, []).append(item)
                for q in by_lhs[s]:
                    new = (q, 0, i)
                    if new not in cur:
                        cur[new] = None
                        agenda.append(new)
                if s in nullable or s in done:
                    new = (p, dot + 1, org)
                    if new not in cur:
                        cur[new] = None
                        agenda.append(new)
            elif i < n and _match(s, ord(text[i])):
                sets[i + 1][(p, dot + 1, org)] = None
        if i < n and not sets[i + 1]:
            return False
    return any(
        prods[p][0] == start and o == 0 and d == len(prods[p][1]) for p, d, o in sets[n]
    )


def _next(prods: list[tuple[str, tuple[Sym, ...]]], item: tuple[int, int, int]) -> Sym | None:
    body = prods[item[0]][1]
    return body[item[1]] if item[1] < len(body) else None


_PROBE = [ord(c) for c in "aZ09 _-.:/@\"\\\n\té€😀\x7f"] + [0x1F, 0x00]


def _min_lengths(g: Grammar) -> dict[str, int]:
    inf = 10**9
    best = {lhs: inf for lhs in g.by_lhs}
    changed = True
    while changed:
        changed = False
        for lhs, body in g.prods:
            n = sum(best[s] if isinstance(s, str) else 1 for s in body)
            if n < best[lhs]:
                best[lhs] = n
                changed = True
    return best


def sample(grammar: Grammar | str, rng: object, start: str = "root", budget: int = 200) -> str:
    """A random string of the grammar's language (``rng`` is a random.Random)."""
    import random

    assert isinstance(rng, random.Random)
    g = parse_gbnf(grammar) if isinstance(grammar, str) else grammar
    minlen = _min_lengths(g)
    out: list[str] = []

    def cost(body: tuple[Sym, ...]) -> int:
        return sum(minlen[s] if isinstance(s, str) else 1 for s in body)

    def expand(sym: str, depth: int) -> None:
        options = [g.prods[p][1] for p in g.by_lhs[sym]]
        if len(out) > budget or depth > 60:
            options = [min(options, key=cost)]
        body = rng.choice(options)
        for s in body:
            if isinstance(s, str):
                expand(s, depth + 1)
            else:
                out.append(chr(_pick(s, rng)))

    expand(start, 0)
    return "".join(out)


def _pick(t: Term, rng: object) -> int:
    import random

    assert isinstance(rng, random.Random)
    ranges, neg = t
    if not neg:
        lo, hi = rng.choice(ranges)
        return rng.randint(lo, hi)
    choices = [c for c in _PROBE if _match(t, c)]
    return rng.choice(choices)
