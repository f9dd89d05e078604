"""Benchmark: JSON Schema → GBNF conversion time for a set of 20 realistic tool schemas.

Prints uncached conversion time of the whole set (mean, p50, max over several runs) and
per schema, then the cached path (cached_schema_to_gbnf) with its hit count.
Run: PYTHONPATH=core:. python contrib/bench/bench_grammar.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "core"), str(ROOT)]

from gateway.grammar import (  # noqa: E402
    cache_clear,
    cache_info,
    cached_schema_to_gbnf,
    schema_to_gbnf,
)

from tests.grammar.schemas import SCHEMAS  # noqa: E402

TOOLS = [
    "weather", "search", "send_email", "calendar_event", "uuid_lookup", "network",
    "bounded_numbers", "bounded_ints", "patterns", "nested_address", "array_of_objects",
    "nullable_fields", "anyof_value", "oneof_discriminator", "allof_ref", "tree",
    "prefix_items", "enum_mixed", "dependent_required", "shared_defs",
]
RUNS = 30


def main() -> None:
    schemas = [SCHEMAS[n] for n in TOOLS]
    for s in schemas:  # warm-up: imports, module-level caches
        schema_to_gbnf(s)
    totals: list[float] = []
    cpu: list[float] = []
    per: dict[str, list[float]] = {n: [] for n in TOOLS}
    for _ in range(RUNS):
        cpu_start = time.process_time()
        start = time.perf_counter()
        for name, s in zip(TOOLS, schemas, strict=True):
            t = time.perf_counter()
            schema_to_gbnf(s)
            per[name].append((time.perf_counter() - t) * 1000)
        totals.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - cpu_start) * 1000)
    print(f"uncached, {len(TOOLS)}-tool set, {RUNS} runs: mean {statistics.mean(totals):.2f} ms"
          f"  p50 {statistics.median(totals):.2f} ms  max {max(totals):.2f} ms"
          f"  (CPU time p50 {statistics.median(cpu):.2f} ms, min {min(cpu):.2f} ms)")
    for name in TOOLS:
        xs = per[name]
        print(f"  {name:22} mean {statistics.mean(xs):.3f} ms  max {max(xs):.3f} ms"
              f"  ({len(schema_to_gbnf(SCHEMAS[name]))} bytes of GBNF)")
    cache_clear()
    cached: list[float] = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for s in schemas:
            cached_schema_to_gbnf(s, strict=True)
        cached.append((time.perf_counter() - start) * 1000)
    info = cache_info()
    print(f"cached, {len(TOOLS)}-tool set: first run {cached[0]:.2f} ms, then mean"
          f" {statistics.mean(cached[1:]):.3f} ms  p50 {statistics.median(cached[1:]):.3f} ms;"
          f" hits {info.hits}, misses {info.misses}")


if __name__ == "__main__":
    main()
