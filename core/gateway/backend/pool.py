"""Several llama.cpp backends behind the one `Backend` interface.

- Health: each member is checked every `health_interval` seconds; one that is down is taken
  out of rotation and put back when /health answers 200 again (a spawned one is restarted).
- Failover: a request whose backend fails before its first byte (unreachable, 503) is sent to
  another member; once text has streamed, an error goes to the client as before.
- Prefix affinity: llama.cpp keeps each slot's last prompt in its KV cache. A prompt that
  shares a long prefix with the one a (backend, slot) last served goes there, with `id_slot`,
  so only the new suffix is evaluated; when that slot is busy the request is balanced instead.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from gateway.backend.client import BackendError, LlamaCppBackend
from gateway.backend.supervisor import SpawnedServer

log = logging.getLogger("gateway.pool")
RETRYABLE = (502, 503)  # unreachable or not ready: nothing was generated, safe elsewhere


def common_prefix(a: str, b: str) -> int:
    """Length of the common prefix, by bisection over C-speed slice comparisons."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass
class Member:
    backend: LlamaCppBackend
    server: SpawnedServer | None = None  # set when the gateway spawned it (then restarted)
    up: bool = False
    slots: int = 1
    inflight: int = 0
    restarts: int = 0
    served: int = 0
    failovers: int = 0  # requests moved away from it before their first byte
    slot_prompts: dict[int, str] = field(default_factory=dict)  # what each slot's cache holds
    slot_used: dict[int, float] = field(default_factory=dict)
    busy: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return self.backend.base_url

    def forget(self) -> None:
        self.slot_prompts.clear()  # a restarted or unreachable server lost its cache

    def describe(self) -> dict[str, Any]:
        return {"url": self.url, "up": self.up, "pid": self.server.pid if self.server else None,
                "slots": self.slots, "inflight": self.inflight, "served": self.served,
                "restarts": self.restarts, "failovers": self.failovers}


