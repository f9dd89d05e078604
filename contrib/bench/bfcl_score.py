"""Score any OpenAI-compatible chat endpoint on BFCL categories (the `bfcl-eval` wheel's data).

    .venv/bin/pip install --no-deps bfcl-eval==2026.3.23
    python contrib/bench/bfcl_score.py --base-url http://127.0.0.1:8080/v1 --category live_simple
    python contrib/bench/bfcl_score.py --serve "-m x.gguf" --category live_multiple \
        --limit 40 --tool-choice required      # starts `gateway serve` itself, stops it after

Per category: n, errors (HTTP 4xx/5xx, transport; counted as no call), % answers with a call,
% calls whose arguments validate against their tool's JSON Schema, accuracy (BFCL's own AST
checker; for *irrelevance* the % of answers without a call, for *relevance* with one), mean
calls per answer, % answers with as many calls as the ground truth (count: how well the model
decides on "one more call?"), % answers repeating an identical call, p50 latency. Cases are
taken in file order (--offset, --limit), one request at a time, temperature 0.
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

import openai

# BFCL's own mapping of its function docs' type names to JSON Schema (its OpenAI handler's
# GORILLA_TO_OPENAPI); any other name becomes "string", as there.
TYPE_MAP = {"integer": "integer", "number": "number", "float": "number", "string": "string",
            "boolean": "boolean", "bool": "boolean", "array": "array", "list": "array",
            "dict": "object", "object": "object", "tuple": "array", "any": "string",
            "byte": "integer", "short": "integer", "long": "integer", "double": "number",
            "char": "string", "ArrayList": "array", "Array": "array", "HashMap": "object",
            "Hashtable": "object", "Queue": "array", "Stack": "array", "Any": "string",
            "String": "string", "Bigint": "integer"}
Call = tuple[str, str]  # (name, arguments as sent: a JSON text)


def language(category: str) -> str:
    """The language a BFCL category's functions are written in (its checker's too)."""
    stem = Path(category).stem
    return "java" if stem.endswith("java") else \
        "javascript" if stem.endswith("javascript") else "python"


def language_docs(functions: list[dict[str, Any]], category: str) -> list[dict[str, Any]]:
    """BFCL's language-specific preparation of a case's functions, done before any model
    sees them: a hint on the syntax in each description, and for Java and JavaScript every
    parameter asked for as a string in that language's syntax (its type said in words)."""
    lang = language(category)
    out = copy.deepcopy(functions)
    hint = {"java": " Note that the provided function is in Java 8 SDK syntax.",
            "javascript": " Note that the provided function is in JavaScript syntax."}.get(
        lang, " Note that the provided function is in Python 3 syntax.")
    word = {"java": "Java", "javascript": "JavaScript"}.get(lang)
    for f in out:
        f["description"] = f.get("description", "") + hint
        if word is None:
            continue
        for value in f.get("parameters", {}).get("properties", {}).values():
            kind = value.get("type")
            value.setdefault("description", "")
            if kind == "any":
                value["description"] += (f" This parameter can be of any type of {word} "
                                         "object in string representation.")
            else:
                value["description"] += (f" This is {word} {kind} type parameter in string "
                                         "representation.")
            if kind in (("ArrayList", "Array") if lang == "java" else ("array",)) and \
                    isinstance(value.get("items"), dict):
                value["description"] += (f" The list elements are of type "
                                         f"{value['items'].get('type')}; they are not in "
                                         "string representation.")
                del value["items"]
            if lang == "javascript" and kind == "dict" and "properties" in value:
                value["description"] += (" The dictionary entries have the following schema; "
                                         "they are not in string representation. "
                                         + json.dumps(value.pop("properties")))
            value["type"] = "string"
    return out


def to_json_schema(doc: Any) -> Any:
    """BFCL's function-doc schema dialect -> JSON Schema, with BFCL's own type mapping
    ("dict"->object, "float"->number, "any"->string, other names -> string)."""
    if isinstance(doc, list):
        return [to_json_schema(x) for x in doc]
    if not isinstance(doc, dict):
        return doc
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "type" and isinstance(value, str):
            out["type"] = TYPE_MAP.get(value, "string")
            if value == "float":  # as BFCL marks them
                out["format"] = "float"
                out["description"] = doc.get("description", "") + " This is a float type value."
        elif key == "description" and doc.get("type") == "float":
            continue
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: to_json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
            out[key] = to_json_schema(value)
        else:
            out[key] = value
    return out


