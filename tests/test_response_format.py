"""response_format json_schema through the chat path: open objects unless strict, the
max_tokens budget bounds free strings, arrays and extra keys, and a cut answer is reported
as finish_reason "length" (its text is never presented as a complete document)."""

from __future__ import annotations

import asyncio
import json

from gateway.chat import ChatService
from gateway.chat_request import decode_request
from gateway.dialects.generic import DIALECT
from gateway.plugins import create_plugins
from gateway.templating import ChatTemplate

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf

TEMPLATE = ChatTemplate("{% for m in messages %}[{{m.role}}]{{m.content}}{% endfor %}"
                        "{% if add_generation_prompt %}[assistant]{% endif %}")
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"},
          "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["name"]}
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}]


class StubBackend:
    def __init__(self, text: str, stop_type: str = "eos") -> None:
        self.text, self.stop_type = text, stop_type
        self.payloads: list[dict] = []

    async def complete(self, payload):
        self.payloads.append(payload)
        return {"content": self.text, "stop_type": self.stop_type, "tokens_evaluated": 5,
                "tokens_predicted": 3}

    async def stream(self, payload):
        self.payloads.append(payload)
        yield {"content": self.text}
        yield {"content": "", "stop": True, "stop_type": self.stop_type,
               "tokens_evaluated": 5, "tokens_predicted": 3}


def _run(text: str = "{}", stop_type: str = "eos", **kw):
    backend = StubBackend(text, stop_type)
    svc = ChatService(plugins=create_plugins(["generic"]), backend=backend, template=TEMPLATE,
                      dialect=DIALECT, model_id="m")
    body = {"messages": [{"role": "user", "content": "hi"}], **kw}
    out = asyncio.run(svc.complete(decode_request(json.dumps(body))))
    return out, backend.payloads[0]


def _rf(strict: bool | None) -> dict:
    js: dict = {"name": "r", "schema": SCHEMA}
    if strict is not None:
        js["strict"] = strict
    return {"type": "json_schema", "json_schema": js}


def test_non_strict_response_format_allows_undeclared_keys() -> None:
    _, payload = _run(response_format=_rf(None))
    g = parse_gbnf(payload["grammar"])
    assert accepts(g, '{"name":"a","extra":{"k":[1,2]}}')
    assert not accepts(g, '{"name":"a","name":"b"}')


def test_strict_response_format_stays_closed() -> None:
    _, payload = _run(response_format=_rf(True))
    g = parse_gbnf(payload["grammar"])
    assert accepts(g, '{"name":"a","tags":[]}')
    assert not accepts(g, '{"name":"a","extra":1}')


def test_response_format_takes_the_spaces_a_model_writes() -> None:
    """One optional space after each ':' and ',' of a response_format answer (json_schema and
    json_object), as a model writes JSON unforced; never two, never a newline. A tool call's
    grammar stays compact."""
    _, payload = _run(response_format=_rf(None))
    g = parse_gbnf(payload["grammar"])
    assert accepts(g, '{"name": "a", "tags": ["x", "y"]}')
    assert accepts(g, '{"name":"a","tags":["x", "y"]}')
    assert not accepts(g, '{"name":  "a"}')
    assert not accepts(g, '{"name":\n"a"}')
    _, payload = _run(response_format={"type": "json_object"})
    assert accepts(parse_gbnf(payload["grammar"]), '{"a": [1, 2], "b": {"c": null}}')
    _, payload = _run('{"name": "f", "arguments": {"name": "a"}}', tools=TOOLS,
                      tool_choice="required")
    assert '" "?' not in payload["grammar"]


def test_tool_arguments_stay_closed() -> None:
    text = '{"name": "f", "arguments": {"name": "a"}}'
    _, payload = _run(text, tools=TOOLS, tool_choice="required")
    assert '"extra' not in payload["grammar"]
    assert "xkey" not in payload["grammar"]  # no key grammar for undeclared keys


def test_budget_bounds_free_strings_arrays_and_extra_keys() -> None:
    _, unbounded = _run(response_format=_rf(None))
    _, payload = _run(response_format=_rf(None), max_tokens=64)
    g, free = parse_gbnf(payload["grammar"]), parse_gbnf(unbounded["grammar"])
    long = '{"name":"' + "x" * 40 + '"}'
    assert accepts(free, long) and not accepts(g, long)
    many = '{"name":"a","tags":[' + ",".join(['"t"'] * 5) + "]}"
    assert accepts(free, many) and not accepts(g, many)
    extras = '{"name":"a",' + ",".join(f'"k{i}":1' for i in range(3)) + "}"
    assert accepts(free, extras) and not accepts(g, extras)
    assert accepts(g, '{"name":"short","tags":["a"],"k":1}')


def test_cut_answer_is_length_not_a_document() -> None:
    out, _ = _run('{"name":"abc', stop_type="limit", response_format=_rf(None), max_tokens=8)
    choice = out.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.content == '{"name":"abc'
    assert not choice.message.tool_calls
