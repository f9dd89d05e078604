"""A non-streamed answer without tools is streamed from llama.cpp (closing the stream is what
stops it when the client goes away) but read at its end, in one read, not token by token; one
bounded small (max_tokens <= unstreamed_max_tokens) is asked of llama.cpp non-streamed."""

from __future__ import annotations

import asyncio
import sys

import pytest
from gateway.backend.client import READ_WHOLE, UNSTREAMED, LlamaCppBackend

from tests.inprocess import call, chat, gateway_on_stub, settle
from tests.stub_llama import StubLlama

TOKENS = [f"t{i} " for i in range(20)]


async def batches_of(payload: dict) -> tuple[list[list[dict]], StubLlama]:
    stub = await StubLlama(tokens=TOKENS, delay=0.01).start()
    backend = LlamaCppBackend(stub.url)
    backend.limit_connections(2)  # kept-alive connections, as once the slots are known
    try:
        async with asyncio.timeout(10):  # a stream read whole must still see its end
            return [b async for b in backend.stream_batches(payload)], stub
    finally:
        await backend.close()
        await stub.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_RCVLOWAT wakes on Linux")
async def test_a_stream_read_whole_is_one_read_at_its_end() -> None:
    eager, _ = await batches_of({"prompt": "x"})
    assert len(eager) > 5  # read as the events came (one every 10 ms)
    whole, stub = await batches_of({"prompt": "x", READ_WHOLE: True})
    assert len(whole) == 1
    events = whole[0]
    assert "".join(e["content"] for e in events) == "".join(TOKENS)
    assert events[-1]["stop"] and events[-1]["tokens_predicted"] == len(TOKENS)
    # still llama.cpp's streaming endpoint, and the key is the gateway's own
    assert stub.last_payload["stream"] is True and READ_WHOLE not in stub.last_payload


async def test_non_streamed_chat_without_tools_reads_whole_and_answers_right() -> None:
    stub = await StubLlama(tokens=TOKENS, total_slots=2).start()  # connections kept alive
    # 0: never unstreamed, so even small max_tokens go the streamed way
    async with gateway_on_stub(stub, unstreamed_max_tokens=0) as (app, _, _):
        cut = await call(app, "/v1/chat/completions", chat(max_tokens=5))
        assert stub.last_payload["stream"] is True and READ_WHOLE not in stub.last_payload
        body = cut.json()
        assert body["choices"][0]["message"]["content"] == "".join(TOKENS[:5])
        assert body["choices"][0]["finish_reason"] == "length"
        assert body["usage"]["completion_tokens"] == 5
        done = (await call(app, "/v1/chat/completions", chat())).json()
        assert done["choices"][0]["message"]["content"] == "".join(TOKENS)
        assert done["choices"][0]["finish_reason"] == "stop"
        # each whole read has a connection of its own, closed after it (none kept alive:
        # an idle one waits there with the low-water mark still set)
        before = len(stub.peers)
        for _ in range(3):
            await call(app, "/v1/chat/completions", chat(max_tokens=2))
        assert len(stub.peers) == before + 3
        streamed = await call(app, "/v1/chat/completions", chat(stream=True))  # as before
        assert streamed.events()[-1] == "[DONE]"
        assert READ_WHOLE not in stub.last_payload
    await stub.stop()


async def test_a_whole_read_is_still_stopped_by_the_client_hanging_up() -> None:
    async with gateway_on_stub() as (app, _, stub):
        stub.tokens = [f"t{i} " for i in range(500)]
        stub.delay = 0.02
        hang_up = asyncio.Event()
        task = asyncio.create_task(call(app, "/v1/chat/completions", chat(), hang_up=hang_up))
        assert await settle(lambda: stub.active == 1)
        assert READ_WHOLE not in stub.last_payload and stub.last_payload["stream"] is True
        hang_up.set()
        assert await settle(lambda: stub.gone == 1, timeout=5)
        assert not (await task).complete
        assert stub.active == 0 and app.state.slots.in_use == 0


async def test_a_small_bounded_answer_is_asked_of_llama_cpp_unstreamed() -> None:
    stub = await StubLlama(tokens=TOKENS, total_slots=2).start()  # connections kept alive
    async with gateway_on_stub(stub, unstreamed_max_tokens=8) as (app, _, _):
        before = len(stub.peers)
        for _ in range(3):
            cut = await call(app, "/v1/chat/completions", chat(max_tokens=5))
            assert stub.last_payload["stream"] is False
            assert UNSTREAMED not in stub.last_payload and READ_WHOLE not in stub.last_payload
            assert stub.last_payload["n_predict"] == 5
            body = cut.json()
            assert body["choices"][0]["message"]["content"] == "".join(TOKENS[:5])
            assert body["choices"][0]["finish_reason"] == "length"
            assert body["usage"]["completion_tokens"] == 5
        assert len(stub.peers) == before + 1  # one kept-alive connection for all three
        full = (await call(app, "/v1/chat/completions", chat(max_tokens=8))).json()
        assert stub.last_payload["stream"] is False
        assert full["choices"][0]["finish_reason"] == "length"
        # over the bound, or no max_tokens at all: streamed (a hang-up must stop it)
        for body in (chat(max_tokens=9), chat()):
            answer = (await call(app, "/v1/chat/completions", body)).json()
            assert stub.last_payload["stream"] is True
            assert answer["choices"][0]["message"]["content"].startswith("t0 t1")
        # a client's stream, and a request with tools (watched as it comes), never
        tools = [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {}}}}]
        for body in (chat(max_tokens=5, stream=True), chat(max_tokens=5, tools=tools)):
            await call(app, "/v1/chat/completions", body)
            assert stub.last_payload["stream"] is True
    await stub.stop()
