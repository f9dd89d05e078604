"""POST /v1/embeddings, served by a llama.cpp child of its own (`--embedding-model FILE`), so
embedding work never waits behind generation (and the model may differ)."""

from __future__ import annotations

import asyncio
import base64
import logging
import struct
from pathlib import Path
from typing import Any, Literal

import msgspec

from gateway.backend.client import BackendError, LlamaCppBackend
from gateway.backend.supervisor import LaunchSpec, SpawnedServer
from gateway.completions import split_inputs
from gateway.errors import bad_request, decode_body

log = logging.getLogger("gateway.embeddings")
MAX_INPUTS = 256  # per request; they go to llama.cpp as one batch


class EmbeddingRequest(msgspec.Struct, kw_only=True):
    input: str | list[Any]  # strings, a token array or token arrays (checked below)
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None


_decoder = msgspec.json.Decoder(EmbeddingRequest)


def decode_embedding_request(body: bytes) -> EmbeddingRequest:
    req = decode_body(_decoder, body)
    inputs = inputs_of(req)
    if not inputs:
        raise bad_request("`input` must not be empty", "input")
    if len(inputs) > MAX_INPUTS:
        raise bad_request(f"at most {MAX_INPUTS} inputs per request", "input")
    for i, x in enumerate(inputs):
        if not x:
            raise bad_request(f"input {i} is empty", "input")
        if isinstance(x, list) and any(t < 0 for t in x):
            raise bad_request(f"input {i} has a negative token id", "input")
    if req.dimensions is not None and req.dimensions < 1:
        raise bad_request("dimensions must be at least 1", "dimensions")
    return req


def inputs_of(req: EmbeddingRequest) -> list[str | list[int]]:
    return split_inputs(req.input, "input")


def to_base64(vector: list[float]) -> str:
    """OpenAI's base64 format: the little-endian float32 array."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


class EmbeddingBackend(LlamaCppBackend):
    async def embed(self, inputs: list[str | list[int]]) -> dict[str, Any]:
        return await self._post("/v1/embeddings", {"input": inputs, "encoding_format": "float"})


class Embedder:
    """The embeddings llama.cpp child: started, watched and restarted like the main one."""

    def __init__(self, model: str, *, threads: int, ctx_size: int = 2048,
                 server_bin: str | None = None, timeout: float = 600.0) -> None:
        self.model_id = Path(model).stem
        self.server = SpawnedServer(LaunchSpec(model=model, ctx_size=ctx_size, parallel=1,
                                               threads=threads, server_bin=server_bin,
                                               embedding=True))
        self.backend = EmbeddingBackend(self.server.url, timeout=timeout)
        self.up = False
        self.restarts = 0
        self.dimensions: int | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.server.start()
        await self.server.wait_ready()
        self.up = True
        self._watch = asyncio.create_task(self._supervise())

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self.server.alive():
                continue
            self.up = False
            self.restarts += 1
            log.error("embeddings llama.cpp exited; restarting")
            try:
                self.server.start()
                await self.server.wait_ready(progress=False)
                self.up = True
            except RuntimeError as exc:
                log.error("restart of the embeddings server failed: %s", exc)
                await asyncio.sleep(5)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        await self.backend.close()
        self.server.stop()

    def state(self) -> dict[str, Any]:
        return {"url": self.server.url, "role": "embedding", "up": self.up,
                "restarts": self.restarts, "pid": self.server.pid, "model": self.model_id}

    async def create(self, req: EmbeddingRequest) -> dict[str, Any]:
        if req.dimensions is not None and self.dimensions is not None \
                and req.dimensions != self.dimensions:
            raise _no_dimensions(req.dimensions, self.dimensions)
        try:
            out = await self.backend.embed(inputs_of(req))
        except BackendError as exc:
            if exc.status == 400:  # e.g. an input longer than the embedding context
                raise bad_request(f"the embeddings server refused the input: {exc.message}",
                                  "input") from exc
            raise
        rows = sorted(out.get("data") or [], key=lambda d: d.get("index", 0))
        vectors = [list(r.get("embedding") or []) for r in rows]
        if vectors:
            self.dimensions = len(vectors[0])
        if req.dimensions is not None and req.dimensions != self.dimensions:
            raise _no_dimensions(req.dimensions, self.dimensions or 0)
        data = [{"object": "embedding", "index": i,
                 "embedding": to_base64(v) if req.encoding_format == "base64" else v}
                for i, v in enumerate(vectors)]
        used = int((out.get("usage") or {}).get("prompt_tokens") or 0)
        return {"object": "list", "data": data, "model": self.model_id,
                "usage": {"prompt_tokens": used, "total_tokens": used}}


def _no_dimensions(asked: int, native: int) -> Exception:
    return bad_request(f"`dimensions` is not supported: this embedding model gives {native}-"
                       f"dimensional vectors and cannot shorten them (asked for {asked}); "
                       "omit `dimensions`", "dimensions", code="unsupported_parameter")
