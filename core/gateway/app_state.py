"""What every HTTP handler reads: the runtime and the guards every route shares (API key,
body limit, concurrency slots). One object, passed to the handlers of `gateway.app` and
`gateway.endpoints`, so each handler can be called and tested on its own."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from gateway.chat import ChatService
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.runtime import Runtime
from gateway.slots import ClientGone, Lease, Slots, until_disconnected

log = logging.getLogger("gateway.app")
_encode = msgspec.json.encode
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(_encode(obj), status_code=status, media_type="application/json")


@dataclass
class AppState:
    runtime: Runtime
    slots: Slots  # requests in flight, bounded by --max-concurrent
    created: int = field(default_factory=lambda: int(time.time()))  # the model card's date

    @classmethod
    def of(cls, runtime: Runtime) -> AppState:
        return cls(runtime, Slots(runtime.cfg.settings.max_concurrent))

    @property
    def settings(self) -> Settings:
        return self.runtime.cfg.settings

    def chat_service(self) -> ChatService:
        """The ready chat service, or a 503 saying why there is none."""
        runtime = self.runtime
        if not runtime.ready or runtime.service is None:
            raise GatewayError(f"the model is not ready ({runtime.status}); retry shortly", 503)
        return runtime.service

    def check_auth(self, request: Request) -> None:
        """The API key as OpenAI clients send it (Authorization: Bearer) or Anthropic's
        (x-api-key)."""
        key = self.settings.api_key
        if key is None:
            return
        headers = request.headers
        given = (headers.get("authorization", "").removeprefix("Bearer ").strip(),
                 headers.get("x-api-key", "").strip())
        if not any(hmac.compare_digest(g.encode(), key.encode()) for g in given if g):
            raise GatewayError("invalid or missing API key (Authorization: Bearer ... or "
                               "x-api-key)", 401, code="invalid_api_key")

    async def read_body(self, request: Request) -> bytes:
        """The request body, refused with a 413 as soon as it passes the limit."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise GatewayError(f"request body over the {limit}-byte limit", 413,
                               code="body_too_large")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise GatewayError(f"request body over the {limit}-byte limit", 413,
                                   code="body_too_large")
            chunks.append(chunk)
        return b"".join(chunks)

    def take_slot(self) -> Lease:
        lease = self.slots.acquire()
        if lease is None:
            raise GatewayError("too many concurrent requests; retry shortly", 429,
                               code="too_many_requests")
        return lease


async def answer(request: Request, lease: Lease, work: Awaitable[Any]) -> Response:
    """A non-streamed answer as JSON: the work is cancelled if the client hangs up (499),
    and the slot comes back however it ends."""
    try:
        return json_response(await until_disconnected(request, work))
    except ClientGone:
        log.info("client went away; its work was cancelled")
        return Response(status_code=499)
    finally:
        lease.release()
