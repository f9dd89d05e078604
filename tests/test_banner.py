"""The ready banner of `gateway serve`: base URL and a curl line that works as printed
(the e2e half runs the printed command against the shared gateway)."""

from __future__ import annotations

import asyncio
import io
import json
import shlex
import subprocess
from types import SimpleNamespace

import pytest
from gateway.banner import announce_when_ready, ready_banner


def test_banner_names_the_url_and_a_valid_curl():
    text = ready_banner("0.0.0.0", 9000, "demo")
    assert "http://127.0.0.1:9000/v1" in text
    curl = next(ln for ln in text.splitlines() if ln.startswith("try:"))[4:].strip()
    argv = shlex.split(curl)
    assert argv[:3] == ["curl", "-s", "http://127.0.0.1:9000/v1/chat/completions"]
    body = json.loads(argv[argv.index("-d") + 1])
    assert body["model"] == "demo" and body["messages"][0]["role"] == "user"
    assert "Authorization" not in text
    assert "$GATEWAY_API_KEY" in ready_banner("::1", 1, "m", api_key=True)
    assert "http://[::1]:1/v1" in ready_banner("::1", 1, "m")


def _runtime(status: str, ready: bool):
    return SimpleNamespace(status=status, ready=ready, service=SimpleNamespace(model_id="x"),
                           cfg=SimpleNamespace(settings=SimpleNamespace(api_key=None)))


async def test_announced_once_ready_and_never_on_failure():
    rt, out = _runtime("loading model", False), io.StringIO()
    task = asyncio.create_task(announce_when_ready(rt, "127.0.0.1", 8080, out))
    await asyncio.sleep(0.25)
    assert out.getvalue() == ""  # nothing while loading
    rt.ready, rt.status = True, "ready"
    await asyncio.wait_for(task, 2)
    assert "ready: the OpenAI API is at http://127.0.0.1:8080/v1" in out.getvalue()
    failed, out2 = _runtime("failed: no model", False), io.StringIO()
    await asyncio.wait_for(announce_when_ready(failed, "h", 1, out2), 2)
    assert out2.getvalue() == ""


@pytest.mark.e2e
def test_printed_curl_works(gateway_server):
    line = next(ln for ln in gateway_server.log().splitlines() if ln.startswith("try:"))
    assert gateway_server.url + "/v1" in line
    done = subprocess.run(line[4:].strip(), shell=True, capture_output=True, text=True,
                          timeout=60)
    reply = json.loads(done.stdout)
    assert reply["object"] == "chat.completion" and reply["choices"][0]["message"]["content"]
