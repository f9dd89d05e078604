"""The backend pool against in-process stub llama.cpp servers (failure injection): failover
before the first byte, taking a dead backend out and back, prefix affinity to a slot."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from gateway.backend.client import BackendError, LlamaCppBackend
from gateway.backend.pool import BackendPool, Member, common_prefix
from gateway.backend.supervisor import free_port


class Stub:
    """A llama.cpp look-alike: /health, /props, /completion (JSON and SSE)."""

    def __init__(self, *, slots: int = 2, break_after: int | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.slots = slots
        self.break_after = break_after  # drop the connection after this many SSE events
        self.seen: list[dict] = []
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_get("/props", self.props)
        app.router.add_post("/completion", self.completion)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def props(self, request: web.Request) -> web.Response:
        return web.json_response({"total_slots": self.slots})

    async def completion(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.seen.append(body)
        if not body.get("stream"):
            return web.json_response({"content": "ok " + self.url, "tokens_predicted": 2,
                                      "tokens_evaluated": 3, "stop": True})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(3):
            if self.break_after is not None and i == self.break_after:
                assert request.transport is not None
                request.transport.close()
                return resp
            event = {"content": f"t{i} ", "stop": i == 2}
            await resp.write(b"data: " + json.dumps(event).encode() + b"\n\n")
        return resp


async def _pool(stubs: list[Stub], **kw) -> BackendPool:
    for s in stubs:
        await s.start()
    pool = BackendPool([Member(LlamaCppBackend(s.url)) for s in stubs], health_interval=0.05,
                       **kw)
    await pool.start()
    return pool


async def _stream_text(pool: BackendPool, prompt: str) -> str:
    return "".join([e["content"] async for e in pool.stream({"prompt": prompt})])


def test_common_prefix():
    assert common_prefix("abcdef", "abcxyz") == 3
    assert common_prefix("", "abc") == 0
    assert common_prefix("abc", "abc") == 3


async def test_killing_one_of_two_backends_loses_no_request():
    a, b = Stub(), Stub()
    pool = await _pool([a, b], affinity=False)
    try:
        assert all(m.up for m in pool.members)
        await a.stop()  # dies without the pool having noticed yet
        done = await asyncio.gather(*[pool.complete({"prompt": f"q{i}"}) for i in range(10)])
        streamed = await asyncio.gather(*[_stream_text(pool, f"s{i}") for i in range(10)])
        assert [r["content"] for r in done] == ["ok " + b.url] * 10
        assert streamed == ["t0 t1 t2 "] * 10
        assert not pool.members[0].up and pool.members[0].failovers >= 1
        # it is put back once it answers /health again
        await a.start()
        for _ in range(100):
            if pool.members[0].up:
                break
            await asyncio.sleep(0.05)
        assert pool.members[0].up
        before = len(a.seen)
        await asyncio.gather(*[pool.complete({"prompt": f"r{i}"}) for i in range(6)])
        assert len(a.seen) > before
    finally:
        await pool.close()
        await a.stop()
        await b.stop()


async def test_no_backend_left_is_a_503():
    a = Stub()
    pool = await _pool([a])
    await a.stop()
    try:
        with pytest.raises(BackendError) as err:
            await pool.complete({"prompt": "x"})
        assert err.value.status == 503
    finally:
        await pool.close()


async def test_a_stream_that_broke_after_its_first_byte_is_not_replayed():
    a, b = Stub(break_after=1), Stub(break_after=1)
    pool = await _pool([a, b])
    try:
        with pytest.raises(BackendError):
            await _stream_text(pool, "p")
        assert len(a.seen) + len(b.seen) == 1  # the client already had text: no second try
    finally:
        await pool.close()
        await a.stop()
        await b.stop()


async def test_prefix_affinity_sends_a_conversation_to_its_backend_and_slot():
    a, b = Stub(slots=2), Stub(slots=2)
    pool = await _pool([a, b], min_prefix_chars=64)
    try:
        tools = "You can call these tools: " + "get_weather(city) " * 20
        convs = [tools + "user: weather in Oslo?", "Another system prompt entirely. " * 5]
        for turn in range(4):
            for c in range(2):
                convs[c] += f" assistant: answer {turn} user: and then {turn}?"
                await pool.complete({"prompt": convs[c]})
        where = [[(s.url, e.get("id_slot")) for s in (a, b) for e in s.seen
                  if e["prompt"].startswith(convs[c][:60])] for c in range(2)]
        for c in range(2):
            assert len(set(where[c])) == 1, where[c]  # every turn: same backend, same slot
        assert where[0][0][0] != where[1][0][0]  # two conversations are balanced apart
        assert pool.affinity_hits == 6
    finally:
        await pool.close()
        await a.stop()
        await b.stop()


async def test_a_busy_slot_is_not_waited_for():
    a, b = Stub(slots=1), Stub(slots=1)
    pool = await _pool([a, b], min_prefix_chars=8)
    try:
        m, slot = pool.pick("the same long prefix, turn 1", set())
        held = pool._enter(m, slot, {"prompt": "the same long prefix, turn 1"})
        other, _ = pool.pick("the same long prefix, turn 1, turn 2", set())
        assert other is not m  # the slot with the prefix is busy: balanced elsewhere
        pool._leave(m, slot)
        again, again_slot = pool.pick("the same long prefix, turn 1, turn 2", set())
        assert (again, again_slot) == (m, held["id_slot"])
    finally:
        await pool.close()
        await a.stop()
        await b.stop()


async def test_round_robin_alternates():
    a, b = Stub(), Stub()
    pool = await _pool([a, b], affinity=False)
    try:
        for i in range(6):
            await pool.complete({"prompt": "same prompt every time " * 20 + str(i)})
        assert len(a.seen) == len(b.seen) == 3
        assert all("id_slot" not in e for e in a.seen + b.seen)
    finally:
        await pool.close()
        await a.stop()
        await b.stop()


async def test_conversations_sharing_a_tool_list_keep_their_own_slots():
    """Three conversations with one long common prefix over 2 backends x 2 slots: each keeps
    one slot from its first turn on; none takes over another's slot while one is empty."""
    a, b = Stub(slots=2), Stub(slots=2)
    pool = await _pool([a, b], min_prefix_chars=64)
    try:
        tools = "Tools: " + "get_weather(city) " * 20
        convs = [tools + f"user {c}: hello" for c in range(3)]
        for turn in range(4):
            for c in range(3):
                await pool.complete({"prompt": convs[c]})
                convs[c] += f" assistant: ok {turn} user: more {turn}?"
        places = {c: {(s.url, e["id_slot"]) for s in (a, b) for e in s.seen
                      if e["prompt"].startswith(tools + f"user {c}:")} for c in range(3)}
        assert all(len(p) == 1 for p in places.values()), places
        assert len(set().union(*places.values())) == 3
    finally:
        await pool.close()
        await a.stop()
        await b.stop()
