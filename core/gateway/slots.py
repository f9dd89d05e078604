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
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from starlette.requests import Request
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
    with it the llama.cpp stream) when the response ends, whatever the reason."""

    def __init__(self, content: AsyncIterator[bytes], lease: Lease, **kw: Any) -> None:
        super().__init__(content, **kw)
        self.lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.lease.release()
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:  # a failing close must not hide how the response ended
                    log.exception("closing a stream failed")


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it if the client disconnects first (raises ClientGone).
    Only for after the body was read: it consumes the request's remaining ASGI messages."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnect(request.receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})  # its cancellation closes the upstream connection
    if task.cancelled():
        raise ClientGone()
    return task.result()


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
