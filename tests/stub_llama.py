"""A stub llama.cpp server (aiohttp) for failure injection: it answers /health, /props and
/completion like llama.cpp does, or misbehaves on purpose (`mode`). Tests of features use the
real llama.cpp; this one provokes what the real one will not do on demand."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

MODES = ("normal", "hang", "status500", "status400", "garbage", "not_object", "cut",
         "cut_before_first", "error_event", "bad_content", "long_line", "drop_reused")


@dataclass
class StubLlama:
    mode: str = "normal"
    tokens: list[str] = field(default_factory=lambda: ["Hello", ",", " world", "!"])
    delay: float = 0.0  # seconds per token
    tail_delay: float = 0.0  # seconds between the final event and the end of the stream
    chat_template: str = CHATML
    active: int = 0  # /completion requests being answered now
    peak_active: int = 0
    served: int = 0
    gone: int = 0  # answers abandoned because the client closed the connection
    dropped: int = 0  # requests on a reused connection closed unanswered ("drop_reused")
    total_slots: int | None = None  # reported in /props when set (llama.cpp always does)
    last_payload: dict[str, Any] = field(default_factory=dict)
    peers: set[Any] = field(default_factory=set)  # client (host, port)s: one per connection
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> StubLlama:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/health", self._health)
        app.router.add_get("/props", self._props)
        app.router.add_post("/completion", self._completion)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _props(self, request: web.Request) -> web.Response:
        props = {"chat_template": self.chat_template,
                 "bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
                 "model_path": "/models/stub.gguf",
                 "default_generation_settings": {"n_ctx": 4096}}
        if self.total_slots is not None:
            props["total_slots"] = self.total_slots
        return web.json_response(props)

    def _final(self, text: str, n: int) -> dict[str, Any]:
        limit = n >= self.last_payload.get("n_predict", -1) > 0
        event = {"content": text, "stop": True, "stop_type": "limit" if limit else "eos",
                 "tokens_predicted": n, "tokens_evaluated": 10}
        if "response_fields" not in self.last_payload:  # llama.cpp echoes its whole input
            event["prompt"] = self.last_payload.get("prompt", "")
            event["generation_settings"] = {"grammar": self.last_payload.get("grammar", "")}
        return event

    async def _completion(self, request: web.Request) -> web.StreamResponse:
        self.last_payload = await request.json()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if self.mode == "drop_reused" and peer in self.peers and request.transport:
            # a server closing an idle keep-alive connection just as a request arrives on it
            self.dropped += 1
            request.transport.close()
            return web.Response()
        self.peers.add(peer)
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)
        try:
            return await self._answer(request, self.last_payload)
        except (asyncio.CancelledError, ConnectionResetError):
            self.gone += 1
            raise
        finally:
            self.active -= 1
            self.served += 1

    async def _answer(self, request: web.Request, payload: dict[str, Any]
                      ) -> web.StreamResponse:
        mode = self.mode
        if mode == "hang":
            await asyncio.sleep(3600)
        if mode == "status500":
            return web.json_response({"error": {"code": 500, "message": "boom"}}, status=500)
        if mode == "status400":
            return web.json_response({"error": {"code": 400, "message":
                                                "failed to parse grammar"}}, status=400)
        n_predict = payload.get("n_predict", -1)
        tokens = self.tokens[:n_predict] if n_predict > 0 else self.tokens
        if not payload.get("stream"):
            if mode == "garbage":
                return web.Response(body=b"<html>not json</html>")
            if mode == "not_object":
                return web.Response(body=b"[1, 2, 3]", content_type="application/json")
            if mode == "bad_content":
                return web.json_response({**self._final("", 1), "content": 5})
            for _ in tokens:
                await self._tick(request)
            return web.json_response(self._final("".join(tokens), len(tokens)))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        if mode == "cut_before_first":
            assert request.transport is not None
            request.transport.close()
            return resp
        for i, tok in enumerate(tokens):
            await self._tick(request)
            if mode == "cut" and i == 2:
                assert request.transport is not None
                request.transport.close()
                return resp
            if mode == "error_event" and i == 2:
                await _send(resp, {"error": {"code": 500, "message": "slot crashed"}})
                return resp
            if mode == "garbage" and i == 2:
                await resp.write(b"data: {this is not json\n\n")
                continue
            if mode == "not_object" and i == 2:
                await resp.write(b"data: [1, 2, 3]\n\n")
                continue
            content: Any = tok
            if mode == "bad_content" and i == 2:
                content = {"not": "a string"}
            if mode == "long_line" and i == 1:
                content = "x" * 300_000
            await _send(resp, {"content": content, "stop": False})
        await _send(resp, self._final("", len(tokens)))
        await asyncio.sleep(self.tail_delay)
        return resp

    async def _tick(self, request: web.Request) -> None:
        await asyncio.sleep(self.delay)
        if request.transport is None or request.transport.is_closing():
            raise ConnectionResetError("client gone")  # llama.cpp stops such a slot too


async def _send(resp: web.StreamResponse, event: dict[str, Any]) -> None:
    await resp.write(b"data: " + json.dumps(event).encode() + b"\n\n")
