"""End to end: the real llama.cpp accepts every grammar and its output validates."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from gateway.grammar import schema_to_gbnf

from tests.grammar.grammar_helpers import is_valid
from tests.grammar.schemas import SCHEMAS

PROMPT = "<|im_start|>user\nGive me JSON.<|im_end|>\n<|im_start|>assistant\n"
# Schemas whose (bounded) grammar admits long outputs get a bigger token budget.
N_PREDICT = {"free_any": 512, "send_email": 512, "network": 512, "tree": 512,
             "linked_list": 512, "recursive_root": 512, "string_lengths": 512}


def _complete(url: str, grammar: str, n_predict: int) -> tuple[int, dict[str, Any]]:
    body = {"prompt": PROMPT, "grammar": grammar, "n_predict": n_predict, "temperature": 0,
            "seed": 1, "cache_prompt": True}
    req = urllib.request.Request(f"{url}/completion", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=600) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, {"error": err.read().decode(errors="replace")}


@pytest.mark.e2e
def test_llama_cpp_output_validates(backend_url: str) -> None:
    names = sorted(SCHEMAS)
    grammars = {n: schema_to_gbnf(SCHEMAS[n]) for n in names}
    with ThreadPoolExecutor(max_workers=2) as pool:
        outputs = pool.map(
            lambda n: _complete(backend_url, grammars[n], N_PREDICT.get(n, 256)), names)
        results = dict(zip(names, outputs, strict=True))
    problems = []
    for name in names:
        status, out = results[name]
        if status != 200:
            problems.append(f"{name}: HTTP {status} {out.get('error', '')[:300]}")
            continue
        text = out["content"]
        if out.get("stop_type") == "limit":
            problems.append(f"{name}: hit n_predict (grammar too loose?): {text[:200]!r}")
            continue
        try:
            value = json.loads(text)
        except ValueError:
            problems.append(f"{name}: not JSON: {text!r}")
            continue
        if not is_valid(SCHEMAS[name], value):
            problems.append(f"{name}: invalid instance {text}")
    assert not problems, "\n".join(problems)


@pytest.mark.e2e
def test_llama_cpp_loads_a_large_discriminated_grammar(backend_url: str) -> None:
    """The azure-pipelines job grammar (~400 KB, ~4700 rules: one rule set per task
    variant) parses in llama.cpp and constrains decoding from its first token."""
    from tests.grammar.test_real_world import _schema

    grammar = schema_to_gbnf(_schema("azure-pipelines#job"))
    status, out = _complete(backend_url, grammar, 48)
    assert status == 200, out.get("error", "")[:300]
    assert out["content"].startswith("{"), out["content"][:200]
    # one task: the model goes through the variant dispatch (task name, then its inputs)
    task = _schema("azure-pipelines#task")
    status, out = _complete(backend_url, schema_to_gbnf(task), 256)
    assert status == 200, out.get("error", "")[:300]
    assert out["content"].startswith('{"task":"'), out["content"][:200]
    if out.get("stop_type") != "limit":
        assert is_valid(task, json.loads(out["content"])), out["content"]
