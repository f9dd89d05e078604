"""Generation in parts for a plan with a CallDecision: the first call (its tool chosen on
the model's probabilities where the name begins and the request's words, when the decision
has a prior), then after it (with `each`, after every call) "one more?" decided on the
model's probability of going on, read at a clean token boundary.

The events look like one llama.cpp stream (content pieces, then one final event with
`stop: true`), so the chat path reads them as it reads the backend's own stream.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any

from gateway.backend import Backend
from gateway.callgate import validator_for
from gateway.dialect import CallDecision
from gateway.errors import GatewayError
from gateway.excerpt import value_excerpt_rules
from gateway.numbers_said import (
    DECIMAL,
    numbers_for,
    numbers_given,
    numbers_said,
    schema_numbers,
    worked_out,
)
from gateway.pairing import call_spans, put_in_step, realign, same_slot
from gateway.toolprior import COMMON_WORDS, choose, content_word, name_masses, words

log = logging.getLogger("gateway.staged")

BAN = -10.0  # logit bias on the first token of a value a further call's second try should avoid
PROBE_TOKENS = 20  # top tokens read at the decision point
NAME_PROBE_TOKENS = 40  # top tokens read where the first tool name begins


def go_on_probability(probe: dict[str, Any], decision: CallDecision) -> float | None:
    """p(more) / (p(more) + p(end)) from a one-token /completion with n_probs, or None
    when the answer carries no probabilities or neither kind of token is among them."""
    more = end = 0.0
    for token, p in top_tokens(probe):
        text = token.lstrip()
        if text.startswith(decision.more_marks):
            more += p
        elif text.startswith(decision.end_marks):
            end += p
    return more / (more + end) if more + end > 0 else None


async def staged_stream(backend: Backend, payload: dict[str, Any], decision: CallDecision
                        ) -> AsyncGenerator[dict[str, Any], None]:
    """llama.cpp-like events of a call list generated in parts (see CallDecision)."""
    limit = int(payload.get("n_predict", -1))
    pieces: list[str] = []
    spent = 0
    evaluated: Any = None
    grammar, calls = decision.first, 1
    if decision.prior:
        chosen = await _pick_tools(backend, payload["prompt"], decision)
        if chosen and len(chosen) < len(decision.picks):
            grammar = decision.first_for(chosen)
    p_more: float | None = None
    closes_itself = False  # the part's grammar ends the list (`more`, `rest`): no decision
    held = False  # the part is a further call kept only if it is new (decision.novel)
    dropped = 0  # tokens of further calls generated and not kept
    banned: list[int] | None = None  # a held call's second try: tokens it should not begin
    grounding = Grounding(decision) if decision.ground and decision.request else None
    # with `realign`, every event is held until the list ends: a further call may put an
    # earlier one in step (gateway.pairing.realign)
    holding = decision.realign and bool(decision.request)
    out: list[dict[str, Any]] = []
    while True:
        part = backend.stream({**payload, "prompt": payload["prompt"] + "".join(pieces),
                               "grammar": grammar,
                               "n_predict": limit - spent if limit > 0 else -1,
                               **({"logit_bias": [[t, BAN] for t in banned]} if banned else {})})
        last: dict[str, Any] = {}
        kept: list[dict[str, Any]] = []  # a held part's events, sent once it is kept
        try:
            async for event in part:
                if event.get("stop"):
                    last = event
                    break
                if held or grounding:
                    kept.append(event)
                    continue
                pieces.append(event.get("content", ""))
                if holding:
                    out.append(event)
                else:
                    yield event
        finally:
            await part.aclose()
        if last.get("content"):
            if held or grounding:
                kept.append({"content": last["content"]})
            else:
                pieces.append(last["content"])
                if holding:
                    out.append({"content": last["content"]})
                else:
                    yield {"content": last["content"]}
        spent += int(last.get("tokens_predicted") or 0)
        evaluated = last.get("tokens_evaluated") if evaluated is None else evaluated
        if held:
            text = "".join(event.get("content", "") for event in kept)
            cut = last.get("stop_type") != "eos"
            new = ((parallel_variant if banned else novel_values)(text, "".join(pieces),
                                                                   decision.request)
                   and not looping(text, decision.request))
            if not (cut or new or banned) and decision.vary and p_more is not None and \
                    p_more >= decision.vary:
                varied, used = await (grounding or Grounding(decision)).vary(
                    backend, payload, payload["prompt"] + "".join(pieces), text,
                    "".join(pieces), limit - spent if limit > 0 else None)
                spent, dropped = spent + used, dropped + used
                if varied is not None and parallel_variant(varied, "".join(pieces),
                                                           decision.request):
                    log.debug("further call %d varied: %s", calls, varied)
                    kept, text, new = [{"content": varied}], varied, True
            if cut or not new:
                log.debug("further call %d dropped (%s%s): %s", calls,
                          "cut" if cut else "nothing new", ", second try" if banned else "",
                          text)
                dropped += int(last.get("tokens_predicted") or 0)
                if cut or banned is not None or not decision.retry or 0 < limit <= spent:
                    break  # cut, or nothing the earlier calls did not already cover
                # once more, the values the earlier calls took from the request held back
                banned = await value_tokens(backend, "".join(pieces), decision.request)
                if not banned:
                    break
                continue
            if decision.pair:
                paired = put_in_step(text, _calls("".join(pieces)), decision.request,
                                     (grounding or Grounding(decision)).valid)
                if paired != text:
                    log.debug("further call %d put in step: %s", calls, paired)
                    kept, text = [{"content": paired}], paired
            banned = None
        if held or grounding:
            text = "".join(event.get("content", "") for event in kept)
            if grounding and last.get("stop_type") == "eos":
                grounded, used = await grounding.apply(
                    backend, payload, payload["prompt"] + "".join(pieces), text,
                    limit - spent if limit > 0 else None, "".join(pieces))
                spent, dropped = spent + used, dropped + used
                if grounded != text:
                    kept, text = [{"content": grounded}], grounded
            pieces.append(text)
            if holding:
                out += kept
            else:
                for event in kept:
                    yield event
        if holding and calls > 1 and last.get("stop_type") == "eos":
            whole = "".join(pieces)
            stepped = realign(whole, decision.request,
                              (grounding or Grounding(decision)).valid)
            if stepped != whole:
                log.debug("calls put in step with each other: %s", stepped)
                pieces, out = [stepped], [{"content": stepped}]
        done = {**last, "content": "", "tokens_predicted": spent - dropped,
                "tokens_evaluated": evaluated}
        if last.get("stop_type") != "eos" or closes_itself:
            for event in out:
                yield event
            yield done  # cut by max_tokens or a stop word (as it is), or the model's own end
            return
        if calls >= decision.cap or 0 < limit <= spent:
            break
        p_more = (await _probe(backend, payload["prompt"] + "".join(pieces), decision)
                  if decision.probe_more else None)
        log.debug("after call %d: p(more) %s", calls,
                  "unknown" if p_more is None else f"{p_more:.3f}")
        if p_more is not None and p_more < decision.threshold:
            break
        held = decision.novel and p_more is not None
        closes_itself = p_more is None or not (decision.each or held)
        grammar = (decision.rest if p_more is None else
                   decision.one if decision.each or held else decision.more)
        calls += 1
    for event in out:
        yield event
    yield {**done, "content": decision.close, "tokens_predicted": spent - dropped + 1}


_CALL_NAME = re.compile(r'(?:^|[\[,])\{"name":$')
_JSON_VALUE = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:)?|(-?\d+(?:\.\d+)?)')


class _Said:
    """A text, ready to say what of a value comes from it: the value itself when it is
    found there whole (case and spacing aside), and each of its words that is a word of the
    text (common English words aside)."""

    def __init__(self, text: str) -> None:
        self.text = " ".join(text.lower().split())
        self.words = set(words(text)) - COMMON_WORDS

    def found(self, value: str, shortest: int = 2) -> set[str]:
        """What of `value` comes from the text (found whole only from `shortest` chars)."""
        out = {w for w in words(value) if w in self.words}  # before lower(): camelCase
        value = " ".join(value.lower().split())
        if len(value) >= shortest and found_whole(value, self.text):
            out.add(value)
        return out


def _grounded(text: str, request: str) -> Iterator[tuple[re.Match[str], set[str]]]:
    """Each value in a JSON text (a string that is not a key, a number) with what of it
    comes from the request (see _Said)."""
    said = _Said(request)
    for match in _JSON_VALUE.finditer(text):
        if match.group(2):
            continue  # a key
        value = _json_value(match)
        yield match, said.found(match.group(1) if value is None else value)


def _json_value(match: re.Match[str]) -> str | None:
    """A `_JSON_VALUE` match's value as text: a string decoded (None when its escapes do
    not decode), a number as written (`5.0` as `5`)."""
    if match.group(1) is None:
        number = match.group(3)
        return number[:-2] if number.endswith(".0") else number
    try:
        return str(json.loads(f'"{match.group(1)}"'))
    except ValueError:
        return None


GROUND_MAX_VALUES = 4  # values of one call written again as excerpts, at most
GROUND_WORDS = 4  # words such an excerpt may take
GROUND_TOKENS = 48  # tokens an excerpt value may take
_EDGE = " .,;:!?'`"  # taken off an excerpt's ends: a value is not "Tel Aviv," nor "'Oslo'"


_GAP_WORDS = 4  # words (a coordinator's aside) between two values the request lists
# a coordinator, or the separator of a list: what stands between two values a user asks
# about in one breath ("Oslo and Bergen", "2, 4 or 8 GB", "北京和上海")
_COORDINATOR = re.compile(
    r"(?:^|[\s,;])(?:and|or|also|plus|then|vs\.?|versus|as well as|y|e|o|et|ou|und|oder|"
    r"và|hoặc|и|или)(?=$|[\s,;])|[&/+、]|[和与及或跟]|还有|以及|그리고",
    re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?。！？]\s|[.!?。！？]$|\n")


def coordinated(one: str, other: str, request: str) -> bool:
    """Does the request list the two values together: one of them, a short gap with a
    coordinator ("and", "or", ",", "和"...) and no sentence end, then the other? So a value
    written in place of an earlier call's is another item of the same list ("Boston and
    San Francisco"), not a word that only qualifies it ("Bangkok, Thailand") nor one of
    another part of the request."""
    said = " ".join(request.split())
    spans = [[(m.start(), m.end()) for m in re.finditer(re.escape(v), said, re.IGNORECASE)]
             for v in (" ".join(one.split()), " ".join(other.split()))]
    for a in spans[0]:
        for b in spans[1]:
            gap = said[a[1]:b[0]] if a[1] <= b[0] else said[b[1]:a[0]] if b[1] <= a[0] else None
            if gap is None or _SENTENCE_END.search(gap) or not _COORDINATOR.search(gap):
                continue
            if len(_COORDINATOR.sub(" ", gap).split()) <= _GAP_WORDS:
                return True
    return False


def _sampling(payload: dict[str, Any]) -> dict[str, Any]:
    """The request's sampling settings, for a completion of a value written again."""
    return {k: v for k, v in payload.items()
            if k not in ("prompt", "grammar", "n_predict", "logit_bias", "n_probs")}


