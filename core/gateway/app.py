"""The Starlette application: routes, limits and OpenAI-shaped errors.

The handlers are methods of `ChatHandlers` over an `AppState` (gateway.app_state): each can
be called on its own with a Request. `create_app` only wires them: routes, exception
handlers, the backend's lifespan and the metrics middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from gateway import protocol as p
from gateway.app_state import SSE_HEADERS, AppState, answer, json_response
from gateway.chat import INLINE_BODY_BYTES
from gateway.chat_request import decode_request
from gateway.endpoints import EndpointHandlers, install_metrics
from gateway.errors import GatewayError
from gateway.messages import is_messages_path
from gateway.runtime import Runtime
from gateway.slots import LeasedStream

log = logging.getLogger("gateway.app")
CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")


class PlainEndpoint:
    """A handler `request -> Response` as a plain ASGI app under its Starlette Route: for the
    hot path, without the per-request wrapper Starlette adds around a function endpoint,
    which only passes exceptions on to the app's handlers. They answer this route's errors as
    any other's: an error raised before the response starts reaches them through the
    exception middleware around the router."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)


class GatewayApp(Starlette):
    """The Starlette app, with POST to the chat routes served straight from `__call__`: on the
    hot path, the layers a request otherwise crosses (the server-error and exception
    middleware, the metrics middleware, the router, each wrapping `send` again) are done
    here in one frame, with the same exception handlers and counts (`chat_route`)."""

    chat: Callable[[Request], Awaitable[Response]] | None = None
    chat_paths: tuple[str, ...] = ()
    count: Callable[[str, str, int, float], None] | None = None

    def add_middleware(self, *args: Any, **kwargs: Any) -> None:
        """A layer added by whoever embeds the app must see every request: the chat routes
        go through Starlette's stack from then on."""
        super().add_middleware(*args, **kwargs)
        self.chat_paths = ()

    def add_exception_handler(self, *args: Any, **kwargs: Any) -> None:
        super().add_exception_handler(*args, **kwargs)
        self.chat_paths = ()  # chat_route knows only EXCEPTION_HANDLERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and \
                scope["path"] in self.chat_paths and not scope.get("root_path"):
            scope["app"] = self
            await self.chat_route(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def chat_route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What Starlette's stack does for this route, in order: a handled exception
        (GatewayError, HTTPException, ClientDisconnect) becomes its handler's response, or a
        RuntimeError once the response has started; anything else is logged and answered 500
        (unless started), then raised on for the server; the request is counted by route and
        status, a 500 sent for an unhandled error excepted (the metrics middleware is inside
        the server-error one: it counts 500 without seeing that response)."""
        assert self.chat is not None and self.count is not None
        status, started = 500, False
        start = time.perf_counter()

        async def sent(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        request = Request(scope, receive)
        try:
            try:
                response = await self.chat(request)
                await response(scope, receive, sent)
            except Exception as exc:
                handler = _handler_for(exc)
                if handler is None:
                    raise
                if started:
                    raise RuntimeError(
                        "Caught handled exception, but response already started.") from exc
                response = await handler(request, exc)
                await response(scope, receive, sent)
                exc.__traceback__ = None  # as Starlette: a reused exception keeps no frames
        except Exception as exc:
            response = await on_error(Request(scope), exc)
            if not started:
                await response(scope, receive, send)
            raise
        finally:
            self.count(scope["path"], "POST", status, time.perf_counter() - start)


class ChatHandlers:
    """/v1/chat/completions, /v1/models, /health, /-/plugins, /-/backend."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def chat_completions(self, request: Request) -> Response:
        state = self.state
        state.check_auth(request)
        body = await state.read_body(request)
        req = decode_request(body)
        service = state.chat_service()
        small = len(body) <= INLINE_BODY_BYTES
        lease = state.take_slot()
        try:
            if req.stream:  # the response gives the slot back when it ends, however it ends
                return LeasedStream(await service.stream(req, small=small), lease,
                                    media_type="text/event-stream", headers=SSE_HEADERS)
        except BaseException:
            lease.release()
            raise
        return await answer(request, lease, service.complete(req, small=small))

    async def models(self, request: Request) -> Response:
        self.state.check_auth(request)
        runtime = self.state.runtime
        service = runtime.service
        name = service.model_id if service else (runtime.cfg.alias or "model")
        meta = {"dialect": service.dialect.name} if service else None
        return json_response(p.ModelList(data=[
            p.ModelCard(id=name, created=self.state.created, meta=meta)]))

    async def health(self, request: Request) -> Response:
        runtime = self.state.runtime
        if runtime.ready:
            return json_response({"status": "ok"})
        return json_response({"status": runtime.status, "error": {
            "message": f"the model is not ready ({runtime.status})",
            "type": "service_unavailable", "param": None, "code": None}}, 503)

    async def plugins(self, request: Request) -> Response:
        return json_response(self.state.runtime.plugins.describe())

    async def backend_info(self, request: Request) -> Response:
        self.state.check_auth(request)
        return json_response(self.state.runtime.describe())

    def routes(self) -> list[Route]:
        chat = PlainEndpoint(self.chat_completions)
        return [
            *(Route(path, chat, methods=["POST"]) for path in CHAT_PATHS),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/-/plugins", self.plugins, methods=["GET"]),
            Route("/-/backend", self.backend_info, methods=["GET"]),
        ]


# -- errors: OpenAI-shaped (Anthropic-shaped on its routes) ----------------------------------

def error_response(request: Request, exc: GatewayError) -> Response:
    """The error in the shape of the route's API: Anthropic's on the Messages routes."""
    if is_messages_path(request.url.path):
        return exc.anthropic_response()
    return exc.response()


async def on_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(request, exc)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    msg = "no such route" if exc.status_code == 404 else str(exc.detail)
    where = f"{request.method} {request.url.path}"
    return error_response(request, GatewayError(f"{msg}: {where}", exc.status_code))


async def on_client_gone(request: Request, exc: Exception) -> Response:
    log.info("client went away while sending its request")
    return Response(status_code=499)  # nobody reads it


async def on_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path)
    return error_response(request, GatewayError("internal error in the gateway; see its log",
                                                500))


EXCEPTION_HANDLERS = {GatewayError: on_gateway_error, HTTPException: on_http_error,
                      ClientDisconnect: on_client_gone, Exception: on_error}
# the handlers Starlette's exception middleware applies (Exception's is the server-error one)
HANDLED = {kind: h for kind, h in EXCEPTION_HANDLERS.items() if kind is not Exception}


def _handler_for(exc: Exception) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    for kind in type(exc).__mro__:
        if kind in HANDLED:
            return HANDLED[kind]
    return None


def create_app(runtime: Runtime, *, manage_backend: bool = True) -> Starlette:
    state = AppState.of(runtime)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(start_runtime(runtime)) if manage_backend else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            await runtime.stop()

    chat = ChatHandlers(state)
    routes = chat.routes() + EndpointHandlers(state).routes()
    app = GatewayApp(routes=routes, lifespan=lifespan,
                     exception_handlers=dict(EXCEPTION_HANDLERS))
    app.state.gateway = state
    app.state.slots = state.slots  # requests in flight, for tests and monitoring
    install_metrics(app, runtime)
    assert runtime.metrics is not None
    app.chat, app.chat_paths, app.count = chat.chat_completions, CHAT_PATHS, \
        runtime.metrics.counter()
    return app


async def start_runtime(runtime: Runtime) -> None:
    try:
        await runtime.start()
    except Exception as exc:  # the server keeps answering /health with the reason
        runtime.status = f"failed: {exc}"
        log.error("backend start failed: %s", exc)
