"""Serve-time wiring of the extra backends: the pool over several endpoints or replicas and the
embeddings child. Kept out of runtime.py so the single-backend path stays as it was."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gateway.backend.client import LlamaCppBackend
from gateway.backend.pool import BackendPool, Member
from gateway.backend.supervisor import LaunchSpec, SpawnedServer, split_threads

log = logging.getLogger("gateway")


def wants_pool(cfg: Any) -> bool:
    return len(cfg.endpoints) > 1 or (not cfg.endpoints and cfg.replicas > 1)


def threads_per_child(cfg: Any) -> int:
    """llama.cpp servers this gateway spawns share the cores: their threads never sum above."""
    children = (0 if cfg.endpoints else cfg.replicas) + (1 if cfg.embedding_model else 0)
    threads = split_threads(children, cfg.threads)
    if children > 1:
        log.info("%d llama.cpp children share the cores: %d thread(s) each", children, threads)
    return threads


async def open_pool(cfg: Any, threads: int) -> BackendPool:
    timeout = cfg.settings.request_timeout
    members: list[Member] = []
    if cfg.endpoints:
        members = [Member(LlamaCppBackend(url, timeout=timeout)) for url in cfg.endpoints]
    else:
        for _ in range(cfg.replicas):
            server = SpawnedServer(LaunchSpec(model=cfg.model, ctx_size=cfg.ctx_size,
                                              parallel=cfg.parallel, threads=threads,
                                              server_bin=cfg.server_bin))
            server.start()
            members.append(Member(LlamaCppBackend(server.url, timeout=timeout), server))
        await asyncio.gather(*(m.server.wait_ready() for m in members if m.server))
    pool = BackendPool(members, affinity=cfg.routing == "affinity")
    await pool.start()
    await pool.wait_any_up()
    return pool


def backends_state(runtime: Any) -> list[dict[str, Any]]:
    """Every backend the runtime talks to, for /-/backend and /metrics."""
    pool: BackendPool | None = runtime.pool
    out: list[dict[str, Any]] = []
    if pool is not None:
        out = [{**m.describe(), "role": "generation"} for m in pool.members]
    elif runtime.backend is not None:
        out = [{"url": runtime.backend.base_url, "role": "generation", "up": runtime.ready,
                "restarts": runtime.restarts,
                "pid": runtime.server.pid if runtime.server else None}]
    if runtime.embedder is not None:
        out.append(runtime.embedder.state())
    return out
