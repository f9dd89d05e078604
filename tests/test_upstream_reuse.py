"""The gateway keeps its connections to llama.cpp alive: one request after another reuses
them instead of opening a TCP connection per request. (A stream asks llama.cpp to close its
connection at the end, since llama.cpp may close it anyway; its end is still read whole.)"""

from __future__ import annotations

import pytest

from tests.inprocess import call, chat, gateway_on_stub


@pytest.mark.parametrize("stream", [False])
async def test_sequential_requests_reuse_the_upstream_connection(stream: bool) -> None:
    async with gateway_on_stub() as (app, _, stub):
        stub.tail_delay = 0.05  # the stream's end comes after its final event, as it can
        for _ in range(10):
            reply = await call(app, "/v1/chat/completions", chat(stream=stream))
            assert reply.status == 200
        assert stub.served >= 10
        assert len(stub.peers) == 1, f"{len(stub.peers)} connections for 10 requests"