async def _value_again(backend: Backend, payload: dict[str, Any], avoid: list[int],
                       quoted: bool, closer: str = "") -> tuple[str, int]:
    """(a value written again under the payload's grammar, its tokens): "" when it was cut
    or came out empty. `quoted`: a string's inside, its closing quote and edges taken off;
    else the grammar's `closer` taken off; `avoid`: tokens held back by a logit bias."""
    answer = await backend.complete({
        **payload, "cache_prompt": True,
        **({"logit_bias": [[t, BAN] for t in avoid]} if avoid else {})})
    spent = int(answer.get("tokens_predicted") or 0)
    content = str(answer.get("content", ""))
    if quoted:
        content = content[:-1].strip(_EDGE) if content.endswith('"') else ""
    elif closer:
        content = content[:-len(closer)] if content.endswith(closer) else ""
    if answer.get("stop_type") != "eos" or content.endswith("\\"):
        return "", spent
    return content, spent


def _number_choice(literals: list[str], closer: str) -> str:
    """The grammar of a number written again: one of `literals`, then `closer` (the JSON
    character after the number), so that the model ends a number by choice, not because
    the grammar ran out ("1" is not cut short of "10", nor "10" pushed on from "1")."""
    return ("root ::= (" + " | ".join(json.dumps(n) for n in literals) + ")"
            + (" " + json.dumps(closer) if closer else "") + "\n")


