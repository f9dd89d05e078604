"""Serve-time state: the backend (spawned or remote), the model's template and dialect, and
the chat service built from them once the backend is ready."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.backend import LlamaCppBackend
from gateway.backend.supervisor import (  # noqa: F401 - demo_model_path: re-exported
    LaunchSpec,
    SpawnedServer,
    demo_model_path,
)
from gateway.chat import ChatService
from gateway.config import Settings
from gateway.detection import Detection, detect, end_of_turn_marker
from gateway.dialect import Dialect
from gateway.dialect_options import parse_dialect_options
from gateway.gguf_meta import ModelMetadata, metadata_from_props, read_gguf_metadata
from gateway.jumpforward import JumpForwardBackend
from gateway.plugins import PluginError, Plugins, create_plugins
from gateway.templating import ChatTemplate, RenderLimits, load_template_file

log = logging.getLogger("gateway")


@dataclass
class ServeConfig:
    model: str | None = None
    endpoints: list[str] = field(default_factory=list)
    server_bin: str | None = None
    ctx_size: int = 8192  # the total over all slots: 4096 tokens each with 2
    parallel: int = 2
    threads: int = 0
    chat_template_file: str | None = None
    plugins: list[str] | None = None
    dialect: str | None = None
    alias: str | None = None
    replicas: int = 1  # embedded llama.cpp children behind one pool (threads split)
    routing: str = "affinity"  # or "round-robin", over several backends
    embedding_model: str | None = None  # a GGUF for /v1/embeddings, on a child of its own
    settings: Settings = field(default_factory=Settings)
    backend_sharers: int = 1  # gateway processes (--workers) sharing the one backend


def launch_spec(cfg: ServeConfig, threads: int) -> LaunchSpec:
    """The one llama.cpp child of a single-model `gateway serve`."""
    assert cfg.model
    return LaunchSpec(model=cfg.model, ctx_size=cfg.ctx_size, parallel=cfg.parallel,
                      threads=threads, server_bin=cfg.server_bin)


def choose_dialect(plugins: Plugins, template: ChatTemplate, meta: dict[str, Any],
                   cfg: ServeConfig) -> tuple[Dialect, str]:
    detection = choose(plugins, template, meta, cfg)
    return detection.dialect, detection.reason


def choose(plugins: Plugins, template: ChatTemplate, meta: dict[str, Any],
           cfg: ServeConfig) -> Detection:
    """--dialect wins; then a --plugin's own dialect; else the claims, decided by round trip."""
    if cfg.dialect:
        if cfg.dialect not in plugins.dialects:
            raise PluginError(f"dialect {cfg.dialect!r} is not registered; available: "
                              f"{', '.join(sorted(plugins.dialects))}")
        return Detection(plugins.dialects[cfg.dialect], "chosen with --dialect")
    claims = plugins.claims(template, meta)
    if cfg.plugins:
        named = {d for n in cfg.plugins for d in plugins.infos[n].dialects} if all(
            n in plugins.infos for n in cfg.plugins) else set()
        mine = [c for c in claims if c.dialect in named]
        found = detect(plugins.dialects, mine, template)
        if found.dialect.name in named:
            return Detection(found.dialect, f"--plugin, and {found.reason}", found.evidence)
        first = next((plugins.infos[n].dialects[0] for n in cfg.plugins
                      if plugins.infos[n].dialects and n != "generic"), None) or next(
            (d for d in named), None)
        if first:
            # the user's explicit choice stands, with what the round trip found said aloud
            why = "named with --plugin (its round trip did not confirm this template: " \
                  f"{found.reason})"
            return Detection(plugins.dialects[first], why, found.evidence)
    return detect(plugins.dialects, claims, template)


