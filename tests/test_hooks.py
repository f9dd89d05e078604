"""Each firstresult hook can be overridden by a plugin, and the core default runs otherwise.
(Unit level with a stub backend; the real paths are covered end to end elsewhere.)"""

from __future__ import annotations

import asyncio
import types

import pytest
from gateway.chat import ChatService
from gateway.chat_request import decode_request
from gateway.config import Settings
from gateway.dialect import Delta, GrammarPlan, ParsedOutput, ParsedToolCall
from gateway.dialects.generic import DIALECT
from gateway.errors import GatewayError
from gateway.hookspecs import hookimpl
from gateway.plugins import create_plugins
from gateway.protocol import ChatCompletionRequest
from gateway.templating import ChatTemplate

TEMPLATE = ChatTemplate("{% for m in messages %}[{{m.role}}]{{m.content}}{% endfor %}"
                        "{% if add_generation_prompt %}[assistant]{% endif %}")
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {
    "type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}]


class StubBackend:
    def __init__(self, text: str) -> None:
        self.text = text
        self.payloads: list[dict] = []

    async def complete(self, payload):
        self.payloads.append(payload)
        return {"content": self.text, "stop_type": "eos", "tokens_evaluated": 5,
                "tokens_predicted": 3}

    async def stream(self, payload):
        """llama.cpp's SSE events: the text a few characters at a time, then the stop."""
        self.payloads.append(payload)
        for i in range(0, len(self.text), 4):
            yield {"content": self.text[i:i + 4]}
        yield {"content": "", "stop": True, "stop_type": "eos", "tokens_evaluated": 5,
               "tokens_predicted": 3}


# the stubs answer one fixed text whatever the grammar: one generation per answer, no values
# written again as excerpts (gateway.staged.Grounding: a call generated in parts)
# events as the backend sends them: nothing held until a call or the list is complete
ONE_GENERATION = Settings(dialect_options={"ground_values": "off", "more_calls_realign": "off"})


def service(text: str, *plugins) -> tuple[ChatService, StubBackend]:
    backend = StubBackend(text)
    pl = create_plugins(["generic"], extra=[(f"p{i}", p) for i, p in enumerate(plugins)])
    return ChatService(plugins=pl, backend=backend, template=TEMPLATE, dialect=DIALECT,
                       model_id="m", settings=ONE_GENERATION), backend


def request(**kw) -> ChatCompletionRequest:
    import json
    return decode_request(json.dumps({"messages": [{"role": "user", "content": "hi"}], **kw}))


def run(coro):
    return asyncio.run(coro)


def test_defaults_render_constrain_and_parse():
    text = '{"thought_about_next_step_only":"t","next_step":{"tool_calls":[{"name":"f",' \
           '"arguments":{"x":1}}]}}'
    svc, backend = service(text)
    out = run(svc.complete(request(tools=TOOLS, tool_choice="required")))
    payload = backend.payloads[0]
    assert payload["prompt"].startswith("[system]You have these tools")
    assert "grammar" in payload and "call0" in payload["grammar"]
    assert out.choices[0].finish_reason == "tool_calls"
    assert out.choices[0].message.tool_calls[0].function.arguments == '{"x":1}'
    assert out.choices[0].message.reasoning_content == "t"


def test_gateway_render_prompt_override():
    mod = types.SimpleNamespace(gateway_render_prompt=hookimpl(lambda ctx: "CUSTOM PROMPT"))
    svc, backend = service("hello", mod)
    run(svc.complete(request()))
    assert backend.payloads[0]["prompt"] == "CUSTOM PROMPT"


def test_gateway_schema_to_grammar_override():
    seen = []

    def convert(schema, strict, limits):
        seen.append((schema, strict))
        return 'root ::= "{\\"x\\":7}"'

    mod = types.SimpleNamespace(gateway_schema_to_grammar=hookimpl(convert))
    svc, backend = service("{}", mod)
    run(svc.complete(request(response_format={"type": "json_schema", "json_schema": {
        "name": "r", "schema": {"type": "object"}, "strict": True}})))
    assert seen == [({"type": "object"}, True)]
    assert backend.payloads[0]["grammar"] == 'root ::= "{\\"x\\":7}"'


def test_gateway_tools_grammar_override():
    plan = GrammarPlan(grammar='root ::= "<x>"', lazy=True,
                       triggers=[{"type": 1, "value": "<x>"}], preserved_tokens=["<x>"],
                       stop=["<end>"])
    mod = types.SimpleNamespace(gateway_tools_grammar=hookimpl(lambda ctx: plan))
    svc, backend = service("hi", mod)
    run(svc.complete(request(tools=TOOLS, stop=["zz"])))
    p = backend.payloads[0]
    assert p["grammar"] == 'root ::= "<x>"' and p["grammar_lazy"] is True
    assert p["grammar_triggers"] == [{"type": 1, "value": "<x>"}]
    assert p["preserved_tokens"] == ["<x>"] and p["stop"][:2] == ["zz", "<end>"]


def test_gateway_create_parser_override_applies_to_non_streamed_output():
    class Upper:
        def feed(self, text):
            return [Delta("content", text.upper())]

        def finish(self):
            return []

    mod = types.SimpleNamespace(gateway_create_parser=hookimpl(lambda ctx: Upper()))
    svc, _ = service("shout", mod)
    assert run(svc.complete(request())).choices[0].message.content == "SHOUT"


def test_gateway_parse_output_override():
    def parse(ctx, text):
        return ParsedOutput(content=None, tool_calls=[ParsedToolCall("id1", "f", '{"x":2}')])

    mod = types.SimpleNamespace(gateway_parse_output=hookimpl(parse))
    svc, _ = service("whatever", mod)
    out = run(svc.complete(request(tools=TOOLS)))
    assert out.choices[0].finish_reason == "tool_calls"
    assert out.choices[0].message.tool_calls[0].id == "id1"


def test_unbuildable_grammar_is_a_400_not_unconstrained():
    svc, backend = service("x")
    schema = {"type": "object", "properties": {"a": {"type": "array", "uniqueItems": True,
                                                     "items": {"type": "object"}}},
              "required": ["a"]}
    with pytest.raises(GatewayError) as e:
        svc.prepare(request(tools=[{"type": "function", "function": {
            "name": "g", "parameters": schema, "strict": True}}]))
    assert e.value.status == 400 and "uniqueItems" in e.value.message
    assert backend.payloads == []


REPEATING = ('{"thought_about_next_step_only":"t","next_step":{"tool_calls":['
             + ",".join(['{"name":"f","arguments":{"x":1}}'] * 3) + ',{"name":"f","arguments":'
             '{"x":2}}]}}')


def test_a_repeated_call_stops_generation_non_streaming():
    svc, backend = service(REPEATING)
    consumed: list[int] = []
    inner = backend.stream

    async def counting(payload):
        async for event in inner(payload):
            consumed.append(1)
            yield event
    backend.stream = counting
    out = run(svc.complete(request(tools=TOOLS, tool_choice="required", max_tokens=256)))
    calls = out.choices[0].message.tool_calls
    assert [c.function.arguments for c in calls] == ['{"x":1}']
    assert out.choices[0].finish_reason == "tool_calls"
    assert len(consumed) < len(REPEATING) // 4  # the rest of the loop was never generated


def test_a_repeated_call_stops_generation_streaming():
    svc, backend = service(REPEATING)

    async def collect():
        return [line async for line in await svc.stream(
            request(tools=TOOLS, tool_choice="required", stream=True))]
    lines = b"".join(run(collect()))
    assert lines.count(b'"arguments":"{\\"x\\":1}"') == 1
    assert b'{\\"x\\":2}' not in lines  # generation stopped at the repeat
    assert b'"finish_reason":"tool_calls"' in lines and lines.endswith(b"data: [DONE]\n\n")


class CutThenWhole(StubBackend):
    """First generation runs into max_tokens inside a string; the second completes."""

    def __init__(self) -> None:
        super().__init__("")
        self.texts = ['{"tool_calls":[{"name":"g","arguments":{"s":"aaaaaaaa',
                      '{"tool_calls":[{"name":"g","arguments":{"s":"ok"}}]}']

    async def stream(self, payload):
        self.payloads.append(payload)
        text = self.texts[min(len(self.payloads), 2) - 1]
        yield {"content": text}
        cut = len(self.payloads) == 1
        yield {"content": "", "stop": True, "stop_type": "limit" if cut else "eos",
               "tokens_predicted": 7}


FREE = [{"type": "function", "function": {"name": "g", "parameters": {
    "type": "object", "properties": {"s": {"type": "string"}}, "required": ["s"]}}}]


@pytest.mark.parametrize("stream", [False, True])
def test_required_call_cut_off_is_retried_with_a_tighter_grammar(stream):
    backend = CutThenWhole()
    pl = create_plugins(["generic"])
    svc = ChatService(plugins=pl, backend=backend, template=TEMPLATE, dialect=DIALECT,
                      model_id="m", settings=ONE_GENERATION)
    req = request(tools=FREE, tool_choice="required", max_tokens=256, stream=stream)
    if stream:
        async def collect():
            return b"".join([line async for line in await svc.stream(req)])
        body = run(collect())
        assert body.count(b'"name":"g"') == 1 and b'{\\"s\\":\\"ok\\"}' in body
        assert b'"finish_reason":"tool_calls"' in body
    else:
        out = run(svc.complete(req))
        assert out.choices[0].message.tool_calls[0].function.arguments == '{"s":"ok"}'
        assert out.choices[0].finish_reason == "tool_calls"
        assert out.usage.completion_tokens == 14  # both attempts are counted
    first, second = (p["grammar"] for p in backend.payloads)
    assert "t0-char{0,64}" in first and "t0-char{0,12}" in second  # 256/4, then at least 12


def test_the_dialect_gets_one_request_and_everything_else_as_arguments():
    """One way: the request's data is built once and handed down unchanged; the served model
    and the schema-grammar builder (with the answer's budget) come as arguments."""
    import dataclasses

    from gateway.dialects.generic import GenericDialect

    seen: dict[str, tuple] = {}

    class Recording(GenericDialect):
        def render_prompt(self, ctx, model):
            seen["prompt"] = (ctx, model)
            return super().render_prompt(ctx, model)

        def tools_grammar(self, ctx, model, grammars):
            seen["plan"] = (ctx, model, grammars)
            return super().tools_grammar(ctx, model, grammars)

        def create_parser(self, ctx, model):
            seen["parser"] = (ctx, model)
            return super().create_parser(ctx, model)

    dialect = Recording()
    svc = ChatService(plugins=create_plugins(["generic"]), backend=StubBackend("x"),
                      template=TEMPLATE, dialect=dialect, model_id="m")
    run(svc.complete(request(tools=TOOLS, tool_choice="required", max_tokens=64)))
    ctx, model = seen["prompt"]
    assert seen["plan"][0] is ctx and seen["parser"][0] is ctx
    assert ctx.tool_choice == "required" and [t.name for t in ctx.tools] == ["f"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.tool_choice = "none"
    assert model.template is TEMPLATE and model.dialect is dialect
    assert model.options is svc.settings.dialect_options
    grammars = seen["plan"][2]
    assert grammars.budget_tokens == 64  # max_tokens (the slot context is unknown here)
    assert grammars.limits.max_free_string == 16  # a quarter of the budget
