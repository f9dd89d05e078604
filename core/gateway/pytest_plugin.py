"""pytest fixtures for the gateway and its plugins (registered through the `pytest11` entry
point): a real llama.cpp server with the demo model, and real gateway processes.

    def test_x(gateway_factory):
        gw = gateway_factory("--chat-template-file", "t.jinja", "--plugin", "hermes")
        client = gw.openai()
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.backend.supervisor import free_port


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} not ready after {timeout} s")


@dataclass
class GatewayProcess:
    url: str
    proc: subprocess.Popen[bytes]
    args: tuple[str, ...]
    log_path: str

    def openai(self, **kw: Any) -> Any:
        import openai

        return openai.OpenAI(base_url=self.url + "/v1", api_key="none", max_retries=0, **kw)

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_gateway(*args: str, log_dir: str = "/tmp", env: dict[str, str] | None = None,
                  timeout: float = 120.0, python: str | None = None) -> GatewayProcess:
    """`gateway serve ARGS` in a child process (`python`: another environment's
    interpreter, e.g. a fresh one with a plugin installed), once /health answers."""
    port = free_port()
    log_path = os.path.join(log_dir, f"gateway-{port}.log")
    cmd = [python or sys.executable, "-m", "gateway", "serve", "--port", str(port),
           "--ctx-size", "8192", "--parallel", "2", *args]
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
    gw = GatewayProcess(f"http://127.0.0.1:{port}", proc, tuple(args), log_path)
    try:
        _wait_http(gw.url + "/health", proc, timeout)
    except RuntimeError as exc:
        gw.stop()
        raise RuntimeError(f"{exc}\n--- gateway log ---\n{gw.log()}") from exc
    return gw


@pytest.fixture(scope="session")
def backend_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real llama.cpp server (embedded wheel) with the demo model; yields its base URL."""
    from gateway.backend.supervisor import LaunchSpec, SpawnedServer
    from gateway.runtime import demo_model_path

    model = demo_model_path()
    if model is None:
        pytest.fail("the demo model is not installed: run `make test`, which installs it")
    server = SpawnedServer(LaunchSpec(model=model, ctx_size=8192, parallel=2))
    server.start()
    assert server.proc is not None
    _wait_http(server.url + "/health", server.proc)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def gateway_factory(tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[Callable[..., GatewayProcess]]:
    """Starts (once per distinct argument list) a real `gateway serve` on the demo model."""
    started: dict[tuple[str, ...], GatewayProcess] = {}
    log_dir = str(tmp_path_factory.mktemp("gateway-logs"))

    def factory(*args: str) -> GatewayProcess:
        if args not in started or started[args].proc.poll() is not None:
            started[args] = start_gateway(*args, log_dir=log_dir)
        return started[args]

    yield factory
    for gw in started.values():
        gw.stop()


@pytest.fixture(scope="session")
def gateway_server(gateway_factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    """The default gateway: the demo model, every installed plugin, auto-detection."""
    return gateway_factory()


@pytest.fixture(scope="session")
def gateway_client(gateway_server: GatewayProcess) -> Any:
    """An `openai.OpenAI` client pointed at the default gateway."""
    return gateway_server.openai()


@pytest.fixture(scope="session")
def load_template() -> Callable[[str], Any]:
    """Compiles a template of ../shared/templates by file name; a test that needs them
    fails saying where they were looked for (gateway.testing.shared_template)."""
    from gateway.testing import shared_template

    return shared_template


@pytest.fixture(scope="session")
def templates_dir() -> Any:
    """The folder of ../shared/templates (fails, saying so, when it is absent)."""
    from gateway.testing import shared_templates_dir

    return shared_templates_dir()
