"""Generation in two parts for a plan with a CallDecision: the first call, then "one more
call?" decided on the model's probability of going on, read at a clean token boundary.

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
    """llama.cpp-like events of a generation in two parts (see CallDecision)."""
    first = backend.stream({**payload, "grammar": decision.first})
    pieces: list[str] = []
    last: dict[str, Any] = {}
    try:
        async for event in first:
            if event.get("stop"):
                last = event
                break
            pieces.append(event.get("content", ""))
            yield event
    finally:
        await first.aclose()
    if last.get("content"):
        pieces.append(last["content"])
        yield {"content": last["content"]}
    spent = int(last.get("tokens_predicted") or 0)
    if last.get("stop_type") != "eos":  # cut by max_tokens or a stop word: as it is
        yield {**last, "content": ""}
        return
    so_far = payload["prompt"] + "".join(pieces)
    limit = int(payload.get("n_predict", -1))
    left = limit - spent if limit > 0 else -1
    try:
        probe = await backend.complete({
            "prompt": so_far, "n_predict": 1, "n_probs": PROBE_TOKENS, "temperature": 0,
            "cache_prompt": True,
            "response_fields": ["content", "completion_probabilities", "stop_type"]})
    except GatewayError:  # a backend that cannot answer the probe: the model's own choice
        probe = {}
    p_more = go_on_probability(probe, decision)
    grammar = decision.rest if p_more is None else (
        decision.more if p_more >= decision.threshold else None)
    if grammar is None or left == 0:
        yield {**last, "content": decision.close, "tokens_predicted": spent + 1}
        return
    rest = backend.stream({**payload, "prompt": so_far, "grammar": grammar, "n_predict": left})
    try:
        async for event in rest:
            if event.get("stop"):
                yield {**event, "tokens_predicted": spent + int(event.get("tokens_predicted") or 0),
                       "tokens_evaluated": last.get("tokens_evaluated",
                                                    event.get("tokens_evaluated"))}
                return
            yield event
    finally:
        await rest.aclose()

