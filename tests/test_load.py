"""Load, in-process over a stub llama.cpp: 1000 concurrent streams, 10% of the clients hanging
up at random points. Every other stream completes without error, every slot and every
upstream connection is given back, and the gateway's memory stays bounded (printed; run
with -s to see the figures)."""

from __future__ import annotations

import asyncio
import gc
import random
import time
from pathlib import Path

from tests.inprocess import call, chat, gateway_on_stub, settle

STREAMS = 1000
GONE_SHARE = 0.10
TOKENS = [f"w{i} " for i in range(12)]


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def test_thousand_concurrent_streams_with_random_disconnects() -> None:
    rng = random.Random(17)
    async with gateway_on_stub(max_concurrent=STREAMS + 10) as (app, _, stub):
        stub.tokens = TOKENS
        stub.delay = 0.01
        await call(app, "/v1/chat/completions", chat(stream=True))  # warm up
        gc.collect()
        before = rss_mb()
        # chunks a full stream has: role, one per token, finish, [DONE]
        hang_ups = {i: rng.randint(0, len(TOKENS) + 2) for i in
                    rng.sample(range(STREAMS), int(STREAMS * GONE_SHARE))}
        start = time.monotonic()
        replies = await asyncio.gather(*(
            call(app, "/v1/chat/completions", chat(f"request {i}", stream=True),
                 disconnect_after=hang_ups.get(i), timeout=300)
            for i in range(STREAMS)))
        elapsed = time.monotonic() - start
        after = rss_mb()

        errors = []
        for i, reply in enumerate(replies):
            if i in hang_ups:
                continue
            events = reply.events()
            text = "".join(e["choices"][0]["delta"].get("content") or ""
                           for e in events[:-1] if e.get("choices"))
            if not (reply.status == 200 and events[-1] == "[DONE]" and text == "".join(TOKENS)
                    and events[-2]["choices"][0]["finish_reason"] == "stop"):
                errors.append((i, reply.status, reply.body[-300:]))
        assert not errors, errors[:3]
        assert app.state.slots.in_use == 0
        assert await settle(lambda: stub.active == 0)  # no upstream generation left behind
        gc.collect()
        print(f"\nload: {STREAMS} streams ({len(hang_ups)} hung up) in {elapsed:.1f} s, "
              f"{stub.peak_active} generating at once upstream; "
              f"process RSS {before:.0f} MB -> {after:.0f} MB at the end "
              f"(+{after - before:.0f} MB, stub backend included), peak "
              f"{rss_mb('VmHWM'):.0f} MB")
        assert after - before < 400  # bounded: ~tens of kB per stream in flight
        ok = await call(app, "/v1/chat/completions", chat(max_tokens=4))
        assert ok.status == 200
