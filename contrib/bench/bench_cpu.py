"""The gateway's own CPU per chat request, robust to a busy machine.

The app is driven in-process over ASGI (no HTTP server, no sockets) against an instant fake
llama.cpp that parses its canned SSE bytes with the real client's parser (gateway.backend.
client.SseLines) and encodes each payload as the real client does: what is left is the
gateway's own Python, from the ASGI call to the last body chunk. Figures are CPU time
(time.process_time) per request over many sequential requests, the least of ten runs, so
other processes on the machine (a llama.cpp benchmark) change them little; the driver's own
cost, measured on a trivial ASGI app, is subtracted. Python calls per request are counted
with cProfile.

Cases: plain chat; 20 tools (grammar plan cached) answered with text; the same 20 tools
answered with a call; streaming plain chat; an agent's conversation of 42 messages (calls and
results) with the 20 tools, answered with a call. The backend's events come one per read (as a
real model's tokens do; --per-read to batch them as an instant stub over a socket may).

Run: .venv/bin/python contrib/bench/bench_cpu.py [--n 2000] [--profile CASE]
     [--template FILE.jinja]   (a real model's template instead of the stub's)
Nothing is asserted: numbers are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import sys
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import msgspec
from gateway import runtime as runtime_module
from gateway.app import create_app
from gateway.backend.client import READ_WHOLE, SseLines
from gateway.config import Settings
from gateway.runtime import Runtime, ServeConfig

STUB_TEMPLATE = ("{% for m in messages %}<|{{m.role}}|>{{m.content}}<|end|>{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")
MESSAGES = [{"role": "user", "content": "Say something about the sea."}]
TOOLS = [{"type": "function", "function": {"name": f"tool_{i}", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer", "minimum": 0},
                                     "b": {"type": "string", "maxLength": 20}},
    "required": ["a"]}}} for i in range(20)]
TOKENS = 16
CALL = '{"tool_calls":[{"name":"tool_3","arguments":{"a":7,"b":"sea"}}]}'


def sse(pieces: list[str]) -> list[bytes]:
    """llama.cpp's events for an answer made of `pieces`, then its final event."""
    final = {"content": "", "stop": True, "stop_type": "eos", "tokens_evaluated": 12,
             "tokens_predicted": len(pieces)}
    return [b"data: " + json.dumps({"content": p, "stop": False}).encode() + b"\n\n"
            for p in pieces] + [b"data: " + json.dumps(final).encode() + b"\n\n"]


TEXT_EVENTS = sse(["tok "] * TOKENS)
CALL_EVENTS = sse([CALL[i:i + 4] for i in range(0, len(CALL), 4)])


class FakeLlama:
    """Stands in for gateway.backend.LlamaCppBackend: answers at once, from memory. A
    streamed answer comes one event per read (a yield to the loop between them), a
    non-streamed one (READ_WHOLE) in one read, as from llama.cpp over a socket."""

    props_answer: dict[str, Any] = {}
    per_read = 1  # events a streamed answer brings per read

    def __init__(self, base_url: str, **_: Any) -> None:
        self.base_url = base_url
        self.answer = TEXT_EVENTS

    def limit_connections(self, slots: int) -> None:
        pass

    async def healthy(self) -> bool:
        return True

    async def props(self) -> dict[str, Any]:
        return self.props_answer

    async def close(self) -> None:
        pass

    async def stream_batches(self, payload: dict[str, Any]
                             ) -> AsyncGenerator[list[dict[str, Any]], None]:
        whole = bool(payload.get(READ_WHOLE))
        msgspec.json.encode({k: v for k, v in payload.items() if k != READ_WHOLE})
        lines = SseLines()
        k = len(self.answer) if whole else self.per_read
        reads = [b"".join(self.answer[i:i + k]) for i in range(0, len(self.answer), k)]
        for data in reads:
            await asyncio.sleep(0)
            batch, final = lines.events(data)
            if batch:
                yield batch
            if final:
                return


async def call(app: Any, body: bytes) -> bytes:
    """One POST /v1/chat/completions through the ASGI app; the response body."""
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.1"},
             "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
             "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080), "state": {}}
    chunks: list[bytes] = []
    done = asyncio.get_running_loop().create_future()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body") and not done.done():
                done.set_result(None)

    await app(scope, receive, send)
    return b"".join(chunks)


