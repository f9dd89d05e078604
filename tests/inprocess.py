"""Drive the gateway's ASGI app in-process, with clients that can vanish at any point.

httpx's ASGI transport buffers a whole response and never disconnects, so this small
driver speaks ASGI itself: `disconnect_after=0` hangs up right after sending the request
(before the first body chunk), `disconnect_after=n` after n body chunks. Like hypercorn
(ASGI spec 2.1), sends after the disconnect are dropped silently.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from gateway.app import create_app
from gateway.config import Settings
from gateway.runtime import Runtime, ServeConfig
from starlette.applications import Starlette

from tests.stub_llama import StubLlama


@dataclass
class Reply:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    complete: bool = False  # the app sent its last body chunk

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[Any]:
        """SSE data payloads, decoded ("[DONE]" stays a string)."""
        out = []
        for line in self.body.split(b"\n"):
            if line.startswith(b"data: "):
                data = line[6:]
                out.append(data.decode() if data == b"[DONE]" else json.loads(data))
        return out


async def call(app: Starlette, path: str, body: Any = None, *, method: str = "POST",
               headers: dict[str, str] | None = None, disconnect_after: int | None = None,
               hang_up: asyncio.Event | None = None, timeout: float = 60.0) -> Reply:
    """`hang_up`: the client disconnects when this event is set (by the test)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body else b""
    hdrs = {"content-type": "application/json", "content-length": str(len(raw)),
            **(headers or {})}
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.1"},
             "http_version": "1.1", "method": method, "scheme": "http", "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in hdrs.items()],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080), "state": {}}
    reply = Reply()
    gone = hang_up or asyncio.Event()
    if disconnect_after == 0:
        gone.set()
    sent_body = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # a real socket write yields to the loop too
        if gone.is_set():
            return
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            if message.get("body"):
                reply.chunks.append(message["body"])
            if not message.get("more_body"):
                reply.complete = True
                gone.set()  # the exchange is over; the server sees the connection end
            elif disconnect_after is not None and len(reply.chunks) >= disconnect_after:
                gone.set()

    await asyncio.wait_for(app(scope, receive, send), timeout)
    return reply


def chat(content: str = "Hi", **kw: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], **kw}


@asynccontextmanager
async def gateway_on_stub(stub: StubLlama | None = None, **settings: Any
                          ) -> AsyncIterator[tuple[Starlette, Runtime, StubLlama]]:
    """A started Runtime + app over a stub llama.cpp (started here unless given)."""
    own = stub is None
    stub = stub or await StubLlama().start()
    runtime = Runtime(ServeConfig(endpoints=[stub.url], plugins=["generic"],
                                  settings=Settings(**settings)))
    try:
        await asyncio.wait_for(runtime.start(), 60)
        yield create_app(runtime, manage_backend=False), runtime, stub
    finally:
        await runtime.stop()
        if own:
            await stub.stop()


async def settle(predicate: Any, timeout: float = 10.0) -> bool:
    """Poll until predicate() is true (a condition reached asynchronously); False if never."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True
