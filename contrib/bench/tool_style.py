"""The generic dialect's two ways of describing tools to the model, side by side in one run:
`--tool-style typescript` (TypeScript signatures) vs `--tool-style json` (the JSON Schemas).

For each tool of the corpus (tests/tools_corpus.py), on two real gateways with the demo model:
1. prompt tokens the tool adds: usage.prompt_tokens of the same request with the tool
   (tool_choice "required") minus without tools — the description plus the dialect's
   one-line instruction; also for the multi-tool sets of the corpus;
2. the share of valid calls with tool_choice "required" (parallel_tool_calls false,
   temperature 0): a call of that tool whose arguments validate against its schema.

Run: .venv/bin/python contrib/bench/tool_style.py [--serve-arg=--threads --serve-arg=1]
Nothing is asserted: numbers are printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gateway.pytest_plugin import start_gateway  # noqa: E402

from tests.test_e2e_tools import schema_errors  # noqa: E402
from tests.tools_corpus import PROMPTS, TOOL_SETS, TOOLS, check_corpus, schema_of  # noqa: E402

STYLES = ("typescript", "json")
SYSTEM = {"role": "system", "content": "You are a helpful assistant that uses tools."}


def messages(name: str) -> list[dict[str, Any]]:
    return [SYSTEM, {"role": "user", "content": PROMPTS[name]}]


def prompt_tokens(client: Any, name: str, tools: list[dict[str, Any]] | None) -> int:
    kw: dict[str, Any] = {"tools": tools, "tool_choice": "required"} if tools else {}
    r = client.chat.completions.create(model="demo", messages=messages(name), max_tokens=1,
                                       temperature=0, **kw)
    return int(r.usage.prompt_tokens)


def call_valid(client: Any, t: dict[str, Any], max_tokens: int) -> tuple[bool, int]:
    name = t["function"]["name"]
    r = client.chat.completions.create(
        model="demo", messages=messages(name), tools=[t], tool_choice="required",
        parallel_tool_calls=False, max_tokens=max_tokens, temperature=0, seed=1)
    ch = r.choices[0]
    calls = ch.message.tool_calls or []
    ok = ch.finish_reason == "tool_calls" and len(calls) == 1 and calls[0].function.name == name
    if ok:
        try:
            ok = not schema_errors(schema_of(t), json.loads(calls[0].function.arguments))
        except ValueError:
            ok = False
    return ok, int(r.usage.completion_tokens)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--serve-arg", action="append", default=[],
                    help="extra `gateway serve` argument (repeatable)")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--no-calls", action="store_true", help="only count prompt tokens")
    opts = ap.parse_args()
    check_corpus()
    gateways = {s: start_gateway("--tool-style", s, *opts.serve_arg) for s in STYLES}
    try:
        clients = {s: gw.openai(timeout=900) for s, gw in gateways.items()}
        names = [t["function"]["name"] for t in TOOLS]
        added: dict[str, dict[str, int]] = {s: {} for s in STYLES}
        set_added: dict[str, list[int]] = {s: [] for s in STYLES}
        for s, c in clients.items():
            base = {n: prompt_tokens(c, n, None) for n in names}
            for t in TOOLS:
                n = t["function"]["name"]
                added[s][n] = prompt_tokens(c, n, [t]) - base[n]
            for ts in TOOL_SETS:
                n = ts[0]["function"]["name"]
                set_added[s].append(prompt_tokens(c, n, ts) - base[n])
        print(f"\nprompt tokens added by one tool (description + instruction), {len(TOOLS)} tools")
        print(f"{'tool':26} {'typescript':>10} {'json':>6} {'ratio':>6}")
        for n in names:
            ts_n, js_n = added["typescript"][n], added["json"][n]
            print(f"{n:26} {ts_n:10d} {js_n:6d} {js_n / ts_n:6.2f}")
        for label, agg in (("mean", statistics.mean), ("median", statistics.median),
                           ("total", sum)):
            a, b = agg(added["typescript"].values()), agg(added["json"].values())
            print(f"{label:26} {a:10.1f} {b:6.1f} {b / a:6.2f}")
        a, b = statistics.mean(set_added["typescript"]), statistics.mean(set_added["json"])
        print(f"{'tool sets (2-4), mean':26} {a:10.1f} {b:6.1f} {b / a:6.2f}")
        if opts.no_calls:
            return
        print(f"\nvalid calls, tool_choice required, one tool, t=0, max_tokens={opts.max_tokens}")
        print(f"{'style':12} {'valid':>6} {'total':>6} {'share':>7} {'compl. tok':>11} "
              f"{'seconds':>8}  invalid")
        for s, c in clients.items():
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=2) as ex:
                results = list(ex.map(lambda t, c=c: call_valid(c, t, opts.max_tokens), TOOLS))
            took = time.perf_counter() - t0
            valid = sum(ok for ok, _ in results)
            bad = [n for n, (ok, _) in zip(names, results, strict=True) if not ok]
            mean_tok = statistics.mean(k for _, k in results)
            print(f"{s:12} {valid:6d} {len(TOOLS):6d} {valid / len(TOOLS):7.1%} "
                  f"{mean_tok:11.1f} {took:8.1f}  {', '.join(bad) or '-'}", flush=True)
    finally:
        for gw in gateways.values():
            gw.stop()


if __name__ == "__main__":
    main()
