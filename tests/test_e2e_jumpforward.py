"""End-to-end: the grammar left after a jump-forward, for every real chat template's dialect,
is taken by the real llama.cpp, and the answer (forced text + generated) is what the whole
grammar allows."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from gateway.chat_request import decode_request
from gateway.gbnf_recognizer import accepts
from gateway.jumpforward import analyse
from gateway.runtime import Runtime, ServeConfig, demo_model_path

pytestmark = pytest.mark.e2e

TEMPLATES = Path(__file__).resolve().parents[2] / "shared" / "templates"
TOOLS = [{"type": "function", "function": {
    "name": name, "description": f"{name.replace('_', ' ')} of a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "maxLength": 24},
        "days": {"type": "integer", "minimum": 1, "maximum": 9}},
        "required": ["city", "days"], "additionalProperties": False}}}
    for name in ("get_weather", "get_time")]
BODY = {"model": "m", "max_tokens": 160, "temperature": 0, "tool_choice": "required",
        "tools": TOOLS, "parallel_tool_calls": False,
        "messages": [{"role": "user", "content": "Weather in Oslo for 2 days?"}]}


def _payloads() -> list[tuple[str, dict[str, Any]]]:
    out = []
    model = demo_model_path()
    for path in sorted(TEMPLATES.glob("*.jinja")):
        try:
            service = Runtime(ServeConfig(model=model, chat_template_file=str(path))
                              ).offline_service()
            payload = service.prepare(decode_request(json.dumps(BODY).encode())).payload
        except Exception:  # noqa: BLE001 - a template this request does not suit
            continue
        if payload.get("grammar") and not payload.get("grammar_lazy"):
            out.append((path.stem, payload))
    return out


def _complete(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(url + "/completion", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        result: dict[str, Any] = json.loads(r.read())
        return result


def test_rest_grammars_are_taken_by_llama_cpp_and_answers_fit_the_whole(backend_url):
    payloads = _payloads()
    assert len(payloads) >= 10, [name for name, _ in payloads]
    jumped = 0
    for name, payload in payloads:
        jump = analyse(payload["grammar"])
        if jump is None:
            continue
        jumped += 1
        result = _complete(backend_url, {
            "prompt": payload["prompt"] + jump.text, "grammar": jump.grammar,
            "n_predict": 160, "temperature": 0, "stop": payload.get("stop", []),
            "preserved_tokens": payload.get("preserved_tokens", [])})
        text = jump.text + result["content"]
        if result.get("stop_type") == "eos":
            assert accepts(payload["grammar"], text), (name, text)
        else:  # cut by n_predict or a stop word: the text so far is still the grammar's
            assert result.get("stop_type") in ("limit", "word"), (name, result)
    assert jumped >= 8, f"only {jumped} of {len(payloads)} dialect grammars force any text"
