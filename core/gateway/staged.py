"""Generation in parts for a plan with a CallDecision: the first call (its tool chosen on
the model's probabilities where the name begins and the request's words, when the decision
has a prior), then after it (with `each`, after every call) "one more?" decided on the
model's probability of going on, read at a clean token boundary.

The events look like one llama.cpp stream (content pieces, then one final event with
`stop: true`), so the chat path reads them as it reads the backend's own stream.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncGenerator
from typing import Any

from gateway.backend import Backend
from gateway.dialect import CallDecision
from gateway.errors import GatewayError
from gateway.toolprior import COMMON_WORDS, choose, name_masses, words

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
    closes_itself = False  # the part's grammar ends the list (`more`, `rest`): no decision
    held = False  # the part is a further call kept only if it is new (decision.novel)
    dropped = 0  # tokens of further calls generated and not kept
    while True:
        part = backend.stream({**payload, "prompt": payload["prompt"] + "".join(pieces),
                               "grammar": grammar,
                               "n_predict": limit - spent if limit > 0 else -1})
        last: dict[str, Any] = {}
        kept: list[dict[str, Any]] = []  # a held part's events, sent once it is kept
        try:
            async for event in part:
                if event.get("stop"):
                    last = event
                    break
                if held:
                    kept.append(event)
                    continue
                pieces.append(event.get("content", ""))
                yield event
        finally:
            await part.aclose()
        if last.get("content"):
            if held:
                kept.append({"content": last["content"]})
            else:
                pieces.append(last["content"])
                yield {"content": last["content"]}
        spent += int(last.get("tokens_predicted") or 0)
        evaluated = last.get("tokens_evaluated") if evaluated is None else evaluated
        if held:
            text = "".join(event.get("content", "") for event in kept)
            if last.get("stop_type") != "eos" or not novel_values(text, "".join(pieces),
                                                                  decision.request):
                dropped += int(last.get("tokens_predicted") or 0)
                break  # cut, or nothing the earlier calls did not already cover
            pieces.append(text)
            for event in kept:
                yield event
        done = {**last, "content": "", "tokens_predicted": spent - dropped,
                "tokens_evaluated": evaluated}
        if last.get("stop_type") != "eos" or closes_itself:
            yield done  # cut by max_tokens or a stop word (as it is), or the model's own end
            return
        if calls >= decision.cap or 0 < limit <= spent:
            break
        p_more = (await _probe(backend, payload["prompt"] + "".join(pieces), decision)
                  if decision.probe_more else None)
        if p_more is not None and p_more < decision.threshold:
            break
        held = decision.novel and p_more is not None
        closes_itself = p_more is None or not (decision.each or held)
        grammar = (decision.rest if p_more is None else
                   decision.one if decision.each or held else decision.more)
        calls += 1
    yield {**done, "content": decision.close, "tokens_predicted": spent - dropped + 1}


_JSON_VALUE = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:)?|(-?\d+(?:\.\d+)?)')


def request_values(text: str, request: str) -> set[str]:
    """The values in a JSON text (strings that are not keys, numbers) that come from the
    request: a string found in it whole (case and spacing aside), and each word of a value
    that is a word of the request (common English words aside)."""
    said = " ".join(request.lower().split())
    said_words = set(words(request)) - COMMON_WORDS
    out: set[str] = set()
    for match in _JSON_VALUE.finditer(text):
        if match.group(2):
            continue  # a key
        raw = match.group(1)
        if raw is None:
            number = match.group(3)
            value = number[:-2] if number.endswith(".0") else number
        else:
            try:
                value = json.loads(f'"{raw}"')
            except ValueError:
                value = raw
        value = " ".join(value.lower().split())
        if len(value) >= 2 and value in said:
            out.add(value)
        out.update(w for w in words(value) if w in said_words)
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
