"""End-to-end: /v1/completions, /v1/embeddings and /metrics of one real gateway (the demo model
for generation and, on a llama.cpp child of its own, for embeddings), driven by the openai SDK."""

from __future__ import annotations

import base64
import json
import math
import struct
import urllib.request

import openai
import pytest
from gateway.runtime import demo_model_path
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gw(gateway_factory):
    return gateway_factory("--embedding-model", demo_model_path() or "missing.gguf")


@pytest.fixture(scope="module")
def client(gw):
    return gw.openai()


def _post(gw, path, body):
    req = urllib.request.Request(gw.url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def _metrics(gw):
    with urllib.request.urlopen(gw.url + "/metrics", timeout=10) as r:
        assert r.headers["content-type"].startswith("text/plain")
        text = r.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def _value(samples, name, **labels):
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == w for k, w in labels.items()))


# -- /v1/completions ------------------------------------------------------------------------
def test_completion_text_usage_and_choices_per_prompt(client):
    r = client.completions.create(model="demo", prompt=["Once upon a time",
                                                        "The capital of France is"],
                                  max_tokens=8, temperature=0)
    assert r.object == "text_completion" and r.id.startswith("cmpl-")
    assert [c.index for c in r.choices] == [0, 1]
    assert all(c.text for c in r.choices)
    assert all(c.finish_reason in ("stop", "length") for c in r.choices)
    assert 0 < r.usage.completion_tokens <= 16 and r.usage.prompt_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    single = client.completions.create(model="demo", prompt="The capital of France is",
                                       max_tokens=8, temperature=0)
    assert single.choices[0].text == r.choices[1].text


def test_completion_stream_reassembles_and_stop_cuts(client):
    kw = dict(model="demo", prompt="List of fruits: apple, banana,", max_tokens=24,
              temperature=0)
    whole = client.completions.create(**kw).choices[0]
    chunks = list(client.completions.create(stream=True, stream_options={"include_usage": True},
                                            **kw))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == whole.text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == whole.finish_reason
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    # a stop word taken from the text itself: the answer ends right before it
    words = whole.text.split()
    assert len(words) >= 3, whole.text
    stop = words[2]
    cut = client.completions.create(stop=[stop], **kw).choices[0]
    assert cut.finish_reason == "stop"
    assert cut.text == whole.text[:whole.text.index(stop)]


def test_completion_logprobs_and_token_prompt(client):
    r = client.completions.create(model="demo", prompt="The sky is", max_tokens=5,
                                  temperature=0, logprobs=2)
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == r.usage.completion_tokens
    assert "".join(lp.tokens) == r.choices[0].text
    assert all(v <= 0 for v in lp.token_logprobs)
    assert all(1 <= len(t) <= 2 for t in lp.top_logprobs)
    by_tokens = client.completions.create(model="demo", prompt=[504, 7212, 314], max_tokens=4,
                                          temperature=0)
    assert by_tokens.usage.prompt_tokens >= 3 and by_tokens.choices[0].text


@pytest.mark.parametrize("extra, param", [({"suffix": "end"}, "suffix"), ({"echo": True}, "echo"),
                                          ({"n": 2}, "n"), ({"logprobs": 9}, "logprobs"),
                                          ({"prompt": [["a"]]}, "prompt"), ({"prompt": []},
                                                                            "prompt")])
def test_completion_refusals_are_clear_400s(client, extra, param):
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(**{"model": "demo", "prompt": "hi", "max_tokens": 2, **extra})
    assert err.value.body["param"] == param
    assert client.completions.create(model="demo", prompt="hi", max_tokens=2).choices


# -- /v1/embeddings -------------------------------------------------------------------------
def _cos(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b))


