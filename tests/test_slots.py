"""`coalesced`: chunks a streamed body has ready at once go out in one write, and nothing
is ever held back waiting for the next chunk, nor left unclosed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from gateway.slots import MAX_COALESCED, coalesced


async def test_ready_chunks_are_joined_and_a_wait_flushes_them() -> None:
    async def source() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"
        await asyncio.sleep(0.01)  # the backend is slower here
        yield b"c"
        await asyncio.sleep(0)
        yield b"d"
        yield b"e"

    assert [c async for c in coalesced(source())] == [b"ab", b"c", b"de"]


async def test_a_chunk_is_not_held_back_for_the_next_one() -> None:
    """The next chunk comes only after the client has seen the first: if the first were
    held until the second, this would never finish."""
    seen = asyncio.Event()

    async def source() -> AsyncIterator[bytes]:
        yield b"first"
        await seen.wait()
        yield b"second"

    out = coalesced(source())
    assert await asyncio.wait_for(anext(out), 5) == b"first"
    seen.set()
    assert await asyncio.wait_for(anext(out), 5) == b"second"
    assert [c async for c in out] == []


async def test_a_long_burst_is_cut_into_bounded_writes() -> None:
    async def source() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 4096

    out = [c async for c in coalesced(source())]
    assert b"".join(out) == b"x" * 4096 * 100
    assert len(out) > 1 and all(len(c) <= MAX_COALESCED + 4096 for c in out)


async def test_closed_while_the_source_waits_runs_its_cleanup() -> None:
    """The response ends (client gone) while the source waits for llama.cpp: the source is
    cancelled where it waits and its `finally` (closing the upstream stream) runs, awaits
    included — whether the response is closed between writes or cancelled inside one."""
    cleaned: list[str] = []
    never = asyncio.Event()

    async def source() -> AsyncIterator[bytes]:
        try:
            yield b"one"
            await never.wait()
            yield b"two"
        finally:
            await asyncio.sleep(0)  # an await in the cleanup, like closing a connection
            cleaned.append("closed")

    out = coalesced(source())
    assert await anext(out) == b"one"  # flushed because the source now waits
    await out.aclose()
    assert cleaned == ["closed"]

    out = coalesced(source())
    assert await anext(out) == b"one"
    step = asyncio.ensure_future(anext(out))
    await asyncio.sleep(0.01)  # suspended inside the source
    step.cancel()
    await asyncio.gather(step, return_exceptions=True)
    await out.aclose()
    assert cleaned == ["closed", "closed"]


async def test_an_error_in_the_source_comes_through_after_what_it_had_sent() -> None:
    async def source() -> AsyncIterator[bytes]:
        yield b"a"
        await asyncio.sleep(0)
        raise RuntimeError("boom")

    out = coalesced(source())
    assert await anext(out) == b"a"
    try:
        await anext(out)
    except RuntimeError as exc:
        assert str(exc) == "boom"
    else:
        raise AssertionError("the error was swallowed")