async def null_app(scope: Any, receive: Any, send: Any) -> None:
    """The driver's own cost: read the body, answer 200."""
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def cpu_per_request(app: Any, body: bytes, n: int, rounds: int = 10) -> float:
    """µs of CPU per request: the least of `rounds` runs of n/rounds requests (a busy
    machine only ever adds: cache and core contention)."""
    for _ in range(20):
        await call(app, body)
    per: list[float] = []
    for _ in range(rounds):
        gc.collect()
        start = time.process_time()
        for _ in range(n // rounds):
            await call(app, body)
        per.append((time.process_time() - start) / (n // rounds) * 1e6)
    return min(per)



def agent_history(turns: int = 10) -> list[dict[str, Any]]:
    """An agent's conversation: each turn a request, a call, its result and an answer."""
    out: list[dict[str, Any]] = [{"role": "system", "content": "You are a helpful agent."}]
    for i in range(turns):
        call = {"id": f"call_{i:04d}", "type": "function",
                "function": {"name": f"tool_{i % 20}", "arguments": json.dumps({"a": i})}}
        out += [{"role": "user", "content": f"Step {i}: look up item {i}, please."},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": f"item {i}: ok"},
                {"role": "assistant", "content": f"Item {i} is ok."}]
    return out + MESSAGES


CASES: dict[str, tuple[dict[str, Any], list[bytes]]] = {
    "plain": ({"messages": MESSAGES, "max_tokens": 5}, TEXT_EVENTS),
    "tools20": ({"messages": MESSAGES, "max_tokens": 5, "tools": TOOLS,
                 "tool_choice": "auto"}, TEXT_EVENTS),
    "tools20_call": ({"messages": MESSAGES, "max_tokens": 64, "tools": TOOLS,
                      "tool_choice": "auto"}, CALL_EVENTS),
    "stream": ({"messages": MESSAGES, "max_tokens": 5, "stream": True}, TEXT_EVENTS),
    "agent_42msg": ({"messages": agent_history(), "max_tokens": 64, "tools": TOOLS,
                     "tool_choice": "auto"}, CALL_EVENTS),
}


async def main_async(a: argparse.Namespace) -> None:
    template = Path(a.template).read_text() if a.template else STUB_TEMPLATE
    FakeLlama.props_answer = {"chat_template": template, "bos_token": "", "eos_token": "<|end|>",
                              "model_path": "stub.gguf", "total_slots": 32}
    FakeLlama.per_read = a.per_read
    runtime_module.LlamaCppBackend = FakeLlama  # type: ignore[misc]
    runtime = Runtime(ServeConfig(endpoints=["http://fake"], dialect=a.dialect,
                                  settings=Settings(max_concurrent=2048)))
    app = create_app(runtime, manage_backend=False)
    await runtime.start()
    assert runtime.service is not None
    fake = runtime.backend.inner
    base = await cpu_per_request(null_app, b"{}", a.n)
    print(json.dumps({"bench": "gateway CPU per chat request (in-process ASGI, fake backend)",
                      "n": a.n, "dialect": runtime.service.dialect.name,
                      "template": a.template or "stub", "python": sys.version.split()[0],
                      "driver_us": round(base, 1)}))
    for name, (request, events) in CASES.items():
        if a.case and name not in a.case:
            continue
        fake.answer = events
        body = json.dumps(request).encode()
        out = await call(app, body)  # the first: builds the grammar plan
        assert b'"error"' not in out, out[:300]
        us = await cpu_per_request(app, body, a.n) - base

        prof = cProfile.Profile()
        prof.enable()
        for _ in range(50):
            await call(app, body)
        prof.disable()
        stats = pstats.Stats(prof)
        ncalls = stats.total_calls / 50  # type: ignore[attr-defined]
        print(f"{name:<14} {us:8.1f} µs CPU/request   {ncalls:7.0f} calls/request "
              f"(driver {base:.1f} µs subtracted)")
        if a.profile == name:
            stats.sort_stats(a.sort).print_stats(a.top)
    await runtime.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000, help="requests per case")
    ap.add_argument("--case", action="append", choices=list(CASES), help="only these cases")
    ap.add_argument("--profile", choices=list(CASES), help="print a cProfile of this case")
    ap.add_argument("--sort", default="tottime", help="cProfile sort key (tottime, cumtime)")
    ap.add_argument("--top", type=int, default=40, help="cProfile lines to print")
    ap.add_argument("--template", help="a chat template file instead of the stub's")
    ap.add_argument("--per-read", type=int, default=1, help="events per read of a streamed "
                    "answer (1: as llama.cpp sends a real model's tokens)")
    ap.add_argument("--dialect", help="a dialect instead of the detected one")
    a = ap.parse_args()
    try:
        import uvloop
        loop_factory: Any = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main_async(a))


if __name__ == "__main__":
    main()
