"""The one cache policy: bounded LRU keyed by digests, and the request path hitting it."""

from __future__ import annotations

import json
from typing import Any

from gateway.cache import BoundedCache, digest
from gateway.chat_request import decode_request
from gateway.dialects.generic import GenericDialect
from gateway.runtime import Runtime, ServeConfig, demo_model_path


def test_digest_is_short_and_ignores_key_order() -> None:
    big = {"tools": [{"name": f"t{i}", "description": "x" * 1000} for i in range(200)]}
    assert len(digest(big)) == 16
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})
    assert digest("text") == digest(b"text")


def test_bounded_cache_evicts_least_recently_used() -> None:
    cache: BoundedCache[int] = BoundedCache(2)
    cache.put(b"a", 1)
    cache.put(b"b", 2)
    assert cache.get(b"a") == 1  # a is now the most recent
    cache.put(b"c", 3)
    assert cache.get(b"b") is None and cache.get(b"a") == 1 and cache.get(b"c") == 3
    assert len(cache) == 2
    made: list[int] = []
    assert cache.get_or_make(b"a", lambda: made.append(1) or 9) == 1 and not made


def test_tool_descriptions_and_plans_are_built_once_per_tool_set(monkeypatch: Any) -> None:
    service = Runtime(ServeConfig(model=demo_model_path(), plugins=["generic"])).offline_service()
    built: list[int] = []
    original = GenericDialect._system_prompt

    def counting(self: GenericDialect, ctx: Any, options: Any, style: str, said: Any) -> str:
        built.append(1)
        return original(self, ctx, options, style, said)

    monkeypatch.setattr(GenericDialect, "_system_prompt", counting)
    tools = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer"}}}}}]
    for text in ("one", "two", "three"):
        body = {"model": "m", "max_tokens": 64, "tools": tools, "tool_choice": "required",
                "messages": [{"role": "user", "content": text}]}
        prepared = service.prepare(decode_request(json.dumps(body).encode()))
        assert text in prepared.payload["prompt"] and prepared.payload["grammar"]
    assert len(built) == 1
    assert service._plans.hits == 2 and service._plans.misses == 1
