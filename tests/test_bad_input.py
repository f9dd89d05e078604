"""Bad input gets an OpenAI-shaped 400 (or 404/413) and the server keeps serving."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.e2e

OK = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}


def post(url: str, body: bytes | dict, path: str = "/v1/chat/completions"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


BAD = [
    ("malformed json", b'{"messages": [', "invalid_json", None),
    ("not an object", b"[1, 2]", "invalid_value", None),
    ("wrong type", {"messages": "hello"}, "invalid_value", "messages"),
    ("unknown role", {"messages": [{"role": "wizard", "content": "x"}]}, "invalid_value",
     "messages[0].role"),
    ("empty messages", {"messages": []}, None, "messages"),
    ("missing messages", {"model": "x"}, "invalid_value", None),
    ("content wrong type", {"messages": [{"role": "user", "content": 5}]}, "invalid_value",
     "messages[0].content"),
    ("user without content", {"messages": [{"role": "user"}]}, None, "messages[0].content"),
    ("tool without id", {"messages": [{"role": "user", "content": "x"},
                                      {"role": "tool", "content": "y"}]}, None,
     "messages[1].tool_call_id"),
    ("image part", {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]}, None,
     "messages[0].content[0].type"),
    ("n=2", {**OK, "n": 2}, None, "n"),
    ("logprobs", {**OK, "logprobs": True}, None, "logprobs"),
    ("temperature", {**OK, "temperature": 7}, None, "temperature"),
    ("max_tokens 0", {**OK, "max_tokens": 0}, None, "max_tokens"),
    ("tool_choice unknown tool", {**OK, "tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "g"}}}, None, "tool_choice"),
    ("required without tools", {**OK, "tool_choice": "required"}, None, "tool_choice"),
    ("bad tool arguments in history", {"messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {
            "name": "f", "arguments": "{not json"}}]}]}, None,
     "messages[1].tool_calls[0].function.arguments"),
    ("functions", {**OK, "functions": [{"name": "f"}]}, None, "functions"),
    ("tool parameters not JSON Schema", {**OK, "tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "dict"}}}]}, "invalid_schema",
     "tools[0].function.parameters"),
    ("reasoning_effort unknown", {**OK, "reasoning_effort": "extreme"}, None,
     "reasoning_effort"),
]


@pytest.mark.parametrize("name,body,code,param", BAD, ids=[b[0] for b in BAD])
def test_bad_request_is_400_and_server_keeps_serving(gateway_server, name, body, code, param):
    status, err = post(gateway_server.url, body)
    assert status == 400, err
    e = err["error"]
    assert set(e) == {"message", "type", "param", "code"}
    assert e["type"] == "invalid_request_error" and e["message"]
    if code:
        assert e["code"] == code
    if param:
        assert e["param"] == param
    status, ok = post(gateway_server.url, OK)
    assert status == 200 and ok["choices"][0]["message"]["content"] is not None


def test_unknown_route_is_openai_shaped_404(gateway_server):
    status, err = post(gateway_server.url, OK, path="/v1/nothing")
    assert status == 404 and err["error"]["type"] == "not_found_error"


def test_body_over_limit_is_413(gateway_factory):
    gw = gateway_factory("--max-body-bytes", "2000")
    big = {"messages": [{"role": "user", "content": "x" * 5000}]}
    status, err = post(gw.url, big)
    assert status == 413 and "limit" in err["error"]["message"]
    assert post(gw.url, OK)[0] == 200


def test_api_key(gateway_factory):
    gw = gateway_factory("--api-key", "sekrit")
    status, err = post(gw.url, OK)
    assert status == 401 and err["error"]["code"] == "invalid_api_key"
    client = gw.openai()
    client.api_key = "sekrit"
    assert client.chat.completions.create(model="m", **OK).choices[0].message.content is not None
