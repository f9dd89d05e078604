"""Generation in parts for a plan with a CallDecision: the first call, then after it (with
`each`, after every call) "one more?" decided on the model's probability of going on, read
at a clean token boundary.

The events look like one llama.cpp stream (content pieces, then one final event with
`stop: true`), so the chat path reads them as it reads the backend's own stream.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator
from typing import Any

from gateway.backend import Backend
from gateway.dialect import CallDecision
from gateway.errors import GatewayError

PROBE_TOKENS = 20  # top tokens read at the decision point


def go_on_probability(probe: dict[str, Any], decision: CallDecision) -> float | None:
    """p(more) / (p(more) + p(end)) from a one-token /completion with n_probs, or None
    when the answer carries no probabilities or neither kind of token is among them."""
    try:
        first = probe["completion_probabilities"][0]
        tops = first.get("top_logprobs") or first.get("top_probs") or []
        more = end = 0.0
        for top in tops:
            p = float(top["prob"]) if "prob" in top else math.exp(float(top["logprob"]))
            text = str(top["token"]).lstrip()
            if text.startswith(decision.more_marks):
                more += p
            elif text.startswith(decision.end_marks):
                end += p
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None
    return more / (more + end) if more + end > 0 else None


async def staged_stream(backend: Backend, payload: dict[str, Any], decision: CallDecision
                        ) -> AsyncGenerator[dict[str, Any], None]:
    """llama.cpp-like events of a call list generated in parts (see CallDecision)."""
    limit = int(payload.get("n_predict", -1))
    pieces: list[str] = []
    spent = 0
    evaluated: Any = None
    grammar, calls = decision.first, 1
    closes_itself = False  # the part's grammar ends the list (`more`, `rest`): no decision
    while True:
        part = backend.stream({**payload, "prompt": payload["prompt"] + "".join(pieces),
                               "grammar": grammar,
                               "n_predict": limit - spent if limit > 0 else -1})
        last: dict[str, Any] = {}
        try:
            async for event in part:
                if event.get("stop"):
                    last = event
                    break
                pieces.append(event.get("content", ""))
                yield event
        finally:
            await part.aclose()
        if last.get("content"):
            pieces.append(last["content"])
            yield {"content": last["content"]}
        spent += int(last.get("tokens_predicted") or 0)
        evaluated = last.get("tokens_evaluated") if evaluated is None else evaluated
        done = {**last, "content": "", "tokens_predicted": spent, "tokens_evaluated": evaluated}
        if last.get("stop_type") != "eos" or closes_itself:
            yield done  # cut by max_tokens or a stop word (as it is), or the model's own end
            return
        if calls >= decision.cap or 0 < limit <= spent:
            break
        p_more = await _probe(backend, payload["prompt"] + "".join(pieces), decision)
        if p_more is not None and p_more < decision.threshold:
            break
        closes_itself = p_more is None or not decision.each
        grammar = (decision.rest if p_more is None else
                   decision.one if decision.each else decision.more)
        calls += 1
    yield {**done, "content": decision.close, "tokens_predicted": spent + 1}


async def _probe(backend: Backend, text: str, decision: CallDecision) -> float | None:
    """p(another call) after `text`, or None when the backend cannot tell."""
    try:
        probe = await backend.complete({
            "prompt": text, "n_predict": 1, "n_probs": PROBE_TOKENS, "temperature": 0,
            "cache_prompt": True,
            "response_fields": ["content", "completion_probabilities", "stop_type"]})
    except GatewayError:  # a backend that cannot answer the probe: the model's own choice
        return None
    return go_on_probability(probe, decision)
