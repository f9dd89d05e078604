"""`--dialect-option` values are typed and checked once, at start-up: a typo or a bad value
is a clear start-up error, not a 500 on every tool request (issue: reliability finding 5)."""

from __future__ import annotations

import pytest
from gateway.cli import main
from gateway.config import Settings
from gateway.dialect_options import (
    DialectOptionError,
    parse_dialect_options,
    split_option_args,
)
from gateway.plugins import create_plugins
from gateway.runtime import Runtime, ServeConfig

from tests.inprocess import call, chat, gateway_on_stub

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {
    "type": "object", "properties": {"a": {"type": "string"}}}}}]


@pytest.fixture(scope="module")
def dialects():
    return list(create_plugins().dialects.values())


def test_values_are_typed(dialects) -> None:
    raw = {"max_parallel_calls": "3", "think_max_chars": "150", "tool_style": "json",
           "value_max_chars": "0"}
    assert parse_dialect_options(raw, dialects) == {
        "max_parallel_calls": 3, "think_max_chars": 150, "tool_style": "json",
        "value_max_chars": 0}


@pytest.mark.parametrize("raw,words", [
    ({"max_parallel_calls": "abc"}, "max_parallel_calls='abc': expected an integer"),
    ({"max_parallel_calls": "0"}, "must be at least 1"),
    ({"think_max_chars": "-5"}, "must be at least 0"),
    ({"tool_style": "yaml"}, "expected one of typescript, json"),
    ({"max_paralel_calls": "4"}, "'max_paralel_calls' is not an option of any loaded dialect"),
])
def test_bad_values_and_unknown_options_are_refused(dialects, raw, words) -> None:
    with pytest.raises(DialectOptionError, match="known options|expected|at least") as exc:
        parse_dialect_options(raw, dialects)
    assert words in str(exc.value)


def test_unknown_option_lists_the_known_ones(dialects) -> None:
    with pytest.raises(DialectOptionError) as exc:
        parse_dialect_options({"nope": "1"}, dialects)
    for name in ("max_parallel_calls (integer)", "think_max_chars", "tool_style "):
        assert name in str(exc.value)


def test_only_the_loaded_dialects_count() -> None:
    generic_only = list(create_plugins(["generic"]).dialects.values())
    assert parse_dialect_options({"thought_max_chars": "50"}, generic_only)
    with pytest.raises(DialectOptionError):  # an option of the auto plugin only
        parse_dialect_options({"value_max_chars": "50"}, generic_only)


def test_plugins_declare_what_they_read(dialects) -> None:
    declared = {d.name: {o.name for o in d.options} for d in dialects}
    assert {"max_parallel_calls", "think_max_chars"} <= declared["hermes"]
    assert {"max_parallel_calls", "think_max_chars", "value_max_chars"} <= declared["auto"]
    assert "think_max_chars" in declared["harmony"]
    assert "max_parallel_calls" in declared["functionary-v3.1"]
    assert "max_parallel_calls" in declared["functionary-v3.2"]
    assert {"tool_style", "thought", "thought_max_chars", "max_parallel_calls",
            "example"} <= declared["generic"]


def test_split_option_args() -> None:
    assert split_option_args(["a=1", " b = x=y "]) == {"a": "1", "b": "x=y"}
    with pytest.raises(DialectOptionError, match="KEY=VALUE"):
        split_option_args(["max_parallel_calls"])


def test_runtime_refuses_a_bad_option_before_starting_anything() -> None:
    cfg = ServeConfig(endpoints=["http://127.0.0.1:9"],
                      settings=Settings(dialect_options={"max_parallel_calls": "abc"}))
    with pytest.raises(DialectOptionError):
        Runtime(cfg)


@pytest.mark.parametrize("arg,words", [
    ("max_parallel_calls=abc", "expected an integer"),
    ("max_paralel_calls=4", "not an option of any loaded dialect"),
    ("max_parallel_calls", "expected KEY=VALUE"),
])
def test_serve_exits_with_a_clear_message(capsys, arg: str, words: str) -> None:
    code = main(["serve", "--endpoint", "http://127.0.0.1:9", "--dialect-option", arg])
    assert code == 2
    assert words in capsys.readouterr().err


async def test_tool_requests_use_the_typed_values() -> None:
    async with gateway_on_stub(dialect_options={"max_parallel_calls": "1",
                                                "thought_max_chars": "20"}) as (app, rt, stub):
        assert rt.cfg.settings.dialect_options == {"max_parallel_calls": 1,
                                                   "thought_max_chars": 20}
        stub.tokens = ['{"tool_calls":[{"name":"f","arguments":{"a":"x"}}]}']
        reply = await call(app, "/v1/chat/completions", chat(tools=TOOLS, max_tokens=400))
        assert reply.status == 200, reply.body
        grammar = stub.last_payload["grammar"]
        assert '("," call)' not in grammar  # one call at most
        assert "{0,20}" in grammar  # the thought's bound
