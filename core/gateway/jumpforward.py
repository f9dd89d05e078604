"""Jump-forward over text a grammar forces.

Where a grammar leaves one character possible, the model is asked to generate it anyway: a
full decoding step per token, and when the model would rather write something else (a model
that does not know the dialect's syntax), llama.cpp rejects its pick and samples again over
the whole vocabulary with the grammar applied. The text every answer must begin with (a
required call's `{"tool_calls":[{"name":"`, a single tool's name, its first argument's key) is
known before generating: it is appended to the prompt instead, evaluated in one batch with
the prompt, and the grammar is replaced by what remains of it after that text. The answer
is given back with the text in front, so everything above sees what the model would have
written; its token count moves from the prompt's count to the answer's.

The forced text is cut back to a point where a tokenizer would split anyway (between a word
and punctuation, never after a space: BPE pre-tokenizers attach a space to what follows),
so the prompt's last tokens are the ones the model would have generated.

Not applied where the tokens of the answer matter one by one (n_probs) or the grammar is
lazy (nothing is forced before its trigger).
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections import OrderedDict
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from gateway.backend.batches import Batches, event_batches, flattened
from gateway.backend.client import BackendError
from gateway.gbnf_recognizer import Grammar, Sym, Term, parse_gbnf

log = logging.getLogger("gateway.jumpforward")

MAX_FORCED = 512  # characters of forced text looked for at most
MAX_STACKS = 512  # grammar states followed at once (one per tool where names begin)
MAX_DEPTH = 200  # rule references expanded to reach a character (left recursion guard)
MAX_GRAMMAR = 256 * 1024  # bytes of grammar analysed at most
CACHE_SIZE = 512  # grammars whose forced text is remembered
MIN_FORCED = 2  # characters worth a jump
INLINE_ANALYSIS = 2048  # grammar bytes analysed on the event loop; larger: in a thread

Stack = tuple[tuple[int, int], ...]  # (production, position) frames, the innermost last


@dataclass(frozen=True)
class Jump:
    """What a grammar forces: `text` goes into the prompt, `grammar` is the rest."""

    text: str
    grammar: str


class _Expansion(Exception):
    """The grammar branches too much or recurses on the left: no jump."""


def advance(g: Grammar, stack: Stack, out: set[Stack], depth: int = 0) -> None:
    """`stack` with rule references at its top expanded until a character (or the end)."""
    if depth > MAX_DEPTH or len(out) > MAX_STACKS:
        raise _Expansion()
    if not stack:
        out.add(stack)
        return
    p, d = stack[-1]
    body = g.prods[p][1]
    sym = body[d]
    if not isinstance(sym, str):
        out.add(stack)
        return
    rest = stack[:-1] + (((p, d + 1),) if d + 1 < len(body) else ())
    for q in g.by_lhs.get(sym, ()):
        if g.prods[q][1]:
            advance(g, rest + ((q, 0),), out, depth + 1)
        else:
            advance(g, rest, out, depth + 1)


def _single(term: Term) -> int | None:
    ranges, neg = term
    if neg or len(ranges) != 1 or ranges[0][0] != ranges[0][1]:
        return None
    return ranges[0][0]


def _kind(ch: str) -> str:
    if ch.isspace():
        return "space"
    cat = unicodedata.category(ch)
    return "word" if cat[0] in "LNM" else "punct"


def _special_spans(text: str, specials: Any) -> list[tuple[int, int]]:
    """Where special tokens' texts are in `text`, one begun at its end included (its span
    then runs past the end)."""
    spans = []
    for t in specials if isinstance(specials, list | tuple) else ():
        if not isinstance(t, str) or not t:
            continue
        at = text.find(t)
        while at >= 0:
            spans.append((at, at + len(t)))
            at = text.find(t, at + 1)
        for k in range(min(len(t) - 1, len(text)), 0, -1):
            if text.endswith(t[:k]):
                spans.append((len(text) - k, len(text) - k + len(t)))
                break
    return spans


def token_safe_cut(text: str, specials: Any = ()) -> int:
    """The longest prefix of `text` ending where a tokenizer splits whatever follows: after a
    word character followed by punctuation, or after two or more punctuation marks followed
    by a word, never before a space (a space belongs to the word or punctuation after it);
    around a special token's text (`specials`), never inside it. 0 when there is none."""
    spans = _special_spans(text, specials)
    for i in range(len(text), 0, -1):
        if any(s < i < e for s, e in spans):
            continue
        if any(i in (s, e) for s, e in spans):
            return i
        if i == len(text):
            continue  # what follows is not known
        a, b = text[i - 1], text[i]
        if a.isspace() or _kind(a) == _kind(b):
            continue
        if _kind(b) == "word" and (i < 2 or _kind(text[i - 2]) == "word"):
            # one punctuation mark before a word: tokenizers of the Llama 3 / Qwen kind
            # split `x"name`, `get_weather` as `x` `"name`, `get` `_weather` (a lone mark
            # goes with the word after it): cutting after the mark would give the prompt a
            # token the model never writes there
            continue
        return i
    return 0


