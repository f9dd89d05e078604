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
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from gateway.backend.supervisor import LaunchSpec, SpawnedServer, free_port
from gateway.gguf_meta import read_gguf_metadata
from gateway.pytest_plugin import _wait_http, start_gateway
from gateway.runtime import demo_model_path
from gateway.templating import ChatTemplate

MESSAGES = [{"role": "user", "content": "Say something about the sea."}]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def timed_post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> float:
    return await _again_on_closed(_timed_post, http, url, body)


async def first_byte(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> float:
    return await _again_on_closed(_first_byte, http, url, body)


async def _again_on_closed(fn: Any, *args: Any) -> float:
    """llama.cpp closes a streamed connection although it says keep-alive: a request after
    one may meet it closed (nothing was sent). Timed again, on a new one."""
    for tries in range(3):
        try:
            result: float = await fn(*args)
            return result
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            if tries == 2:
                raise
    raise AssertionError("unreachable")


async def _timed_post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> float:
    t = time.perf_counter()
    async with http.post(url, json=body) as r:
        await r.read()
        assert r.status == 200, await r.text()
    return time.perf_counter() - t


async def _first_byte(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> float:
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
    # under llama.cpp's 5 s keep-alive: a slow run must not reuse a socket it has closed
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(keepalive_timeout=4)) as http:
        await fn(http, *direct)
        await fn(http, *gw)  # warm both paths
        for i in range(n):  # the order alternates: neither side always runs right after
            if i % 2:           # the other (llama.cpp's threads still spinning, or asleep)
                g.append(await fn(http, *gw))
                d.append(await fn(http, *direct))
            else:
                d.append(await fn(http, *direct))
                g.append(await fn(http, *gw))
    return d, g


async def _burst(http: aiohttp.ClientSession, url: str, body: dict[str, Any], conc: int,
                 total: int) -> float:
    """Seconds `total` requests take, `conc` in flight at a time."""
    sem = asyncio.Semaphore(conc)

    async def one() -> None:
        async with sem:
            await timed_post(http, url, body)

    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(total)))
    return time.perf_counter() - t


