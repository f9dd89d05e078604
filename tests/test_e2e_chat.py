"""End-to-end: the real gateway process, the real embedded llama.cpp and the demo model,
driven by the official openai SDK."""

from __future__ import annotations

import json
import urllib.request

import pytest

pytestmark = pytest.mark.e2e

MESSAGES = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Name three colours."}]


def test_plain_chat(gateway_client):
    r = gateway_client.chat.completions.create(model="demo", messages=MESSAGES, max_tokens=24,
                                               temperature=0, seed=7)
    choice = r.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content and choice.message.content.strip()
    assert choice.message.tool_calls is None
    assert choice.finish_reason in ("stop", "length")
    assert r.id.startswith("chatcmpl-") and r.created > 0 and r.model
    assert r.usage.completion_tokens > 0 and r.usage.prompt_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_stream_reassembles_to_non_streamed(gateway_client):
    kw = dict(model="demo", messages=MESSAGES, max_tokens=40, temperature=0, seed=11)
    whole = gateway_client.chat.completions.create(**kw)
    chunks = list(gateway_client.chat.completions.create(
        stream=True, stream_options={"include_usage": True}, **kw))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == whole.choices[0].finish_reason
    assert all(f is None for f in finishes[:-1])
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3, \
        "content must stream in several chunks, not at the end"
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert usage.completion_tokens == whole.usage.completion_tokens
    assert usage.prompt_tokens == whole.usage.prompt_tokens


def test_unstreamed_and_streamed_upstream_give_the_same_answer(gateway_client):
    # max_tokens <= --unstreamed-max-tokens (128): llama.cpp answers non-streamed; over it,
    # the gateway reads llama.cpp's stream whole. Same text either way, and as streamed.
    # a grammar that cannot end early: an answer of 500 numbers
    schema = {"type": "object", "required": ["n"], "properties": {
        "n": {"type": "array", "items": {"type": "integer"}, "minItems": 500}}}
    kw = dict(model="demo", messages=MESSAGES, temperature=0, seed=5, response_format={
        "type": "json_schema", "json_schema": {"name": "n", "schema": schema}})
    long = gateway_client.chat.completions.create(max_tokens=140, **kw)
    short = gateway_client.chat.completions.create(max_tokens=100, **kw)
    assert short.usage.completion_tokens == 100 and long.usage.completion_tokens == 140
    assert short.choices[0].finish_reason == long.choices[0].finish_reason == "length"
    assert long.choices[0].message.content.startswith(short.choices[0].message.content)
    chunks = list(gateway_client.chat.completions.create(stream=True, max_tokens=100, **kw))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        short.choices[0].message.content


def test_raw_sse_ends_with_done(gateway_server):
    body = json.dumps({"messages": MESSAGES, "max_tokens": 5, "stream": True}).encode()
    req = urllib.request.Request(gateway_server.url + "/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [ln for ln in r.read().decode().split("\n") if ln.strip()]
    assert lines[-1] == "data: [DONE]"
    first = json.loads(lines[0][len("data: "):])
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0]["delta"]["role"] == "assistant"


def test_max_tokens_gives_finish_reason_length(gateway_client):
    r = gateway_client.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "Write a long story about a cat."}],
        max_tokens=3, temperature=0)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 3
    r2 = gateway_client.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "Write a long story about a cat."}],
        max_completion_tokens=4, temperature=0)
    assert r2.usage.completion_tokens == 4


def test_stop_words(gateway_client):
    kw = dict(model="demo", messages=[{"role": "user", "content": "Count: 1, 2, 3, 4, 5, 6"}],
              max_tokens=30, temperature=0, seed=3)
    free = gateway_client.chat.completions.create(**kw).choices[0].message.content
    assert len(free) > 4
    stop_at = free[len(free) // 2: len(free) // 2 + 2]
    assume_cut = free.index(stop_at)
    stopped = gateway_client.chat.completions.create(stop=[stop_at], **kw)
    assert stopped.choices[0].message.content == free[:assume_cut]
    assert stopped.choices[0].finish_reason == "stop"


def test_usage_matches_backend_tokenizer(gateway_server, gateway_client):
    """prompt_tokens is what llama.cpp counts for the prompt the gateway rendered."""
    from gateway.gguf_meta import read_gguf_metadata
    from gateway.runtime import demo_model_path
    from gateway.templating import ChatTemplate

    meta = read_gguf_metadata(demo_model_path())
    prompt = ChatTemplate(meta.chat_template, bos_token=meta.bos_token or "",
                          eos_token=meta.eos_token or "").render(MESSAGES)
    backend = json.loads(urllib.request.urlopen(gateway_server.url + "/-/backend").read())
    req = urllib.request.Request(backend["backend_url"] + "/tokenize",
                                 data=json.dumps({"content": prompt, "add_special": True}).encode(),
                                 headers={"Content-Type": "application/json"})
    tokens = json.loads(urllib.request.urlopen(req).read())["tokens"]
    r = gateway_client.chat.completions.create(model="demo", messages=MESSAGES, max_tokens=2)
    assert r.usage.prompt_tokens == len(tokens)
    assert r.usage.completion_tokens == 2


def test_list_content_parts_equal_plain_text(gateway_client):
    kw = dict(model="demo", max_tokens=12, temperature=0, seed=5)
    plain = gateway_client.chat.completions.create(
        messages=[{"role": "user", "content": "Say hello to Bob."}], **kw)
    parts = gateway_client.chat.completions.create(messages=[{"role": "user", "content": [
        {"type": "text", "text": "Say hello "}, {"type": "text", "text": "to Bob."}]}], **kw)
    assert parts.choices[0].message.content == plain.choices[0].message.content
    assert parts.usage.prompt_tokens == plain.usage.prompt_tokens


def test_models_and_health(gateway_client, gateway_server):
    models = gateway_client.models.list()
    assert [m.id for m in models.data] == ["SmolLM2-135M-Instruct.Q4_1"]
    with urllib.request.urlopen(gateway_server.url + "/health") as r:
        assert json.loads(r.read()) == {"status": "ok"}
