"""What the grammars the gateway emits cost inside llama.cpp: decode tokens/s of a constrained
generation vs the same prompt generated without a grammar, side by side in one run.

For each case (the generic envelope, each dialect's grammar on its real template, a
response_format schema, and a schema with long bounded strings, whose `{0,N}` repetitions
llama.cpp expands into nested rules) the payload is what `gateway render` builds; it is sent
to llama.cpp's /completion with and without its grammar, `n_predict` fixed, and llama.cpp's
own `timings.predicted_per_second` is compared (median of --runs).

Run: `.venv/bin/python contrib/bench/bench_grammar_cost.py` (starts llama.cpp on the demo
model; never run it beside another model server on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from gateway.backend.supervisor import LaunchSpec, SpawnedServer
from gateway.jumpforward import analyse
from gateway.runtime import demo_model_path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT.parent / "shared" / "templates"

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 14}},
        "required": ["city"]}}}
NOTE = {"type": "function", "function": {
    "name": "save_note", "description": "Save a long note.",
    "parameters": {"type": "object", "properties": {
        "title": {"type": "string", "maxLength": 200},
        "body": {"type": "string", "maxLength": 2000}}, "required": ["title", "body"]}}}
ASK = [{"role": "user", "content": "What is the weather in Paris for the next 3 days?"}]
NOTE_ASK = [{"role": "user", "content": "Save a note about my trip to Paris with all details."}]
PERSON = {"type": "object", "properties": {
    "name": {"type": "string"}, "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5}},
    "required": ["name", "age", "tags"], "additionalProperties": False}

# (label, gateway render options, request body)
CASES: list[tuple[str, list[str], dict[str, Any]]] = [
    ("generic envelope, required", [], {"messages": ASK, "tools": [WEATHER],
                                        "tool_choice": "required"}),
    ("generic, long bounded strings", [], {"messages": NOTE_ASK, "tools": [NOTE],
                                           "tool_choice": "required"}),
    ("generic response_format", [], {"messages": [
        {"role": "user", "content": "Describe a person as JSON."}],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "person", "schema": PERSON, "strict": True}}}),
    ("hermes (Qwen2.5)", ["--chat-template-file", "Qwen-Qwen2.5-7B-Instruct.jinja",
                          "--plugin", "hermes"],
     {"messages": ASK, "tools": [WEATHER], "tool_choice": "required"}),
    ("functionary v3.2", ["--chat-template-file", "meetkai-functionary-medium-v3.2.jinja",
                          "--plugin", "functionary"],
     {"messages": ASK, "tools": [WEATHER], "tool_choice": "required"}),
    ("auto (Qwen3-Coder XML)", ["--chat-template-file", "Qwen-Qwen3-Coder.jinja",
                                "--plugin", "auto"],
     {"messages": ASK, "tools": [WEATHER], "tool_choice": "required"}),
    ("harmony (gpt-oss)", ["--chat-template-file", "openai-gpt-oss-120b.jinja",
                           "--plugin", "harmony"],
     {"messages": ASK, "tools": [WEATHER], "tool_choice": "required"}),
]


def render(options: list[str], body: dict[str, Any]) -> dict[str, Any]:
    opts = [str(TEMPLATES / o) if o.endswith(".jinja") else o for o in options]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"model": "m", "max_tokens": 256, **body}, f)
    out = subprocess.run([sys.executable, "-m", "gateway", "render", *opts, f.name],
                         capture_output=True, text=True, check=True)
    payload: dict[str, Any] = json.loads(out.stdout)
    return payload


async def answer(http: aiohttp.ClientSession, url: str, payload: dict[str, Any]
                 ) -> dict[str, Any]:
    async with http.post(url + "/completion", json=payload) as r:
        data: dict[str, Any] = await r.json()
        assert r.status == 200, data
    return data


async def speed(http: aiohttp.ClientSession, url: str, payload: dict[str, Any]) -> float:
    return float((await answer(http, url, payload))["timings"]["predicted_per_second"])


async def jump_times(http: aiohttp.ClientSession, url: str, constrained: dict[str, Any],
                     runs: int) -> tuple[float, float] | None:
    """Wall time of the whole constrained answer (prompt evaluation + decoding, llama.cpp's
    own timings), generated token by token vs with the forced text in the prompt
    (gateway.jumpforward); None when the grammar forces nothing worth it."""
    jump = analyse(constrained["grammar"]) if not constrained.get("grammar_lazy") else None
    if jump is None:
        return None
    async with http.post(url + "/tokenize", json={"content": jump.text}) as r:
        forced = len((await r.json())["tokens"])  # the same answer's length either way
    jumped = {**constrained, "prompt": constrained["prompt"] + jump.text,
              "grammar": jump.grammar, "n_predict": constrained["n_predict"] - forced}
    plain: list[float] = []
    fast: list[float] = []
    for _ in range(runs):
        for side, out in ((constrained, plain), (jumped, fast)):
            t = (await answer(http, url, {**side, "cache_prompt": False}))["timings"]
            out.append(t["prompt_ms"] + t["predicted_ms"])
    return statistics.median(plain), statistics.median(fast)


JUMPS: list[tuple[str, float, float]] = []  # (case, ms token by token, ms with jump-forward)


async def run(n_predict: int, runs: int) -> list[tuple[str, float, float]]:
    model = demo_model_path()
    assert model, "the demo model is not installed (make install)"
    server = SpawnedServer(LaunchSpec(model=model, ctx_size=4096, parallel=1))
    server.start()
    rows = []
    try:
        await server.wait_ready(progress=False)
        async with aiohttp.ClientSession() as http:
            for label, options, body in CASES:
                rendered = render(options, body)
                base = {"prompt": rendered["prompt"], "n_predict": n_predict, "temperature": 0,
                        "cache_prompt": True}
                constrained = {**base, **{k: rendered[k] for k in (
                    "grammar", "grammar_lazy", "grammar_triggers", "preserved_tokens")
                    if k in rendered}}
                free = {**base, "ignore_eos": True}
                await speed(http, server.url, free)  # warm the prompt cache
                c, u = [], []
                for _ in range(runs):
                    c.append(await speed(http, server.url, constrained))
                    u.append(await speed(http, server.url, free))
                rows.append((label, statistics.median(u), statistics.median(c)))
                print(f"{label:<32} free {rows[-1][1]:7.1f} tok/s | grammar {rows[-1][2]:7.1f} "
                      f"tok/s | ratio {rows[-1][2] / rows[-1][1]:.3f}", flush=True)
                times = await jump_times(http, server.url, constrained, runs)
                if times:
                    JUMPS.append((label, *times))
    finally:
        server.stop()
    return rows


# Schemas whose strings are patterns (classes of "anything but", excluded patterns): their
# per-character alternatives are what llama.cpp keeps one stack for each.
PATTERNED = {"type": "object", "properties": {
    "email": {"type": "string", "pattern": "^[^@]+@[^@]+$", "maxLength": 40},
    "slug": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$",
             "not": {"pattern": "^(admin|root)"}, "maxLength": 30},
    "note": {"type": "string", "pattern": "^[^<>]*$"}},
    "required": ["email", "slug", "note"], "additionalProperties": False}
CLASSES = {"type": "object", "properties": {
    "email": {"type": "string", "pattern": "^[^@]+@[^@]+$"},
    "note": {"type": "string", "pattern": "^[^<>]*$"}},
    "required": ["email", "note"], "additionalProperties": False}
STATIC_EXTRA: list[tuple[str, list[str], dict[str, Any]]] = [
    ("response_format, pattern classes", [], {"messages": [
        {"role": "user", "content": "Sign me up."}],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "signup", "schema": CLASSES, "strict": True}}}),
    ("response_format, patterned", [], {"messages": [
        {"role": "user", "content": "Sign me up."}],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "signup", "schema": PATTERNED, "strict": True}}}),
    ("hermes, thinking", ["--chat-template-file", "Qwen-Qwen3-0.6B.jinja", "--plugin", "hermes"],
     {"messages": ASK, "tools": [WEATHER], "tool_choice": "required"}),
]


def stacks(grammar_text: str, samples: int = 20, seed: int = 0) -> tuple[float, int]:
    """llama.cpp's grammar engine simulated (stacks of element positions, rule references
    expanded until a terminal, repetitions expanded as llama.cpp does): the mean and the
    largest number of stacks alive per character, over strings sampled from the grammar.
    Every stack is matched against the candidate tokens, so this is the engine's work."""
    import random

    from gateway.gbnf_recognizer import parse_gbnf, sample
    from gateway.jumpforward import advance as expand

    g = parse_gbnf(grammar_text)
    Stack = tuple[tuple[int, int], ...]

    def advance(st: Stack, out: set[Stack]) -> None:
        expand(g, st, out)

    def matches(term: Any, cp: int) -> bool:
        ranges, neg = term
        return any(lo <= cp <= hi for lo, hi in ranges) is not neg

    rng = random.Random(seed)
    counts: list[int] = []
    for _ in range(samples):
        text = sample(g, rng)
        live: set[Stack] = set()
        for q in g.by_lhs["root"]:
            advance(((q, 0),) if g.prods[q][1] else (), live)
        for ch in text:
            counts.append(len(live))
            nxt: set[Stack] = set()
            for st in live:
                if not st:
                    continue
                p, d = st[-1]
                body = g.prods[p][1]
                if matches(body[d], ord(ch)):
                    advance(st[:-1] + (((p, d + 1),) if d + 1 < len(body) else ()), nxt)
            live = nxt
    return sum(counts) / max(len(counts), 1), max(counts, default=0)


