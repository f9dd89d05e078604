"""Benchmark: the JSON Schema → GBNF converter over the official JSON-Schema-Test-Suite.

The suite (json/tests/<draft>/ of the JSON-Schema-Test-Suite) is a broad corpus of small
schemas, each with documents marked valid or invalid by the specification's authors. The
copy used is the one shipped in the ``jsonschema`` sdist of the installed version, fetched
once with ``pip download`` into a cache directory (or given with ``--suite DIR``).

For every schema and both modes (``strict=True`` refuses what it cannot enforce; the default
``strict=False`` is what a new user gets, with open objects as for a response_format) it
prints: how many get a grammar, the refusals by keyword, and for the built ones

- invalid documents the grammar accepts: a soundness bug in strict mode (every one is
  printed; in lax mode the converter drops what it cannot enforce, so some are expected);
- valid documents it rejects, after putting keys in the grammar's declared order, split
  into what the grammar leaves out by design (undeclared keys under strict; a value of
  another type than an untyped schema's keywords imply; an integral number written with a
  fraction) and the rest, each printed.

Acceptance is decided by the Earley recognizer of the tests (gateway.gbnf_recognizer).
Run: PYTHONPATH=core:. python contrib/bench/bench_test_suite.py [--draft draft2020-12]
     [--suite DIR] [--mode strict|lax|both] [--no-optional]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from bench_schemas import limits  # noqa: E402  (sets sys.path to core/ and the repo)
from gateway.grammar import SchemaError, schema_to_gbnf  # noqa: E402
from gateway.grammar.errors import Unsatisfiable  # noqa: E402

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf  # noqa: E402
from tests.grammar.ordering import declared_order, dumps  # noqa: E402
from tests.grammar.subset import by_design  # noqa: E402

CACHE = Path(os.environ.get("GATEWAY_SUITE_CACHE",
                            Path.home() / ".cache" / "gateway" / "json-schema-test-suite"))
def suite_dir(given: str | None) -> Path:
    """json/tests of the suite: ``given``, the cache, or the installed jsonschema's sdist."""
    if given:
        return Path(given)
    version = metadata.version("jsonschema")
    target = CACHE / version
    if not (target / "tests").is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--no-binary", ":all:", f"jsonschema=={version}", "-d", tmp],
                           check=True)
            sdist = next(Path(tmp).glob("jsonschema-*.tar.gz"))
            with tarfile.open(sdist) as tar:
                members = [m for m in tar.getmembers() if "/json/tests/" in m.name
                           and m.isfile() and m.name.endswith(".json")]
                for m in members:
                    m.name = m.name.split("/json/", 1)[1]
                tar.extractall(target, members=members, filter="data")
    return target / "tests"


def cases(root: Path, optional: bool) -> list[tuple[str, Any]]:
    """(file:description, group) for each test group of the suite's draft folder."""
    files = sorted(root.glob("*.json"))
    if optional:
        files += sorted(root.glob("optional/*.json")) + sorted(root.glob("optional/*/*.json"))
    out = []
    for f in files:
        for group in json.loads(f.read_text()):
            out.append((f"{f.relative_to(root)}: {group['description']}", group))
    return out


def measure(groups: list[tuple[str, Any]], strict: bool, validator: Any,
            show_refusals: bool = False) -> int:
    """Prints the figures of one mode; returns how many invalid documents were accepted."""
    built = unsat = crashed = 0
    refusals: collections.Counter[str] = collections.Counter()
    valid_total = invalid_total = invalid_accepted = 0
    designed: collections.Counter[str] = collections.Counter()
    holes: list[str] = []
    for name, group in groups:
        schema = group["schema"]
        try:
            text = schema_to_gbnf(schema, strict=strict, limits=limits(strict))
        except Unsatisfiable:
            unsat += 1  # no value: right when every document is invalid
            for t in group["tests"]:
                if t["valid"]:
                    valid_total += 1
                    why = by_design(schema, t["data"], strict, validator, None)
                    if why:
                        designed[why] += 1
                    else:
                        holes.append(f"  {name} | no grammar (unsatisfiable) | "
                                     f"{dumps(t['data'])}")
            continue
        except SchemaError as exc:
            refusals[exc.keyword or exc.limit or "other"] += 1
            if show_refusals:
                print(f"  refused {name}: {exc}")
            continue
        except Exception as exc:  # a crash is a bug: shown, not hidden in a refusal
            crashed += 1
            print(f"  CRASH {name}: {type(exc).__name__}: {exc}")
            continue
        built += 1
        grammar = parse_gbnf(text)
        for t in group["tests"]:
            data = t["data"]
            doc = dumps(declared_order(schema, schema, data))
            ok = accepts(grammar, doc)
            if not t["valid"]:
                invalid_total += 1
                if ok:
                    invalid_accepted += 1
                    if strict or show_refusals:
                        print(f"  INVALID ACCEPTED {name} | {t['description']} | {doc[:200]}")
                continue
            valid_total += 1
            if ok:
                continue
            why = by_design(schema, data, strict, validator,
                            lambda text: accepts(grammar, text))  # noqa: B023
            if why:
                designed[why] += 1
            else:
                holes.append(f"  {name} | {t['description']} | {doc[:160]}")
    n = len(groups)
    print(f"strict={strict}: grammar for {built}/{n} schemas ({100 * built / n:.1f}%),"
          f" {unsat} unsatisfiable, {crashed} crashed")
    print(f"  refusals by keyword: {dict(refusals.most_common())}")
    print(f"  invalid documents accepted: {invalid_accepted}/{invalid_total}"
          + ("" if strict else " (lax drops what it cannot enforce)"))
    rejected = sum(designed.values()) + len(holes)
    print(f"  valid documents rejected: {rejected}/{valid_total}"
          f" ({100 * rejected / max(valid_total, 1):.1f}%)")
    for why, count in designed.most_common():
        print(f"    by design, {why}: {count}")
    print(f"  valid rejected beyond those: {len(holes)}/{valid_total}"
          f" ({100 * len(holes) / max(valid_total, 1):.1f}%)")
    print("\n".join(holes))
    return invalid_accepted if strict else 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", help="the suite's tests/ folder (default: from the jsonschema"
                    " sdist, cached)")
    ap.add_argument("--draft", default="draft2020-12")
    ap.add_argument("--mode", choices=("strict", "lax", "both"), default="both")
    ap.add_argument("--no-optional", action="store_true", help="leave out optional/ (formats,"
                    " ECMA-262 regexes, big numbers)")
    ap.add_argument("--refusals", action="store_true", help="print each refusal's reason"
                    " (and, in lax mode, each invalid document accepted)")
    a = ap.parse_args()
    import jsonschema

    root = suite_dir(a.suite) / a.draft
    validator = {"draft2020-12": jsonschema.Draft202012Validator,
                 "draft2019-09": jsonschema.Draft201909Validator,
                 "draft7": jsonschema.Draft7Validator, "draft6": jsonschema.Draft6Validator,
                 "draft4": jsonschema.Draft4Validator}[a.draft]
    groups = cases(root, not a.no_optional)
    modes = {"strict": (True,), "lax": (False,), "both": (True, False)}[a.mode]
    bad = sum(measure(groups, strict, validator, a.refusals) for strict in modes)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