class BackendPool:
    def __init__(self, members: list[Member], *, affinity: bool = True,
                 min_prefix_chars: int = 256, health_interval: float = 1.0) -> None:
        assert members, "a pool needs at least one backend"
        self.members = members
        self.affinity = affinity
        self.min_prefix_chars = min_prefix_chars
        self.health_interval = health_interval
        self._rr = itertools.count()
        self._tasks: list[asyncio.Task[None]] = []
        self.affinity_hits = 0

    @property
    def base_url(self) -> str:
        return self.members[0].url

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Check every member once, then keep watching them."""
        await asyncio.gather(*(self._check(m) for m in self.members))
        self._tasks = [asyncio.create_task(self._watch(m)) for m in self.members]

    async def wait_any_up(self) -> None:
        while not any(m.up for m in self.members):
            await asyncio.sleep(0.2)

    async def _check(self, m: Member) -> None:
        was = m.up
        m.up = await m.backend.healthy()
        if m.up and not was:
            m.forget()
            try:
                props = await m.backend.props()
                m.slots = max(1, int(props.get("total_slots") or 1))
                if props.get("total_slots"):
                    m.backend.limit_connections(m.slots)
            except BackendError:
                pass
            log.info("backend %s is up (%d slots)", m.url, m.slots)
        elif was and not m.up:
            m.forget()
            log.warning("backend %s is down: taken out of rotation", m.url)

    async def _watch(self, m: Member) -> None:
        while True:
            await asyncio.sleep(self.health_interval)
            if m.server is not None and not m.server.alive():
                m.up = False
                m.forget()
                m.restarts += 1
                log.error("backend %s exited; restarting", m.url)
                try:
                    m.server.start()
                    await m.server.wait_ready(progress=False)
                except RuntimeError as exc:
                    log.error("restart of %s failed: %s", m.url, exc)
                    await asyncio.sleep(5)
                    continue
            await self._check(m)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for m in self.members:
            await m.backend.close()
            if m.server is not None:
                m.server.stop()

    # -- routing ----------------------------------------------------------------------------
    def pick(self, prompt: Any, tried: set[int]) -> tuple[Member, int | None]:
        """A member (and llama.cpp slot) for this prompt, among the up ones not yet tried."""
        candidates = [m for i, m in enumerate(self.members) if m.up and i not in tried]
        if not candidates:
            raise BackendError("no llama.cpp backend is available; retry shortly", 503)
        if not self.affinity:
            return candidates[next(self._rr) % len(candidates)], None
        if isinstance(prompt, str):
            best: tuple[Member, int] | None = None
            best_key = (False, self.min_prefix_chars - 1)
            for m in candidates:
                for slot, prev in m.slot_prompts.items():
                    if slot in m.busy:
                        continue
                    n = common_prefix(prev, prompt)
                    key = (n == len(prev), n)  # extending a slot's prompt beats any share
                    if n >= self.min_prefix_chars and key > best_key:
                        best, best_key = (m, slot), key
            extends = best_key[0]
            if best is not None and extends:  # the same conversation, one turn further
                self.affinity_hits += 1
                return best
            if best is not None:
                # only a shared prefix (a tool list): that slot holds another conversation, so
                # take it only when no slot anywhere is empty — evicting is the last resort
                m = best[0]
                empty = self._empty_slots(m)
                if empty:
                    return m, empty[0]
                if not any(self._empty_slots(c) for c in candidates):
                    self.affinity_hits += 1
                    return best
        # balance: the least loaded member, then the one with empty slots (round robin among
        # equals); its least recently used free slot, so live conversations are evicted last
        turn = next(self._rr)
        m = min(candidates, key=lambda c: (c.inflight / c.slots, -len(self._empty_slots(c)),
                                           (self.members.index(c) - turn) % len(self.members)))
        free = [s for s in range(m.slots) if s not in m.busy]
        chosen = min(free, key=lambda s: m.slot_used.get(s, 0.0)) if free else None
        return m, chosen

    @staticmethod
    def _empty_slots(m: Member) -> list[int]:
        return [s for s in range(m.slots) if s not in m.busy and s not in m.slot_prompts]

    def _enter(self, m: Member, slot: int | None, payload: dict[str, Any]) -> dict[str, Any]:
        m.inflight += 1
        m.served += 1
        if slot is None:
            return payload
        m.busy.add(slot)
        m.slot_used[slot] = time.monotonic()
        if isinstance(payload.get("prompt"), str):
            m.slot_prompts[slot] = payload["prompt"]
        return {**payload, "id_slot": slot}

    def _leave(self, m: Member, slot: int | None) -> None:
        m.inflight -= 1
        if slot is not None:
            m.busy.discard(slot)

    def _failed(self, m: Member, exc: BackendError) -> None:
        m.failovers += 1
        if exc.status == 502:
            m.up = False  # the watcher puts it back once /health answers again
            m.forget()
        log.warning("backend %s failed before the first byte (%s); trying another",
                    m.url, exc.message)

    # -- the Backend interface --------------------------------------------------------------
    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        tried: set[int] = set()
        while True:
            m, slot = self.pick(payload.get("prompt"), tried)
            tried.add(self.members.index(m))
            try:
                return await m.backend.complete(self._enter(m, slot, payload))
            except BackendError as exc:
                if exc.status not in RETRYABLE:
                    raise
                self._failed(m, exc)
            finally:
                self._leave(m, slot)

    async def stream(self, payload: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        tried: set[int] = set()
        while True:
            m, slot = self.pick(payload.get("prompt"), tried)
            tried.add(self.members.index(m))
            events = m.backend.stream(self._enter(m, slot, payload))
            started = False
            try:
                async for event in events:
                    started = True
                    yield event
                return
            except BackendError as exc:
                if started or exc.status not in RETRYABLE:
                    raise
                self._failed(m, exc)
            finally:
                await events.aclose()
                self._leave(m, slot)

    async def _any(self, call: str, *args: Any) -> Any:
        tried: set[int] = set()
        while True:
            m, _ = self.pick(None, tried)
            tried.add(self.members.index(m))
            try:
                return await getattr(m.backend, call)(*args)
            except BackendError as exc:
                if exc.status not in RETRYABLE:
                    raise
                self._failed(m, exc)

    async def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        result: list[int] = await self._any("tokenize", text, add_special)
        return result

    async def props(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._any("props")
        return result

    async def healthy(self) -> bool:
        return any(m.up for m in self.members)

    def describe(self) -> list[dict[str, Any]]:
        return [m.describe() for m in self.members]
