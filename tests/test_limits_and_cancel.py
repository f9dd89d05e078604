"""Concurrency limit (429) and cancellation of the backend generation on client disconnect."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

LONG = {"messages": [{"role": "user", "content": "Tell a very long story about the sea."}],
        "max_tokens": 3000, "stream": True, "temperature": 1.0}


def open_request(url: str, body: dict) -> http.client.HTTPConnection:
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("POST", "/v1/chat/completions", json.dumps(body),
                 {"Content-Type": "application/json"})
    return conn


def open_stream(url: str, body: dict) -> tuple[http.client.HTTPConnection, Any]:
    conn = open_request(url, body)
    return conn, conn.getresponse()


def slots_busy(backend_url: str) -> int:
    slots = json.loads(urllib.request.urlopen(backend_url + "/slots", timeout=10).read())
    return sum(1 for s in slots if s.get("is_processing"))


def hang_up_and_see_llama_cpp_stop(gw: Any, conn: http.client.HTTPConnection, backend: str,
                                   within: float) -> None:
    conn.sock.close()
    conn.close()
    deadline = time.monotonic() + within
    while slots_busy(backend):
        assert time.monotonic() < deadline, "llama.cpp kept generating for a gone client"
        time.sleep(0.05)
    # and the gateway still serves
    r = gw.openai().chat.completions.create(model="m", messages=LONG["messages"], max_tokens=2)
    assert r.usage.completion_tokens == 2 and r.choices[0].finish_reason == "length"


def test_disconnect_cancels_backend_generation(gateway_factory):
    gw = gateway_factory("--parallel", "1")
    backend = json.loads(urllib.request.urlopen(gw.url + "/-/backend").read())["backend_url"]
    conn, resp = open_stream(gw.url, LONG)
    assert resp.status == 200
    for _ in range(5):
        assert resp.fp.readline()  # some chunks arrived: the generation is running
    assert slots_busy(backend) == 1
    hang_up_and_see_llama_cpp_stop(gw, conn, backend, within=20)


def test_non_streamed_disconnect_cancels_backend_generation(gateway_factory):
    # A non-streamed answer without tools is read whole (one read at its end), yet still
    # streamed from llama.cpp: closing that stream stops it, a non-streamed /completion would
    # go on decoding. At temperature 0 this prompt runs for hundreds of tokens (seconds).
    gw = gateway_factory("--parallel", "1")
    backend = json.loads(urllib.request.urlopen(gw.url + "/-/backend").read())["backend_url"]
    conn = open_request(gw.url, {**LONG, "stream": False, "temperature": 0})
    deadline = time.monotonic() + 20
    while not slots_busy(backend):
        assert time.monotonic() < deadline, "the generation never started"
        time.sleep(0.05)
    time.sleep(0.3)  # decoding
    hang_up_and_see_llama_cpp_stop(gw, conn, backend, within=2)


def test_over_max_concurrent_is_429(gateway_factory):
    gw = gateway_factory("--max-concurrent", "1")
    conn, resp = open_stream(gw.url, LONG)
    assert resp.status == 200
    resp.fp.readline()
    req = urllib.request.Request(gw.url + "/v1/chat/completions", data=json.dumps(
        {"messages": LONG["messages"], "max_tokens": 2}).encode(),
        headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 429
    assert json.loads(e.value.read())["error"]["type"] == "rate_limit_error"
    conn.sock.close()
    conn.close()
    deadline = time.monotonic() + 20
    while True:  # the slot is given back once the stream ends
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                assert r.status == 200
                break
        except urllib.error.HTTPError as exc:
            assert exc.code == 429 and time.monotonic() < deadline
            time.sleep(0.2)