def static_table() -> None:
    rows = []
    for label, options, body in CASES + STATIC_EXTRA:
        try:
            grammar = render(options, body)["grammar"]
        except (subprocess.CalledProcessError, KeyError):
            continue
        mean, top = stacks(grammar)
        rows.append((label, len(grammar), mean, top))
    w = max(len(r[0]) for r in rows)
    print(f"{'llama.cpp grammar stacks per character (simulated)':<{w}}  bytes  mean  max")
    for label, size, mean, top in rows:
        print(f"{label:<{w}}  {size:>5}  {mean:4.1f}  {top:>3}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-predict", type=int, default=96)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--static", action="store_true",
                    help="only the simulated stack counts (no model)")
    a = ap.parse_args()
    static_table()
    if a.static:
        return
    rows = asyncio.run(run(a.n_predict, a.runs))
    w = max(len(r[0]) for r in rows)
    print(f"\n{'grammar cost in llama.cpp':<{w}}  {'free tok/s':>10}  {'grammar tok/s':>13}  ratio")
    for label, free, constrained in rows:
        print(f"{label:<{w}}  {free:>10.1f}  {constrained:>13.1f}  {constrained / free:.3f}x")
    if JUMPS:
        head = "whole answer, prompt not cached"
        print(f"\n{head:<{w}}  {'decoded':>10}  {'jump-forward':>13}  ratio")
        for label, plain, fast in JUMPS:
            print(f"{label:<{w}}  {plain:>7.1f} ms  {fast:>10.1f} ms  {fast / plain:.3f}x")


if __name__ == "__main__":
    main()
