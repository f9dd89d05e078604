"""The Starlette application: routes, limits and OpenAI-shaped errors."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import protocol as p
from gateway.chat_request import decode_request
from gateway.endpoints import Guards, extra_routes, install_metrics
from gateway.errors import GatewayError
from gateway.runtime import Runtime
from gateway.slots import ClientGone, LeasedStream, Slots, until_disconnected

log = logging.getLogger("gateway.app")
_encode = msgspec.json.encode


def _json(obj: Any, status: int = 200) -> Response:
    return Response(_encode(obj), status_code=status, media_type="application/json")


def create_app(runtime: Runtime, *, manage_backend: bool = True) -> Starlette:
    settings = runtime.cfg.settings
    slots = Slots(settings.max_concurrent)
    created = int(time.time())

    def service_or_503() -> Any:
        if not runtime.ready or runtime.service is None:
            raise GatewayError(f"the model is not ready ({runtime.status}); retry shortly", 503)
        return runtime.service

    def check_auth(request: Request) -> None:
        if settings.api_key is None:
            return
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
            raise GatewayError("invalid or missing API key (Authorization: Bearer ...)", 401,
                               code="invalid_api_key")

    async def read_body(request: Request) -> bytes:
        limit = settings.max_body_bytes
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

    async def chat_completions(request: Request) -> Response:
        check_auth(request)
        body = await read_body(request)
        req = decode_request(body)
        service = service_or_503()
        lease = slots.acquire()
        if lease is None:
            raise GatewayError("too many concurrent requests; retry shortly", 429,
                               code="too_many_requests")
        try:
            if req.stream:  # the response gives the slot back when it ends, however it ends
                return LeasedStream(await service.stream(req), lease,
                                    media_type="text/event-stream",
                                    headers={"Cache-Control": "no-cache",
                                             "X-Accel-Buffering": "no"})
            try:
                return _json(await until_disconnected(request, service.complete(req)))
            except ClientGone:
                log.info("client went away; its generation was cancelled")
                return Response(status_code=499)
            finally:
                lease.release()
        except BaseException:
            lease.release()
            raise

    async def models(request: Request) -> Response:
        check_auth(request)
        service = runtime.service
        name = service.model_id if service else (runtime.cfg.alias or "model")
        meta = {"dialect": service.dialect.name} if service else None
        return _json(p.ModelList(data=[p.ModelCard(id=name, created=created, meta=meta)]))

    async def health(request: Request) -> Response:
        if runtime.ready:
            return _json({"status": "ok"})
        return _json({"status": runtime.status, "error": {
            "message": f"the model is not ready ({runtime.status})", "type": "service_unavailable",
            "param": None, "code": None}}, 503)

    async def plugins(request: Request) -> Response:
        return _json(runtime.plugins.describe())

    async def backend_info(request: Request) -> Response:
        check_auth(request)
        return _json(runtime.describe())

    async def on_gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        return exc.response()

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        msg = "no such route" if exc.status_code == 404 else str(exc.detail)
        where = f"{request.method} {request.url.path}"
        return GatewayError(f"{msg}: {where}", exc.status_code).response()

    async def on_client_gone(request: Request, exc: Exception) -> Response:
        log.info("client went away while sending its request")
        return Response(status_code=499)  # nobody reads it

    async def on_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return GatewayError("internal error in the gateway; see its log", 500).response()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(_start(runtime)) if manage_backend else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            await runtime.stop()

    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/-/plugins", plugins, methods=["GET"]),
        Route("/-/backend", backend_info, methods=["GET"]),
    ] + extra_routes(runtime, Guards(check_auth, read_body, slots))
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        GatewayError: on_gateway_error, HTTPException: on_http_error,
        ClientDisconnect: on_client_gone, Exception: on_error})
    app.state.slots = slots  # requests in flight, for tests and monitoring
    install_metrics(app, runtime)
    return app


async def _start(runtime: Runtime) -> None:
    try:
        await runtime.start()
    except Exception as exc:  # the server keeps answering /health with the reason
        runtime.status = f"failed: {exc}"
        log.error("backend start failed: %s", exc)