def _forced(g: Grammar) -> tuple[str, list[set[Stack]]]:
    """The characters every sentence of `g` begins with, and the states after each."""
    states: set[Stack] = set()
    for q in g.by_lhs.get("root", ()):
        advance(g, ((q, 0),) if g.prods[q][1] else (), states)
    text: list[str] = []
    history = [states]
    while len(text) < MAX_FORCED and states and () not in states:
        chars = set()
        for st in states:
            p, d = st[-1]
            sym = g.prods[p][1][d]
            assert not isinstance(sym, str)
            chars.add(_single(sym))
        if len(chars) != 1 or None in chars:
            break
        c = chars.pop()
        assert c is not None
        nxt: set[Stack] = set()
        try:
            for st in states:
                p, d = st[-1]
                body = g.prods[p][1]
                advance(g, st[:-1] + (((p, d + 1),) if d + 1 < len(body) else ()), nxt)
        except _Expansion:  # branches too much from here (many tools): forced up to here
            break
        text.append(chr(c))
        states = nxt
        history.append(states)
    return "".join(text), history


def _escape(cp: int) -> str:
    if 0x20 < cp < 0x7F and chr(cp) not in '\\]["^-':
        return chr(cp)
    if cp < 0x100:
        return f"\\x{cp:02X}"
    if cp < 0x10000:
        return f"\\u{cp:04X}"
    return f"\\U{cp:08X}"


def _term(term: Term) -> str:
    ranges, neg = term
    inner = "".join(_escape(lo) if lo == hi else f"{_escape(lo)}-{_escape(hi)}"
                    for lo, hi in ranges)
    return f"[{'^' if neg else ''}{inner}]"


_ROOT_RULE = re.compile(r"(?m)^([ \t]*)root([ \t]*::=)")


def _rest_grammar(g: Grammar, text: str, states: set[Stack]) -> str | None:
    """GBNF for what `g` allows after the states `states`: the grammar's own rules (its root
    renamed), one new rule per rest of a production in progress, and a root over the
    states. Rules the parser made up (groups, repetitions) are written out when a state
    refers to them."""
    if any("root" in body for _, body in g.prods) or any(
            lhs.startswith("jf-") for lhs in g.by_lhs):
        return None
    renamed, count = _ROOT_RULE.subn(r"\1jf-root-old\2", text)
    if count != 1:
        return None
    names: dict[str, str] = {}
    rules: list[str] = []

    def name(sym: str) -> str:
        if "~" not in sym:
            return sym
        if sym not in names:
            names[sym] = f"jf-r{len(names)}"
            alts = [seq(g.prods[q][1]) for q in g.by_lhs[sym]]
            rules.append(f"{names[sym]} ::= " + " | ".join(a or '""' for a in alts))
        return names[sym]

    def seq(body: tuple[Sym, ...]) -> str:
        return " ".join(name(s) if isinstance(s, str) else _term(s) for s in body)

    alts = []
    for st in sorted(states):
        alts.append(" ".join(seq(g.prods[p][1][d:]) for p, d in reversed(st)))
    return "\n".join([renamed.rstrip("\n"), "root ::= " + " | ".join(alts), *rules]) + "\n"


