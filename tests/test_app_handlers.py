"""The HTTP handlers called one by one, without an app or a server: each takes the AppState
(runtime and guards) and a Request, and answers or refuses on its own."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from gateway.app import ChatHandlers
from gateway.app_state import AppState
from gateway.chat import ChatService
from gateway.config import Settings
from gateway.dialects.generic import DIALECT
from gateway.endpoints import EndpointHandlers
from gateway.errors import GatewayError
from gateway.plugins import create_plugins
from gateway.runtime import Runtime, ServeConfig
from gateway.templating import ChatTemplate
from starlette.requests import Request

TEMPLATE = ChatTemplate("{% for m in messages %}[{{m.role}}]{{m.content}}{% endfor %}"
                        "{% if add_generation_prompt %}[assistant]{% endif %}")
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {
    "type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}]
CALL = '{"tool_calls":[{"name":"f","arguments":{"x":1}}]}'  # the generic envelope, required


class StubBackend:
    """llama.cpp's streamed events for a fixed text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    async def stream(self, payload: dict[str, Any]) -> Any:
        self.calls += 1
        for i in range(0, len(self.text), 5):
            yield {"content": self.text[i:i + 5]}
        yield {"content": "", "stop": True, "stop_type": "eos", "tokens_evaluated": 7,
               "tokens_predicted": 4}


def state(ready: bool = True, text: str = CALL, **settings: Any) -> tuple[AppState, StubBackend]:
    # the stub answers its fixed text to every request: one generation per answer (no
    # two-part "one more call?" generation nor values written again, see gateway.staged)
    settings.setdefault("dialect_options", {"more_calls_pct": 0, "ground_values": "off"})
    cfg = ServeConfig(alias="the-alias", settings=Settings(**settings))
    runtime = Runtime(cfg, plugins=create_plugins(["generic"]))
    backend = StubBackend(text)
    if ready:
        runtime.backend = backend
        runtime.service = ChatService(plugins=runtime.plugins, backend=backend,  # type: ignore[arg-type]
                                      template=TEMPLATE, dialect=DIALECT, model_id="m1",
                                      settings=cfg.settings)
        runtime.status = "ready"
    return AppState.of(runtime), backend


def request(body: Any = None, *, method: str = "POST", path: str = "/v1/chat/completions",
            headers: dict[str, str] | None = None) -> Request:
    raw = json.dumps(body).encode() if body is not None else b""
    hdrs = {"content-type": "application/json", "content-length": str(len(raw)),
            **(headers or {})}
    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": [(k.encode(), v.encode()) for k, v in hdrs.items()]}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.Event().wait()  # the client stays
        return {"type": "http.disconnect"}

    return Request(scope, receive)


async def sent_body(response: Any) -> bytes:
    """What a (streamed) response sends, run as the server runs it (a leased stream gives
    its slot back when it ends)."""
    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message.get("body", b""))

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [],
             "asgi": {"spec_version": "2.4"}}
    await response(scope, request().receive, send)
    return b"".join(sent)


def chat(stream: bool = False) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": TOOLS,
            "tool_choice": "required", "stream": stream}


async def test_chat_handler_answers_a_tool_call_and_gives_the_slot_back() -> None:
    st, backend = state()
    response = await ChatHandlers(st).chat_completions(request(chat()))
    assert response.status_code == 200
    body = json.loads(response.body)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "f" and json.loads(call["function"]["arguments"]) == {
        "x": 1}
    assert body["model"] == "m1" and body["usage"]["completion_tokens"] == 4
    assert backend.calls == 1 and st.slots.in_use == 0


async def test_streamed_chat_holds_its_slot_until_the_stream_ends() -> None:
    st, _ = state()
    response = await ChatHandlers(st).chat_completions(request(chat(stream=True)))
    assert response.headers["content-type"].startswith("text/event-stream")
    assert st.slots.in_use == 1
    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message.get("body", b""))

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [],
             "asgi": {"spec_version": "2.4"}}
    await response(scope, request(chat(stream=True)).receive, send)
    events = [line[6:] for line in b"".join(sent).split(b"\n") if line.startswith(b"data: ")]
    assert events[-1] == b"[DONE]"
    names = [tc["function"].get("name") for e in events[:-1]
             for tc in (json.loads(e)["choices"][0]["delta"].get("tool_calls") or [])]
    assert "f" in names
    assert st.slots.in_use == 0


@pytest.mark.parametrize("case,status", [("key", 401), ("not ready", 503), ("full", 429),
                                         ("too big", 413), ("bad json", 400)])
async def test_chat_handler_refusals(case: str, status: int) -> None:
    st, backend = state(ready=case != "not ready", api_key="k" if case == "key" else None,
                        max_concurrent=1, max_body_bytes=200 if case == "too big" else 10**6)
    held = st.take_slot() if case == "full" else None
    req = request(chat()) if case != "bad json" else request("not an object")
    with pytest.raises(GatewayError) as info:
        await ChatHandlers(st).chat_completions(req)
    assert info.value.status == status
    assert backend.calls == 0  # refused before reaching llama.cpp
    assert st.slots.in_use == (1 if held else 0)


async def test_models_and_health_follow_readiness() -> None:
    st, _ = state(ready=False)
    handlers = ChatHandlers(st)
    health = await handlers.health(request(method="GET", path="/health"))
    assert health.status_code == 503 and json.loads(health.body)["status"] == "starting"
    models = json.loads((await handlers.models(request(method="GET"))).body)
    assert models["data"][0]["id"] == "the-alias"
    st, _ = state()
    handlers = ChatHandlers(st)
    assert json.loads((await handlers.health(request(method="GET"))).body) == {"status": "ok"}
    card = json.loads((await handlers.models(request(method="GET"))).body)["data"][0]
    assert card["id"] == "m1" and card["meta"] == {"dialect": "generic"}
    assert card["created"] == st.created


async def test_endpoint_handlers_refuse_what_they_cannot_serve() -> None:
    st, _ = state(ready=False)
    with pytest.raises(GatewayError) as info:
        await EndpointHandlers(st).completions(request({"model": "m", "prompt": "hi"}))
    assert info.value.status == 503
    st, _ = state()
    with pytest.raises(GatewayError) as info:
        await EndpointHandlers(st).embeddings(request({"model": "m", "input": "hi"}))
    assert info.value.status == 404 and info.value.code == "model_not_found"
