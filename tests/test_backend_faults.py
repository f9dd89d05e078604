"""In-process: a backend that fails, answers garbage, hangs or dies gives the client a clear
OpenAI-shaped error (a status, or an error event then `[DONE]` once a stream has begun),
and the gateway serves the next request (issue: reliability finding 2, and faults)."""

from __future__ import annotations

import asyncio

import pytest

from tests.inprocess import Reply, call, chat, gateway_on_stub
from tests.stub_llama import StubLlama

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {
    "type": "object", "properties": {"a": {"type": "string"}}}}}]


def stream_error(reply: Reply) -> dict:
    """The stream ended with exactly one OpenAI-shaped error event, then [DONE]."""
    events = reply.events()
    assert reply.status == 200 and reply.complete
    assert events[-1] == "[DONE]", events[-3:]
    err = events[-2]["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    return err


async def served_again(app) -> None:
    ok = await call(app, "/v1/chat/completions", chat(max_tokens=4))
    assert ok.status == 200, ok.body
    assert ok.json()["choices"][0]["message"]["content"] == "Hello, world!"
    assert app.state.slots.in_use == 0


@pytest.mark.parametrize("mode,words", [
    ("cut", "unreachable"),  # llama.cpp killed mid-stream
    ("cut_before_first", "unreachable"),  # killed during prompt processing
    ("error_event", "slot crashed"),
    ("garbage", "malformed"),
    ("bad_content", "not a string"),
])
async def test_stream_backend_failure_is_an_error_event(mode: str, words: str) -> None:
    async with gateway_on_stub() as (app, _, stub):
        stub.mode = mode
        for body in (chat(stream=True), chat(stream=True, tools=TOOLS)):
            err = stream_error(await call(app, "/v1/chat/completions", body))
            assert words in err["message"] and err["type"] == "backend_error"
        stub.mode = "normal"
        await served_again(app)


async def test_unexpected_error_mid_stream_still_ends_with_error_and_done(monkeypatch) -> None:
    # any exception, not only the gateway's own (injected: a parser bug on the 2nd chunk)
    fed = []

    def broken_feed(self, text: str) -> list:
        fed.append(text)
        if len(fed) % 2 == 0:
            raise RuntimeError("a bug in a dialect parser")
        return []

    async with gateway_on_stub() as (app, _, stub):
        monkeypatch.setattr("gateway.chat.GatedParser.feed", broken_feed)
        for body in (chat(stream=True), chat(stream=True, tools=TOOLS)):
            reply = await call(app, "/v1/chat/completions", body)
            err = stream_error(reply)
            assert err["type"] == "server_error" and "see its log" in err["message"]
            assert "Traceback" not in reply.body.decode() and "a bug" not in err["message"]
        monkeypatch.undo()
        await served_again(app)


async def test_final_event_echoing_a_big_prompt_does_not_cut_the_stream() -> None:
    # llama.cpp's final event echoes prompt and grammar unless asked for fewer fields; over
    # aiohttp's line limit that used to end the stream without an error or [DONE]
    async with gateway_on_stub() as (app, _, stub):
        reply = await call(app, "/v1/chat/completions",
                           chat("x" * 300_000, stream=True, max_tokens=4))
        events = reply.events()
        assert events[-1] == "[DONE]" and events[-2]["choices"][0]["finish_reason"] == "length"
        assert "response_fields" in stub.last_payload


async def test_long_content_line_passes() -> None:
    async with gateway_on_stub() as (app, _, stub):
        stub.mode = "long_line"
        reply = await call(app, "/v1/chat/completions", chat(stream=True))
        text = "".join(e["choices"][0]["delta"].get("content") or ""
                       for e in reply.events()[:-1] if e.get("choices"))
        assert reply.events()[-1] == "[DONE]" and len(text) > 300_000


@pytest.mark.parametrize("mode,status,words", [
    ("status500", 502, "boom"),
    ("status400", 400, "failed to parse grammar"),
    ("garbage", 502, "malformed"),
    ("not_object", 502, "malformed"),
    ("bad_content", 502, "not a string"),
])
async def test_non_streamed_backend_failure_is_a_clear_status(mode: str, status: int,
                                                              words: str) -> None:
    async with gateway_on_stub() as (app, _, stub):
        stub.mode = mode
        reply = await call(app, "/v1/chat/completions", chat())
        assert reply.status == status, reply.body
        assert words in reply.json()["error"]["message"]
        stub.mode = "normal"
        await served_again(app)


async def test_hanging_backend_is_a_timeout_within_the_request_timeout() -> None:
    async with gateway_on_stub(request_timeout=0.5) as (app, _, stub):
        stub.mode = "hang"
        reply = await call(app, "/v1/chat/completions", chat(), timeout=20)
        assert reply.status == 504 and "timed out" in reply.json()["error"]["message"]
        err = stream_error(await call(app, "/v1/chat/completions", chat(stream=True),
                                      timeout=20))
        assert err["type"] == "backend_timeout"
        stub.mode = "normal"
        await served_again(app)


async def test_backend_killed_while_idle_then_back() -> None:
    async with gateway_on_stub() as (app, _, stub):
        await served_again(app)
        await stub.stop()  # llama.cpp gone: connection refused
        reply = await call(app, "/v1/chat/completions", chat())
        assert reply.status == 502 and "unreachable" in reply.json()["error"]["message"]
        err = stream_error(await call(app, "/v1/chat/completions", chat(stream=True)))
        assert "unreachable" in err["message"]
        await stub.start()  # restarted on the same port
        await asyncio.sleep(0)
        await served_again(app)


async def test_streams_to_llama_cpp_reuse_one_connection() -> None:
    """Streamed generations read to their end leave their connection open for the next
    request: one TCP connection for sequential requests, not one each. (A non-streamed
    answer without tools is read whole, on a connection of its own: see test_read_whole.)"""
    stub = await StubLlama(total_slots=2).start()
    try:
        async with gateway_on_stub(stub) as (app, _, _):
            for stream in (True, True, True):
                reply = await call(app, "/v1/chat/completions", chat(stream=stream))
                assert reply.status == 200, reply.body
            assert stub.served == 3
            assert len(stub.peers) == 1
    finally:
        await stub.stop()


async def test_no_more_connections_than_llama_cpp_has_slots() -> None:
    """llama.cpp serves HTTP on n_parallel + 2 threads and an idle kept-alive connection
    holds one: generations never open more connections than slots (the rest wait their
    turn in the gateway), so none is left unserved."""
    stub = await StubLlama(total_slots=2, delay=0.02).start()
    try:
        async with gateway_on_stub(stub) as (app, _, _):
            replies = await asyncio.gather(*(
                call(app, "/v1/chat/completions", chat(stream=True)) for i in range(8)))
            assert all(r.status == 200 for r in replies), [r.body for r in replies]
            assert stub.served == 8 and stub.peak_active == 2
            assert len(stub.peers) == 2
    finally:
        await stub.stop()


async def test_slots_unknown_means_a_connection_per_generation() -> None:
    """A server that does not report its slots: each generation on a connection of its own,
    closed after it (nothing is kept that could hold one of its threads)."""
    async with gateway_on_stub() as (app, _, stub):
        for _ in range(3):
            assert (await call(app, "/v1/chat/completions", chat(stream=True))).status == 200
        assert len(stub.peers) == 3


async def test_pooled_connection_closed_by_llama_cpp_is_retried_on_a_new_one() -> None:
    """llama.cpp closes an idle keep-alive connection just as the gateway reuses it: the
    request goes again on a fresh connection and the client never sees it."""
    stub = await StubLlama(total_slots=2, mode="drop_reused").start()
    try:
        async with gateway_on_stub(stub) as (app, _, _):
            for stream in (True, False, True, True):  # the non-streamed one: a whole read
                reply = await call(app, "/v1/chat/completions", chat(stream=stream))
                assert reply.status == 200, reply.body
                text = reply.json()["choices"][0]["message"]["content"] if not stream else \
                    "".join(e["choices"][0]["delta"].get("content") or ""
                            for e in reply.events()[:-1])
                assert text == "Hello, world!"
            assert stub.dropped == 2  # each reuse was closed, and each request still answered
            assert app.state.slots.in_use == 0
    finally:
        await stub.stop()


async def test_every_pooled_connection_closed_at_once_still_answers() -> None:
    """llama.cpp closed all the pooled connections together: each try discards one, and the
    request goes out on a fresh connection in the end instead of failing with a 502."""
    stub = await StubLlama(total_slots=2, delay=0.05).start()
    try:
        async with gateway_on_stub(stub) as (app, _, _):
            replies = await asyncio.gather(*(  # two connections in the pool
                call(app, "/v1/chat/completions", chat(stream=True)) for _ in range(2)))
            assert all(r.status == 200 for r in replies) and len(stub.peers) == 2
            stub.mode = "drop_reused"
            for stream in (False, True):
                reply = await call(app, "/v1/chat/completions", chat(stream=stream))
                assert reply.status == 200, reply.body
            assert stub.dropped >= 2  # both pooled ones were closed, and it was answered
            assert app.state.slots.in_use == 0
    finally:
        await stub.stop()