def to_tools(functions: list[dict[str, Any]], category: str = "") -> list[dict[str, Any]]:
    return [{"type": "function", "function": {
        "name": f["name"], "description": f.get("description", ""),
        "parameters": to_json_schema(f.get("parameters", {"type": "object", "properties": {}})),
    }} for f in language_docs(functions, category)]


def make_validator(schema: dict[str, Any]) -> Any:
    """A callable(instance) -> bool: jsonschema if installed, else fastjsonschema."""
    try:
        import jsonschema
        v = jsonschema.validators.validator_for(schema)(schema)
        return v.is_valid
    except ImportError:
        import fastjsonschema
        check = fastjsonschema.compile(schema)

        def is_valid(instance: Any) -> bool:
            try:
                check(instance)
                return True
            except fastjsonschema.JsonSchemaException:
                return False
        return is_valid


def calls_valid(calls: list[Call], tools: list[dict[str, Any]]) -> list[bool]:
    by_name = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    out = []
    for name, arguments in calls:
        try:
            out.append(name in by_name and make_validator(by_name[name])(json.loads(arguments)))
        except Exception:  # bad JSON, or a schema the validator rejects
            out.append(False)
    return out


def has_repeat(calls: list[Call]) -> bool:
    seen = set()
    for name, arguments in calls:
        try:
            key = (name, json.dumps(json.loads(arguments), sort_keys=True))
        except ValueError:
            key = (name, arguments)
        if key in seen:
            return True
        seen.add(key)
    return False


def _bfcl_ast_checker() -> Any:
    """BFCL's AST checker. Its module imports `constants.model_config` (every model handler
    and their SDKs) only to map dotted names for OpenAI-style models; a stub keeps names."""
    name = "bfcl_eval.constants.model_config"
    if name not in sys.modules:
        class _Configs(dict):  # type: ignore[type-arg]
            def __missing__(self, key: str) -> Any:
                return types.SimpleNamespace(underscore_to_dot=False)
        stub = types.ModuleType(name)
        stub.MODEL_CONFIG_MAPPING = _Configs()  # type: ignore[attr-defined]
        sys.modules[name] = stub
    from bfcl_eval.constants.enums import Language
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    langs = {"java": Language.JAVA, "javascript": Language.JAVASCRIPT}
    return lambda fd, out, gt, cat: ast_checker(fd, out, gt, langs.get(language(cat),
                                                                        Language.PYTHON),
                                                cat, "gateway")


def ast_ok(case: dict[str, Any], calls: list[Call], ground_truth: list[Any], cat: str) -> bool:
    """BFCL AST check of the calls (decoded as BFCL's OpenAI handler does) against the truth."""
    try:
        out = [{name: json.loads(arguments)} for name, arguments in calls]
        if not out or not all(isinstance(next(iter(o.values())), dict) for o in out):
            return False
        return bool(_bfcl_ast_checker()(case["function"], out, ground_truth, cat)["valid"])
    except Exception:  # undecodable arguments or a value shape the checker chokes on
        return False


def assemble_stream(chunks: Any) -> tuple[list[Call], str | None, str]:
    """(tool calls, finish_reason, text) from streamed deltas, merged like the openai SDK:
    tool calls by `index`, strings (name, arguments, content) concatenated."""
    acc: dict[int, dict[str, str]] = {}
    finish, text = None, ""
    for chunk in chunks:
        for choice in chunk.choices or []:
            finish = choice.finish_reason or finish
            text += (choice.delta.content if choice.delta else None) or ""
            for tc in (choice.delta.tool_calls if choice.delta else None) or []:
                entry = acc.setdefault(tc.index, {"name": "", "arguments": ""})
                if tc.function is not None:
                    entry["name"] += tc.function.name or ""
                    entry["arguments"] += tc.function.arguments or ""
    return [(e["name"], e["arguments"]) for _, e in sorted(acc.items())], finish, text


