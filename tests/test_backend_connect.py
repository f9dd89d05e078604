"""Connections to llama.cpp: every generation may need a new one (llama.cpp closes streamed
connections), so it is opened without an address lookup in a worker thread, and ahead of
the request, as a spare, when the slots allow."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from gateway.backend import client
from gateway.backend.client import READ_WHOLE, LlamaCppBackend

from tests.inprocess import settle
from tests.stub_llama import StubLlama

ROOT = Path(__file__).resolve().parent.parent


UVLOOP_RUN = textwrap.dedent("""
    import asyncio, os, sys
    import uvloop
    from gateway.backend.client import LlamaCppBackend
    from tests.stub_llama import StubLlama

    def wakeups():
        # context switches of every thread but the main one (libuv's pool, if started)
        total = 0
        for tid in os.listdir("/proc/self/task"):
            if int(tid) != os.getpid():
                with open(f"/proc/self/task/{tid}/status") as f:
                    total += sum(int(line.split()[1]) for line in f
                                 if line.startswith("voluntary_ctxt_switches"))
        return total

    async def main():
        stub = await StubLlama().start()
        backend = LlamaCppBackend(stub.url)
        await backend.complete({"prompt": "x"})  # whatever starts once has started
        before = wakeups()
        for _ in range(3):
            assert (await backend.complete({"prompt": "x"}))["content"] == "Hello, world!"
            assert [e async for e in backend.stream({"prompt": "x"})][-1]["stop"]
        after = wakeups()
        await backend.close()
        await stub.stop()
        print(before, after, len(stub.peers))

    uvloop.run(main())
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/task")
def test_under_uvloop_no_worker_thread_wakes_to_open_a_connection() -> None:
    pytest.importorskip("uvloop")
    out = subprocess.run([sys.executable, "-c", UVLOOP_RUN], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    before, after, connections = map(int, out.stdout.split())
    assert connections == 7  # a connection of its own for each generation...
    assert after == before  # ...and no other thread woke for any of them


# -- the spare connection --------------------------------------------------------------------

async def _generate(backend: LlamaCppBackend, **payload: object) -> list[dict]:
    return [e async for e in backend.stream({"prompt": "x", **payload})]


async def test_the_next_generation_goes_on_a_spare_opened_when_the_last_one_ended() -> None:
    stub = await StubLlama(total_slots=2).start()
    backend = LlamaCppBackend(stub.url)
    backend.limit_connections(2)
    try:
        for _ in range(2):
            # read whole: on a connection closed after it (llama.cpp closes its streamed
            # connections anyway); the spare is open before the next request
            assert (await _generate(backend, **{READ_WHOLE: True}))[-1]["stop"]
            assert await settle(lambda: len(stub.open_connections()) == 1)
            spare = stub.open_connections()[0]
            assert spare not in stub.peers  # no request went on it yet
            assert (await _generate(backend, **{READ_WHOLE: True}))[-1]["stop"]
            assert stub.peers_in_order[-1] == spare  # the next generation took it
        assert await settle(lambda: len(stub.open_connections()) == 1)
    finally:
        await backend.close()
    assert await settle(lambda: not stub.open_connections())  # closed with the backend
    await stub.stop()


async def test_no_spare_beside_a_connection_kept_alive() -> None:
    """A server that keeps a streamed connection alive: the next generation goes on that
    one, and a spare would only hold another of the server's threads."""
    stub = await StubLlama(total_slots=2).start()
    backend = LlamaCppBackend(stub.url)
    backend.limit_connections(2)
    try:
        for _ in range(3):
            assert (await _generate(backend))[-1]["stop"]
        await asyncio.sleep(0.1)
        assert len(stub.open_connections()) == 1 and len(stub.peers) == 1
    finally:
        await backend.close()
        await stub.stop()


@asynccontextmanager
async def after_one_generation() -> AsyncIterator[tuple[LlamaCppBackend, StubLlama, Any]]:
    """A backend (slots known) that has run one generation, read whole, and its spare."""
    stub = await StubLlama(total_slots=2).start()
    backend = LlamaCppBackend(stub.url)
    backend.limit_connections(2)
    try:
        await _generate(backend, **{READ_WHOLE: True})
        assert await settle(lambda: len(stub.open_connections()) == 1)
        yield backend, stub, stub.open_connections()[0]
    finally:
        await backend.close()
        await stub.stop()


async def test_a_spare_is_closed_after_a_few_seconds_unused(monkeypatch) -> None:
    monkeypatch.setattr(client, "SPARE_SECONDS", 0.2)
    async with after_one_generation() as (backend, stub, _):
        # it holds one of llama.cpp's HTTP threads: not for long
        assert await settle(lambda: not stub.open_connections(), timeout=2)
        assert (await _generate(backend))[-1]["stop"]  # and the next one connects anew


async def test_a_spare_the_server_closed_is_not_used() -> None:
    async with after_one_generation() as (backend, stub, spare):
        stub.close_connections()  # as llama.cpp does after its keep-alive
        assert await settle(lambda: not stub.open_connections())
        assert (await _generate(backend))[-1]["stop"]
        assert stub.peers_in_order[-1] != spare


async def test_spare_and_generations_never_hold_more_connections_than_slots() -> None:
    """Each connection holds one of llama.cpp's few HTTP threads: a spare is kept only while
    fewer generations run than slots."""
    stub = await StubLlama(total_slots=2, delay=0.02).start()
    backend = LlamaCppBackend(stub.url)
    backend.limit_connections(2)
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            most = max(most, len(stub.open_connections()))
            await asyncio.sleep(0.002)

    watcher = asyncio.create_task(watch())
    try:
        for _ in range(3):
            outs = await asyncio.gather(*(_generate(backend, **{READ_WHOLE: True})
                                          for _ in range(5)))
            assert all(out[-1]["stop"] for out in outs)
        assert stub.peak_active == 2
        assert await settle(lambda: len(stub.open_connections()) == 1)  # the spare, after
    finally:
        watcher.cancel()
        await backend.close()
        await stub.stop()
    assert most == 2


async def test_a_generation_asked_for_while_the_spare_connects_waits_for_that_spare() -> None:
    """Back to back, one slot: each generation after the first goes on the spare the one
    before opened (even when it is still connecting), never on a connection of its own
    beside it (which would also have closed the spare unused: no slot for it)."""
    stub = await StubLlama(total_slots=1).start()
    backend = LlamaCppBackend(stub.url)
    backend.limit_connections(1)
    try:
        for _ in range(5):
            assert (await _generate(backend, **{READ_WHOLE: True}))[-1]["stop"]
        assert await settle(lambda: len(stub.open_connections()) == 1)
        assert stub.connections_made == 6  # the first generation's, then a spare each
    finally:
        await backend.close()
        await stub.stop()


async def test_no_spare_before_the_slots_are_known() -> None:
    stub = await StubLlama().start()
    backend = LlamaCppBackend(stub.url)
    try:
        await _generate(backend, **{READ_WHOLE: True})
        await asyncio.sleep(0.1)
        assert not stub.open_connections()
    finally:
        await backend.close()
        await stub.stop()