@dataclass
class Forced:
    """A grammar's forced text, with the states after each of its characters: the grammar
    left after any shorter cut of it is built on demand (once per cut)."""

    source: str
    grammar: Grammar
    text: str
    states: list[set[Stack]]
    rests: dict[int, str | None] = field(default_factory=dict)
    cuts: dict[Any, int] = field(default_factory=dict)

    def cut_for(self, stops: Any, specials: Any) -> int:
        """_cut of the forced text for a request's stop words and special tokens, worked out
        once per distinct pair (a dialect sends the same ones with every request)."""
        try:
            key = (tuple(stops) if isinstance(stops, list) else stops,
                   tuple(specials) if isinstance(specials, list) else specials)
            cut = self.cuts.get(key)
        except TypeError:  # an unhashable value: worked out each time
            return _cut(self.text, stops, specials)
        if cut is None:
            cut = self.cuts[key] = _cut(self.text, stops, specials)
            if len(self.cuts) > CACHE_SIZE:
                self.cuts.pop(next(iter(self.cuts)))
        return cut

    def jump(self, cut: int) -> Jump | None:
        if cut < MIN_FORCED or cut > len(self.text):
            return None
        if cut not in self.rests:
            self.rests[cut] = _rest_grammar(self.grammar, self.source, self.states[cut])
        rest = self.rests[cut]
        return Jump(self.text[:cut], rest) if rest else None


def forced(grammar: str) -> Forced | None:
    """What `grammar` forces, or None (too large, branching too much, not parsed)."""
    if len(grammar) > MAX_GRAMMAR:
        return None
    try:
        g = parse_gbnf(grammar)
        text, states = _forced(g)
    except (_Expansion, ValueError, KeyError, IndexError, RecursionError):
        return None
    return Forced(grammar, g, text, states) if len(text) >= MIN_FORCED else None


def analyse(grammar: str, specials: Any = ()) -> Jump | None:
    """The forced text of `grammar` (cut where tokens split) and the grammar after it."""
    f = forced(grammar)
    return f.jump(token_safe_cut(f.text, specials)) if f else None


class _Cache:
    """Each grammar analysed once: small ones right away, larger ones in a worker thread
    (a grammar of 20 tools takes ~13 ms, of 128 tools ~85 ms: the event loop must not wait)."""

    def __init__(self) -> None:
        self._found: OrderedDict[str, Forced | None] = OrderedDict()

    async def get(self, grammar: str) -> Forced | None:
        try:
            self._found.move_to_end(grammar)
            return self._found[grammar]
        except KeyError:
            pass
        found = forced(grammar) if len(grammar) <= INLINE_ANALYSIS else \
            await asyncio.to_thread(forced, grammar)
        self._found[grammar] = found
        if len(self._found) > CACHE_SIZE:
            self._found.popitem(last=False)
        return found

    def forget(self, grammar: str) -> None:
        self._found[grammar] = None


def _cut(text: str, stops: Any, specials: Any) -> int:
    """Where the forced `text` goes into the prompt: where tokens split (token_safe_cut),
    before any stop word in it or begun at its end (llama.cpp looks for stop words in the
    generated text only), never inside a special token's text (`<tool_call` would be read
    as plain text, and the model would have to finish it character by character)."""
    end = len(text)
    for stop in stops if isinstance(stops, list) else ():
        if isinstance(stop, str) and stop:
            at = text.find(stop)
            end = min(end, at if at >= 0 else end)
            for k in range(min(len(stop) - 1, end), 0, -1):
                if text[:end].endswith(stop[:k]):
                    end -= k
                    break
    return token_safe_cut(text[:end], specials)


