"""Gateway overhead, measured side by side against the direct backend in one run.

1. Real llama.cpp (demo model): the same prompt sent to llama.cpp's /completion directly and
   through the gateway's /v1/chat/completions (which renders that prompt), interleaved;
   latency p50/p90 at concurrency 1, throughput at concurrency 8, streaming time to first
   token. Prints ratios gateway/direct.
2. Stub backend (answers instantly): the gateway's own added latency in milliseconds.

Run: `make bench` (or .venv/bin/python contrib/bench/bench_gateway.py [--n 40]).
Nothing here is asserted: numbers are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import aiohttp
from aiohttp import web
from gateway.backend.supervisor import LaunchSpec, SpawnedServer, free_port
from gateway.gguf_meta import read_gguf_metadata
from gateway.pytest_plugin import start_gateway
from gateway.runtime import demo_model_path
from gateway.templating import ChatTemplate

MESSAGES = [{"role": "user", "content": "Say something about the sea."}]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def timed_post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> float:
    t = time.perf_counter()
    async with http.post(url, json=body) as r:
        await r.read()
        assert r.status == 200, await r.text()
    return time.perf_counter() - t


async def first_byte(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> float:
    t = time.perf_counter()
    async with http.post(url, json=body) as r:
        async for line in r.content:
            if b'"content":"' in line and b'"content":""' not in line:
                ttft = time.perf_counter() - t
                break
        else:
            ttft = time.perf_counter() - t
        await r.read()
    return ttft


async def side_by_side(direct: tuple[str, dict[str, Any]], gw: tuple[str, dict[str, Any]],
                       n: int, fn: Any = timed_post) -> tuple[list[float], list[float]]:
    d, g = [], []
    async with aiohttp.ClientSession() as http:
        await fn(http, *direct)
        await fn(http, *gw)  # warm both paths
        for _ in range(n):
            d.append(await fn(http, *direct))
            g.append(await fn(http, *gw))
    return d, g


async def throughput(url: str, body: dict[str, Any], conc: int, total: int) -> float:
    async with aiohttp.ClientSession() as http:
        sem = asyncio.Semaphore(conc)

        async def one() -> None:
            async with sem:
                await timed_post(http, url, body)

        t = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(total)))
        return total / (time.perf_counter() - t)


def report(name: str, d: list[float], g: list[float]) -> None:
    dm, gm = statistics.median(d), statistics.median(g)
    print(f"{name:<38} direct p50 {dm * 1000:8.2f} ms  p90 {pct(d, .9) * 1000:8.2f} | gateway "
          f"p50 {gm * 1000:8.2f} ms  p90 {pct(g, .9) * 1000:8.2f} | ratio {gm / dm:5.3f}  "
          f"added {1000 * (gm - dm):+7.2f} ms")


async def real_backend(n: int) -> None:
    model = demo_model_path()
    assert model, "demo model not installed"
    server = SpawnedServer(LaunchSpec(model=model, ctx_size=4096, parallel=8))
    server.start()
    await server.wait_ready(progress=False)
    gw = start_gateway("--endpoint", server.url)
    try:
        meta = read_gguf_metadata(model)
        prompt = ChatTemplate(meta.chat_template or "", bos_token=meta.bos_token or "",
                              eos_token=meta.eos_token or "",
                              strip_bos=meta.add_bos_token).render(MESSAGES)
        for tokens in (1, 16):
            direct = (server.url + "/completion", {"prompt": prompt, "n_predict": tokens,
                                                   "temperature": 0, "cache_prompt": True})
            via = (gw.url + "/v1/chat/completions", {"messages": MESSAGES, "max_tokens": tokens,
                                                      "temperature": 0})
            d, g = await side_by_side(direct, via, n)
            report(f"non-streaming, {tokens} tokens, conc 1", d, g)
        direct[1]["stream"] = True
        via[1]["stream"] = True
        d, g = await side_by_side(direct, via, n, first_byte)
        report("streaming time to first token", d, g)
        del direct[1]["stream"], via[1]["stream"]
        for conc in (8,):
            rd = await throughput(direct[0], direct[1], conc, 4 * conc)
            rg = await throughput(via[0], via[1], conc, 4 * conc)
            print(f"throughput, 16 tokens, conc {conc:<13} direct {rd:8.2f} req/s | gateway "
                  f"{rg:8.2f} req/s | ratio {rg / rd:5.3f}")
    finally:
        gw.stop()
        server.stop()


async def stub_backend(n: int) -> None:
    """A stand-in llama.cpp that answers at once: what remains is the gateway's own cost."""
    answer = {"content": "Hello there, friend.", "stop": True, "stop_type": "eos",
              "tokens_evaluated": 12, "tokens_predicted": 5}

    async def completion(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(answer)

    async def props(request: web.Request) -> web.Response:
        tmpl = ("{% for m in messages %}<|{{m.role}}|>{{m.content}}<|end|>{% endfor %}"
                "{% if add_generation_prompt %}<|assistant|>{% endif %}")
        return web.json_response({"chat_template": tmpl, "bos_token": "", "eos_token": "<|end|>",
                                  "model_path": "stub.gguf"})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.add_routes([web.post("/completion", completion), web.get("/props", props),
                    web.get("/health", health)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    gw = await asyncio.to_thread(start_gateway, "--endpoint", url)
    try:
        direct = (url + "/completion", {"prompt": "x", "n_predict": 5})
        via = (gw.url + "/v1/chat/completions", {"messages": MESSAGES, "max_tokens": 5})
        d, g = await side_by_side(direct, via, n * 5)
        report("stub backend (gateway's own cost)", d, g)
        tools = [{"type": "function", "function": {"name": f"tool_{i}", "parameters": {
            "type": "object", "properties": {"a": {"type": "integer", "minimum": 0},
                                             "b": {"type": "string", "maxLength": 20}},
            "required": ["a"]}}} for i in range(20)]
        via_tools = (via[0], {**via[1], "tools": tools, "tool_choice": "auto"})
        d, g = await side_by_side(direct, via_tools, n * 5)
        report("stub backend, 20 tools (grammar cached)", d, g)
    finally:
        gw.stop()
        await runner.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30, help="requests per side per measurement")
    a = ap.parse_args()
    print(json.dumps({"bench": "gateway vs direct llama.cpp", "n": a.n}))
    asyncio.run(stub_backend(a.n))
    asyncio.run(real_backend(a.n))


if __name__ == "__main__":
    main()
