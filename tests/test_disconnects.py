"""In-process: concurrency slots come back and llama.cpp stops generating, however and
whenever a client goes away (issue: reliability findings 1 and 3)."""

from __future__ import annotations

import asyncio

import pytest

from tests.inprocess import call, chat, gateway_on_stub, settle

STREAM = chat(stream=True, max_tokens=50)


async def test_stream_client_gone_before_first_chunk_gives_its_slot_back() -> None:
    # Starlette cancels the send before the body generator starts: a release in that
    # generator's `finally` never ran, and after max_concurrent such clients every request
    # was refused with 429.
    async with gateway_on_stub(max_concurrent=1) as (app, _, stub):
        for _ in range(3):
            await call(app, "/v1/chat/completions", STREAM, disconnect_after=0)
        ok = await call(app, "/v1/chat/completions", chat(max_tokens=4))
        assert ok.status == 200, ok.body
        assert app.state.slots.in_use == 0


@pytest.mark.parametrize("after", [0, 1, 2, 3])
async def test_stream_disconnect_at_each_stage_frees_slot_and_backend(after: int) -> None:
    async with gateway_on_stub(max_concurrent=1) as (app, _, stub):
        stub.tokens = [f"t{i} " for i in range(200)]
        stub.delay = 0.01
        reply = await call(app, "/v1/chat/completions", chat(stream=True),
                           disconnect_after=after)
        assert not reply.complete
        # the upstream connection is closed, so llama.cpp stops generating for nobody
        assert await settle(lambda: stub.active == 0)
        stub.delay = 0
        ok = await call(app, "/v1/chat/completions", chat(max_tokens=4))
        assert ok.status == 200, ok.body
        assert app.state.slots.in_use == 0


async def test_non_streamed_client_gone_cancels_the_generation() -> None:
    async with gateway_on_stub() as (app, _, stub):
        stub.tokens = [f"t{i} " for i in range(500)]
        stub.delay = 0.02  # 10 s of generation if nobody stops it
        hang_up = asyncio.Event()
        task = asyncio.create_task(call(app, "/v1/chat/completions", chat(), hang_up=hang_up))
        assert await settle(lambda: stub.active == 1)  # llama.cpp is generating
        hang_up.set()
        assert await settle(lambda: stub.gone == 1, timeout=5), \
            "llama.cpp kept generating for a client that was gone"
        reply = await task
        assert not reply.complete
        stub.delay = 0
        ok = await call(app, "/v1/chat/completions", chat(max_tokens=3))
        assert ok.status == 200 and ok.json()["choices"][0]["message"]["content"]
        assert app.state.slots.in_use == 0


async def test_non_streamed_tool_request_client_gone_cancels_the_stream_upstream() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": "string"}}}}}]
    async with gateway_on_stub() as (app, _, stub):
        stub.tokens = ["x"] * 500
        stub.delay = 0.02
        hang_up = asyncio.Event()
        task = asyncio.create_task(call(app, "/v1/chat/completions", chat(tools=tools),
                                        hang_up=hang_up))
        assert await settle(lambda: stub.active == 1)
        hang_up.set()
        assert await settle(lambda: stub.gone == 1, timeout=5)
        await task
        assert stub.active == 0 and app.state.slots.in_use == 0


async def test_client_gone_while_sending_its_body_is_not_an_error(caplog) -> None:
    async with gateway_on_stub() as (app, _, stub):
        messages = iter([{"type": "http.request", "body": b'{"messages": [', "more_body": True},
                         {"type": "http.disconnect"}])
        sent = []

        async def receive() -> dict:
            return next(messages)

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.1"},
                 "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
                 "query_string": b"", "root_path": "", "headers": [], "state": {},
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
        await app(scope, receive, send)
        assert sent[0]["status"] == 499
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
        assert stub.served == 0 and app.state.slots.in_use == 0


async def test_slot_is_busy_while_streaming_then_429_then_free() -> None:
    async with gateway_on_stub(max_concurrent=1) as (app, _, stub):
        stub.tokens = [f"t{i} " for i in range(100)]
        stub.delay = 0.01
        first = asyncio.create_task(call(app, "/v1/chat/completions", chat(stream=True)))
        assert await settle(lambda: stub.active == 1)
        busy = await call(app, "/v1/chat/completions", chat())
        assert busy.status == 429
        assert busy.json()["error"]["type"] == "rate_limit_error"
        done = await first
        assert done.complete and done.events()[-1] == "[DONE]"
        assert (await call(app, "/v1/chat/completions", chat())).status == 200