def connection_share(slots: int, sharers: int) -> int:
    """Kept-alive connections one gateway process may hold to a llama.cpp with `slots`
    slots, when `sharers` processes (--workers) share it: their sum stays within llama.cpp's
    n_parallel + 2 HTTP threads (see LlamaCppBackend.limit_connections). 0: none (slots
    unknown, or more processes than threads could serve: a connection per generation)."""
    if slots < 1 or sharers > slots + 1:
        return 0
    return max(1, slots // sharers)


class Runtime:
    def __init__(self, cfg: ServeConfig, plugins: Plugins | None = None,
                 server: SpawnedServer | None = None) -> None:
        """`server`: the llama.cpp child for `cfg.model`, already started by the caller (the
        command line spawns it first, so the model loads while the gateway imports)."""
        self.cfg = cfg
        self.plugins = plugins or create_plugins(cfg.plugins)
        # typed and checked now: a bad --dialect-option stops start-up, not every request
        cfg.settings.dialect_options = parse_dialect_options(
            cfg.settings.dialect_options, self.plugins.dialects.values())
        self.server: SpawnedServer | None = server
        self.backend: Any = None  # LlamaCppBackend, a BackendPool, or them metered
        self.pool: Any = None  # the BackendPool over several backends, if any
        self.embedder: Any = None  # the embeddings child (gateway.embeddings.Embedder)
        self.metrics: Any = None  # set by the app: observes backend calls and grammar plans
        self.restarts = 0
        self.service: ChatService | None = None
        self.detection: Detection | None = None
        self.slot_context = cfg.ctx_size // max(1, cfg.parallel) if not cfg.endpoints else 0
        self.status = "starting"
        self._watch: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self.service is not None and self.status == "ready"

    async def start(self) -> None:
        from gateway import scaleout

        cfg = self.cfg
        threads = scaleout.threads_per_child(cfg)
        if cfg.embedding_model:
            from gateway.embeddings import Embedder

            self.status = "loading the embedding model"
            self.embedder = Embedder(cfg.embedding_model, threads=threads,
                                     server_bin=cfg.server_bin,
                                     timeout=cfg.settings.request_timeout)
            await self.embedder.start()
        loading: Coroutine[Any, Any, None] | None = None
        if scaleout.wants_pool(cfg):
            self.status = "starting backends"
            self.backend = self.pool = await scaleout.open_pool(cfg, threads)
            props = await self.pool.props()
            meta = metadata_from_props(props) if cfg.endpoints else read_gguf_metadata(
                str(cfg.model))
            settings = props.get("default_generation_settings") or {}
            self.slot_context = int(settings.get("n_ctx") or 0)
            model_name = cfg.alias or Path((cfg.model if not cfg.endpoints else meta.name)
                                           or "model").stem
        elif cfg.endpoints:
            self.backend = LlamaCppBackend(cfg.endpoints[0], timeout=cfg.settings.request_timeout)
            self.status = "waiting for " + cfg.endpoints[0]
            while not await self.backend.healthy():
                await asyncio.sleep(0.2)
            props = await self.backend.props()
            share = connection_share(int(props.get("total_slots") or 0), cfg.backend_sharers)
            if share:
                self.backend.limit_connections(share)
            meta = metadata_from_props(props)
            settings = props.get("default_generation_settings") or {}
            self.slot_context = int(settings.get("n_ctx") or 0)
            model_name = cfg.alias or Path(meta.name or "model").stem
        else:
            assert cfg.model, "a model path is required when no endpoint is given"
            if self.server is None:
                self.server = SpawnedServer(launch_spec(cfg, threads))
                self.server.start()
            meta = read_gguf_metadata(cfg.model)
            self.status = "loading model"
            # the template and dialect come from the GGUF file: settled while the model loads
            loading = self.server.wait_ready()
            self.backend = LlamaCppBackend(self.server.url, timeout=cfg.settings.request_timeout)
            self.backend.limit_connections(cfg.parallel)
            model_name = cfg.alias or Path(cfg.model).stem
        if cfg.settings.jump_forward:
            self.backend = JumpForwardBackend(self.backend)
        if self.metrics is not None:
            self.backend = self.metrics.wrap_backend(self.backend)
        # probing and detection render the model's (untrusted) template: off the event loop,
        # so /health answers whatever the template does
        building = asyncio.to_thread(self._build_service, meta, model_name)
        if loading is None:
            self.service = await building
        else:
            self.service, _ = await asyncio.gather(building, loading)
        if self.metrics is not None:
            self.service.on_plan = self.metrics.plan_observed
        self.status = "ready"
        if self.server is not None:
            self._watch = asyncio.create_task(self._supervise())

    def _build_service(self, meta: ModelMetadata, model_name: str) -> ChatService:
        assert self.backend is not None
        if self.cfg.chat_template_file:
            source = load_template_file(self.cfg.chat_template_file)
        else:
            source = meta.chat_templates.get("tool_use") or meta.chat_template or ""
        if not source:
            raise RuntimeError("the model has no chat template: pass --chat-template-file")
        settings = self.cfg.settings
        template = ChatTemplate(source, bos_token=meta.bos_token or "",
                                eos_token=meta.eos_token or "", strip_bos=meta.add_bos_token,
                                limits=RenderLimits(settings.template_timeout,
                                                    settings.max_prompt_chars))
        info = {"name": meta.name, "architecture": meta.architecture,
                "bos_token": meta.bos_token, "eos_token": meta.eos_token}
        self.detection = choose(self.plugins, template, info, self.cfg)
        template.settle()
        if template.hostile is not None:
            log.error("the chat template went over its limits at start-up: %s; every chat "
                      "request will be refused (pass a --chat-template-file)", template.hostile)
        dialect = self.detection.dialect
        log.info("dialect %r: %s", dialect.name, self.detection.reason)
        stops = [t for t in (end_of_turn_marker(template), meta.eot_token) if t]
        return ChatService(plugins=self.plugins, backend=self.backend, template=template,
                           dialect=dialect, model_id=model_name, settings=self.cfg.settings,
                           stop_words=list(dict.fromkeys(stops)),
                           slot_context=self.slot_context)

    def offline_service(self) -> ChatService:
        """A service that can prepare requests (render, constrain) without any backend: for
        `gateway render` and tests of dialects."""
        assert self.cfg.model, "offline rendering reads the template from a GGUF file"
        self.backend = LlamaCppBackend("http://127.0.0.1:9")  # never called
        return self._build_service(read_gguf_metadata(self.cfg.model), Path(self.cfg.model).stem)

    async def _supervise(self) -> None:
        """Restart the embedded llama.cpp if it dies; /health says 503 meanwhile."""
        assert self.server is not None
        while True:
            await asyncio.sleep(0.5)
            if self.server.alive():
                continue
            log.error("llama.cpp exited (code %s); restarting", self.server.proc and
                      self.server.proc.returncode)
            self.status = "backend restarting"
            self.restarts += 1
            try:
                self.server.start()
                await self.server.wait_ready()
                self.status = "ready"
            except RuntimeError as exc:
                log.error("restart failed: %s", exc)
                self.status = "backend down"
                await asyncio.sleep(5)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self.backend is not None:
            await self.backend.close()
        if self.server is not None:
            self.server.stop()
        if self.embedder is not None:
            await self.embedder.stop()

    def describe(self) -> dict[str, Any]:
        return {"status": self.status,
                "backend_pid": self.server.pid if self.server else None,
                "backend_url": self.backend.base_url if self.backend else None,
                "dialect": self.service.dialect.name if self.service else None,
                "model": self.service.model_id if self.service else None,
                "pid": os.getpid(),
                "backends": self.backends_state()}

    def backends_state(self) -> list[dict[str, Any]]:
        from gateway.scaleout import backends_state

        return backends_state(self)