def _capitalised(word: str) -> bool:
    return word[:1].isupper() and content_word(word)


_LAST_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')
_REQUEST_NUMBER = re.compile(r"(?<![\w.])-?(?:0|[1-9]\d*)(?:\.\d+)?(?![\d.])")
_STRUCTURED = re.compile(r"[/\\@#<>{}\[\]=|]")  # a path, URL, address, markup, expression


class Grounding:
    """A call's string values that share nothing with the conversation, written again as
    an excerpt of the user's last message (see CallDecision.ground)."""

    def __init__(self, decision: CallDecision) -> None:
        self.decision = decision
        self.names = {name for name, _ in decision.schemas}
        self._said: _Said | None = None  # the conversation, read when a value needs it
        self._excerpt: str | None = None
        self._proper: str | None = None
        self._given: list[str] | None = None
        self._numbers: set[float] | None = None  # what the conversation and tools say

    @property
    def excerpt(self) -> str:
        """The grammar of a value written again: an excerpt of the user's last message and
        the closing quote ("" when the message has no word to begin one). Built when a
        value first needs it: most calls need none."""
        if self._excerpt is None:
            self._excerpt = self._excerpt_grammar(content_word)
        return self._excerpt

    @property
    def proper_excerpt(self) -> str:
        """`excerpt`, beginning at a capitalised word: another value in place of a
        capitalised one (a city for a city, a name for a name)."""
        if self._proper is None:
            self._proper = self._excerpt_grammar(_capitalised)
        return self._proper

    def _excerpt_grammar(self, may_start: Callable[[str], bool]) -> str:
        made = value_excerpt_rules(self.decision.request, "value", GROUND_WORDS, may_start)
        return f'root ::= {made[1]} "\\""\n' + "\n".join(made[0]) + "\n" if made else ""

    @property
    def given(self) -> list[str]:
        """What a number may be written again as: the numbers the user's last message gives
        (JSON literals)."""
        if self._given is None:
            self._given = numbers_given(self.decision.request)
        return self._given

    def _numbers_for(self, head: str, earlier: str) -> list[str]:
        """The request's numbers a number written again may be: those near a word of its
        argument's name, no earlier call's when any is left (see `numbers_for`). `head`:
        the call's text up to the number."""
        key = _LAST_KEY.findall(head[-200:])
        used = {float(n) for call in _calls(earlier) for _, n in _leaves(call.get("arguments"))
                if DECIMAL.fullmatch(n)}
        return numbers_for(self.decision.request, key[-1] if key else "", used)

    def _invented(self, raw: str) -> bool:
        """A number of a call that the conversation did not give, the tools' schemas do
        not hold, and that is not worked out from either by a unit's factor (0.04 for
        "4 percent"); 0 and 1 (flags, counts, first pages) are never invented."""
        if raw in ("0", "1", "-1") or not self.given:
            return False
        if self._numbers is None:
            self._numbers = numbers_said(self.decision.context) | schema_numbers(
                [schema for _, schema in self.decision.schemas])
        return not worked_out(float(raw), self._numbers)

    def _settled(self, value: str) -> bool:
        """A string value no rewrite touches: a tool's name, a number, a date, a code, a
        path, a URL; an enum value, a default (`fixed` words only)."""
        found = set(words(value))
        return (value in self.names or _STRUCTURED.search(value) is not None
                or sum(c.isalpha() for c in value) <= sum(c.isdigit() for c in value)
                or bool(found) and found <= self.decision.fixed)

    def unfounded(self, text: str, start: int = 0) -> re.Match[str] | None:
        """The first string value from `start` in a call's JSON text that has a letter,
        is not a tool name nor made of enum words only, and has no word of the
        conversation (common English words aside) nor is found there whole."""
        for match in _JSON_VALUE.finditer(text, start):
            if match.group(2):
                continue  # a key
            if match.group(1) is None:
                if self.decision.ground_numbers and self._invented(match.group(3)):
                    return match
                continue
            try:
                value = json.loads(f'"{match.group(1)}"')
            except ValueError:
                continue
            if self._settled(value):
                continue
            if self._said is None:
                self._said = _Said(self.decision.context)
            if self._said.found(value, shortest=1):
                continue
            return match
        return None

    async def apply(self, backend: Backend, payload: dict[str, Any], prompt: str, text: str,
                    left: int | None = None, earlier: str = "") -> tuple[str, int]:
        """`text` (a call's JSON text, generated after `prompt`, after the calls `earlier`)
        with its unfounded values written again, and the tokens that took (no more than
        `left`, when given); `text` itself when the calls it then holds do not all
        validate."""
        out, used, start = text, 0, 0
        sampling = _sampling(payload)
        for _ in range(GROUND_MAX_VALUES):
            budget = GROUND_TOKENS if left is None else min(GROUND_TOKENS, left - used)
            match = self.unfounded(out, start) if budget > 0 else None
            if match is None:
                break
            number = match.group(1) is None
            begin, end = match.span(3) if number else match.span(1)
            start = end + 1
            closer = out[end:end + 1] if number else ""
            grammar = (_number_choice(self._numbers_for(out[:begin], earlier), closer)
                       if number else self.excerpt)
            if not grammar:
                continue
            try:
                # the model's own value held back: its first token (or character) would
                # begin the excerpt word that starts alike ("CA" -> "Could"); a number's
                # grammar has only the request's numbers
                avoid = [] if number else await first_tokens(
                    backend, out[max(0, begin - 2):begin], (match.group(1), match.group(1)[0]))
            except Exception:  # noqa: BLE001 - a backend that cannot tokenize: no bias
                avoid = []
            try:
                value, spent = await _value_again(backend, {
                    **sampling, "prompt": prompt + out[:begin], "grammar": grammar,
                    "n_predict": budget}, avoid, quoted=not number, closer=closer)
            except GatewayError:
                return text, used
            used += spent
            tried = out[:begin] + value + out[end:]
            if not value or number and not all(self.valid(call) for call in _calls(tried)):
                continue  # (a number the schema refuses there: 45.5 for an integer)
            log.debug("value %s written again as %s", out[begin:end], value)
            out = tried
            start = begin + len(value) + 1
        if out == text or not all(self.valid(call) for call in _calls(out)):
            return text, used
        return out, used

    async def vary(self, backend: Backend, payload: dict[str, Any], prompt: str, text: str,
                   earlier: str, left: int | None = None) -> tuple[str | None, int]:
        """A further call (`text`, generated after `prompt`) that brings nothing new, with
        each value that repeats what the earlier calls (`earlier`) took from the request
        written again as another value of the request: a string as an excerpt of the user's
        last message, the first tokens of the values the earlier calls used held back; a
        number as one of the request's numbers no earlier call used. A new value is kept
        only where the request lists it with the value it replaces (`coordinated`).
        Enum values, defaults and tool names stay. (the varied text, the tokens that took):
        None when no value could be varied or the call no longer validates."""
        request = self.decision.request
        taken = [(m.group(1) or m.group(3), found) for m, found in _grounded(earlier, request)
                 if found]
        if not taken:
            return None, 0
        before = set().union(*(found for _, found in taken))
        spoken = tuple(value for value, _ in taken)
        said = _Said(request)
        numbers = [n for n in dict.fromkeys(_REQUEST_NUMBER.findall(request))
                   if n not in before and found_whole(n, said.text)]
        sampling = _sampling(payload)
        out, used, start = text, 0, 0
        for _ in range(GROUND_MAX_VALUES):
            match = self._repeated(out, start, said, before)
            budget = GROUND_TOKENS if left is None else min(GROUND_TOKENS, left - used)
            if match is None or budget <= 0:
                break
            start = match.end()
            if match.group(1) is None:  # a number: one the request gave that no call used
                if not numbers:
                    continue
                begin, end = match.start(3), match.end(3)
                closer = out[end:end + 1]
                grammar, avoid = _number_choice(numbers, closer), []
            else:
                closer = ""
                grammar = (self.proper_excerpt if match.group(1)[:1].isupper()
                           else self.excerpt)
                if not grammar:
                    continue
                begin, end = match.start(1), match.end(1)
                try:
                    avoid = await first_tokens(backend, out[max(0, begin - 2):begin],
                                               spoken)
                except Exception:  # noqa: BLE001 - a backend that cannot tokenize: no bias
                    avoid = []
            try:
                content, spent = await _value_again(backend, {
                    **sampling, "prompt": prompt + out[:begin], "grammar": grammar,
                    "n_predict": budget}, avoid, quoted=match.group(1) is not None,
                    closer=closer)
            except GatewayError:
                return None, used
            used += spent
            if not content:
                continue
            if not (coordinated(out[begin:end], content, request)
                    or same_slot(out[begin:end], content, request)):
                log.debug("repeated value %s not varied as %s: not listed with it",
                          out[begin:end], content)
                continue
            log.debug("repeated value %s varied as %s", out[begin:end], content)
            out = out[:begin] + content + out[end:]
            start = begin + len(content) + 1
        if out == text or not all(self.valid(call) for call in _calls(out)):
            return None, used
        return out, used

    def _repeated(self, text: str, start: int, said: _Said, before: set[str]
                  ) -> re.Match[str] | None:
        """The first value from `start` in a call's JSON text that takes something from the
        request and only what the earlier calls (`before`) took already: a tool name, enum
        values, defaults, paths, dates and codes aside. (A value that takes nothing from
        the request is left to the novelty check: varying those too was measured, one
        answer lost on held-out, none gained.)"""
        for match in _JSON_VALUE.finditer(text, start):
            if match.group(2):
                continue  # a key
            value = _json_value(match)
            if value is None or match.group(1) is not None and self._settled(value):
                continue
            taken = said.found(value)
            if taken and taken <= before:
                return match
        return None

    def valid(self, call: dict[str, Any]) -> bool:
        schema = next((s for name, s in self.decision.schemas if name == call.get("name")), None)
        return schema is not None and bool(validator_for(schema).is_valid(call.get("arguments")))