def test_embeddings_list_batch_usage_and_similarity(client):
    texts = ["The cat sat on the mat.", "A cat was sitting on the mat.",
             "Quarterly revenue grew by eight percent."]
    r = client.embeddings.create(model="demo", input=texts, encoding_format="float")
    assert [d.index for d in r.data] == [0, 1, 2]
    dims = {len(d.embedding) for d in r.data}
    assert dims == {576}
    assert r.usage.prompt_tokens > 10 and r.usage.total_tokens == r.usage.prompt_tokens
    a, b, c = (d.embedding for d in r.data)
    assert _cos(a, b) > _cos(a, c)  # real embeddings, not noise
    one = client.embeddings.create(model="demo", input=texts[2], encoding_format="float")
    assert _cos(one.data[0].embedding, c) > 0.999  # batching does not change a vector


def test_embeddings_base64_agrees_with_float(client, gw):
    floats = client.embeddings.create(model="demo", input="hello world",
                                      encoding_format="float").data[0].embedding
    raw = _post(gw, "/v1/embeddings", {"input": "hello world", "encoding_format": "base64"})
    blob = base64.b64decode(raw["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(blob) // 4}f", blob)
    assert len(decoded) == len(floats)
    assert max(abs(x - y) for x, y in zip(decoded, floats, strict=True)) < 1e-6
    sdk_default = client.embeddings.create(model="demo", input="hello world")  # SDK: base64
    assert sdk_default.data[0].embedding == pytest.approx(floats, abs=1e-6)


def test_embeddings_token_array_input(client):
    r = client.embeddings.create(model="demo", input=[[504, 7212, 314], [28, 29]],
                                 encoding_format="float")
    assert len(r.data) == 2 and r.usage.prompt_tokens == 5


@pytest.mark.parametrize("extra, param", [({"dimensions": 8}, "dimensions"),
                                          ({"input": ""}, "input"), ({"input": []}, "input"),
                                          ({"input": [{"x": 1}]}, "input")])
def test_embeddings_refusals_are_clear_400s(client, extra, param):
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(**{"model": "demo", "input": "hi", "encoding_format": "float",
                                    **extra})
    assert err.value.body["param"] == param
    assert client.embeddings.create(model="demo", input="hi").data


# -- /metrics -------------------------------------------------------------------------------
def test_metrics_count_requests_tokens_ttft_grammar_and_backends(client, gw):
    before = _metrics(gw)
    client.completions.create(model="demo", prompt="Hello", max_tokens=3)
    list(client.completions.create(model="demo", prompt="Hello", max_tokens=3, stream=True))
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model="demo", prompt="Hello", suffix="x")
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    for _ in range(2):  # the second one finds the grammar in the cache
        client.chat.completions.create(model="demo", max_tokens=24, tools=tools,
                                       tool_choice="required",
                                       messages=[{"role": "user", "content": "Weather in Oslo?"}])
    after = _metrics(gw)

    def grew(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("gateway_requests_total", route="/v1/completions", status="200") == 2
    assert grew("gateway_requests_total", route="/v1/completions", status="400") == 1
    assert grew("gateway_request_duration_seconds_count", route="/v1/chat/completions",
                status="200") == 2
    assert grew("gateway_time_to_first_token_seconds_count") >= 3  # stream + 2 watched chats
    assert grew("gateway_completion_tokens_total") >= 3
    assert grew("gateway_prompt_tokens_total") > 0
    assert grew("gateway_grammar_cache_total", result="hit") >= 1
    assert _value(after, "gateway_grammar_build_seconds_count") >= 1
    assert _value(after, "gateway_backend_up", role="generation") == 1
    assert _value(after, "gateway_backend_up", role="embedding") == 1
    assert ("gateway_backend_restarts_total", (("backend", next(
        dict(ls)["backend"] for (n, ls) in after if n == "gateway_backend_up" and
        dict(ls)["role"] == "embedding")), ("role", "embedding"))) in after


def test_backend_route_lists_generation_and_embedding_children(gw):
    with urllib.request.urlopen(gw.url + "/-/backend", timeout=10) as r:
        info = json.loads(r.read())
    roles = sorted(b["role"] for b in info["backends"])
    assert roles == ["embedding", "generation"]
    assert all(b["up"] and b["pid"] for b in info["backends"])
