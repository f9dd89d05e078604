"""What the hot path remembers between requests never changes an answer: checked tools are
shared only while their schemas are exactly what they were built from, and a stream's
chunks are the same whatever is written together."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gateway.chat_request import build_context, decode_request
from gateway.config import Settings
from gateway.errors import GatewayError

from tests.inprocess import call, chat, gateway_on_stub

TOOLS = [{"type": "function", "function": {
    "name": f"tool_{i}", "description": f"Tool {i}", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer", "enum": [1, 2]}},
        "required": ["a"]}}} for i in range(3)] + [
    {"type": "function", "function": {"name": "bare"}}]


def _request(**extra: Any) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": "hi"}], "tools": TOOLS,
                       **extra}).encode()


def test_same_tools_share_checked_tooldefs_in_a_list_of_their_own() -> None:
    settings = Settings()
    one = build_context(decode_request(_request()), settings)
    two = build_context(decode_request(_request()), settings)
    assert [t.name for t in two.tools] == ["tool_0", "tool_1", "tool_2", "bare"]
    assert two.tools == one.tools and two.tools is not one.tools
    assert two.tools[3].parameters == {"type": "object", "properties": {}}
    assert two.tools[0].description == "Tool 0"


def test_a_tool_list_over_the_size_bound_is_built_anew_each_time() -> None:
    from gateway import chat_request

    big = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "description": "x" * (chat_request._TOOLS_MAX_BYTES + 1)}}}]
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "tools": big}).encode()
    one = build_context(decode_request(body), Settings()).tools
    two = build_context(decode_request(body), Settings()).tools
    assert one == two and one[0] is not two[0]
    small = build_context(decode_request(_request()), Settings()).tools
    assert small[0] is build_context(decode_request(_request()), Settings()).tools[0]


def test_a_schema_changed_in_place_never_reaches_a_later_request() -> None:
    settings = Settings()
    first = build_context(decode_request(_request()), settings)
    # whoever holds a request's tools (a plugin, a dialect) changes a schema in place
    first.tools[0].parameters["properties"]["a"]["enum"].append(3)
    first.tools[3].parameters["properties"]["x"] = {"type": "string"}
    later = build_context(decode_request(_request()), settings)
    assert later.tools[0].parameters["properties"]["a"]["enum"] == [1, 2]
    assert later.tools[3].parameters == {"type": "object", "properties": {}}
    assert [t.openai() for t in later.tools] == [
        {"type": "function", "function": {
            "name": t["function"]["name"], "description": t["function"].get("description", ""),
            "parameters": t["function"].get("parameters", {"type": "object",
                                                          "properties": {}})}}
        for t in TOOLS]


def test_equal_but_differently_typed_schemas_are_not_confused() -> None:
    """1 == 1.0 == True in Python: the cache must tell the schemas apart all the same."""
    settings = Settings()
    bodies = []
    for value in (1, 1.0, True):
        tools = [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"a": {"const": value}}}}}]
        bodies.append(json.dumps({"messages": [{"role": "user", "content": "hi"}],
                                  "tools": tools}).encode())
    for _ in range(2):
        for value, body in zip((1, 1.0, True), bodies, strict=True):
            got = build_context(decode_request(body), settings).tools[0].parameters
            assert json.dumps(got["properties"]["a"]["const"]) == json.dumps(value)


def test_strict_default_is_not_taken_from_another_setting() -> None:
    lax = build_context(decode_request(_request()), Settings(strict_default=False))
    strict = build_context(decode_request(_request()), Settings(strict_default=True))
    assert [t.strict for t in lax.tools] == [False] * 4
    assert [t.strict for t in strict.tools] == [True] * 4


def test_checks_still_run_for_a_tool_list_seen_before() -> None:
    settings = Settings()
    build_context(decode_request(_request()), settings)
    with pytest.raises(GatewayError) as err:
        build_context(decode_request(_request(
            tool_choice={"type": "function", "function": {"name": "missing"}})), settings)
    assert err.value.status == 400
    with pytest.raises(GatewayError):
        build_context(decode_request(_request()), Settings(max_tools=2))
    bad = [*TOOLS, TOOLS[0]]  # a duplicate name: refused every time, never cached
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "tools": bad}).encode()
    for _ in range(2):
        with pytest.raises(GatewayError, match="duplicate tool name"):
            build_context(decode_request(body), settings)



# -- a tool list seen before is not decoded again --------------------------------------------

def test_a_tool_list_seen_before_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway import chat_request

    decoded: list[int] = []
    real = chat_request._tools_decoder

    class Counting:
        def decode(self, text: Any) -> Any:
            decoded.append(len(text))
            return real.decode(text)

    monkeypatch.setattr(chat_request, "_tools_decoder", Counting())
    settings = Settings()
    tools = [{"type": "function", "function": {"name": "seen_once", "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}}}}}]
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "tools": tools})
    first = build_context(decode_request(body.encode()), settings)
    again = build_context(decode_request(body.encode()), settings)
    assert len(decoded) == 1 and again.tools == first.tools
    assert again.tools_key == first.tools_key
    # another spelling of the same list is decoded (a miss, never a wrong hit)
    spaced = build_context(decode_request(json.dumps(json.loads(body), indent=1).encode()),
                           settings)
    assert len(decoded) == 2 and spaced.tools == first.tools
    # a request decoded once keeps one key: the inline try and the worker's get the same
    req = decode_request(json.dumps({**json.loads(body), "tools": tools + [
        {"type": "function", "function": {"name": "other"}}]}).encode())
    assert build_context(req, settings).tools_key == build_context(req, settings).tools_key
    assert len(decoded) == 3


@pytest.mark.parametrize("tools, param", [
    ("abc", "tools"), ([{"type": "function"}], "tools[0]"),
    ([{"type": "function", "function": {"name": 3}}], "tools[0].function.name")])
def test_a_tool_list_that_does_not_decode_is_a_400_at_its_path(tools: Any, param: str) -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "tools": tools})
    with pytest.raises(GatewayError) as err:
        build_context(decode_request(body.encode()), Settings())
    assert err.value.status == 400 and err.value.param == param
    assert f"at `$.{param}`" in str(err.value)


@pytest.mark.parametrize("tools", ["null", "[]", " [ ] "])
def test_no_tools_written_any_way_is_no_tools(tools: str) -> None:
    body = '{"messages": [{"role": "user", "content": "hi"}], "tools": ' + tools + "}"
    ctx = build_context(decode_request(body.encode()), Settings())
    assert ctx.tools == [] and ctx.tools_key == b""
    with pytest.raises(GatewayError, match="needs at least one tool"):
        build_context(decode_request((body[:-1] + ', "tool_choice": "required"}').encode()),
                      Settings())

# -- a stream's role chunk goes out with the chunk after it ----------------------------------

def _deltas(reply: Any) -> list[Any]:
    return [e if isinstance(e, str) else
            (e["choices"][0]["delta"], e["choices"][0]["finish_reason"]) for e in reply.events()]


async def test_the_role_chunk_is_written_with_the_first_tokens() -> None:
    async with gateway_on_stub() as (app, _, stub):
        stub.delay = 0.02  # one token per read: each batch of deltas is a write of its own
        reply = await call(app, "/v1/chat/completions", chat(stream=True))
        assert reply.status == 200 and reply.complete
        assert _deltas(reply) == [
            ({"role": "assistant", "content": ""}, None), ({"content": "Hello"}, None),
            ({"content": ","}, None), ({"content": " world"}, None), ({"content": "!"}, None),
            ({}, "stop"), "[DONE]"]
        first = reply.chunks[0]  # the role and the first token, in one body message
        assert first.count(b"data: ") == 2 and b'"role":"assistant"' in first \
            and b'"content":"Hello"' in first
        ids = {e["id"] for e in reply.events() if isinstance(e, dict)}
        assert len(ids) == 1


@pytest.mark.parametrize("mode", ["status500", "cut_before_first"])
async def test_a_stream_that_fails_before_its_first_token_still_starts_with_the_role(
        mode: str) -> None:
    async with gateway_on_stub() as (app, _, stub):
        stub.mode = mode
        reply = await call(app, "/v1/chat/completions", chat(stream=True))
        assert reply.status == 200 and reply.complete
        events = reply.events()
        assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        assert "error" in events[1] and events[2] == "[DONE]" and len(events) == 3
        assert reply.chunks[0].startswith(b"data: ") and b'"error"' in reply.chunks[0]


async def test_an_empty_stream_is_the_role_then_the_end() -> None:
    async with gateway_on_stub() as (app, _, stub):
        stub.tokens = []
        reply = await call(app, "/v1/chat/completions",
                           chat(stream=True, stream_options={"include_usage": True}))
        events = reply.events()
        assert [e["choices"][0]["delta"] for e in events[:2]] == [
            {"role": "assistant", "content": ""}, {}]
        assert events[1]["choices"][0]["finish_reason"] == "stop"
        assert events[2]["choices"] == [] and events[2]["usage"]["completion_tokens"] == 0
        assert events[3] == "[DONE]"


# -- the sandbox finds the inputs' containers only when a template first changes one ---------

@pytest.mark.parametrize("source", [
    # the template's own list first (the inputs are found then), an input's dict after
    "{% set own = [] %}{% do own.append(1) %}{% do own.append(messages[0]) %}"
    "{% do own[1].update({'content': 'changed'}) %}",
    "{% set ns = namespace(q=[]) %}{% for m in messages %}{% do ns.q.append(m.content) %}"
    "{% endfor %}{{ ns.q }}{% do messages[0].pop('content') %}",
    "{% do messages[0].update({'content': 'changed'}) %}",  # an input first
    "{% set own = {} %}{% do own.update(m=messages) %}{% do own['m'].append(1) %}",
])
def test_inputs_stay_immutable_whenever_a_template_first_changes_a_container(
        source: str) -> None:
    from gateway.templating import ChatTemplate, TemplateError

    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(TemplateError, match="SecurityError"):
        ChatTemplate(source).render(messages)
    assert messages == [{"role": "user", "content": "hi"}]


def test_a_template_changes_its_own_containers_between_reads_of_the_inputs() -> None:
    from gateway.templating import ChatTemplate

    source = ("{% set ns = namespace(ids=[]) %}{% for m in messages %}"
              "{% do ns.ids.append(m.role) %}{% set d = {} %}{% do d.update(r=m.role) %}"
              "{{ d.r }};{% endfor %}{% do ns.ids.pop(0) %}{{ ns.ids | join(',') }}")
    messages = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"}]
    assert ChatTemplate(source).render(messages) == "user;assistant;user;assistant,user"


def test_an_input_the_sandbox_cannot_see_through_makes_every_container_foreign() -> None:
    from gateway.templating import ChatTemplate, TemplateError

    class Opaque:
        items: list[int] = []

    template = ChatTemplate("{% set own = [] %}{% do own.append(1) %}{{ own }}",
                            context={"thing": Opaque()})
    with pytest.raises(TemplateError, match="SecurityError"):
        template.render([{"role": "user", "content": "hi"}])


# -- the served model handed to dialects follows what the service holds ---------------------

async def test_the_served_model_follows_a_replaced_template_dialect_or_options() -> None:
    from gateway.dialect import Dialect
    from gateway.templating import ChatTemplate

    async with gateway_on_stub() as (app, runtime, stub):
        service = runtime.service
        assert service is not None
        before = service.model
        assert service.model is before  # nothing replaced: the same one
        service.template = ChatTemplate("{% for m in messages %}[{{ m.content }}]{% endfor %}")
        reply = await call(app, "/v1/chat/completions", chat("sea"))
        assert reply.status == 200 and stub.last_payload["prompt"] == "[sea]"
        assert service.model.template is service.template
        service.dialect = Dialect()
        assert service.model.dialect is service.dialect
        service.settings.dialect_options = {"tool_style": "json"}
        assert service.model.options == {"tool_style": "json"}
        assert service.model.template is service.template


# -- a render's tools written by `tojson` are memoised by content, never by identity ---------

def _tool(name: str, parameters: Any, description: str = "") -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description,
                                             "parameters": parameters}}


MEMO_TOOLS = [
    _tool("get_weather", {"type": "object", "properties": {
        "city": {"type": "string", "description": "Stadt, z.B. München — 東京"},
        "unit": {"enum": ["c", "f"], "default": "c"}}, "required": ["city"]},
        "Weather for a city"),
    _tool("one_int", {"type": "object", "properties": {"a": {"const": 1}}}),
    _tool("one_float", {"type": "object", "properties": {"a": {"const": 1.0}}}),
    _tool("one_true", {"type": "object", "properties": {"a": {"const": True}}}),
    _tool("big", {"type": "object", "properties": {"n": {"maximum": 2 ** 70}}}),
    _tool("nullable", {"type": "object", "properties": {"a": {"default": None,
                                                               "type": "string"}}}),
]


@pytest.mark.parametrize("name", [
    "Qwen-Qwen2.5-7B-Instruct.jinja",  # tool | tojson
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja",  # tool.parameters | tojson
    "meta-llama-Llama-3.2-3B-Instruct.jinja",  # t | tojson(indent=4)
    "Mistral-Small-3.2-24B-Instruct-2506.jinja",  # tools | tojson
    "zai-org-GLM-4.6.jinja",  # tool | tojson(ensure_ascii=False)
])
def test_tool_json_is_json_dumps_text_render_after_render(name: str, monkeypatch) -> None:
    from gateway import templating_env
    from gateway.testing import shared_template

    template = shared_template(name)
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]

    def render(tools: list[dict[str, Any]]) -> str:
        return template.render(messages, tools=json.loads(json.dumps(tools)))

    memoised = [render(MEMO_TOOLS) for _ in range(3)]
    with monkeypatch.context() as m:
        m.setattr(templating_env._Inputs, "is_tool", lambda self, value: False)
        reference = render(MEMO_TOOLS)
    assert memoised == [reference] * 3
    assert "1.0" in reference and "true" in reference  # the three consts kept apart


def test_a_changed_tool_is_written_as_it_is_now() -> None:
    from gateway.templating import ChatTemplate

    template = ChatTemplate("{% for t in tools %}{{ t | tojson }}\n{% endfor %}"
                            "{{ tools[0].function.parameters | tojson(indent=2) }}")
    tools = [_tool("f", {"type": "object", "properties": {"a": {"const": 1}}})]
    first = template.render([], tools=tools)
    tools[0]["function"]["parameters"]["properties"]["a"]["const"] = True
    second = template.render([], tools=tools)
    assert json.loads(second.split("\n")[0])["function"]["parameters"]["properties"]["a"] == {
        "const": True}
    assert first != second and '"const": true' in second


def test_a_nan_in_a_tool_is_not_taken_for_a_null() -> None:
    from gateway.templating import ChatTemplate

    template = ChatTemplate("{% for t in tools %}{{ t | tojson }}{% endfor %}")
    null = [_tool("f", {"type": "object", "properties": {"a": {"default": None}}})]
    nan = [_tool("f", {"type": "object", "properties": {"a": {"default": float("nan")}}})]
    assert '"default": null' in template.render([], tools=null)
    assert '"default": NaN' in template.render([], tools=nan)
    assert '"default": null' in template.render([], tools=null)


# -- metrics kept for the hot path count as before ---------------------------------------

async def test_grammar_plan_lookups_are_counted_hit_and_miss() -> None:
    from prometheus_client import generate_latest

    async with gateway_on_stub() as (app, runtime, stub):
        runtime.service.on_plan = runtime.metrics.plan_observed  # as a started app wires it

        def count(result: str) -> float | None:
            text = generate_latest(runtime.metrics.registry).decode()
            line = f'gateway_grammar_cache_total{{result="{result}"}} '
            found = [x for x in text.splitlines() if x.startswith(line)]
            return float(found[0].split()[-1]) if found else None

        body = chat(tools=[{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"a": {"type": "integer"}}}}}])
        assert (await call(app, "/v1/chat/completions", body)).status == 200
        assert (count("miss"), count("hit")) == (1.0, None)  # no hit yet: no series
        for _ in range(3):
            assert (await call(app, "/v1/chat/completions", body)).status == 200
        assert (count("miss"), count("hit")) == (1.0, 3.0)


def test_a_compiled_template_still_sees_every_global_of_the_sandbox() -> None:
    from gateway.templating import ChatTemplate, TemplateError

    source = ("{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}"
              "{% endfor %}{{ ns.n }}|{{ strftime_now('%Y') | length }}|"
              "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}|{{ dict(x=1).x }}"
              "{% if messages[0].content == 'boom' %}{{ raise_exception('no ' + 'boom') }}"
              "{% endif %}")
    template = ChatTemplate(source)
    assert template.render([{"role": "user", "content": "hi"}]) == "3|4|ab|1"
    with pytest.raises(TemplateError, match="no boom"):
        template.render([{"role": "user", "content": "boom"}])
    with pytest.raises(TemplateError):
        ChatTemplate("{{ range(10**9) | list | length }}").render([])


# -- `x.name` on a plain dict: its item, found without Jinja's failed attribute lookup -------

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris and the time?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc123xyz", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_def456uvw", "type": "function",
         "function": {"name": "get_time", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "call_abc123xyz", "content": "18 C"},
    {"role": "tool", "tool_call_id": "call_def456uvw", "content": "12:00"},
    {"role": "assistant", "content": "18 C and noon."},
    {"role": "user", "content": "Thanks."},
]


def test_every_shared_template_renders_the_same_with_the_dict_item_shortcut(
        monkeypatch) -> None:
    import datetime as real

    from gateway import templating_env
    from gateway.templating import ChatTemplate
    from gateway.testing import shared_templates_dir

    class Frozen(real.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Frozen:
            return cls(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr(templating_env, "datetime", Frozen)
    tools = [_tool("get_weather", {"type": "object", "properties": {
        "city": {"type": "string"}}, "required": ["city"]}, "Weather for a city"),
        _tool("get_time", {"type": "object", "properties": {}}, "Current time")]

    def renders(source: str, name: str) -> list[str]:
        out = []
        template = ChatTemplate(source, name=name, bos_token="<s>", eos_token="</s>")
        for messages, offered in ((CONVERSATION[:2], tools), (CONVERSATION, tools),
                                  (CONVERSATION, None)):
            try:
                out.append(template.render(messages, tools=offered))
            except Exception as exc:  # the same refusal either way
                out.append(f"{type(exc).__name__}: {exc}")
        return out + [repr(template)]

    paths = sorted(shared_templates_dir().glob("*.jinja"))
    assert len(paths) > 20
    for path in paths:
        source = path.read_text()
        fast = renders(source, path.name)
        with monkeypatch.context() as m:
            m.setattr(templating_env._ChatSandbox, "getattr",
                      templating_env.SandboxedEnvironment.getattr)
            slow = renders(source, path.name)
        assert fast == slow, path.name


def test_dict_methods_and_missing_names_are_what_they_were() -> None:
    from gateway.templating import ChatTemplate, TemplateError

    source = ("{% for k, v in messages[0].items() %}{{ k }}={{ v }};{% endfor %}"
              "{{ messages[0].get('role') }}|{{ messages[0].nothing is defined }}|"
              "{{ (messages[0].keys | string)[:9] }}")
    assert ChatTemplate(source).render([{"role": "user", "content": "hi"}]) == \
        "role=user;content=hi;user|False|<built-in"
    with pytest.raises(TemplateError, match="SecurityError|unsafe|access"):
        ChatTemplate("{{ messages[0].__class__.__mro__ }}").render(
            [{"role": "user", "content": "hi"}])


def test_a_key_named_as_a_dict_method_does_not_hide_the_method() -> None:
    from gateway.templating import ChatTemplate

    source = ("{% for t in tools %}{% for k, v in t.function.parameters.properties.items() %}"
              "{{ k }}:{{ v.type }};{% endfor %}{% endfor %}|"
              "{% for m in messages %}{{ m.content or '' }}{% for c in m.tool_calls or [] %}"
              "{{ c.function.name }}("
              "{% for k, v in c.function.arguments.items() %}{{ k }}={{ v }};{% endfor %}"
              "{{ c.function.arguments.get('keys') }}{% endfor %}{% endfor %}")
    tools = [_tool("f", {"type": "object", "properties": {
        "items": {"type": "array"}, "keys": {"type": "string"}}})]
    messages = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {
                        "name": "f", "arguments": '{"items": [1], "keys": "k"}'}}]}]
    assert ChatTemplate(source).render(messages, tools=tools, add_generation_prompt=False) \
        == "items:array;keys:string;|hif(items=[1];keys=k;k"


# -- a marker's partial tail, found without comparing every prefix ---------------------------

def _partial_tail_reference(markers: list[str], buf: str) -> int:
    longest = 0
    for m in markers:
        for k in range(min(len(m) - 1, len(buf)), longest, -1):
            if buf.endswith(m[:k]):
                longest = k
                break
    return longest


MARKER_SETS = [["<tool_call>", "</tool_call>"], ["<think>", "</think>", "<tool_call>"],
               [">>>", "all", "<|python_tag|>"], ["[TOOL_CALLS]", "[ARGS]", "<<", "<"],
               ["aaa", "aab", "abab"], ["x"]]


def test_the_partial_tail_is_the_longest_proper_marker_prefix_at_the_end() -> None:
    import random

    from gateway.textscan import MarkerSplitter

    rng = random.Random(7)
    shared = MarkerSplitter(MARKER_SETS[0])  # its markers set anew each time
    for markers in MARKER_SETS + MARKER_SETS[::-1]:
        splitter = MarkerSplitter(markers)
        shared.set_markers(markers)
        alphabet = "".join(sorted(set("".join(markers)))) + " z"
        pieces = [m[:k] for m in markers for k in range(len(m) + 1)]
        for _ in range(3000):
            buf = "".join(rng.choice(pieces) if rng.random() < 0.5 else rng.choice(alphabet)
                          for _ in range(rng.randrange(0, 8)))
            expected = _partial_tail_reference(splitter.markers, buf)
            assert splitter._partial_tail(buf) == expected, (markers, buf)
            assert shared._partial_tail(buf) == expected, (markers, buf)


def test_a_stream_split_anywhere_gives_the_same_pieces() -> None:
    from gateway.textscan import MarkerSplitter

    text = 'Hi <think>hmm</think> <tool_call>{"a": "<tool_"}</tool_call> bye <tool_ca'
    markers = ["<think>", "</think>", "<tool_call>", "</tool_call>"]

    def run(chunks: list[str]) -> list[tuple[str, str]]:
        s = MarkerSplitter(markers)
        out = [p for c in chunks for p in s.feed(c)] + s.flush()
        merged: list[tuple[str, str]] = []
        for kind, piece in out:  # text may come in several pieces: join them
            if merged and kind == merged[-1][0] == "text":
                merged[-1] = ("text", merged[-1][1] + piece)
            else:
                merged.append((kind, piece))
        return merged

    whole = run([text])
    assert [p for p in whole if p[0] == "marker"] == [
        ("marker", m) for m in ("<think>", "</think>", "<tool_call>", "</tool_call>")]
    for i in range(len(text) + 1):
        assert run([text[:i], text[i:]]) == whole, i
    assert run(list(text)) == whole


def test_concatenation_is_checked_before_it_runs_strings_and_lists() -> None:
    from gateway.templating import ChatTemplate, RenderLimits, TemplateLimitError

    limits = RenderLimits(max_chars=100)  # over the start-up probes' own strings
    messages = [{"role": "user", "content": "x" * 60}]
    for source in ("{{ (messages[0].content + messages[0].content) | length }}",
                   "{{ ('' + messages[0].content + 'y' * 50) | length }}",
                   "{% set a = messages[0].content | list %}{{ (a + a) | length }}"):
        template = ChatTemplate(source, limits=limits)
        assert template.hostile is None
        with pytest.raises(TemplateLimitError, match="string of 1[12]0 characters"):
            template.render(messages)
    ok = ChatTemplate("{{ (messages[0].content + 'y' * 40) | length }}|{{ 1 + 2 }}",
                      limits=limits)
    assert ok.render(messages) == "100|3"
