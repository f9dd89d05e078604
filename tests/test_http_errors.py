"""In-process: every error path of the HTTP surface answers an OpenAI-shaped error with the
right status, and the gateway keeps serving (fast: runs in `make test-fast`)."""

from __future__ import annotations

import pytest
from gateway.app import create_app
from gateway.config import Settings
from gateway.runtime import Runtime, ServeConfig

from tests.inprocess import Reply, call, chat, gateway_on_stub

KEY = "sk-test-123"


def error_of(reply: Reply, status: int) -> dict:
    assert reply.status == status, reply.body
    err = reply.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    return err


async def test_api_key() -> None:
    async with gateway_on_stub(api_key=KEY) as (app, _, stub):
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": KEY + "x"}):
            err = error_of(await call(app, "/v1/chat/completions", chat(), headers=headers), 401)
            assert err["code"] == "invalid_api_key"
            error_of(await call(app, "/v1/models", method="GET", headers=headers), 401)
        assert (await call(app, "/health", method="GET")).status == 200  # open for probes
        ok = await call(app, "/v1/chat/completions", chat(),
                        headers={"authorization": f"Bearer {KEY}"})
        assert ok.status == 200
        assert stub.served == 1  # refused requests never reached llama.cpp


async def test_body_limits() -> None:
    async with gateway_on_stub(max_body_bytes=1000) as (app, _, stub):
        big = chat("x" * 2000)
        err = error_of(await call(app, "/v1/chat/completions", big), 413)
        assert err["code"] == "body_too_large"
        # a client that lies about (or omits) its length is cut off while reading
        lying = await call(app, "/v1/chat/completions", big, headers={"content-length": "10"})
        assert error_of(lying, 413)["code"] == "body_too_large"
        assert (await call(app, "/v1/chat/completions", chat())).status == 200


@pytest.mark.parametrize("body,code", [
    (b"{", "invalid_json"),
    (b"", "invalid_json"),
    (b'{"messages": 5}', "invalid_value"),
    (b"\xff\xfe", "invalid_json"),
])
async def test_malformed_bodies_are_400(body: bytes, code: str) -> None:
    async with gateway_on_stub() as (app, _, stub):
        assert error_of(await call(app, "/v1/chat/completions", body), 400)["code"] == code
        assert stub.served == 0
        assert (await call(app, "/v1/chat/completions", chat())).status == 200


async def test_unknown_route_and_method() -> None:
    async with gateway_on_stub() as (app, _, _stub):
        assert "no such route" in error_of(await call(app, "/v2/nope", chat()), 404)["message"]
        error_of(await call(app, "/v1/chat/completions", method="GET"), 405)


async def test_not_ready_is_503_and_health_says_why() -> None:
    runtime = Runtime(ServeConfig(endpoints=["http://127.0.0.1:9"], plugins=["generic"],
                                  settings=Settings()))
    app = create_app(runtime, manage_backend=False)
    err = error_of(await call(app, "/v1/chat/completions", chat()), 503)
    assert err["type"] == "service_unavailable" and "not ready" in err["message"]
    assert error_of(await call(app, "/health", method="GET"), 503)
    await runtime.stop()


async def test_slot_freed_after_every_error_status() -> None:
    async with gateway_on_stub(max_concurrent=1) as (app, _, stub):
        bad_tools = chat(tools=[{"type": "function", "function": {
            "name": "f", "parameters": {"type": "dict"}}}])
        assert (await call(app, "/v1/chat/completions", bad_tools)).status == 400
        assert (await call(app, "/v1/chat/completions", {**bad_tools, "stream": True})
                ).status == 400
        stub.mode = "status500"
        assert (await call(app, "/v1/chat/completions", chat())).status == 502
        stub.mode = "normal"
        assert (await call(app, "/v1/chat/completions", chat())).status == 200
        assert app.state.slots.in_use == 0
