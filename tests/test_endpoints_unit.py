"""Unit tests of /v1/completions, /v1/embeddings and /metrics parts (no model)."""

from __future__ import annotations

import base64
import struct
from types import SimpleNamespace

import pytest
from gateway.backend.supervisor import split_threads
from gateway.completions import CompletionService, decode_completion_request, split_inputs
from gateway.config import Settings
from gateway.embeddings import decode_embedding_request, to_base64
from gateway.errors import GatewayError
from gateway.metrics import GatewayMetrics
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient


@pytest.mark.parametrize("value, expected", [
    ("a", ["a"]), (["a", "b"], ["a", "b"]), ([1, 2], [[1, 2]]), ([[1], [2, 3]], [[1], [2, 3]]),
    (["a", [1]], ["a", [1]])])
def test_split_inputs_accepts_the_four_openai_shapes(value, expected):
    assert split_inputs(value, "prompt") == expected


@pytest.mark.parametrize("value", [[{"x": 1}], [[1, "a"]], [True, False], [1.5]])
def test_split_inputs_refuses_other_shapes(value):
    with pytest.raises(GatewayError) as err:
        split_inputs(value, "input")
    assert err.value.status == 400 and err.value.param == "input"


@pytest.mark.parametrize("body, param", [
    (b'{"prompt": "a", "suffix": "b"}', "suffix"), (b'{"prompt": "a", "n": 3}', "n"),
    (b'{"prompt": "a", "max_tokens": 0}', "max_tokens"), (b'{"prompt": []}', "prompt"),
    (b'{"prompt": "a", "stop": ["", "x"]}', "stop"), (b'{"prompt": 5}', "prompt")])
def test_completion_request_refusals(body, param):
    with pytest.raises(GatewayError) as err:
        decode_completion_request(body, Settings())
    assert err.value.status == 400
    if param:
        assert err.value.param == param


def test_base64_is_little_endian_float32():
    v = [0.5, -1.25, 3.0]
    assert list(struct.unpack("<3f", base64.b64decode(to_base64(v)))) == v


def test_embedding_request_refusals():
    for body in (b'{"input": []}', b'{"input": [""]}', b'{"input": "a", "dimensions": 0}',
                 b'{"input": "a", "encoding_format": "int8"}', b'{"input": [[-1]]}'):
        with pytest.raises(GatewayError):
            decode_embedding_request(body)


def test_threads_split_never_sum_above_the_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert split_threads(1) == 0 and split_threads(1, 2) == 2
    assert split_threads(2) == 1 and split_threads(2, 8) == 1
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert split_threads(3) == 2 and split_threads(2, 4) == 2


class FakeBackend:
    async def complete(self, payload):
        return {"content": payload["prompt"][::-1], "tokens_evaluated": 2, "tokens_predicted": 3,
                "stop_type": "limit", "completion_probabilities": [
                    {"token": "x", "logprob": -0.5, "top_logprobs": [
                        {"token": "x", "logprob": -0.5}, {"token": "y", "logprob": -1.0}]}]}


async def test_completion_choices_logprobs_and_usage():
    req = decode_completion_request(b'{"prompt": ["ab", "cd"], "logprobs": 1}', Settings())
    out = await CompletionService(FakeBackend(), "m").complete(req)
    assert [c["text"] for c in out["choices"]] == ["ba", "dc"]
    assert out["choices"][0]["finish_reason"] == "length"
    assert out["choices"][0]["logprobs"]["top_logprobs"] == [{"x": -0.5}]
    assert out["usage"] == {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}


def test_metrics_count_routes_statuses_and_429s():
    runtime = SimpleNamespace(backends_state=lambda: [
        {"url": "http://b", "role": "generation", "up": False, "restarts": 2}])
    metrics = GatewayMetrics(runtime)

    async def busy(request):
        return PlainTextResponse("slow down", status_code=429)

    async def render(request):
        return metrics.render()

    app = Starlette(routes=[Route("/busy", busy), Route("/metrics", render)])
    app.add_middleware(metrics.middleware, routes=["/busy", "/metrics"])
    with TestClient(app) as client:
        for _ in range(3):
            client.get("/busy")
        client.get("/nowhere")
        text = client.get("/metrics").text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("gateway_requests_total",
                    (("method", "GET"), ("route", "/busy"), ("status", "429")))] == 3
    assert samples[("gateway_requests_total",
                    (("method", "GET"), ("route", "other"), ("status", "404")))] == 1
    assert samples[("gateway_rate_limited_total", ())] == 3
    assert samples[("gateway_backend_up", (("backend", "http://b"), ("role", "generation")))] == 0
    assert samples[("gateway_backend_restarts_total",
                    (("backend", "http://b"), ("role", "generation")))] == 2
    # a second app in the same process has a registry of its own
    assert "gateway_rate_limited_total 0.0" in GatewayMetrics(runtime).render().body.decode()
