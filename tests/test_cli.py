"""`gateway render` and `gateway grammar`: debugging commands, no backend needed; `serve`'s heap
settling."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from gateway.gbnf_recognizer import accepts

REQ = {"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function",
       "function": {"name": "pick", "parameters": {"type": "object", "properties": {
           "n": {"type": "integer", "minimum": 1, "maximum": 12}}, "required": ["n"]}}}],
       "tool_choice": "required", "max_tokens": 9}


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_render_prints_payload_with_prompt_and_grammar():
    r = run("render", "-", stdin=json.dumps(REQ))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["dialect"] == "generic" and out["n_predict"] == 9
    assert "type pick = (_: {" in out["prompt"] and out["prompt"].endswith("assistant\n")
    assert '"n\\":" ' in out["grammar"] or "pick" in out["grammar"]
    assert "<|im_end|>" in out["stop"]
    # what jump-forward sends instead: the call's forced envelope in the prompt
    jump = out["jump_forward"]
    assert jump["text"] == '{"tool_calls":[{"name":"pick","arguments":{"n'
    assert accepts(jump["grammar"], '":7}}]}') and not accepts(jump["grammar"], '":70}}]}')


def test_render_refuses_bad_request():
    r = run("render", "-", stdin=json.dumps({"messages": []}))
    assert r.returncode == 1 and "400" in r.stderr and "at least one message" in r.stderr


def test_grammar_command(tmp_path):
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "integer", "minimum": 3, "maximum": 5}))
    r = run("grammar", str(schema))
    assert r.returncode == 0 and r.stdout.startswith("root ::=")
    schema.write_text(json.dumps({"type": "array", "items": {"type": "object"},
                                  "uniqueItems": True}))
    r = run("grammar", str(schema))
    assert r.returncode == 1 and "uniqueItems" in r.stderr


_SETTLE = """
import asyncio, gc, json, sys
from types import SimpleNamespace
from gateway.cli import settle_when_ready

async def main(status):
    rt = SimpleNamespace(ready=False, status="loading model")
    task = asyncio.create_task(settle_when_ready(rt))
    await asyncio.sleep(0.25)
    before = gc.get_freeze_count()
    rt.ready, rt.status = status == "ready", status
    await asyncio.wait_for(task, 2)
    return before, gc.get_freeze_count()

before, after = asyncio.run(main(sys.argv[1]))
print(json.dumps({"before": before, "after": after}))
"""


@pytest.mark.parametrize("status", ["ready", "failed: no model"])
def test_heap_settled_once_ready_never_on_failure(status):
    """`gateway serve` freezes its start-up objects out of the cyclic GC once the runtime is
    ready (a subprocess: freezing would keep this test process's garbage forever)."""
    out = subprocess.run([sys.executable, "-c", _SETTLE, status], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    got = json.loads(out)
    assert got["before"] == 0  # nothing frozen while loading
    if status == "ready":
        assert got["after"] > 1000
    else:
        assert got["after"] == 0