def load(category: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A category's cases and ground truths ({id: truth}, None without): BFCL's own, or a
    JSONL file of BFCL-shaped cases each carrying its `ground_truth` (the category is then
    the file's path; its name decides the checker: "parallel" in it for several calls)."""
    if category.endswith(".jsonl"):
        own = [json.loads(x) for x in Path(category).read_text().splitlines() if x.strip()]
        return own, {c["id"]: c["ground_truth"] for c in own if "ground_truth" in c} or None
    data = resources.files("bfcl_eval") / "data"
    cases = [json.loads(x) for x in (data / f"BFCL_v4_{category}.json").read_text().splitlines()
             if x.strip()]
    answers = data / "possible_answer" / f"BFCL_v4_{category}.json"
    if not answers.is_file():
        return cases, None
    truth = [json.loads(x) for x in answers.read_text().splitlines() if x.strip()]
    return cases, {t["id"]: t["ground_truth"] for t in truth}


def ask(client: openai.OpenAI, a: argparse.Namespace, case: dict[str, Any],
        tools: list[dict[str, Any]]) -> tuple[list[Call], str | None, float, dict[str, Any]]:
    """(calls, error, latency, {finish_reason, text}) of one request."""
    body: dict[str, Any] = {"model": a.model, "messages": case["question"][0], "tools": tools,
                            "tool_choice": a.tool_choice, "temperature": 0,
                            "max_tokens": a.max_tokens}
    if a.seed is not None:
        body["seed"] = a.seed
    t = time.perf_counter()
    try:
        if a.stream:
            calls, finish, text = assemble_stream(
                client.chat.completions.create(stream=True, **body))
        else:
            r = client.chat.completions.create(**body)
            finish, text = None, ""
            tool_calls: list[Any] = []
            if r.choices:
                msg, finish = r.choices[0].message, r.choices[0].finish_reason
                text, tool_calls = msg.content or "", msg.tool_calls or []
            calls = [(c.function.name, c.function.arguments) for c in tool_calls
                     if getattr(c, "function", None) is not None]
        info = {"finish_reason": finish, "text": text[:300]}
        return calls, None, time.perf_counter() - t, info
    except openai.APIStatusError as e:
        error = f"HTTP {e.status_code}: {str(e.message)[:200]}"
    except openai.OpenAIError as e:
        error = f"{type(e).__name__}: {str(e)[:200]}"
    return [], error, time.perf_counter() - t, {}


def score(client: openai.OpenAI, a: argparse.Namespace, category: str) -> tuple[dict[str, Any],
                                                                             list[dict[str, Any]]]:
    cases, truth = load(category)
    cases = cases[a.offset:][: a.limit] if a.limit is not None else cases[a.offset:]
    records = []
    for case in cases:
        tools = to_tools(case.get("function", []), category)
        calls, error, latency, info = ask(client, a, case, tools)
        valid = calls_valid(calls, tools)
        if error is not None:  # an error is never a right answer, not even an abstention
            ok = False
        elif truth is not None:
            ok = ast_ok(case, calls, truth[case["id"]], Path(category).stem)
        else:  # no ground truth: irrelevance wants no call, relevance wants one
            ok = bool(calls) != ("irrelevance" in category)
        wanted = len(truth[case["id"]]) if truth is not None else None
        records.append({"id": case["id"], "calls": [list(c) for c in calls], "valid": valid,
                        "ok": ok, "error": error, "latency": round(latency, 3),
                        "wanted_calls": wanted, **info})
        if a.verbose:
            print(f"{case['id']}: ok={ok} calls={calls} err={error}", file=sys.stderr)
        elif len(records) % 10 == 0:
            print(f"{category}: {len(records)}/{len(cases)}", file=sys.stderr, flush=True)
    n, answered = len(records), [r for r in records if r["error"] is None]
    allv = [v for r in records for v in r["valid"]]

    def pct(k: int, of: int) -> float | None:
        return round(100 * k / of, 1) if of else None
    row = {
        "category": category, "tool_choice": a.tool_choice, "n": n,
        "errors": n - len(answered),
        "call_pct": pct(sum(bool(r["calls"]) for r in records), n),
        "valid_pct": pct(sum(allv), len(allv)),
        "acc_pct": pct(sum(r["ok"] for r in records), n),
        "acc_kind": "ast" if truth is not None else (
            "no-call" if "irrelevance" in category else "call"),
        "calls_per_answer": round(sum(len(r["calls"]) for r in answered) / len(answered), 2)
        if answered else None,
        "count_pct": pct(sum(len(r["calls"]) == r["wanted_calls"] for r in records), n)
        if truth is not None else None,
        "repeat_pct": pct(sum(has_repeat([tuple(c) for c in r["calls"]]) for r in records), n),
        "p50_s": round(statistics.median(r["latency"] for r in records), 2) if n else None,
    }
    return row, records


COLUMNS = [("category", 24), ("tool_choice", 11), ("n", 5), ("errors", 6), ("call_pct", 8),
           ("valid_pct", 9), ("acc_pct", 7), ("acc_kind", 8), ("calls_per_answer", 16),
           ("count_pct", 9), ("repeat_pct", 10), ("p50_s", 6)]


def print_table(rows: list[dict[str, Any]]) -> None:
    print(" ".join(f"{c:>{w}}" for c, w in COLUMNS))
    for row in rows:
        print(" ".join(f"{'-' if row[c] is None else row[c]!s:>{w}}" for c, w in COLUMNS))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # Linux: the gateway gets SIGTERM if this script dies
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def serve(args: str, timeout: float) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start `gateway serve --port <free> ARGS`; return once /health answers 200."""
    port = free_port()
    exe = Path(sys.executable).with_name("gateway")
    log = Path(tempfile.mkstemp(prefix="bfcl-gateway-", suffix=".log")[1])
    cmd = [str(exe if exe.exists() else "gateway"), "serve", "--port", str(port),
           *shlex.split(args)]
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gateway exited ({proc.returncode}); log: {log}\n"
                             + log.read_text()[-2000:])
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as r:
                if r.status == 200:
                    return proc, url + "/v1", log
        except OSError:
            pass
        time.sleep(0.5)
    stop(proc)
    raise SystemExit(f"gateway not healthy after {timeout:.0f}s; log: {log}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base-url", default="http://127.0.0.1:8080/v1")
    p.add_argument("--api-key", default="none")
    p.add_argument("--serve", metavar="ARGS", help='start `gateway serve --port <free> ARGS`')
    p.add_argument("--category", action="append",
                   help="repeatable; default live_simple; or a .jsonl file of BFCL-shaped "
                        "cases with their ground_truth")
    p.add_argument("--limit", type=int)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--tool-choice", choices=["required", "auto"], default="auto")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--stream", action="store_true")
    p.add_argument("--model", help="default: the endpoint's first /v1/models entry")
    p.add_argument("--seed", type=int)
    p.add_argument("--timeout", type=float, default=300.0, help="per request, seconds")
    p.add_argument("--json", metavar="OUT", help="write rows and per-case records here")
    p.add_argument("--verbose", "-v", action="store_true", help="one line per case on stderr")
    a = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the gateway
    proc = None
    if a.serve is not None:
        proc, a.base_url, log = serve(a.serve, timeout=600)
        print(f"gateway at {a.base_url} (log {log})", file=sys.stderr)
    try:
        client = openai.OpenAI(base_url=a.base_url, api_key=a.api_key, max_retries=0,
                               timeout=a.timeout)
        if a.model is None:
            try:
                a.model = client.models.list().data[0].id
            except (openai.OpenAIError, IndexError):
                a.model = "default"
        rows, out = [], {}
        for category in a.category or ["live_simple"]:
            row, records = score(client, a, category)
            rows.append(row)
            out[category] = records
    finally:
        if proc is not None:
            stop(proc)
    print_table(rows)
    if a.json:
        meta = {k: v for k, v in vars(a).items() if k != "api_key"}
        Path(a.json).write_text(json.dumps({"args": meta, "rows": rows, "cases": out}, indent=1))


if __name__ == "__main__":
    main()
