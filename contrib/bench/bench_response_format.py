"""Benchmark: response_format json_schema generations with the demo model, through a real
`gateway serve`. For each schema (the hand-written test schemas and real-world definitions
from the check-jsonschema wheel that get a grammar) one request with max_tokens, counted as:
valid (finish_reason "stop" and the content validates), cut (finish_reason "length"),
invalid (finish_reason "stop" but the content does not validate: must be 0), refused (a 400
unsupported_schema) and server errors (must be 0).

Run under the model lock (it starts llama.cpp):
  flock /tmp/gw-model.lock .venv/bin/python contrib/bench/bench_response_format.py [--n 30]
      [--threads 1]
GATEWAY_CORE=<dir> runs the gateway from another copy of core/ (e.g. the code before a change).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "core"), str(ROOT), str(ROOT / "contrib" / "bench")]

from gateway.pytest_plugin import start_gateway  # noqa: E402

from tests.grammar.grammar_helpers import is_valid  # noqa: E402
from tests.grammar.schemas import SCHEMAS  # noqa: E402


def schemas(n: int) -> list[tuple[str, Any]]:
    from bench_schemas import corpus
    from gateway.grammar import SchemaError, schema_to_gbnf

    real = []
    for name, s in corpus():
        if "#" not in name:
            continue
        try:
            schema_to_gbnf(s, strict=False)
        except SchemaError:
            continue
        if len(json.dumps(s)) < 6000:
            real.append((name, s))
    rng = random.Random(7)
    hand = sorted(SCHEMAS.items())
    picked = rng.sample(hand, min(n // 2, len(hand)))
    picked += rng.sample(real, min(n - len(picked), len(real)))
    return picked


def ask(url: str, name: str, schema: Any, max_tokens: int) -> tuple[str, str]:
    body = {
        "model": "demo",
        "messages": [{"role": "user", "content": f"Give a small example '{name}' as JSON."}],
        "response_format": {"type": "json_schema",
                            "json_schema": {"name": "answer", "schema": schema}},
        "max_tokens": max_tokens, "temperature": 0.7, "seed": 1,
    }
    req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=600) as resp:
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        return ("refused" if err.code == 400 else "error"), f"{err.code} {text[:160]}"
    except OSError as exc:
        return "error", repr(exc)
    choice = answer["choices"][0]
    content = choice["message"].get("content") or ""
    if choice["finish_reason"] == "length":
        return "cut", content[-80:]
    try:
        value = json.loads(content)
    except ValueError:
        return "invalid", content[:200]
    return ("valid", "") if is_valid(schema, value) else ("invalid", content[:200])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--threads", type=int, default=0,
                    help="llama.cpp threads (0: its default; 1 on a shared machine)")
    a = ap.parse_args()
    env = {}
    if os.environ.get("GATEWAY_CORE"):
        env["PYTHONPATH"] = os.environ["GATEWAY_CORE"]
    gw = start_gateway(*(["--threads", str(a.threads)] if a.threads else []), log_dir="/tmp",
                       env=env)
    counts: dict[str, int] = {}
    start = time.perf_counter()
    try:
        picked = schemas(a.n)
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda p: ask(gw.url, p[0], p[1], a.max_tokens), picked))
        for (name, _), (kind, detail) in zip(picked, results, strict=True):
            counts[kind] = counts.get(kind, 0) + 1
            if kind != "valid":
                print(f"  {kind:8} {name}: {detail}")
    finally:
        gw.stop()
    n = len(picked)
    print(f"{n} requests in {time.perf_counter() - start:.0f}s: " + ", ".join(
        f"{k} {v} ({100 * v / n:.0f}%)" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
