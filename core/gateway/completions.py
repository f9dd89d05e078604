"""POST /v1/completions (the legacy text-completions API) through llama.cpp's raw /completion.

No template, no dialect: the prompt goes to the model as given. Each prompt of a list is its
own choice; logprobs come from llama.cpp's `n_probs`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from gateway.backend import Backend
from gateway.backend.client import RESPONSE_FIELDS
from gateway.config import Settings
from gateway.dialect import new_call_id
from gateway.errors import GatewayError, bad_request, decode_body

_encode = msgspec.json.encode
MAX_PROMPTS = 16  # choices per request: each one is a generation on a llama.cpp slot
MAX_LOGPROBS = 5  # OpenAI's own bound for the legacy API


class CompletionRequest(msgspec.Struct, kw_only=True):
    prompt: str | list[Any]  # strings, a token array or token arrays (checked below)
    model: str | None = None
    max_tokens: int | None = 16  # OpenAI's default for this endpoint
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    best_of: int | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    stop: str | list[str] | None = None
    logprobs: int | None = None
    echo: bool = False
    suffix: str | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None


_decoder = msgspec.json.Decoder(CompletionRequest)


def decode_completion_request(body: bytes, settings: Settings) -> CompletionRequest:
    req = decode_body(_decoder, body)
    if req.suffix:
        raise bad_request("`suffix` (fill-in-the-middle) is not supported by this server; "
                          "send the whole text as `prompt`", "suffix", code="unsupported_parameter")
    if req.echo:
        raise bad_request("`echo` is not supported; the client already has the prompt", "echo",
                          code="unsupported_parameter")
    for name in ("n", "best_of"):
        if getattr(req, name) not in (None, 1):
            raise bad_request(f"`{name}` must be 1: send several prompts for several choices",
                              name, code="unsupported_parameter")
    if req.logit_bias:
        raise bad_request("`logit_bias` is not supported", "logit_bias",
                          code="unsupported_parameter")
    if req.max_tokens is not None and req.max_tokens < 1:
        raise bad_request("max_tokens must be at least 1", "max_tokens")
    if req.logprobs is not None and not 0 <= req.logprobs <= MAX_LOGPROBS:
        raise bad_request(f"logprobs must be between 0 and {MAX_LOGPROBS}", "logprobs")
    if req.temperature is not None and not 0 <= req.temperature <= 2:
        raise bad_request("temperature must be between 0 and 2", "temperature")
    if req.top_p is not None and not 0 <= req.top_p <= 1:
        raise bad_request("top_p must be between 0 and 1", "top_p")
    stops = [req.stop] if isinstance(req.stop, str) else (req.stop or [])
    if len(stops) > settings.max_stop_words:
        raise bad_request(f"at most {settings.max_stop_words} stop sequences are allowed", "stop")
    if any(not s for s in stops):
        raise bad_request("stop sequences must not be empty", "stop")
    if not prompts_of(req):
        raise bad_request("`prompt` must not be empty", "prompt")
    if len(prompts_of(req)) > MAX_PROMPTS:
        raise bad_request(f"at most {MAX_PROMPTS} prompts per request", "prompt")
    return req


def prompts_of(req: CompletionRequest) -> list[str | list[int]]:
    return split_inputs(req.prompt, "prompt")


def _is_tokens(x: Any) -> bool:
    return isinstance(x, list) and all(isinstance(t, int) and not isinstance(t, bool)
                                       for t in x)


def split_inputs(value: str | list[Any], param: str) -> list[str | list[int]]:
    """A string, a list of strings, a token array or a list of token arrays → the inputs
    (OpenAI's four shapes for `prompt` and `input`); anything else is a 400."""
    if isinstance(value, str):
        return [value]
    if value and _is_tokens(value):
        return [list(value)]
    out: list[str | list[int]] = []
    for i, x in enumerate(value):
        if not (isinstance(x, str) or _is_tokens(x)):
            raise bad_request(f"`{param}[{i}]` must be a string or an array of token ids",
                              param)
        out.append(x)
    return out


def _payload(req: CompletionRequest, prompt: str | list[int]) -> dict[str, Any]:
    stops = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
    payload: dict[str, Any] = {"prompt": prompt, "n_predict": req.max_tokens or -1,
                               "stop": stops, "cache_prompt": True}
    for name in ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty"):
        value = getattr(req, name)
        if value is not None:
            payload[name] = value
    if req.logprobs is not None:
        payload["n_probs"] = max(1, req.logprobs)
        # the client asks llama.cpp only for the fields it reads: these too, here
        payload["response_fields"] = [*RESPONSE_FIELDS, "completion_probabilities"]
    return payload


def _finish(result: dict[str, Any]) -> str:
    return "length" if result.get("stop_type") == "limit" else "stop"


def _logprobs(probs: list[dict[str, Any]], want: int, offset: int = 0) -> dict[str, Any]:
    """llama.cpp's `completion_probabilities` → the legacy OpenAI logprobs object."""
    tokens, lps, tops, offsets = [], [], [], []
    for item in probs:
        token = item.get("token", "")
        tokens.append(token)
        lps.append(item.get("logprob"))
        tops.append({t.get("token", ""): t.get("logprob") for t in
                     (item.get("top_logprobs") or [])[:want]} if want else None)
        offsets.append(offset)
        offset += len(token)
    return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops,
            "text_offset": offsets}