class JumpForwardBackend:
    """A backend whose generations under a (non-lazy) grammar skip the text it forces."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._cache = _Cache()
        self._tokens: OrderedDict[str, int] = OrderedDict()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _count(self, text: str) -> int:
        n = self._tokens.get(text)
        if n is None:
            try:
                n = len(await self.inner.tokenize(text, add_special=False))
            except Exception:  # counting is for usage and n_predict only: estimate
                n = max(1, len(text) // 3)
            self._tokens[text] = n
            if len(self._tokens) > CACHE_SIZE:
                self._tokens.popitem(last=False)
        return n

    @staticmethod
    def _eligible(payload: dict[str, Any]) -> bool:
        grammar = payload.get("grammar")
        return isinstance(grammar, str) and bool(grammar) and not payload.get("grammar_lazy") \
            and not payload.get("n_probs") and isinstance(payload.get("prompt"), str)

    async def _plan(self, payload: dict[str, Any]) -> tuple[dict[str, Any], str, int]:
        if not self._eligible(payload):
            return payload, "", 0
        found = await self._cache.get(payload["grammar"])
        jump = found.jump(found.cut_for(payload.get("stop"), payload.get("preserved_tokens"))
                          ) if found else None
        if jump is None:
            return payload, "", 0
        n = await self._count(jump.text)
        n_predict = payload.get("n_predict", -1)
        if isinstance(n_predict, int) and n_predict >= 0:
            if n_predict <= n:
                return payload, "", 0
            n_predict -= n
        return ({**payload, "prompt": payload["prompt"] + jump.text, "grammar": jump.grammar,
                 "n_predict": n_predict}, jump.text, n)

    def _refused(self, payload: dict[str, Any], exc: BackendError) -> bool:
        """llama.cpp refused the grammar left after a jump (400): that grammar is not jumped
        again, and the request goes as it came. Not seen with any dialect's grammar; a
        guard, so a jump can never cost an answer."""
        if exc.status != 400:
            return False
        log.warning("llama.cpp refused a grammar after jump-forward (%s); sending it whole",
                    exc.message)
        self._cache.forget(payload["grammar"])
        return True

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        sent, text, n = await self._plan(payload)
        if not text:
            return await self.inner.complete(payload)  # type: ignore[no-any-return]
        try:
            result: dict[str, Any] = await self.inner.complete(sent)
        except BackendError as exc:
            if not self._refused(payload, exc):
                raise
            return await self.inner.complete(payload)  # type: ignore[no-any-return]
        return _restore(result, text, n)

    def stream(self, payload: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        return flattened(self.stream_batches(payload))

    def stream_batches(self, payload: dict[str, Any]) -> Batches:
        # a generation without a grammar to jump (most streams) is the inner one, unwrapped
        return self._jumped(payload) if self._eligible(payload) else \
            event_batches(self.inner, payload)

    async def _jumped(self, payload: dict[str, Any]) -> Batches:
        sent, text, n = await self._plan(payload)
        batches = event_batches(self.inner, sent)
        try:
            try:
                first = await batches.__anext__() if text else None
            except BackendError as exc:
                if not self._refused(payload, exc):
                    raise
                await batches.aclose()
                text, n, first = "", 0, None
                batches = event_batches(self.inner, payload)
            except StopAsyncIteration:
                return
            if first is not None:  # the forced text goes out first, with the first tokens
                first = [{**first[0], "content": text + (first[0].get("content") or "")},
                         *first[1:]]
                if first[-1].get("stop"):
                    first[-1] = _counted(dict(first[-1]), n)
                    n = 0
                yield first
            async for batch in batches:
                if n and batch[-1].get("stop"):
                    batch[-1] = _counted(dict(batch[-1]), n)
                    n = 0
                yield batch
        finally:
            await batches.aclose()


def _restore(result: dict[str, Any], text: str, n: int) -> dict[str, Any]:
    """A whole answer with the forced text in front, its tokens counted as the answer's."""
    result["content"] = text + (result.get("content") or "")
    return _counted(result, n)


def _counted(event: dict[str, Any], n: int) -> dict[str, Any]:
    for key, delta in (("tokens_predicted", n), ("tokens_evaluated", -n)):
        value = event.get(key)
        if isinstance(value, int):
            event[key] = max(0, value + delta)
    return event
