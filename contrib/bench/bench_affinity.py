"""Session caching by prefix affinity, measured side by side: time to first token of turn N of
multi-turn tool conversations through `gateway serve --replicas 2`, with `--routing affinity`
and with `--routing round-robin` (the same scripted conversations, so the same prompts).

The two llama.cpp replicas split the cores (1 thread each on 2 cores). Several conversations
are interleaved, as several agents would be, so a backend's slots hold other prompts. With an
even number of conversations sent in turn, plain round robin happens to keep each one on the
same backend (and llama.cpp picks the slot by similarity itself), so the default is odd: round
robin then moves every conversation to the other backend at each turn, as it does under real,
unordered traffic.

Run: .venv/bin/python contrib/bench/bench_affinity.py [--conversations 3 --turns 4]
(under `flock /tmp/gw-model.lock` on a shared machine). Nothing is asserted: numbers are printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from gateway.pytest_plugin import start_gateway

TOOLS = [{"type": "function", "function": {
    "name": f"tool_{i}", "description": f"Looks up fact number {i} about a city, a date or a "
    "person, and returns it with its sources and a confidence score.",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string", "description": "what to look up"},
        "limit": {"type": "integer", "description": "how many results"}},
        "required": ["query"]}}} for i in range(12)]


def tool_turn(conv: int, turn: int) -> list[dict[str, Any]]:
    """A scripted assistant call and its (long) tool result: the prompt grows every turn."""
    call_id = f"call_{conv}_{turn}"
    result = {"conversation": conv, "turn": turn, "results": [
        f"Result {k} of turn {turn}: the city council of town {conv}-{k} met on day {turn} "
        "and discussed the budget, the roads and the new library." for k in range(6)]}
    return [{"role": "assistant", "content": None, "tool_calls": [{
        "id": call_id, "type": "function", "function": {
            "name": f"tool_{turn % 12}", "arguments": json.dumps({"query": f"q{conv}-{turn}"})}}]},
        {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)}]


def run(routing: str, conversations: int, turns: int) -> dict[int, list[float]]:
    gw = start_gateway("--replicas", "2", "--routing", routing, "--ctx-size", "16384",
                       "--parallel", "2", timeout=300)
    try:
        client = gw.openai(timeout=600)
        convs = [[{"role": "system", "content": f"You are agent {c}. Use the tools."},
                  {"role": "user", "content": f"Research town {c} for me."}]
                 for c in range(conversations)]
        ttft: dict[int, list[float]] = {t: [] for t in range(turns)}
        for turn in range(turns):
            for c in range(conversations):
                start = time.perf_counter()
                first = None
                for chunk in client.chat.completions.create(
                        model="demo", messages=convs[c], tools=TOOLS, max_tokens=4,
                        temperature=0, stream=True):
                    d = chunk.choices[0].delta if chunk.choices else None
                    if first is None and d is not None and (d.content or d.tool_calls or
                                                            chunk.choices[0].finish_reason):
                        first = time.perf_counter() - start
                ttft[turn].append(first if first is not None else time.perf_counter() - start)
                convs[c] += tool_turn(c, turn)
        return ttft
    finally:
        gw.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conversations", type=int, default=3)
    ap.add_argument("--turns", type=int, default=4)
    a = ap.parse_args()
    results = {r: run(r, a.conversations, a.turns) for r in ("affinity", "round-robin")}
    print(f"TTFT (median over {a.conversations} interleaved conversations, seconds), "
          "2 replicas x 1 thread, 2 slots each")
    print(f"{'turn':>4}  {'affinity':>9}  {'round-robin':>11}  {'rr/aff':>6}")
    for t in range(a.turns):
        aff = statistics.median(results["affinity"][t])
        rr = statistics.median(results["round-robin"][t])
        print(f"{t + 1:>4}  {aff:>9.3f}  {rr:>11.3f}  {rr / aff:>6.2f}")
    late = [t for t in range(1, a.turns)]
    aff = statistics.median(x for t in late for x in results["affinity"][t])
    rr = statistics.median(x for t in late for x in results["round-robin"][t])
    print(f"turns 2..{a.turns}: affinity {aff:.3f} s, round-robin {rr:.3f} s, "
          f"ratio {rr / aff:.2f}x")


if __name__ == "__main__":
    main()