class CompletionService:
    def __init__(self, backend: Backend, model_id: str) -> None:
        self.backend = backend
        self.model_id = model_id

    async def complete(self, req: CompletionRequest) -> dict[str, Any]:
        prompts = prompts_of(req)
        results = await asyncio.gather(*(self.backend.complete(_payload(req, pr))
                                         for pr in prompts))
        choices, used_in, used_out = [], 0, 0
        for i, r in enumerate(results):
            text = r.get("content", "")
            lp = _logprobs(r.get("completion_probabilities") or [], req.logprobs or 0) \
                if req.logprobs is not None else None
            choices.append({"index": i, "text": text, "logprobs": lp, "finish_reason": _finish(r)})
            used_in += int(r.get("tokens_evaluated") or 0)
            used_out += int(r.get("tokens_predicted") or 0)
        return {"id": "cmpl-" + new_call_id("", 24), "object": "text_completion",
                "created": int(time.time()), "model": self.model_id, "choices": choices,
                "usage": {"prompt_tokens": used_in, "completion_tokens": used_out,
                          "total_tokens": used_in + used_out}}

    async def stream(self, req: CompletionRequest) -> AsyncIterator[bytes]:
        """SSE lines; the prompts are generated one after the other (choice index = prompt)."""
        cid, created = "cmpl-" + new_call_id("", 24), int(time.time())

        def line(obj: dict[str, Any]) -> bytes:
            return b"data: " + _encode(obj) + b"\n\n"

        def chunk(i: int, text: str, finish: str | None, lp: Any = None) -> bytes:
            return line({"id": cid, "object": "text_completion", "created": created,
                         "model": self.model_id, "choices": [
                             {"index": i, "text": text, "logprobs": lp, "finish_reason": finish}]})

        used_in = used_out = 0
        try:
            for i, prompt in enumerate(prompts_of(req)):
                last: dict[str, Any] = {}
                offset = 0
                async for event in self.backend.stream(_payload(req, prompt)):
                    last = event
                    text = event.get("content", "")
                    lp = None
                    if req.logprobs is not None:
                        lp = _logprobs(event.get("completion_probabilities") or [],
                                       req.logprobs, offset)
                    offset += len(text)
                    if text or lp:
                        yield chunk(i, text, None, lp)
                yield chunk(i, "", _finish(last))
                used_in += int(last.get("tokens_evaluated") or 0)
                used_out += int(last.get("tokens_predicted") or 0)
        except GatewayError as exc:
            yield line(exc.body())
            yield b"data: [DONE]\n\n"
            return
        if req.stream_options and req.stream_options.get("include_usage"):
            yield line({"id": cid, "object": "text_completion", "created": created,
                        "model": self.model_id, "choices": [], "usage": {
                            "prompt_tokens": used_in, "completion_tokens": used_out,
                            "total_tokens": used_in + used_out}})
        yield b"data: [DONE]\n\n"
