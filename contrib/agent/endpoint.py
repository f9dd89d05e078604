"""Where the agent talks to: a given base URL, a gateway already on the default port, or a
`gateway serve` on the demo model that the agent starts itself and stops on exit."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from types import TracebackType

DEFAULT_URL = "http://127.0.0.1:8080"


def healthy(base: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(base.rstrip("/") + "/health", timeout=timeout) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class StartedGateway:
    """`gateway serve` in a child process for as long as the agent runs."""

    def __init__(self, serve_args: str = "", timeout: float = 300.0) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = shlex.split(serve_args)
        self.timeout = timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(tempfile.gettempdir(), f"agent-gateway-{self.port}.log")

    def __enter__(self) -> StartedGateway:
        cmd = [sys.executable, "-m", "gateway", "serve", "--port", str(self.port), *self.args]
        print(f"[starting `gateway serve {' '.join(self.args) or '(demo model)'}` on "
              f"{self.url}; log: {self.log_path}]", file=sys.stderr, flush=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        start = time.monotonic()
        while not healthy(self.url):
            if self.proc.poll() is not None:
                raise RuntimeError(f"`gateway serve` exited with {self.proc.returncode}; "
                                   f"see {self.log_path}")
            if time.monotonic() - start > self.timeout:
                self._stop()
                raise RuntimeError(f"the gateway was not ready after {self.timeout:.0f} s")
            time.sleep(0.2)
        print(f"[gateway ready after {time.monotonic() - start:.1f} s]", file=sys.stderr,
              flush=True)
        return self

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop()
