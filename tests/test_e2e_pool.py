"""End-to-end: one gateway over two --endpoint backends, one real llama.cpp and one that is
down. Every request is served by the live one; /-/backend and /metrics show both."""

from __future__ import annotations

import json
import urllib.request

import pytest
from gateway.backend.supervisor import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pooled(gateway_factory, backend_url):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    return gateway_factory("--endpoint", dead, "--endpoint", backend_url), dead


def test_requests_avoid_the_down_backend(pooled):
    gw, dead = pooled
    client = gw.openai()
    msgs = [{"role": "user", "content": "Say hello."}]
    for _ in range(3):
        r = client.chat.completions.create(model="demo", messages=msgs, max_tokens=6)
        assert r.choices[0].message.content is not None
        chunks = list(client.chat.completions.create(model="demo", messages=msgs, max_tokens=6,
                                                     stream=True))
        assert chunks[-1].choices[0].finish_reason in ("stop", "length")
        c = client.completions.create(model="demo", prompt="Hello", max_tokens=3)
        assert c.choices[0].text
    with urllib.request.urlopen(gw.url + "/-/backend", timeout=10) as resp:
        backends = json.loads(resp.read())["backends"]
    assert [b["url"] for b in backends][0] == dead
    assert [b["up"] for b in backends] == [False, True]
    assert backends[1]["served"] >= 9 and backends[0]["served"] == 0
    with urllib.request.urlopen(gw.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    assert f'gateway_backend_up{{backend="{dead}",role="generation"}} 0.0' in text
