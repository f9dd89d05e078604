"""Routes beyond chat: /v1/completions, /v1/embeddings, /metrics. `create_app` hands over its
guards (auth, body limit, concurrency slots) so every route keeps the same bounds."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.completions import CompletionService, decode_completion_request
from gateway.embeddings import decode_embedding_request
from gateway.errors import GatewayError
from gateway.metrics import GatewayMetrics
from gateway.runtime import Runtime
from gateway.slots import ClientGone, Lease, LeasedStream, Slots, until_disconnected

log = logging.getLogger("gateway.app")

_encode = msgspec.json.encode


@dataclass
class Guards:
    check_auth: Callable[[Request], None]
    read_body: Callable[[Request], Awaitable[bytes]]
    slots: Slots


def _json(obj: Any, status: int = 200) -> Response:
    return Response(_encode(obj), status_code=status, media_type="application/json")


def extra_routes(runtime: Runtime, guards: Guards) -> list[Route]:
    slots = guards.slots

    def take_slot() -> Lease:
        lease = slots.acquire()
        if lease is None:
            raise GatewayError("too many concurrent requests; retry shortly", 429,
                               code="too_many_requests")
        return lease

    async def answer(request: Request, lease: Lease, work: Awaitable[Any]) -> Response:
        """A non-streamed answer: cancelled if the client hangs up; the slot comes back."""
        try:
            return _json(await until_disconnected(request, work))
        except ClientGone:
            log.info("client went away; its work was cancelled")
            return Response(status_code=499)
        finally:
            lease.release()

    async def completions(request: Request) -> Response:
        guards.check_auth(request)
        req = decode_completion_request(await guards.read_body(request), runtime.cfg.settings)
        if not runtime.ready or runtime.backend is None or runtime.service is None:
            raise GatewayError(f"the model is not ready ({runtime.status}); retry shortly", 503)
        service = CompletionService(runtime.backend, runtime.service.model_id)
        lease = take_slot()
        try:
            if not req.stream:
                return await answer(request, lease, service.complete(req))
            # the response gives the slot back when it ends, however it ends
            return LeasedStream(service.stream(req), lease, media_type="text/event-stream",
                                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        except BaseException:
            lease.release()
            raise

    async def embeddings(request: Request) -> Response:
        guards.check_auth(request)
        req = decode_embedding_request(await guards.read_body(request))
        if runtime.embedder is None:
            raise GatewayError("this server has no embedding model: start it with "
                               "--embedding-model FILE.gguf", 404, code="model_not_found")
        if not runtime.embedder.up:
            raise GatewayError("the embedding model is not ready; retry shortly", 503)
        return await answer(request, take_slot(), runtime.embedder.create(req))

    async def metrics(request: Request) -> Response:
        # unauthenticated like /health, for scrapers; it holds counts, never request content
        assert runtime.metrics is not None
        result: Response = runtime.metrics.render()
        return result

    return [Route("/v1/completions", completions, methods=["POST"]),
            Route("/completions", completions, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/embeddings", embeddings, methods=["POST"]),
            Route("/metrics", metrics, methods=["GET"])]


def install_metrics(app: Starlette, runtime: Runtime) -> None:
    """A registry of this app's own; the middleware counts every request by route/status."""
    runtime.metrics = metrics = GatewayMetrics(runtime)
    paths = [r.path for r in app.routes if isinstance(r, Route)]
    app.add_middleware(metrics.middleware, routes=paths)  # type: ignore[arg-type]
