"""A backend's stream as lists of events (what one read brought), whichever backend it is."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

Batches = AsyncGenerator[list[dict[str, Any]], None]


def event_batches(backend: Any, payload: dict[str, Any]) -> Batches:
    """`backend.stream_batches(payload)` where the backend has it (llama.cpp's client, the
    metered backend), else its `stream(payload)` one event per list."""
    batched = getattr(backend, "stream_batches", None)
    if batched is not None:
        result: Batches = batched(payload)
        return result
    return one_by_one(backend.stream(payload))


async def one_by_one(events: AsyncGenerator[dict[str, Any], None]) -> Batches:
    """Events as one-event lists."""
    try:
        async for event in events:
            yield [event]
    finally:
        await events.aclose()


async def flattened(batches: Batches) -> AsyncGenerator[dict[str, Any], None]:
    """The events of the batches, one by one."""
    try:
        async for batch in batches:
            for event in batch:
                yield event
    finally:
        await batches.aclose()
