"""Routes beyond chat: /v1/completions, /v1/responses, /v1/messages (Anthropic's),
/v1/embeddings, /metrics. Their handlers take the same AppState as chat's, so every route
keeps the same bounds (auth, body limit, slots)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.app_state import SSE_HEADERS, AppState, answer
from gateway.chat import INLINE_BODY_BYTES, ChatService
from gateway.completions import CompletionService, decode_completion_request
from gateway.embeddings import decode_embedding_request
from gateway.errors import GatewayError
from gateway.messages import ROUTES as MESSAGES_ROUTES
from gateway.messages import MessagesService
from gateway.messages import translate as translate_messages
from gateway.messages_request import decode_messages_request
from gateway.metrics import GatewayMetrics
from gateway.responses import ResponsesService, translate
from gateway.responses_request import decode_responses_request
from gateway.runtime import Runtime
from gateway.slots import LeasedStream
from gateway.translation import TranslatedService, Translation

log = logging.getLogger("gateway.app")
# the Responses API's routes under /v1/responses/ that are not a response id
RESPONSES_NOT_SERVED = ("input_tokens", "compact")


class EndpointHandlers:
    def __init__(self, state: AppState) -> None:
        self.state = state

    async def completions(self, request: Request) -> Response:
        state, runtime = self.state, self.state.runtime
        state.check_auth(request)
        req = decode_completion_request(await state.read_body(request), state.settings)
        if not runtime.ready or runtime.backend is None or runtime.service is None:
            raise GatewayError(f"the model is not ready ({runtime.status}); retry shortly", 503)
        service = CompletionService(runtime.backend, runtime.service.model_id)
        lease = state.take_slot()
        if not req.stream:
            return await answer(request, lease, service.complete(req))
        try:  # the response gives the slot back when it ends, however it ends
            return LeasedStream(service.stream(req), lease, media_type="text/event-stream",
                                headers=SSE_HEADERS)
        except BaseException:
            lease.release()
            raise

    async def responses(self, request: Request) -> Response:
        """The Responses API over the chat service."""
        chat, tr, small = await self.read_translated(request, decode_responses_request,
                                                     translate)
        return await self.translated(request, ResponsesService(chat), tr, small)

    async def messages(self, request: Request) -> Response:
        """Anthropic's Messages API over the chat service."""
        chat, tr, small = await self.read_translated(request, decode_messages_request,
                                                     translate_messages)
        return await self.translated(request, MessagesService(chat), tr, small)

    async def count_message_tokens(self, request: Request) -> Response:
        """The tokens of the prompt a Messages request would be sent with; no generation."""
        chat, tr, small = await self.read_translated(
            request, partial(decode_messages_request, counting=True), translate_messages)
        return await answer(request, self.state.take_slot(),
                            MessagesService(chat).count_tokens(tr, small=small))

    async def read_translated(self, request: Request, decode: Callable[[bytes], Any],
                              translator: Callable[[Any], Translation]
                              ) -> tuple[ChatService, Any, bool]:
        """Another API's request, checked and translated (before it takes a slot): the
        ready chat service, the translation, and whether the body is small (see
        ChatService.prepare_async)."""
        state = self.state
        state.check_auth(request)
        body = await state.read_body(request)
        req = decode(body)
        chat = state.chat_service()
        return chat, translator(req), len(body) <= INLINE_BODY_BYTES

    async def translated(self, request: Request, service: TranslatedService,
                         tr: Translation, small: bool) -> Response:
        """A translated request's answer as JSON, or its stream of the API's events."""
        lease = self.state.take_slot()
        if not tr.chat.stream:
            return await answer(request, lease, service.complete(tr, small=small))
        try:  # the response gives the slot back when it ends, however it ends
            return LeasedStream(await service.stream(tr, small=small), lease,
                                media_type="text/event-stream", headers=SSE_HEADERS)
        except BaseException:
            lease.release()
            raise

    async def stored_response(self, request: Request) -> Response:
        """GET/DELETE of a response by id (and its input_items, cancel): nothing is stored.
        Also the Responses routes that are not ids (input_tokens, compact): not served."""
        self.state.check_auth(request)
        name = request.path_params.get("response_id", "")
        if name in RESPONSES_NOT_SERVED:
            raise GatewayError(f"{request.method} /v1/responses/{name} is not supported by "
                               "this gateway", 404, code="not_found")
        raise GatewayError("responses are not stored: this gateway is stateless, so a "
                           "response cannot be read, cancelled or deleted by id; keep the "
                           "output you received and send it back as input", 404,
                           param="response_id", code="not_found")

    async def embeddings(self, request: Request) -> Response:
        state, runtime = self.state, self.state.runtime
        state.check_auth(request)
        req = decode_embedding_request(await state.read_body(request))
        if runtime.embedder is None:
            raise GatewayError("this server has no embedding model: start it with "
                               "--embedding-model FILE.gguf", 404, code="model_not_found")
        if not runtime.embedder.up:
            raise GatewayError("the embedding model is not ready; retry shortly", 503)
        return await answer(request, state.take_slot(), runtime.embedder.create(req))

    async def metrics(self, request: Request) -> Response:
        # unauthenticated like /health, for scrapers; it holds counts, never request content
        metrics = self.state.runtime.metrics
        assert metrics is not None
        result: Response = metrics.render()
        return result

    def routes(self) -> list[Route]:
        return [Route("/v1/completions", self.completions, methods=["POST"]),
                Route("/completions", self.completions, methods=["POST"]),
                Route("/v1/responses", self.responses, methods=["POST"]),
                Route("/responses", self.responses, methods=["POST"]),
                Route("/v1/responses/{response_id:path}", self.stored_response,
                      methods=["GET", "POST", "DELETE"]),
                Route(MESSAGES_ROUTES[0], self.messages, methods=["POST"]),
                Route(MESSAGES_ROUTES[1], self.count_message_tokens, methods=["POST"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/embeddings", self.embeddings, methods=["POST"]),
                Route("/metrics", self.metrics, methods=["GET"])]


def install_metrics(app: Starlette, runtime: Runtime) -> None:
    """A registry of this app's own; the middleware counts every request by route/status."""
    runtime.metrics = metrics = GatewayMetrics(runtime)
    paths = [r.path for r in app.routes if isinstance(r, Route)]
    app.add_middleware(metrics.middleware, routes=paths)  # type: ignore[arg-type]
