"""The gateway keeps its connections to llama.cpp alive: one request after another, streamed
or not, reuses them instead of opening a TCP connection per request."""

from __future__ import annotations

import pytest

from tests.inprocess import call, chat, gateway_on_stub


@pytest.mark.parametrize("stream", [False, True])
async def test_sequential_requests_reuse_the_upstream_connection(stream: bool) -> None:
    async with gateway_on_stub() as (app, _, stub):
        stub.tail_delay = 0.05  # the stream's end comes after its final event, as it can
        for _ in range(10):
            reply = await call(app, "/v1/chat/completions", chat(stream=stream))
            assert reply.status == 200
        assert stub.served >= 10
        assert len(stub.peers) == 1, f"{len(stub.peers)} connections for 10 requests"