async def rates_side_by_side(direct: tuple[str, dict[str, Any]], gw: tuple[str, dict[str, Any]],
                             conc: int, total: int, rounds: int = 6) -> tuple[float, float]:
    """Closed-loop req/s of each side, `total` requests each, taken in `rounds` alternating
    bursts (direct, gateway, gateway, direct, ...): a machine that speeds up or slows down
    during the run moves both sides alike, not the one measured second. Each side keeps its
    own warmed keep-alive session, so connecting is not timed."""
    per = max(conc, total // rounds)
    async with aiohttp.ClientSession() as hd, aiohttp.ClientSession() as hg:
        sides = [(hd, direct), (hg, gw)]
        for http, (url, body) in sides:  # warm: every connection of the pool open
            await _burst(http, url, body, conc, conc)
        spent = [0.0, 0.0]
        for r in range(rounds):
            for i in ((0, 1) if r % 2 == 0 else (1, 0)):
                http, (url, body) = sides[i]
                spent[i] += await _burst(http, url, body, conc, per)
    return per * rounds / spent[0], per * rounds / spent[1]


TABLE: list[tuple[str, str, str, str]] = []  # (figure, direct, gateway, ratio/added)


def report(name: str, d: list[float], g: list[float]) -> None:
    dm, gm = statistics.median(d), statistics.median(g)
    print(f"{name:<38} direct p50 {dm * 1000:8.2f} ms  p90 {pct(d, .9) * 1000:8.2f} | gateway "
          f"p50 {gm * 1000:8.2f} ms  p90 {pct(g, .9) * 1000:8.2f} | ratio {gm / dm:5.3f}  "
          f"added {1000 * (gm - dm):+7.2f} ms")
    TABLE.append((name + " p50", f"{dm * 1000:.2f} ms", f"{gm * 1000:.2f} ms",
                  f"{gm / dm:.3f}x, {1000 * (gm - dm):+.2f} ms"))


def report_rate(name: str, rd: float, rg: float) -> None:
    print(f"{name:<38} direct {rd:8.1f} req/s | gateway {rg:8.1f} req/s | ratio {rg / rd:5.3f}")
    TABLE.append((name, f"{rd:.1f} req/s", f"{rg:.1f} req/s", f"{rg / rd:.3f}x"))


def print_table() -> None:
    w = max(len(r[0]) for r in TABLE)
    print(f"\n{'figure':<{w}}  {'direct':>14}  {'gateway':>14}  ratio")
    for name, d, g, r in TABLE:
        print(f"{name:<{w}}  {d:>14}  {g:>14}  {r}")


async def real_backend(n: int, threads: int = 0) -> None:
    model = demo_model_path()
    assert model, "demo model not installed"
    server = SpawnedServer(LaunchSpec(model=model, ctx_size=4096, parallel=8,
                                      threads=threads))
    server.start()
    await server.wait_ready(progress=False)
    gw = start_gateway("--endpoint", server.url)
    try:
        meta = read_gguf_metadata(model)
        prompt = ChatTemplate(meta.chat_template or "", bos_token=meta.bos_token or "",
                              eos_token=meta.eos_token or "",
                              strip_bos=meta.add_bos_token).render(MESSAGES)
        # Up to --unstreamed-max-tokens (128) the gateway asks llama.cpp non-streamed; a
        # longer non-streamed answer is still streamed from llama.cpp (closing the stream is
        # what stops llama.cpp for a client gone), and llama.cpp's own cost of streaming (its
        # HTTP thread woken and a write for each token) is the floor of that figure.
        for tokens, runs in ((1, n), (16, n), (160, max(4, n // 8))):
            direct = (server.url + "/completion", {"prompt": prompt, "n_predict": tokens,
                                                   "temperature": 0, "cache_prompt": True})
            via = (gw.url + "/v1/chat/completions", {"messages": MESSAGES, "max_tokens": tokens,
                                                      "temperature": 0})
            d, g = await side_by_side(direct, via, runs)
            report(f"non-streaming, max {tokens} tokens, conc 1", d, g)
            if tokens == 160:  # here "gateway" is llama.cpp itself, streamed, read to its end
                d, g = await side_by_side(direct, (direct[0], {**direct[1], "stream": True}),
                                          runs)
                report("llama.cpp itself streamed, max 160 tokens", d, g)
        direct = (direct[0], {**direct[1], "n_predict": 16})
        via = (via[0], {**via[1], "max_tokens": 16})
        direct[1]["stream"] = True
        via[1]["stream"] = True
        d, g = await side_by_side(direct, via, n, first_byte)
        report("streaming time to first token", d, g)
        del direct[1]["stream"], via[1]["stream"]
        for conc in (8,):
            rd, rg = await rates_side_by_side(direct, via, conc, 4 * conc, rounds=2)
            report_rate(f"llama.cpp throughput, 16 tokens, conc {conc}", rd, rg)
    finally:
        gw.stop()
        server.stop()


STUB_TOKENS = 16  # streamed events per stub answer


async def run_stub(port: int) -> None:
    """A stand-in llama.cpp that answers at once: what remains is the gateway's own cost.
    Runs in its own process, so the load generator does not share a core with it."""
    answer = {"content": "Hello there, friend.", "stop": True, "stop_type": "eos",
              "tokens_evaluated": 12, "tokens_predicted": STUB_TOKENS}
    events = [b'data: {"content":"tok ","stop":false}\n\n'] * STUB_TOKENS + [
        b"data: " + json.dumps({**answer, "content": ""}).encode() + b"\n\n"]

    last: list[Any] = [{}]

    async def completion(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        last[0] = body
        if not body.get("stream"):
            return web.json_response(answer)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for event in events:
            await resp.write(event)
        await resp.write_eof()
        return resp

    async def props(request: web.Request) -> web.Response:
        tmpl = ("{% for m in messages %}<|{{m.role}}|>{{m.content}}<|end|>{% endfor %}"
                "{% if add_generation_prompt %}<|assistant|>{% endif %}")
        # as a llama.cpp started with -np 32 (the gateway keeps that many connections alive)
        return web.json_response({"chat_template": tmpl, "bos_token": "", "eos_token": "<|end|>",
                                  "model_path": "stub.gguf", "total_slots": 32})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def last_body(request: web.Request) -> web.Response:  # what the gateway sent
        return web.json_response(last[0])

    app = web.Application()
    app.add_routes([web.post("/completion", completion), web.get("/props", props),
                    web.get("/health", health), web.get("/last", last_body)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


def run_floor(port: int, stub_url: str) -> None:
    """The floor of the design card's stack: hypercorn (same settings as `gateway serve`, uvloop,
    one worker) relaying each request body unchanged to the stub over one aiohttp session, and
    the answer back, streamed or not. No routing, rendering, grammar or parsing: what is left
    is the cost of the server and the client libraries the gateway is built on."""
    from gateway.server_config import server_config
    from hypercorn.asyncio import serve

    http: list[aiohttp.ClientSession] = []

    async def relay(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            if http:
                await http[0].close()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["method"] == "GET":  # /health
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        if not http:
            http.append(aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(keepalive_timeout=4)))
        async with http[0].post(stub_url + "/completion", data=body,
                                headers={"Content-Type": "application/json"}) as r:
            await send({"type": "http.response.start", "status": r.status,
                        "headers": [(b"content-type", r.content_type.encode())]})
            async for chunk in r.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    hc = server_config([f"127.0.0.1:{port}"])
    loop_factory = None
    try:
        import uvloop
        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(relay, hc))  # type: ignore[arg-type]


def start_floor(stub_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--floor", str(port), stub_url])
    url = f"http://127.0.0.1:{port}"
    _wait_http(url + "/health", proc, 30)
    return proc, url + "/completion"


def start_stub() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--stub", str(port)])
    url = f"http://127.0.0.1:{port}"
    _wait_http(url + "/health", proc, 30)
    return proc, url


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def memory(gw: Any, via_stream: tuple[str, dict[str, Any]], streams: int = 1000) -> None:
    """Gateway RSS idle, and its peak while `streams` streams are open at once."""
    idle = rss_mib(gw.proc.pid)
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as http:
        async def one() -> int:
            async with http.post(via_stream[0], json=via_stream[1]) as r:
                await r.read()
                return r.status
        statuses = await asyncio.gather(*(one() for _ in range(streams)))
    peak = rss_mib(gw.proc.pid, "VmHWM")
    ok = sum(1 for s in statuses if s == 200)
    print(f"gateway RSS idle {idle:.1f} MiB, peak {peak:.1f} MiB over {streams} concurrent "
          f"streams ({ok} answered 200)")
    TABLE.append(("gateway RSS idle", "", f"{idle:.1f} MiB", ""))
    TABLE.append((f"gateway RSS peak, {streams} concurrent streams", "", f"{peak:.1f} MiB",
                  f"{ok}/{streams} ok"))


async def sent_by_gateway(stub_url: str, via: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        await timed_post(http, *via)
        async with http.get(stub_url + "/last") as r:
            body: dict[str, Any] = await r.json()
            return body


async def floor_figures(stub_url: str, direct_tools: tuple[str, dict[str, Any]],
                        direct_stream: tuple[str, dict[str, Any]], n: int, conc: int) -> None:
    """The same requests through the bare hypercorn + aiohttp relay (run_floor): how much of
    the gateway's added cost its server and client libraries take before any gateway code."""
    proc, floor = await asyncio.to_thread(start_floor, stub_url)
    try:
        d, g = await side_by_side(direct_tools, (floor, direct_tools[1]), n * 5)
        report("floor (hypercorn+aiohttp relay), conc 1", d, g)
        total = max(8 * conc, 20 * n)
        for tag, (url, body) in (("", direct_tools), ("streaming, ", direct_stream)):
            rd, rg = await rates_side_by_side((url, body), (floor, body), conc, total)
            report_rate(f"floor (relay), {tag}conc {conc}", rd, rg)
    finally:
        proc.terminate()
        proc.wait()


async def stub_backend(n: int, workers: list[int], conc: int = 32) -> None:
    stub, url = start_stub()
    tools = [{"type": "function", "function": {"name": f"tool_{i}", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer", "minimum": 0},
                                         "b": {"type": "string", "maxLength": 20}},
        "required": ["a"]}}} for i in range(20)]
    try:
        for w in workers:
            gw = await asyncio.to_thread(start_gateway, "--endpoint", url, "--workers", str(w),
                                         "--max-concurrent", "2048")
            try:
                via = (gw.url + "/v1/chat/completions", {"messages": MESSAGES, "max_tokens": 5})
                via_tools = (via[0], {**via[1], "tools": tools, "tool_choice": "auto"})
                via_stream = (via[0], {**via[1], "stream": True})
                tag = f"{w} worker{'s' if w > 1 else ''}"
                # Direct requests carry what the gateway sends (prompt, grammar, stops).
                direct = (url + "/completion", await sent_by_gateway(url, via))
                direct_tools = (url + "/completion", await sent_by_gateway(url, via_tools))
                direct_stream = (url + "/completion", await sent_by_gateway(url, via_stream))
                if w == workers[0]:
                    await floor_figures(url, direct_tools, direct_stream, n, conc)
                    d, g = await side_by_side(direct, via, n * 5)
                    report(f"stub, conc 1, {tag}", d, g)
                    d, g = await side_by_side(direct_tools, via_tools, n * 5)
                    report(f"stub, 20 tools (cached), conc 1, {tag}", d, g)
                total = max(8 * conc, 20 * n)
                rd, rg = await rates_side_by_side(direct_tools, via_tools, conc, total)
                report_rate(f"stub, 20 tools, conc {conc}, {tag}", rd, rg)
                rd, rg = await rates_side_by_side(direct_stream, via_stream, conc, total)
                report_rate(f"stub, streaming {STUB_TOKENS} events, conc {conc}, {tag}", rd, rg)
                if w == 1:
                    await memory(gw, via_stream)
            finally:
                gw.stop()
    finally:
        stub.terminate()
        stub.wait()


async def startup(threads: int = 0) -> None:
    """Spawn to ready: llama.cpp alone with the demo model, then `gateway serve` with it."""
    model = demo_model_path()
    assert model, "demo model not installed"
    extra = ["--threads", str(threads)] if threads else []
    directs, vias = [], []
    for _ in range(3):  # alternated, medians: one start-up is noisy
        server = SpawnedServer(LaunchSpec(model=model, ctx_size=8192, parallel=2,
                                          threads=threads))
        t = time.perf_counter()
        server.start()
        await server.wait_ready(progress=False)
        directs.append(time.perf_counter() - t)
        server.stop()
        t = time.perf_counter()
        gw = await asyncio.to_thread(start_gateway, *extra)
        vias.append(time.perf_counter() - t)
        gw.stop()
    direct, via = statistics.median(directs), statistics.median(vias)
    print(f"start-up to ready: llama.cpp {direct:.2f} s | gateway serve {via:.2f} s")
    TABLE.append(("start-up to ready (demo model)", f"{direct:.2f} s", f"{via:.2f} s",
                  f"{via - direct:+.2f} s"))


def llama_children(pid: int) -> list[int]:
    """--threads of every llama.cpp process under `pid` (0: llama.cpp's own default)."""
    out: list[int] = []
    kids = [c for t in Path(f"/proc/{pid}/task").iterdir()
            for c in (t / "children").read_text().split()]
    for child in kids:
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"embedded_child" in a or b"llama-server" in a for a in argv):
            i = argv.index(b"--threads") if b"--threads" in argv else -1
            out.append(int(argv[i + 1]) if i >= 0 else 0)
    return out


async def threads_split() -> None:
    """Several llama.cpp children on one machine (replicas, an embeddings server) split the
    cores: their threads must never sum above them (spinning threads would oversubscribe)."""
    model = demo_model_path()
    assert model, "demo model not installed"
    cores = os.cpu_count() or 1
    for args in (("--replicas", "2"), ("--replicas", "2", "--embedding-model", model)):
        gw = await asyncio.to_thread(start_gateway, "--model", model, *args)
        try:
            threads = llama_children(gw.proc.pid)
        finally:
            gw.stop()
        label = " ".join(a if not a.endswith(".gguf") else "demo" for a in args)
        print(f"llama.cpp threads with {label}: {threads} on {cores} cores")
        # More children than cores: one thread each. A one-thread llama.cpp has no pool whose
        # threads spin-wait for each other; it only takes turns on a core with the others.
        verdict = ("never above the cores" if sum(threads) <= cores else
                   "one thread each: no spin-waiting" if max(threads) == 1 else
                   "OVERSUBSCRIBED")
        TABLE.append((f"llama.cpp threads, {label}", f"{cores} cores",
                      "+".join(map(str, threads)), verdict))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30, help="requests per side per measurement")
    ap.add_argument("--workers", type=int, action="append", help="gateway workers (repeatable; "
                    "default 1 and 2)")
    ap.add_argument("--threads", type=int, default=0, help="llama.cpp threads for the model "
                    "figures (0: its default; 1 keeps a shared machine's noise out)")
    ap.add_argument("--no-model", action="store_true", help="only the stub-backend figures")
    ap.add_argument("--only", choices=["model"], help="model: only the real model's side by "
                    "side figures (no stub, start-up or thread figures)")
    ap.add_argument("--stub", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--floor", nargs=2, metavar=("PORT", "STUB_URL"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.floor:
        run_floor(int(a.floor[0]), a.floor[1])
        return
    if a.stub:
        asyncio.run(run_stub(a.stub))
        return
    print(json.dumps({"bench": "gateway vs direct llama.cpp", "n": a.n}))
    if a.only == "model":
        asyncio.run(real_backend(a.n, a.threads))
        print_table()
        return
    asyncio.run(stub_backend(a.n, a.workers or [1, 2]))
    if not a.no_model:
        asyncio.run(startup(a.threads))
        asyncio.run(threads_split())
        asyncio.run(real_backend(a.n, a.threads))
    print_table()


if __name__ == "__main__":
    main()
