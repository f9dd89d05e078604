"""The chat route's lean path: the same answers, bytes and guarantees as the general one.

The route is a plain ASGI endpoint (no Starlette request wrapper), small requests are
prepared on the event loop under a leash, llama.cpp's events are read in batches, the SSE
lines are built from bytes encoded once per answer and a client's hang-up cancels the work
through one watcher task. Each test fails if the shortcut drops what the long way did."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec
import pytest
from gateway import chat as chat_module
from gateway import protocol as p
from gateway.backend.client import MAX_LINE_BYTES, SseLines
from gateway.chat import SseChunks, _delta
from gateway.dialect import Delta
from gateway.slots import ClientGone, Hangup
from gateway.templating import ChatTemplate
from prometheus_client import generate_latest

from tests.inprocess import call, chat, gateway_on_stub

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


# -- SSE lines: the same bytes the structs encode ----------------------------------------

@pytest.mark.parametrize("model", ["m1", 'a "quoted" model', 'x","choices":[]', "ünï"])
def test_sse_lines_are_the_bytes_of_the_chunk_structs(model: str) -> None:
    sse = SseChunks("chatcmpl-abc", 1700000000, model)
    deltas = [Delta("content", 'he said "hi"\n'), Delta("content", ""),
              Delta("reasoning", "hmm"), Delta("tool_start", index=0, id="call_1", name="f"),
              Delta("tool_args", '{"x": 1}', index=0)]

    def reference(delta: p.ChunkDelta, finish: str | None = None) -> bytes:
        c = p.ChatCompletionChunk(id="chatcmpl-abc", created=1700000000, model=model,
                                  choices=[p.ChunkChoice(index=0, delta=delta,
                                                         finish_reason=finish)])
        return b"data: " + msgspec.json.encode(c) + b"\n\n"

    assert sse.deltas(deltas) == b"".join(reference(_delta(d)) for d in deltas)
    first = p.ChunkDelta(role="assistant", content="")
    assert sse.delta(first) == reference(first)
    assert sse.chunk(p.ChunkDelta(), "stop") == reference(p.ChunkDelta(), "stop")
    usage = p.Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3)
    assert json.loads(sse.usage(usage)[6:])["usage"]["total_tokens"] == 3


# -- llama.cpp's stream cut into events, whatever the reads ----------------------------------

STREAM = (b'data: {"content":"Hel","stop":false}\n\n'
          b': a comment\n\n'
          b'data: {"content":"lo \\u00e9","stop":false}\n\n'
          b'data: {"content":"","stop":true,"stop_type":"eos","tokens_predicted":2}\n\n'
          b'data: {"content":"after the end"}\n\n')


def _read(chunks: list[bytes]) -> list[dict[str, Any]]:
    lines, events = SseLines(), []
    for data in chunks:
        batch, final = lines.events(data)
        events += batch
        if final:
            return events
    raise AssertionError("no final event")


def test_events_are_the_same_however_the_bytes_arrive() -> None:
    whole = _read([STREAM])
    assert [e["content"] for e in whole] == ["Hel", "lo é", ""] and whole[-1]["stop"]
    for cut in range(1, len(STREAM)):
        assert _read([STREAM[:cut], STREAM[cut:]]) == whole
    assert _read([STREAM[i:i + 1] for i in range(len(STREAM))]) == whole


def test_a_bad_event_comes_after_the_good_ones_before_it() -> None:
    lines = SseLines()
    batch, final = lines.events(b'data: {"content":"ok"}\n\ndata: {"error":{"message":"x"}}\n')
    assert [e["content"] for e in batch] == ["ok"] and not final
    assert lines.error is not None and "x" in str(lines.error)
    with pytest.raises(ValueError):  # alone in its read, it is raised at once
        SseLines().events(b"data: {not json\n")


def test_done_ends_and_an_endless_line_is_refused() -> None:
    lines = SseLines()
    batch, final = lines.events(b'data: {"content":"a"}\n\ndata: [DONE]\n\n')
    assert [e["content"] for e in batch] == ["a"] and lines.done and not final
    lines = SseLines()
    lines.events(b"data: " + b"x" * (MAX_LINE_BYTES // 2))
    with pytest.raises(ValueError, match="over"):
        lines.events(b"x" * (MAX_LINE_BYTES // 2 + 10))


# -- the route: auth, errors, metrics, disconnects -------------------------------------------

def _count(runtime: Any, status: str) -> float:
    text = generate_latest(runtime.metrics.registry).decode()
    for line in text.splitlines():
        if line.startswith("gateway_requests_total{") and \
                'route="/v1/chat/completions"' in line and f'status="{status}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_the_chat_route_keeps_auth_error_shapes_and_metrics() -> None:
    async with gateway_on_stub(api_key="sekret") as (app, runtime, stub):
        denied = await call(app, "/v1/chat/completions", chat())
        assert denied.status == 401 and denied.json()["error"]["code"] == "invalid_api_key"
        key = {"authorization": "Bearer sekret"}
        bad = await call(app, "/v1/chat/completions", b"{not json", headers=key)
        assert bad.status == 400 and set(bad.json()["error"]) == {"message", "type", "param",
                                                                   "code"}
        wrong_method = await call(app, "/v1/chat/completions", method="GET", headers=key)
        assert wrong_method.status == 405 and "error" in wrong_method.json()
        for _ in range(2):
            ok = await call(app, "/v1/chat/completions", chat(), headers=key)
            assert ok.status == 200 and ok.json()["choices"][0]["message"]["content"]
        streamed = await call(app, "/chat/completions", chat(stream=True), headers=key)
        assert streamed.events()[-1] == "[DONE]"
        assert stub.served == 3  # nothing refused reached llama.cpp
        assert (_count(runtime, "401"), _count(runtime, "400"), _count(runtime, "200")) == (
            1.0, 1.0, 2.0)
        assert app.state.slots.in_use == 0


@pytest.mark.parametrize("stream", [False, True])
async def test_a_hang_up_cancels_the_generation_and_frees_the_slot(stream: bool) -> None:
    async with gateway_on_stub() as (app, _, stub):
        stub.delay = 0.05
        stub.tokens = ["tok"] * 200
        gone = asyncio.Event()
        task = asyncio.create_task(call(app, "/v1/chat/completions", chat(stream=stream),
                                        hang_up=gone))
        while stub.active == 0:
            await asyncio.sleep(0.01)
        gone.set()
        reply = await asyncio.wait_for(task, 10)
        assert not reply.complete or reply.status == 499
        for _ in range(200):
            if stub.active == 0 and app.state.slots.in_use == 0:
                break
            await asyncio.sleep(0.01)
        assert stub.active == 0 and stub.gone == 1 and app.state.slots.in_use == 0


async def test_hangup_lets_a_cancellation_that_is_not_its_own_through() -> None:
    async def never_gone() -> dict[str, Any]:
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def guarded() -> None:
        async with Hangup(never_gone):
            await asyncio.sleep(10)

    task = asyncio.create_task(guarded())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def gone_now() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def hung_up() -> int:
        me = asyncio.current_task()
        assert me is not None
        with pytest.raises(ClientGone):
            async with Hangup(gone_now):
                await asyncio.sleep(10)
        await asyncio.sleep(0)  # no cancellation left behind on the task
        return me.cancelling()

    assert await asyncio.wait_for(hung_up(), 5) == 0


# -- preparing on the event loop -------------------------------------------------------------

async def test_small_requests_with_a_cached_plan_skip_the_thread(monkeypatch) -> None:
    async with gateway_on_stub() as (app, runtime, _):
        threads: list[Any] = []
        real = asyncio.to_thread

        async def counted(fn: Any, *args: Any) -> Any:
            threads.append(fn)
            return await real(fn, *args)

        monkeypatch.setattr(chat_module.asyncio, "to_thread", counted)
        body = chat(tools=TOOLS)
        first = await call(app, "/v1/chat/completions", body)  # the plan is built: a thread
        assert first.status == 200 and len(threads) == 1
        again = await call(app, "/v1/chat/completions", body)
        assert again.json()["choices"][0]["message"] == first.json()["choices"][0]["message"]
        assert len(threads) == 1  # cached plan, small body: prepared on the loop
        big = chat("x" * (chat_module.INLINE_BODY_BYTES + 1), tools=TOOLS)
        assert (await call(app, "/v1/chat/completions", big)).status == 200
        assert len(threads) == 2 and runtime.service.inline_prepare


# slow on long messages only: a conversation a client chose, not the template alone
SLOW = ("{% for m in messages %}{% for c in (m.content or '') %}{% for j in range(120) %}"
        "{% endfor %}{% endfor %}{{ m.content }}{% endfor %}")


async def test_a_slow_template_goes_back_to_threads(monkeypatch) -> None:
    async with gateway_on_stub() as (app, runtime, _):
        service = runtime.service
        assert (await call(app, "/v1/chat/completions", chat())).status == 200  # plan cached
        monkeypatch.setattr(chat_module, "INLINE_LEASH", 0.01)
        # the watchdog looks every _TICK (the leash's slack), and fires again after _REFIRE
        # when a timeout was swallowed (one landing in hypothesis's gc callback is)
        monkeypatch.setattr("gateway.template_limits._TICK", 0.01)
        monkeypatch.setattr("gateway.template_limits._REFIRE", 0.02)
        service.template = ChatTemplate(SLOW)
        assert (await call(app, "/v1/chat/completions", chat("fast"))).status == 200
        assert service.inline_prepare
        reply = await call(app, "/v1/chat/completions", chat("x" * 20000))
        assert reply.status == 200, reply.body
        assert not service.inline_prepare  # slow in the thread too: threads from now on


# -- batches through the metered backend and from a backend without them --------------------

class _Batched:
    async def stream_batches(self, payload: dict[str, Any]) -> Any:
        yield [{"content": "a"}, {"content": "b"}]
        yield [{"content": "", "stop": True, "tokens_evaluated": 5, "tokens_predicted": 2}]


class _OneByOne:
    async def stream(self, payload: dict[str, Any]) -> Any:
        for text in ("a", "b"):
            yield {"content": text}
        yield {"content": "", "stop": True, "tokens_evaluated": 5, "tokens_predicted": 2}


@pytest.mark.parametrize("inner", [_Batched, _OneByOne])
async def test_metered_batches_count_tokens_and_first_token_once(inner: type) -> None:
    from gateway.backend.batches import event_batches
    from gateway.metrics import GatewayMetrics

    class _Runtime:
        def backends_state(self) -> list[Any]:
            return []

    metrics = GatewayMetrics(_Runtime())
    backend = metrics.wrap_backend(inner())
    batches = [b async for b in event_batches(backend, {})]
    events = [e async for e in backend.stream({})]
    assert [e["content"] for b in batches for e in b] == [e["content"] for e in events] == [
        "a", "b", ""]
    assert metrics.tokens_in._value.get() == 10 and metrics.tokens_out._value.get() == 4
    assert metrics.registry.get_sample_value("gateway_time_to_first_token_seconds_count") == 2


async def test_leash_trips_of_a_fast_template_still_end_inline_preparing(monkeypatch) -> None:
    from gateway.template_limits import RenderLeashExceeded

    async with gateway_on_stub() as (app, runtime, _):
        service = runtime.service
        real = service.prepare

        def tripping(req: Any, squeeze: int = 1, *, inline: bool = False) -> Any:
            if inline:  # as if the process stalled during the render on the loop
                raise RenderLeashExceeded("simulated")
            return real(req, squeeze)

        monkeypatch.setattr(service, "prepare", tripping)
        for _ in range(chat_module.MAX_LEASH_TRIPS):
            assert service.inline_prepare
            assert (await call(app, "/v1/chat/completions", chat())).status == 200
        assert not service.inline_prepare  # fast in the thread each time, but tripped 3 times


async def _outcome(app: Any, runtime: Any, body: Any, headers: dict[str, str]) -> tuple:
    before = generate_latest(runtime.metrics.registry).decode()
    try:
        reply = await call(app, "/v1/chat/completions", body, headers=headers)
        raised = None
        answer = (reply.status, reply.headers.get("content-type"),
                  reply.json() if reply.status != 200 else reply.status)
    except Exception as exc:  # what the server would log
        raised, answer = type(exc).__name__, None
    after = generate_latest(runtime.metrics.registry).decode()
    counted = [line.rsplit(" ", 1)[0] for line in after.splitlines()
               if line.startswith("gateway_requests_total{") and line not in before.splitlines()]
    return answer, raised, counted


@pytest.mark.parametrize("case", ["ok", "stream", "auth", "bad_json", "unhandled"])
async def test_the_chat_route_in_front_of_starlette_answers_as_its_stack_would(
        case: str, monkeypatch) -> None:
    """POST to the chat routes is served by the app itself (GatewayApp.chat_route), not by
    Starlette's middleware and router: the same answer, raise and count either way."""
    async with gateway_on_stub(api_key="k") as (app, runtime, stub):
        key = {"authorization": "Bearer k"}
        body: Any = chat(stream=case == "stream")
        if case == "auth":
            key = {}
        elif case == "bad_json":
            body = b"{not json"
        elif case == "unhandled":
            def broken() -> Any:
                raise ValueError("a bug")
            monkeypatch.setattr(app.state.gateway, "chat_service", broken)
        fast = await _outcome(app, runtime, body, key)
        assert app.middleware_stack is None  # Starlette's stack was not needed: not built
        lean_paths = app.chat_paths
        app.chat_paths = ()  # the general stack: middleware, router, PlainEndpoint
        general = await _outcome(app, runtime, body, key)
        app.chat_paths = lean_paths
        assert fast == general
        assert len(fast[2]) == 1  # counted once, with its status
        if case == "unhandled":
            assert fast[0] is None and fast[1] == "ValueError"
        assert app.state.slots.in_use == 0


async def test_a_middleware_added_by_an_embedder_sees_the_chat_route() -> None:
    """The chat route skips Starlette's stack only while that stack is the gateway's own: a
    middleware added to the app afterwards sees chat requests too."""
    seen: list[str] = []

    def tagging(app: Any) -> Any:
        async def tagged(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await app(scope, receive, send)
        return tagged

    async with gateway_on_stub() as (app, runtime, stub):
        app.add_middleware(tagging)
        ok = await call(app, "/v1/chat/completions", chat())
        assert ok.status == 200 and seen == ["/v1/chat/completions"]
