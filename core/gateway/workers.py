"""`gateway serve --workers N`: N gateway processes behind one listening socket, sharing one
backend.

The parent owns what must exist once: the llama.cpp child (when a model is served, not an
`--endpoint`) and the listening socket. Each worker is an ordinary `gateway serve` given the
backend as `--endpoint` and the socket as `--bind-fd`; the kernel hands each new connection to
whichever worker accepts it first. A worker that dies is started again; SIGTERM/SIGINT on the
parent stops the workers, then the backend.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

log = logging.getLogger("gateway")

# Options that configure the backend the parent spawns: a worker gets `--endpoint` instead.
_BACKEND_OPTIONS = {"--model", "-m", "--server-bin", "--threads", "-t", "--workers",
                    "--host", "--port", "--bind-fd", "--backend-sharers"}


def worker_argv(argv: Sequence[str], endpoints: Sequence[str], fd: int, workers: int = 1
                ) -> list[str]:
    """The `gateway serve` arguments of one worker: the parent's, less the backend and
    listening options, plus the shared backend(s), the inherited socket and how many workers
    share the backend (each keeps its share of llama.cpp's connections)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _BACKEND_OPTIONS:
            skip = "=" not in arg
            continue
        out.append(arg)
    if endpoints and "--endpoint" not in out:
        for url in endpoints:
            out += ["--endpoint", url]
    return [*out, "--bind-fd", str(fd), "--backend-sharers", str(workers)]


def serve_workers(argv: Sequence[str], *, workers: int, host: str, port: int,
                  model: str | None, endpoints: list[str], launch: dict[str, object]) -> int:
    from gateway.backend.supervisor import LaunchSpec, SpawnedServer, _die_with_parent

    server = None
    if not endpoints:
        assert model is not None
        server = SpawnedServer(LaunchSpec(model=model, **launch))  # type: ignore[arg-type]
        server.start()
        try:
            asyncio.run(server.wait_ready())
        except RuntimeError as exc:
            print(f"gateway: {exc}", file=sys.stderr)
            server.stop()
            return 1
        endpoints = [server.url]
    sock = socket.create_server((host, port), backlog=1024)
    sock.set_inheritable(True)
    cmd = [sys.executable, "-m", "gateway", "serve",
           *worker_argv(argv, endpoints, sock.fileno(), workers)]

    def start() -> subprocess.Popen[bytes]:  # a worker dies with this process, even SIGKILLed
        return subprocess.Popen(cmd, pass_fds=(sock.fileno(),), preexec_fn=_die_with_parent())

    procs = [start() for _ in range(workers)]
    log.info("%d workers (pids %s) serving the OpenAI API on http://%s:%d/v1", workers,
             " ".join(str(p.pid) for p in procs), host, port)
    stopping = False
    status = 0

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping:
            for i, proc in enumerate(procs):
                if proc.poll() is None or stopping:
                    continue
                if proc.returncode == 2:  # a configuration error: every worker would fail
                    log.error("worker %d refused the configuration: stopping", proc.pid)
                    status = 2
                    stopping = True
                    break
                log.warning("worker %d exited with %s: starting it again", proc.pid,
                            proc.returncode)
                procs[i] = start()
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        sock.close()
        if server is not None:
            server.stop()
    return status
