"""End to end on the real llama.cpp: clients that vanish give their slot back and stop the
generation they asked for (issue: reliability findings 1 and 3)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

pytestmark = pytest.mark.e2e

COUNT = {"messages": [{"role": "user", "content": "Count from 1 to 5000, separated by commas."}],
         "max_tokens": 4000, "temperature": 0}
# a generation that cannot end early: the grammar demands 1500 numbers (~40 s of decoding)
LONG = {**COUNT, "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {
    "type": "object", "required": ["n"], "properties": {
        "n": {"type": "array", "items": {"type": "integer"}, "minItems": 1500}}}}}}


def send_and_vanish(url: str, body: dict, wait: float = 0.0) -> None:
    """Send a request on a raw socket, then close it (a client that timed out, Ctrl-C)."""
    u = urllib.parse.urlparse(url)
    data = json.dumps(body).encode()
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: "
                  + str(len(data)).encode() + b"\r\n\r\n" + data)
        time.sleep(wait)


def busy_slots(backend_url: str) -> int:
    slots = json.loads(urllib.request.urlopen(backend_url + "/slots", timeout=10).read())
    return sum(1 for s in slots if s.get("is_processing"))


def post(url: str, body: dict) -> int:
    req = urllib.request.Request(url + "/v1/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_streams_that_vanish_before_the_first_chunk_do_not_eat_the_slots(gateway_factory):
    gw = gateway_factory("--max-concurrent", "1")
    for wait in (0.0, 0.01, 0.05):  # gone before, around and after the response headers
        send_and_vanish(gw.url, {**COUNT, "stream": True, "max_tokens": 8}, wait)
    deadline = time.monotonic() + 30
    while (status := post(gw.url, {**COUNT, "max_tokens": 2})) == 429:
        assert time.monotonic() < deadline, "the slots of vanished clients never came back"
        time.sleep(0.2)
    assert status == 200


def test_non_streamed_client_gone_stops_llama_cpp(gateway_factory):
    gw = gateway_factory("--parallel", "1")
    backend = json.loads(urllib.request.urlopen(gw.url + "/-/backend").read())["backend_url"]
    u = urllib.parse.urlparse(gw.url)
    data = json.dumps(LONG).encode()
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: "
                  + str(len(data)).encode() + b"\r\n\r\n" + data)
        deadline = time.monotonic() + 30
        while not busy_slots(backend):
            assert time.monotonic() < deadline, "the generation never started"
            time.sleep(0.1)
        time.sleep(1.0)
        assert busy_slots(backend) == 1  # still generating: the client now gives up
    deadline = time.monotonic() + 10
    while busy_slots(backend):
        assert time.monotonic() < deadline, "llama.cpp kept generating for a gone client"
        time.sleep(0.2)
    assert post(gw.url, {**COUNT, "max_tokens": 2}) == 200
