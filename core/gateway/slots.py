"""Requests in flight: a bounded pool of slots, and the two places a slot can leak.

A streamed answer's slot must come back however the response ends, including a client that
vanishes before the first body chunk: Starlette then cancels the send before the body
generator ever starts, so a `finally` inside that generator never runs. `LeasedStream`
gives the slot back from the response itself. A non-streamed answer has no generator to
close: `until_disconnected` cancels the work when the client hangs up, which closes the
connection to llama.cpp and stops its generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import types
from collections.abc import AsyncIterator, Awaitable, Generator
from typing import Any, TypeVar

from starlette.requests import ClientDisconnect, Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

log = logging.getLogger("gateway.app")
T = TypeVar("T")


class Slots:
    """At most `size` requests in flight; `acquire` answers None when all are taken."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.in_use = 0

    def acquire(self) -> Lease | None:
        if self.in_use >= self.size:
            return None
        self.in_use += 1
        return Lease(self)


class Lease:
    """One taken slot; `release` may be called any number of times, it counts once."""

    def __init__(self, slots: Slots) -> None:
        self._slots: Slots | None = slots

    def release(self) -> None:
        if self._slots is not None:
            self._slots.in_use -= 1
            self._slots = None

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class LeasedStream(StreamingResponse):
    """A streaming response that gives its slot back and closes its body generator (and
    with it the llama.cpp stream) when the response ends, whatever the reason. Chunks the
    generator has ready at once go out in one write (see `coalesced`)."""

    def __init__(self, content: AsyncIterator[bytes], lease: Lease, **kw: Any) -> None:
        super().__init__(coalesced(content), **kw)
        self.lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # What StreamingResponse does with a task group (two tasks and cancel scopes per
        # stream), with one watcher task: the stream is cut when the client goes away.
        try:
            async with Hangup(receive):
                try:
                    await self.stream_response(send)
                except OSError as exc:  # ASGI 2.4: a send to a closed connection
                    raise ClientDisconnect() from exc
        except ClientGone:
            pass  # the client went away: the generator is closed below
        finally:
            self.lease.release()
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:  # a failing close must not hide how the response ended
                    log.exception("closing a stream failed")


MAX_COALESCED = 64 * 1024  # bytes joined into one write at most (then the loop gets a turn)


async def coalesced(source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`source`'s chunks, those it produces without waiting joined into one.

    Each chunk written is a trip through the ASGI server and a send() to the socket. When
    llama.cpp's events arrive faster than the gateway relays them (a fast backend, many
    streams), several are already buffered: they go out together. A chunk is never held back
    waiting for the next one: as soon as `source` would wait, what it had is sent, so time to
    first token and the pace of a slow stream are unchanged.

    Each `__anext__` step is driven by hand: a step that finishes without suspending gives a
    ready chunk; one that suspends is flushed behind, then awaited to its end (`_finish`).
    """
    pending: list[bytes] = []
    size = 0
    step: Any = None  # the source's step in progress, while it is suspended
    try:
        while True:
            step = source.__anext__()
            try:
                waiting = step.send(None)
            except StopIteration as done:  # a chunk ready without waiting
                step = None
                pending.append(done.value)
                size += len(done.value)
                if size >= MAX_COALESCED:
                    yield b"".join(pending)
                    pending, size = [], 0
                    await asyncio.sleep(0)
                continue
            except BaseException:  # the end (StopAsyncIteration) or an error: step is over
                step = None
                raise
            if pending:  # the source must wait: what it had goes out first
                yield pending[0] if len(pending) == 1 else b"".join(pending)
                pending, size = [], 0
            try:
                chunk = await _finish(step, waiting)
            finally:
                step = None
            pending.append(chunk)
            size += len(chunk)
    except StopAsyncIteration:
        if pending:
            yield b"".join(pending)
    finally:
        if step is not None:  # closed while the source was suspended: cancel it there
            with contextlib.suppress(BaseException):
                await _finish(step, None, asyncio.CancelledError())
        await source.aclose()  # type: ignore[attr-defined]


@types.coroutine
def _finish(step: Any, waiting: Any, exc: BaseException | None = None
            ) -> Generator[Any, Any, Any]:
    """The rest of a coroutine step that already yielded `waiting`, run as `yield from`
    would: what the event loop sends or throws in (a cancellation) goes on to it. With
    `exc`, that is thrown into it first."""
    try:
        if exc is not None:
            waiting = step.throw(exc)
        while True:
            try:
                sent = yield waiting
            except BaseException as thrown:
                waiting = step.throw(thrown)
            else:
                waiting = step.send(sent)
    except StopIteration as done:
        return done.value


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it if the client disconnects first (raises ClientGone).
    Only for after the body was read: it consumes the request's remaining ASGI messages."""
    async with Hangup(request.receive):
        return await work
    raise AssertionError("unreachable")  # for mypy: the block returns or raises


class Hangup:
    """`async with Hangup(receive):` the block's work is cancelled when the client
    disconnects, and the block ends with ClientGone. The work runs in the caller's own task
    (as `asyncio.timeout` does it: one watcher task, no second task to hand the result
    over); a cancellation that is not ours goes on as it came. Only for after the request
    body was read: it consumes the request's remaining ASGI messages."""

    __slots__ = ("_receive", "_task", "_cancelling", "_watcher", "_active", "gone")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._active = self.gone = False

    async def __aenter__(self) -> Hangup:
        task = asyncio.current_task()
        assert task is not None
        self._task, self._cancelling = task, task.cancelling()
        self._active = True
        self._watcher = asyncio.get_running_loop().create_task(self._watch())
        return self

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        if self._active:  # the block is still running: it is suspended in its work
            self.gone = True
            self._task.cancel()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: types.TracebackType | None) -> None:
        self._active = False
        self._watcher.cancel()
        if self.gone and self._task.uncancel() <= self._cancelling and \
                kind is asyncio.CancelledError:
            raise ClientGone()
