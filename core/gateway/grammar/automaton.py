"""Strings by finite automata: what one regex alone cannot say exactly.

A JSON string that must match some patterns, match none of some others (``not: {pattern}``,
excluded values, declared keys an extra key must differ from) and have a length in
[lo, hi] is the intersection of regular languages: each pattern becomes an NFA (Thompson),
the product of all of them (and of a length counter) is determinised over one shared
partition of the code points, minimised, and written as right-linear GBNF rules, one per
state (``q ::= [chars] q' | … | ""``). Exact, and refused with the keyword and path when the
automaton would exceed MAX_STATES.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import charset as cs
from .errors import SchemaError
from .gbnf import GrammarBuilder
from .regex import Alt, Anchor, Chars, Node, Seq, branches, parse

MAX_STATES = 1500  # DFA states (GBNF rules) one string may cost
MAX_NFA = 20_000
CLAMP = 64  # beyond MAX_STATES, a maxLength above minLength + CLAMP is lowered to it


@dataclass
class _Nfa:
    eps: list[list[int]] = field(default_factory=list)
    moves: list[list[tuple[int, int]]] = field(default_factory=list)  # (charset id, target)
    accept: int = -1

    def new(self) -> int:
        self.eps.append([])
        self.moves.append([])
        if len(self.eps) > MAX_NFA:
            raise OverflowError
        return len(self.eps) - 1


class _Builder:
    """Thompson construction; charsets are interned so the alphabet is computed once."""

    def __init__(self, sets: list[cs.Ranges], path: str, keyword: str) -> None:
        self.sets, self.ids = sets, {s: i for i, s in enumerate(sets)}
        self.path, self.keyword = path, keyword

    def set_id(self, s: cs.Ranges) -> int:
        if s not in self.ids:
            self.ids[s] = len(self.sets)
            self.sets.append(s)
        return self.ids[s]

    def build(self, n: _Nfa, node: Node, start: int) -> int:
        if isinstance(node, Chars):
            end = n.new()
            n.moves[start].append((self.set_id(node.set), end))
            return end
        if isinstance(node, Anchor):
            raise SchemaError("anchors are only supported at the start or end of the pattern",
                              keyword=self.keyword, path=self.path)
        if isinstance(node, Seq):
            cur = start
            for item in node.items:
                cur = self.build(n, item, cur)
            return cur
        if isinstance(node, Alt):
            end = n.new()
            for item in node.items:
                s = n.new()
                n.eps[start].append(s)
                n.eps[self.build(n, item, s)].append(end)
            return end
        cur = start
        for _ in range(node.lo):
            cur = self.build(n, node.item, cur)
        if node.hi is None:
            loop = n.new()
            n.eps[cur].append(loop)
            n.eps[self.build(n, node.item, loop)].append(loop)
            return loop
        ends = [cur]
        for _ in range(node.hi - node.lo):
            cur = self.build(n, node.item, cur)
            ends.append(cur)
        end = n.new()
        for e in ends:
            n.eps[e].append(end)
        return end

    def pattern(self, node: Node) -> _Nfa:
        n = _Nfa()
        root, accept = n.new(), n.new()
        any_id = self.set_id(cs.ANY)
        for anchored_start, anchored_end, body in branches(node):
            b0 = n.new()
            n.eps[root].append(b0)
            if not anchored_start:  # a "contains" match: anything may come first
                n.moves[b0].append((any_id, b0))
            end = self.build(n, body, b0)
            if not anchored_end:
                tail = n.new()
                n.eps[end].append(tail)
                n.moves[tail].append((any_id, tail))
                end = tail
            n.eps[end].append(accept)
        n.accept = accept
        return n


def _classes(sets: list[cs.Ranges]) -> tuple[list[cs.Ranges], list[frozenset[int]]]:
    """The coarsest partition of the code points no charset splits: (class ranges,
    for each charset the classes it holds)."""
    points = {0, cs.MAX_CP + 1}
    for s in sets:
        for lo, hi in s:
            points.update((lo, hi + 1))
    cuts = sorted(points)
    sig: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    los = [[lo for lo, _ in s] for s in sets]
    for a, b in zip(cuts, cuts[1:], strict=False):
        key = tuple(i for i, s in enumerate(sets)
                    if (j := bisect_right(los[i], a) - 1) >= 0 and s[j][1] >= a)
        sig.setdefault(key, []).append((a, b - 1))
    classes = [cs.normalize(r) for r in sig.values()]
    members: list[set[int]] = [set() for _ in sets]
    for c, key in enumerate(sig):
        for i in key:
            members[i].add(c)
    return classes, [frozenset(m) for m in members]


def _closure(n: _Nfa, states: frozenset[int] | set[int]) -> frozenset[int]:
    out, todo = set(states), list(states)
    while todo:
        for t in n.eps[todo.pop()]:
            if t not in out:
                out.add(t)
                todo.append(t)
    return frozenset(out)


def string_body(b: GrammarBuilder, positive: Sequence[str], negative: Sequence[str],
                literals: Sequence[str], lo: int, hi: int | None, path: str,
                keyword: str = "pattern") -> str | None:
    """GBNF for the content of a JSON string matching every ``positive`` pattern, none of the
    ``negative`` ones, equal to none of ``literals``, with lo..hi characters; None when no
    string does. Refused (SchemaError) beyond MAX_STATES."""
    key = (tuple(positive), tuple(negative), tuple(literals), lo, hi)
    memo: dict[object, str | None] = b.__dict__.setdefault("_automata", {})
    if key in memo and (memo[key] is None or memo[key] in b.rules):
        return memo[key]
    try:
        memo[key] = _string_body(b, positive, negative, literals, lo, hi, path, keyword)
        return memo[key]
    except OverflowError:
        if hi is None or hi <= lo + CLAMP:
            raise SchemaError(f"the patterns and lengths need more than {MAX_STATES} automaton"
                              " states", keyword=keyword, path=path) from None
    # a long maxLength multiplies the states: strings up to lo + CLAMP only (a sound subset)
    return string_body(b, positive, negative, literals, lo, lo + CLAMP, path, keyword)


def empty(positive: Sequence[str], negative: Sequence[str], lo: int, hi: int | None
          ) -> bool | None:
    """Whether no string matches every ``positive`` pattern and none of the ``negative``
    ones with lo..hi characters (None: the patterns are refused or the automaton too big)."""
    try:
        sets: list[cs.Ranges] = []
        builder = _Builder(sets, "#", "pattern")
        pos = [builder.pattern(parse(p)) for p in positive]
        neg = [builder.pattern(parse(p)) for p in negative]
        classes, members = _classes(sets)
        edges, _ = _minimise(*_determinise(pos, neg, members, len(classes), lo, hi),
                             len(classes))
    except (OverflowError, SchemaError):
        return None
    return not edges


def _string_body(b: GrammarBuilder, positive: Sequence[str], negative: Sequence[str],
                 literals: Sequence[str], lo: int, hi: int | None, path: str,
                 keyword: str) -> str | None:
    sets: list[cs.Ranges] = []
    builder = _Builder(sets, path, keyword)
    pos = [builder.pattern(parse(p, path)) for p in positive]
    neg = [builder.pattern(parse(p, path)) for p in negative]
    neg += [_literal(builder, text) for text in literals]
    classes, members = _classes(sets)
    dfa = _determinise(pos, neg, members, len(classes), lo, hi)
    return _emit(b, _minimise(*dfa, len(classes)), classes)


def _determinise(pos: list[_Nfa], neg: list[_Nfa], members: list[frozenset[int]], k: int,
                 lo: int, hi: int | None) -> tuple[list[dict[int, int]], list[bool]]:
    """Subset construction of the product (every positive, no negative, length counter)."""
    comps = pos + neg
    npos = len(pos)
    # per component, per NFA state: [(classes, target)]
    table = [[[(members[sid], t) for sid, t in n.moves[q]] for q in range(len(n.eps))]
             for n in comps]
    cap = lo if hi is None else hi + 1
    closures: dict[tuple[int, frozenset[int]], frozenset[int]] = {}

    def close(i: int, states: frozenset[int]) -> frozenset[int]:
        key = (i, states)
        if key not in closures:
            closures[key] = _closure(comps[i], states)
        return closures[key]

    State = tuple[tuple[frozenset[int], ...], int]
    start: State = (tuple(close(i, frozenset({0})) for i in range(len(comps))), 0)
    index: dict[State, int] = {start: 0}
    order: list[State] = [start]
    edges: list[dict[int, int]] = []
    accepting: list[bool] = []
    i = 0
    while i < len(order):
        sets_now, count = order[i]
        i += 1
        accepting.append(
            count >= lo
            and all(n.accept in q for n, q in zip(pos, sets_now[:npos], strict=True))
            and not any(n.accept in q for n, q in zip(neg, sets_now[npos:], strict=True)))
        out: dict[int, int] = {}
        edges.append(out)
        if hi is not None and count + 1 > hi:
            continue
        steps: list[list[set[int]]] = []
        for ci, q in enumerate(sets_now):
            per: list[set[int]] = [set() for _ in range(k)]
            for s in q:
                for cls, t in table[ci][s]:
                    for c in cls:
                        per[c].add(t)
            steps.append(per)
        for c in range(k):
            if any(not steps[ci][c] for ci in range(npos)):
                continue  # a pattern that must match cannot any more
            key: State = (tuple(close(ci, frozenset(steps[ci][c])) for ci in range(len(comps))),
                          min(count + 1, cap))
            if key not in index:
                if len(order) >= MAX_STATES * 4:
                    raise OverflowError
                index[key] = len(order)
                order.append(key)
            out[c] = index[key]
    return edges, accepting


def _literal(builder: _Builder, text: str) -> _Nfa:
    n = _Nfa()
    cur = n.new()
    for ch in text:
        cur = builder.build(n, Chars(cs.of(ch)), cur)
    n.accept = cur
    return n


def _minimise(edges: list[dict[int, int]], accepting: list[bool], k: int
              ) -> tuple[list[dict[int, int]], list[bool]]:
    """Live states only, then Moore's partition refinement; state 0 stays the start."""
    n = len(edges)
    back: list[list[int]] = [[] for _ in range(n)]
    for q, out in enumerate(edges):
        for t in out.values():
            back[t].append(q)
    live = {q for q in range(n) if accepting[q]}
    todo = list(live)
    while todo:
        for p in back[todo.pop()]:
            if p not in live:
                live.add(p)
                todo.append(p)
    if 0 not in live:
        return [], []
    block = {q: int(accepting[q]) for q in live}
    while True:
        sig = {q: (block[q], tuple((c, block.get(edges[q].get(c, -1), -1)) for c in range(k)
                                   if edges[q].get(c, -1) in live)) for q in live}
        ids: dict[tuple[object, ...], int] = {}
        new = {q: ids.setdefault(sig[q], len(ids)) for q in sorted(live)}
        if len(ids) == len(set(block.values())):
            block = new
            break
        block = new
    # renumber so the start is 0
    first = block[0]
    renum = {first: 0}
    for q in sorted(live):
        renum.setdefault(block[q], len(renum))
    m = len(renum)
    if m > MAX_STATES:
        raise OverflowError
    out_edges: list[dict[int, int]] = [{} for _ in range(m)]
    acc = [False] * m
    for q in live:
        s = renum[block[q]]
        acc[s] = accepting[q]
        for c, t in edges[q].items():
            if t in live:
                out_edges[s][c] = renum[block[t]]
    return out_edges, acc


def _emit(b: GrammarBuilder, dfa: tuple[list[dict[int, int]], list[bool]],
          classes: list[cs.Ranges]) -> str | None:
    edges, acc = dfa
    if not edges:
        return None
    names = [b.reserve("re-state") for _ in edges]
    free = b.limits.max_free_string
    for q, out in enumerate(edges):
        if acc[q] and len(out) == len(classes) and set(out.values()) == {q}:
            # every continuation is fine: a free tail (bounded by the request's budget)
            anyc = b.add("re-any", cs.json_chars(cs.ANY) or "")
            b.define(names[q], f"{anyc}*" if free is None else b.repeat(anyc, 0, free))
            continue
        by_target: dict[int, list[tuple[int, int]]] = {}
        for c, t in out.items():
            by_target.setdefault(t, []).extend(classes[c])
        alts = []
        for t, ranges in sorted(by_target.items()):
            chars = cs.json_chars(cs.normalize(ranges))
            if chars is not None:
                alts.append(f"({chars}) {names[t]}" if " | " in chars else f"{chars} {names[t]}")
        if acc[q]:
            alts.append('""')
        b.define(names[q], " | ".join(alts) if alts else '""')
    return names[0]


