"""End to end: response_format json_schema with schemas that use what the converter now
enforces (open objects, not, patternProperties, if/then/else, oneOf proved by values) on the
real demo model through `gateway serve`: every answer is a 200, a finished answer validates,
and a cut one says finish_reason "length" (never "stop" with broken JSON)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jsonschema
import pytest

pytestmark = pytest.mark.e2e

SCHEMAS: dict[str, dict[str, Any]] = {
    "open_object": {"type": "object", "properties": {"city": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}}},
                    "required": ["city"]},
    "not_and_patterns": {"type": "object", "properties": {
        "name": {"type": "string", "not": {"enum": ["", "none"]}}},
        "patternProperties": {"^x-": {"type": "integer"}}, "required": ["name"],
        "not": {"required": ["secret"]}, "additionalProperties": False},
    "if_then_else": {"type": "object", "properties": {
        "kind": {"enum": ["file", "url"]}, "path": {"type": "string"},
        "href": {"type": "string"}}, "required": ["kind"], "additionalProperties": False,
        "if": {"properties": {"kind": {"const": "file"}}},
        "then": {"required": ["path"]}, "else": {"required": ["href"]}},
    "oneof_values": {"type": "object", "properties": {"secrets": {"oneOf": [
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "string", "enum": ["inherit"]}]}}, "required": ["secrets"],
        "additionalProperties": False},
}


def _ask(client: Any, name: str, schema: dict[str, Any], max_tokens: int) -> Any:
    return client.chat.completions.create(
        model="demo", temperature=0, seed=1, max_tokens=max_tokens,
        messages=[{"role": "user", "content": f"Give one small '{name}' example as JSON."}],
        response_format={"type": "json_schema",
                         "json_schema": {"name": name, "schema": schema}})


@pytest.mark.parametrize("max_tokens", [256, 40])
def test_response_format_generations(gateway_server: Any, max_tokens: int) -> None:
    client = gateway_server.openai(timeout=300)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = dict(zip(SCHEMAS, pool.map(
            lambda kv: _ask(client, kv[0], kv[1], max_tokens), SCHEMAS.items()), strict=True))
    finished = 0
    for name, answer in answers.items():
        choice = answer.choices[0]
        content = choice.message.content or ""
        if choice.finish_reason == "length":
            continue
        assert choice.finish_reason == "stop", (name, choice.finish_reason)
        jsonschema.validate(json.loads(content), SCHEMAS[name])
        finished += 1
    if max_tokens == 256:  # room enough: the bounded grammar lets the model close
        assert finished >= len(SCHEMAS) - 1, answers