_LOOP = re.compile(r"(.{2,8}?)\1{3,}", re.S)


def looping(call: str, request: str) -> bool:
    """Does a string value of a further call run in a loop (a piece of 2 to 8 characters
    four times or more in a row, `"B125_B125_B125_B125"`, `"TOKUKUKUKU"`) that the request
    does not have? Such a call is the model stuck, not a call the user asked for."""
    said = request.lower()
    for match in _JSON_VALUE.finditer(call):
        if match.group(2) or match.group(1) is None:
            continue
        for run in _LOOP.finditer(match.group(1)):
            if run.group(0).lower() not in said:
                return True
    return False


def _ascii_word(char: str) -> bool:
    return char.isascii() and char.isalnum()


def found_whole(value: str, said: str) -> bool:
    """Is `value` in `said`, not as a piece of a longer word or number (`234` is not in
    `1234`)? Scripts written without spaces (CJK) have no word edges to check."""
    start = said.find(value)
    while start >= 0:
        end = start + len(value)
        if not ((_ascii_word(value[0]) and start > 0 and _ascii_word(said[start - 1]))
                or (_ascii_word(value[-1]) and end < len(said) and _ascii_word(said[end]))):
            return True
        start = said.find(value, start + 1)
    return False


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Each string or number in a JSON value with its path, as text (numbers as written
    by Python, `5.0` as `5`)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _leaves(sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _leaves(sub, (*path, i))
    elif isinstance(value, str):
        yield path, " ".join(value.lower().split())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, str(int(value)) if value == int(value) else str(value)


def _calls(text: str) -> list[dict[str, Any]]:
    """The complete call objects in a call list's text (`{"tool_calls":[{...},{...}`, or a
    further call's `,{...}`)."""
    return [call for _, _, call in call_spans(text)]


def _worth(value: str) -> bool:
    """A value long enough to say something: a number, or two characters or more."""
    return len(value) >= 2 or value.isdigit()


def parallel_variant(call: str, earlier: str, request: str) -> bool:
    """Stricter than `novel_values`, for a further call the model made only when steered:
    it brings a value of the request, found there whole, that no earlier call used; and
    when an earlier call is to the same tool, that value stands where the earlier call
    had a value of the request too (the same argument for another city, another number),
    not in an argument the request did not fill before."""
    said = " ".join(request.lower().split())
    before = _calls(earlier)
    used: set[str] = set()
    grounded_at: set[tuple[Any, ...]] = set()
    made = _calls(call)
    if len(made) != 1:
        return False
    name = made[0].get("name")
    for old in before:
        for path, value in _leaves(old.get("arguments")):
            if _worth(value) and found_whole(value, said):
                used.add(value)
                if old.get("name") == name:
                    grounded_at.add(path)
    same_tool = any(old.get("name") == name for old in before)
    return any(_worth(value) and value not in used and found_whole(value, said)
               and (not same_tool or path in grounded_at)
               for path, value in _leaves(made[0].get("arguments")))


def request_values(text: str, request: str) -> set[str]:
    """The values in a JSON text that come from the request (see `_grounded`)."""
    return set().union(*(found for _, found in _grounded(text, request)))


async def value_tokens(backend: Backend, text: str, request: str) -> list[int]:
    """The first token of each value in a JSON text that comes from the request, as the
    model wrote it there (the value tokenized after the two characters before it): what a
    further call's second try is steered away from, so that the model, which tends to copy
    the call before, reaches for a value of the request no call has used yet. [] when the
    backend cannot tokenize."""
    out: list[int] = []
    for match, found in _grounded(text, request):
        start = match.start(1) if match.group(1) is not None else match.start(3)
        before = text[max(0, match.start() - 10):match.start()]
        if not found or start < 2 or _CALL_NAME.search(before):
            continue  # (a call's tool name stays free: parallel calls often share it)
        context, value = text[start - 2:start], match.group(1) or match.group(3)
        try:
            tokens = await first_tokens(backend, context, (value,))
        except GatewayError:
            return []
        out += [token for token in tokens if token not in out]
    return out


async def first_tokens(backend: Backend, context: str, values: tuple[str, ...]) -> list[int]:
    """The first token of each value as the model writes it after `context`."""
    head = await backend.tokenize(context, add_special=False)
    out: list[int] = []
    for value in values:
        whole = await backend.tokenize(context + value, add_special=False)
        if len(whole) > len(head) and whole[:len(head)] == head and whole[len(head)] not in out:
            out.append(whole[len(head)])
    return out


def novel_values(call: str, earlier: str, request: str) -> bool:
    """Does a further call (its JSON text) bring a value of the request that the text so
    far (`earlier`) does not use? A second call that only repeats or reshuffles the first
    one's values, or fills in values the request never gave, is not a call the user asked
    for."""
    return bool(request_values(call, request) - request_values(earlier, request))


async def _probe(backend: Backend, text: str, decision: CallDecision) -> float | None:
    """p(another call) after `text`, or None when the backend cannot tell."""
    probe = await _next_token(backend, text, PROBE_TOKENS)
    return go_on_probability(probe, decision) if probe is not None else None


async def _pick_tools(backend: Backend, prompt: str, decision: CallDecision) -> list[int]:
    """The first call's tool(s): the model's probabilities where the name begins times the
    request's prior (gateway.toolprior); [] (the model's own choice) when the backend
    gives no probabilities there."""
    probe = await _next_token(backend, prompt + decision.name_open, NAME_PROBE_TOKENS)
    tops = top_tokens(probe) if probe is not None else []
    return choose(name_masses(tops, decision.names), decision.prior)


async def _next_token(backend: Backend, text: str, n_probs: int) -> dict[str, Any] | None:
    """llama.cpp's answer for one token after `text`, with its top `n_probs` probabilities;
    None when the backend cannot answer (the model's own choice then)."""
    try:
        return await backend.complete({
            "prompt": text, "n_predict": 1, "n_probs": n_probs, "temperature": 0,
            "cache_prompt": True,
            "response_fields": ["content", "completion_probabilities", "stop_type"]})
    except GatewayError:
        return None


def top_tokens(probe: dict[str, Any]) -> list[tuple[str, float]]:
    """(token text, probability) of the first generated token's top candidates; [] when
    the answer has none (llama.cpp leaves them out when the token is an incomplete UTF-8
    sequence)."""
    try:
        first = probe["completion_probabilities"][0]
        tops = first.get("top_logprobs") or first.get("top_probs") or []
        return [(str(t["token"]), float(t["prob"]) if "prob" in t
                 else math.exp(float(t["logprob"]))) for t in tops]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return []
