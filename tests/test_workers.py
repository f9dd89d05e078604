"""`gateway serve --workers N`: several gateway processes on one port, one shared backend."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from gateway.backend.supervisor import free_port
from gateway.pytest_plugin import _wait_http
from gateway.runtime import connection_share
from gateway.workers import worker_argv

TEMPLATE = ("{% for m in messages %}<|{{m.role}}|>{{m.content}}<|end|>{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% endif %}")


class _StubLlama(BaseHTTPRequestHandler):
    """Just enough of llama.cpp's server: /health, /props, /completion (one event)."""

    def _json(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/props":
            self._json({"chat_template": TEMPLATE, "bos_token": "", "eos_token": "<|end|>",
                        "model_path": "stub.gguf"})
        else:
            self._json({"status": "ok"})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        final = {"content": "hello", "stop": True, "stop_type": "eos", "tokens_evaluated": 3,
                 "tokens_predicted": 1}
        if not body.get("stream"):
            self._json(final)
            return
        data = b"data: " + json.dumps(final).encode() + b"\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub_backend() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubLlama)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


def test_worker_argv_drops_backend_and_listen_options() -> None:
    argv = ["--model", "m.gguf", "--port=9000", "--host", "0.0.0.0", "--workers", "3",
            "--plugin", "hermes", "-t", "2", "--max-concurrent", "8"]
    assert worker_argv(argv, ["http://b:1"], 7, 3) == [
        "--plugin", "hermes", "--max-concurrent", "8", "--endpoint", "http://b:1",
        "--bind-fd", "7", "--backend-sharers", "3"]


def test_workers_share_llama_cpps_connections() -> None:
    """N workers on one llama.cpp (n_parallel + 2 HTTP threads) keep at most that many
    connections alive between them, or none at all when they could not fit."""
    assert connection_share(8, 1) == 8
    assert connection_share(8, 2) == 4 and connection_share(8, 3) == 2
    assert connection_share(2, 2) == 1 and connection_share(2, 3) == 1  # 3 of 4 threads
    assert connection_share(2, 4) == 0  # more workers than threads: one per generation
    assert connection_share(0, 1) == 0  # slots unknown
    for slots in range(1, 20):
        for sharers in range(1, 30):
            assert connection_share(slots, sharers) * sharers <= slots + 2


def test_workers_share_the_port_and_stop_together(stub_backend: str) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--workers", "2",
                             "--endpoint", stub_backend, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/health", proc, timeout=60)
        workers = _children(proc.pid)
        assert len(workers) == 2
        body = json.dumps({"model": "m", "max_tokens": 4,
                           "messages": [{"role": "user", "content": "hi"}]}).encode()
        for _ in range(10):
            req = urllib.request.Request(url + "/v1/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as r:
                assert json.loads(r.read())["choices"][0]["message"]["content"] == "hello"
        os.kill(workers[0], signal.SIGKILL)  # a worker that dies is replaced
        deadline = time.monotonic() + 20
        while True:
            alive = [w for w in _children(proc.pid) if w != workers[0]]
            if len(alive) == 2:
                break
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        for w in alive:
            assert not os.path.exists(f"/proc/{w}") or _zombie(w)
    finally:
        if proc.poll() is None:
            proc.kill()


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_configuration_every_worker_refuses_stops_the_parent(stub_backend: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "gateway", "serve", "--workers", "2",
                           "--endpoint", stub_backend, "--port", str(free_port()),
                           "--dialect-option", "max_parallel_calls=abc"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "max_parallel_calls" in proc.stderr


def test_a_worker_accepts_connections_only_once_ready() -> None:
    """Workers share one listening socket: a worker still starting must not take a client
    (it could only answer 503 while another worker is ready). Until its backend answers, a
    connection waits in the socket's queue; once ready, the same connection is served."""
    healthy = threading.Event()

    class Slow(_StubLlama):
        def do_GET(self) -> None:  # noqa: N802
            if not healthy.is_set():
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

    backend = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    sock = socket.create_server(("127.0.0.1", 0), backlog=16)
    sock.set_inheritable(True)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--endpoint",
         f"http://127.0.0.1:{backend.server_address[1]}", "--bind-fd", str(sock.fileno())],
        pass_fds=(sock.fileno(),), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    answer: list[int] = []

    def ask() -> None:
        with urllib.request.urlopen(url + "/health", timeout=60) as r:
            answer.append(r.status)

    try:
        asker = threading.Thread(target=ask)
        asker.start()
        asker.join(3.0)  # the worker is up by now, but its backend is not: no answer yet
        assert answer == [] and proc.poll() is None
        healthy.set()
        asker.join(60)
        assert answer == [200]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        backend.shutdown()
        sock.close()
