"""A backend that is not llama.cpp: vLLM or SGLang, through their OpenAI /v1/completions API.

The gateway still renders the prompt and builds the GBNF grammar itself; both servers compile
GBNF-compatible EBNF with xgrammar, passed in their structured-output field:

- vLLM (>= 0.12): `structured_outputs: {"grammar": ...}`;
  `vllm serve MODEL` (structured outputs are on by default; xgrammar compiles the grammar)
- SGLang: `ebnf: ...`;
  `python -m sglang.launch_server --model-path MODEL --grammar-backend xgrammar`

Neither applies a grammar lazily (from a trigger word on), which the gateway uses for
`tool_choice: auto`: such a request is refused with a clear 400, never run unconstrained.
The adapter answers in llama.cpp's /completion shape, so the chat path does not change.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import msgspec

from gateway.backend.client import BackendError, _upstream_error

_decode = msgspec.json.Decoder().decode
SAMPLING = ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty", "top_k",
            "min_p")


class OpenAICompletionsBackend:
    def __init__(self, base_url: str, model: str, *, flavor: str = "vllm",
                 timeout: float = 600.0) -> None:
        if flavor not in ("vllm", "sglang"):
            raise ValueError(f"unknown flavor {flavor!r}: vllm or sglang")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.flavor = flavor
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=10)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def request(self, payload: dict[str, Any], stream: bool) -> dict[str, Any]:
        """llama.cpp's /completion payload → an OpenAI completions request for this server."""
        if payload.get("grammar_lazy"):
            raise BackendError(f"{self.flavor} cannot apply a grammar from a trigger on (needed "
                               "for tool_choice \"auto\"); use tool_choice \"required\" or a "
                               "named tool with this backend", 400, code="unsupported_by_backend")
        body: dict[str, Any] = {"model": self.model, "prompt": payload["prompt"],
                                "stream": stream}
        if (n := payload.get("n_predict", -1)) and n > 0:
            body["max_tokens"] = n
        if payload.get("stop"):
            body["stop"] = payload["stop"]
        for name in SAMPLING:
            if name in payload:
                body[name] = payload[name]
        if payload.get("repeat_penalty") is not None:
            body["repetition_penalty"] = payload["repeat_penalty"]
        if payload.get("n_probs"):
            body["logprobs"] = payload["n_probs"]
        if grammar := payload.get("grammar"):
            if self.flavor == "vllm":
                body["structured_outputs"] = {"grammar": grammar}
            else:
                body["ebnf"] = grammar
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = self.request(payload, stream=False)
        try:
            async with self._http().post(self.base_url + "/v1/completions", json=body) as resp:
                raw = await resp.read()
                if resp.status != 200:
                    raise _upstream_error(resp.status, raw)
                out = _decode(raw)
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise BackendError(f"{self.flavor} backend unreachable: {exc}", 502) from exc
        choice = (out.get("choices") or [{}])[0]
        usage = out.get("usage") or {}
        return {"content": choice.get("text") or "", "stop": True,
                "stop_type": _stop_type(choice.get("finish_reason")),
                "tokens_evaluated": usage.get("prompt_tokens", 0),
                "tokens_predicted": usage.get("completion_tokens", 0)}

    async def stream(self, payload: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        body = self.request(payload, stream=True)
        finish: str | None = None
        try:
            async with self._http().post(self.base_url + "/v1/completions", json=body) as resp:
                if resp.status != 200:
                    raise _upstream_error(resp.status, await resp.read())
                async for raw in resp.content:
                    line = raw.strip()
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        break
                    chunk = _decode(data)
                    if "error" in chunk:
                        raise _upstream_error(500, data)
                    if chunk.get("usage") and not chunk.get("choices"):
                        usage = chunk["usage"]
                        yield {"content": "", "stop": True, "stop_type": _stop_type(finish),
                               "tokens_evaluated": usage.get("prompt_tokens", 0),
                               "tokens_predicted": usage.get("completion_tokens", 0)}
                        return
                    for choice in chunk.get("choices") or []:
                        finish = choice.get("finish_reason") or finish
                        if choice.get("text"):
                            yield {"content": choice["text"], "stop": False}
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise BackendError(f"{self.flavor} backend unreachable: {exc}", 502) from exc
        yield {"content": "", "stop": True, "stop_type": _stop_type(finish)}

    async def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        body = {"model": self.model, "prompt": text, "add_special_tokens": add_special}
        async with self._http().post(self.base_url + "/tokenize", json=body) as resp:
            if resp.status != 200:
                raise _upstream_error(resp.status, await resp.read())
            return list(_decode(await resp.read()).get("tokens") or [])

    async def props(self) -> dict[str, Any]:
        """What the runtime reads from llama.cpp's /props, from /v1/models (no chat template:
        serve with --chat-template-file)."""
        async with self._http().get(self.base_url + "/v1/models") as resp:
            if resp.status != 200:
                raise _upstream_error(resp.status, await resp.read())
            models = _decode(await resp.read()).get("data") or []
        card = next((m for m in models if m.get("id") == self.model), models[0] if models else {})
        return {"model_path": card.get("id", self.model), "total_slots": 1,
                "default_generation_settings": {"n_ctx": card.get("max_model_len") or 0}}

    async def healthy(self) -> bool:
        try:
            async with self._http().get(self.base_url + "/health",
                                        timeout=aiohttp.ClientTimeout(total=5)) as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            return False


def _stop_type(finish: str | None) -> str:
    return "limit" if finish == "length" else "eos"
