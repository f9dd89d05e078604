"""The vLLM/SGLang adapter against a stub server that checks the request shape (no GPU)."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from gateway.backend.client import BackendError
from gateway.backend.openai_compat import OpenAICompletionsBackend
from gateway.backend.supervisor import free_port

GRAMMAR = 'root ::= "{" [a-z]+ "}"'
PAYLOAD = {"prompt": "<|user|>hi", "n_predict": 16, "stop": ["<|end|>"], "temperature": 0,
           "cache_prompt": True, "id_slot": 1, "grammar": GRAMMAR}
LLAMA_ONLY = {"n_predict", "grammar", "cache_prompt", "id_slot", "grammar_lazy", "n_probs"}


@pytest.fixture
async def stub():
    seen: list[dict] = []

    async def completions(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        seen.append(body)
        if not body.get("stream"):
            return web.json_response({"choices": [{"text": "{ab}", "finish_reason": "stop"}],
                                      "usage": {"prompt_tokens": 5, "completion_tokens": 3}})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for piece, finish in (("{a", None), ("b}", "length")):
            chunk = {"choices": [{"text": piece, "finish_reason": finish}]}
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        usage = {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}
        await resp.write(b"data: " + json.dumps(usage).encode() + b"\n\ndata: [DONE]\n\n")
        return resp

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "m", "max_model_len": 4096}]})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/completions", completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_vllm_request_shape_and_answer(stub):
    url, seen = stub
    b = OpenAICompletionsBackend(url, "m", flavor="vllm")
    try:
        out = await b.complete(PAYLOAD)
        assert out == {"content": "{ab}", "stop": True, "stop_type": "eos",
                       "tokens_evaluated": 5, "tokens_predicted": 3}
        sent = seen[-1]
        assert sent["structured_outputs"] == {"grammar": GRAMMAR}
        assert sent["model"] == "m" and sent["max_tokens"] == 16 and sent["stop"] == ["<|end|>"]
        assert not LLAMA_ONLY & set(sent) and "ebnf" not in sent
        assert await b.healthy()
        assert (await b.props())["default_generation_settings"]["n_ctx"] == 4096
    finally:
        await b.close()


async def test_sglang_stream_shape(stub):
    url, seen = stub
    b = OpenAICompletionsBackend(url, "m", flavor="sglang")
    try:
        events = [e async for e in b.stream(PAYLOAD)]
        assert "".join(e["content"] for e in events) == "{ab}"
        assert events[-1]["stop"] and events[-1]["stop_type"] == "limit"
        assert events[-1]["tokens_predicted"] == 2
        sent = seen[-1]
        assert sent["ebnf"] == GRAMMAR and sent["stream"] is True
        assert "structured_outputs" not in sent and not LLAMA_ONLY & set(sent)
    finally:
        await b.close()


async def test_a_lazy_grammar_is_refused_not_dropped(stub):
    url, seen = stub
    b = OpenAICompletionsBackend(url, "m")
    with pytest.raises(BackendError) as err:
        await b.complete({**PAYLOAD, "grammar_lazy": True, "grammar_triggers": []})
    assert err.value.status == 400 and "tool_choice" in err.value.message
    assert seen == []
    await b.close()
