"""Jump-forward over forced text: what a grammar forces, the grammar after it, and the backend
that puts the text into the prompt and gives it back in front of the answer."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from gateway.backend.client import BackendError
from gateway.gbnf_recognizer import accepts, parse_gbnf, sample
from gateway.jumpforward import JumpForwardBackend, analyse, forced, token_safe_cut

ENVELOPE = r'''
root ::= "{\"tool_calls\":[" call ("," call)* "]}"
call ::= "{\"name\":\"get_weather\",\"arguments\":" args "}"
args ::= "{\"city\":" str ("," "\"unit\":" unit)? "}"
unit ::= "\"celsius\"" | "\"fahrenheit\""
char ::= [^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
str ::= "\"" char{0,16} "\""
'''

TWO_TOOLS = r'''
root ::= "<tool_call>\n{\"name\": " (a | b) "}\n</tool_call>"
a ::= "\"alpha\", \"arguments\": {\"x\": " [0-9]+ "}"
b ::= "\"beta\", \"arguments\": {\"y\": " [0-9]+ "}"
'''


def suffixes_agree(grammar: str, runs: int = 60) -> None:
    """Every sentence of `grammar` begins with the forced text, and the grammar after it
    accepts exactly what follows (and not what the whole grammar refuses)."""
    jump = analyse(grammar)
    assert jump is not None
    g = parse_gbnf(grammar)
    rng = random.Random(7)
    for _ in range(runs):
        text = sample(g, rng)
        assert text.startswith(jump.text)
        assert accepts(jump.grammar, text[len(jump.text):]), text
        assert not accepts(jump.grammar, text[len(jump.text):] + "}")


def test_forced_text_of_a_call_envelope_is_cut_where_tokens_split() -> None:
    jump = analyse(ENVELOPE)
    assert jump is not None
    # everything up to the first free value is forced; the cut leaves `":` to the model
    assert jump.text == '{"tool_calls":[{"name":"get_weather","arguments":{"city'
    suffixes_agree(ENVELOPE)


def test_forced_text_stops_where_tools_differ() -> None:
    jump = analyse(TWO_TOOLS)
    assert jump is not None
    assert jump.text == '<tool_call>\n{"name":'  # the space goes with the name after it
    suffixes_agree(TWO_TOOLS)
    assert accepts(jump.grammar, ' "beta", "arguments": {"y": 12}}\n</tool_call>')
    assert not accepts(jump.grammar, ' "gamma", "arguments": {"y": 12}}\n</tool_call>')


def test_escapes_groups_and_non_ascii_survive_in_the_rest() -> None:
    grammar = ('root ::= "\\u00e9t\\u00e9: [" ("-" | "^" | "]" | "\\\\")+ "] "'
               ' [\\u4e00-\\u9fff]{1,3} "\\n"\n')
    jump = analyse(grammar)
    assert jump is not None and jump.text == "été:"
    suffixes_agree(grammar)
    assert accepts(jump.grammar, ' [-^]\\] 中文\n')


@pytest.mark.parametrize("grammar", [
    'root ::= "a" | "b"\n',  # nothing forced
    'root ::= "ab" x\nx ::= "c"?\n',  # one character forced is not worth a jump... "ab" is
    'root ::= ws "{" "\\"k\\""\nws ::= [ \\t\\n]*\n',  # optional space first: nothing forced
    'root ::= "{\\"key\\"" root?\n',  # the root used inside: no rename
])
def test_no_jump_where_nothing_useful_is_forced(grammar: str) -> None:
    jump = analyse(grammar)
    if jump is not None:  # "ab" then a choice: forced but at most that
        assert jump.text == "ab" and accepts(jump.grammar, "c") and accepts(jump.grammar, "")
        return
    assert jump is None


def test_a_grammar_that_ends_inside_the_forced_text_keeps_it_to_that_end() -> None:
    assert analyse('root ::= "hello world" "!"?\n') is not None
    jump = analyse('root ::= "hello world" "!"?\n')
    assert jump is not None and jump.text == "hello"  # cut before the space


@pytest.mark.parametrize("text,cut", [
    ('{"name":"', 6), ('{"name', 2), ("<tool_call>\n", 11), ("get_weather\n{", 11),
    ("abc", 0), ("a b", 1), ('": "', 2),
    # a lone mark goes with the word after it (`get` `_weather`, `x` `"y`): no cut after it
    ('{"name":"get_weather', 12), ("x.y", 1), ('"ab', 0), ('x "ab', 3)])
def test_token_safe_cut(text: str, cut: int) -> None:
    assert token_safe_cut(text) == cut


class FakeBackend:
    def __init__(self, answer: str = 'Paris"}}]}', events: int = 3) -> None:
        self.sent: list[dict[str, Any]] = []
        self.answer, self.events = answer, events

    async def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return list(range(len(text) // 4 + 1))

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(payload)
        return {"content": self.answer, "stop": True, "tokens_predicted": 5,
                "tokens_evaluated": 100}

    async def stream_batches(self, payload: dict[str, Any]) -> Any:
        self.sent.append(payload)
        step = len(self.answer) // self.events + 1
        parts = [self.answer[i:i + step] for i in range(0, len(self.answer), step)]
        for part in parts:
            yield [{"content": part, "stop": False}]
        yield [{"content": "", "stop": True, "tokens_predicted": 5, "tokens_evaluated": 100}]


def test_backend_puts_the_forced_text_into_the_prompt_and_gives_it_back() -> None:
    inner = FakeBackend()
    jf = JumpForwardBackend(inner)
    payload = {"prompt": "P:", "grammar": ENVELOPE, "n_predict": 64, "stop": ["</s>"]}
    result = asyncio.run(jf.complete(payload))
    forced = '{"tool_calls":[{"name":"get_weather","arguments":{"city'
    sent = inner.sent[0]
    assert sent["prompt"] == "P:" + forced
    assert sent["grammar"] != ENVELOPE and accepts(sent["grammar"], '":"Paris"}}]}')
    n = len(forced) // 4 + 1
    assert sent["n_predict"] == 64 - n
    assert result["content"] == forced + 'Paris"}}]}'
    assert result["tokens_predicted"] == 5 + n and result["tokens_evaluated"] == 100 - n
    assert payload["prompt"] == "P:"  # the caller's payload is not touched


def test_streamed_answer_has_the_forced_text_first_and_counts_it_once() -> None:
    inner = FakeBackend()
    jf = JumpForwardBackend(inner)

    async def run() -> list[list[dict[str, Any]]]:
        return [b async for b in jf.stream_batches(
            {"prompt": "P:", "grammar": ENVELOPE, "n_predict": -1})]

    batches = asyncio.run(run())
    events = [e for b in batches for e in b]
    text = "".join(e["content"] for e in events)
    assert text == '{"tool_calls":[{"name":"get_weather","arguments":{"city' + 'Paris"}}]}'
    assert events[0]["content"].startswith('{"tool_calls"')
    assert inner.sent[0]["n_predict"] == -1
    final = events[-1]
    assert final["stop"] and final["tokens_predicted"] > 5


@pytest.mark.parametrize("payload", [
    {"grammar": ENVELOPE, "grammar_lazy": True, "grammar_triggers": []},
    {"grammar": ENVELOPE, "n_probs": 3},
    {"grammar": ENVELOPE, "n_predict": 4},  # the forced text alone is more than that
    {},
])
def test_payloads_left_as_they_are(payload: dict[str, Any]) -> None:
    inner = FakeBackend()
    body = {"prompt": "P:", **payload}
    result = asyncio.run(JumpForwardBackend(inner).complete(body))
    assert inner.sent[0] == body
    assert result["content"] == 'Paris"}}]}' and result["tokens_predicted"] == 5


def test_a_stop_word_in_the_forced_text_cuts_it_before() -> None:
    inner = FakeBackend()
    asyncio.run(JumpForwardBackend(inner).complete(
        {"prompt": "P:", "grammar": ENVELOPE, "stop": ['"arguments"']}))
    sent = inner.sent[0]
    assert sent["prompt"] == 'P:{"tool_calls":[{"name":"get_weather'
    assert accepts(sent["grammar"], '","arguments":{"city":"x"}}]}')


def test_the_cut_is_worked_out_once_per_stop_words_and_each_set_gets_its_own() -> None:
    """The same grammar sent with other stop words is cut for those (not for the first
    request's): the remembered cut is per (stop words, special tokens)."""
    inner = FakeBackend()
    jf = JumpForwardBackend(inner)
    for stop in (['"arguments"'], ["</s>"], ['"arguments"'], None):
        asyncio.run(jf.complete({"prompt": "P:", "grammar": ENVELOPE, "stop": stop}))
    prompts = [sent["prompt"] for sent in inner.sent]
    assert prompts[0] == prompts[2] == 'P:{"tool_calls":[{"name":"get_weather'
    assert prompts[1] == prompts[3] != prompts[0]
    assert prompts[1].startswith(prompts[0] + '","arguments"')
    f = forced(ENVELOPE)
    assert f is not None and f.cut_for(["</s>"], None) == f.cut_for(["</s>"], None) > 0
    assert f.cut_for([{"unhashable": 1}], None) == f.cut_for(None, None)  # no stop word in it


def test_the_rest_of_a_grammar_is_built_once() -> None:
    inner = FakeBackend()
    jf = JumpForwardBackend(inner)
    for _ in range(3):
        asyncio.run(jf.complete({"prompt": "P:", "grammar": ENVELOPE}))
    assert inner.sent[0]["grammar"] is inner.sent[2]["grammar"]


def many_tools(n: int) -> str:
    calls = " | ".join(f"c{i}" for i in range(n))
    rules = "\n".join(f'c{i} ::= "{{\\"name\\":\\"tool_{i}\\",\\"arguments\\":{{}}}}"'
                      for i in range(n))
    return f'root ::= "{{\\"tool_calls\\":[" ({calls}) "]}}"\n{rules}\n'


def test_many_tools_still_jump_the_envelope_and_are_analysed_off_the_event_loop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    grammar = many_tools(128)
    assert len(grammar) > 2048
    jump = analyse(grammar)
    assert jump is not None and jump.text == '{"tool_calls":[{"name":"tool'
    assert accepts(jump.grammar, '_77","arguments":{}}]}')
    assert not accepts(jump.grammar, '_128","arguments":{}}]}')
    threads: list[Any] = []
    real = asyncio.to_thread

    async def to_thread(fn: Any, *args: Any) -> Any:
        threads.append(fn)
        return await real(fn, *args)

    monkeypatch.setattr("gateway.jumpforward.asyncio.to_thread", to_thread)
    inner = FakeBackend()
    jf = JumpForwardBackend(inner)
    for _ in range(2):
        asyncio.run(jf.complete({"prompt": "P:", "grammar": grammar}))
    assert threads == [forced]  # once, then cached
    assert inner.sent[1]["prompt"] == 'P:{"tool_calls":[{"name":"tool'


# -- through the whole chat path, on a stub llama.cpp ------------------------------------------

CITY = {"type": "json_schema", "json_schema": {"name": "c", "strict": True, "schema": {
    "type": "object", "properties": {"city": {"type": "string", "maxLength": 20}},
    "required": ["city"], "additionalProperties": False}}}
AFTER = ['":"', "Oslo", '"}']  # what the model writes after the forced `{"city`


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_answer_has_the_forced_text_the_stub_never_generated(stream: bool) -> None:
    from tests.inprocess import call, chat, gateway_on_stub
    from tests.stub_llama import StubLlama

    stub = await StubLlama(tokens=AFTER).start()
    async with gateway_on_stub(stub) as (app, _, _):
        reply = await call(app, "/v1/chat/completions", chat(
            "Where?", response_format=CITY, max_tokens=40, stream=stream,
            stream_options={"include_usage": True} if stream else None))
        sent = stub.last_payload
        assert sent["prompt"].endswith('assistant\n{"city')
        assert accepts(sent["grammar"], "".join(AFTER))
        assert not accepts(sent["grammar"], '{"city":"Oslo"}')
        if stream:
            events = [e for e in reply.events() if e != "[DONE]"]
            deltas = [e["choices"][0]["delta"].get("content") for e in events if e["choices"]]
            content = "".join(d for d in deltas if d)
            assert next(d for d in deltas if d).startswith('{"city')  # first, not at the end
            usage = events[-1]["usage"]
        else:
            body = reply.json()
            content, usage = body["choices"][0]["message"]["content"], body["usage"]
        assert content == '{"city":"Oslo"}'
        # the stub counts 3 tokens generated; the forced text's (estimated: no /tokenize)
        # are the answer's too, and not the prompt's
        assert usage["completion_tokens"] > 3 and usage["prompt_tokens"] < 10
        assert sent["n_predict"] < 40
    await stub.stop()


async def test_switched_off_the_grammar_goes_as_it_is() -> None:
    from tests.inprocess import call, chat, gateway_on_stub
    from tests.stub_llama import StubLlama

    stub = await StubLlama(tokens=['{"city":"', "Oslo", '"}']).start()
    async with gateway_on_stub(stub, jump_forward=False) as (app, _, _):
        body = (await call(app, "/v1/chat/completions", chat(
            "Where?", response_format=CITY, max_tokens=40))).json()
        assert stub.last_payload["prompt"].endswith("assistant\n")
        assert accepts(stub.last_payload["grammar"], '{"city":"Oslo"}')
        assert body["choices"][0]["message"]["content"] == '{"city":"Oslo"}'
        assert stub.last_payload["n_predict"] == 40
    await stub.stop()


class RefusingBackend(FakeBackend):
    """llama.cpp refusing any grammar but the one it was first given (a guard's test)."""

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        if payload["grammar"] != ENVELOPE:
            self.sent.append(payload)
            raise BackendError("llama.cpp refused the request: failed to parse grammar", 400)
        return await super().complete(payload)

    async def stream_batches(self, payload: dict[str, Any]) -> Any:
        if payload["grammar"] != ENVELOPE:
            self.sent.append(payload)
            raise BackendError("llama.cpp refused the request: failed to parse grammar", 400)
        async for batch in super().stream_batches(payload):
            yield batch


def test_a_refused_rest_grammar_sends_the_request_as_it_came_and_is_not_jumped_again(
        ) -> None:
    inner = RefusingBackend(answer='{"tool_calls":[{"name":"get_weather","arguments":'
                                   '{"city":"Oslo"}}]}')
    jf = JumpForwardBackend(inner)
    payload = {"prompt": "P:", "grammar": ENVELOPE, "n_predict": 64}
    result = asyncio.run(jf.complete(payload))
    assert [s["prompt"] for s in inner.sent] == ["P:" + analyse(ENVELOPE).text, "P:"]
    assert result["content"] == inner.answer and result["tokens_predicted"] == 5

    inner.sent.clear()
    assert asyncio.run(_stream_text(jf, payload)) == inner.answer
    assert [s["prompt"] for s in inner.sent] == ["P:"]  # remembered: no second try
    # streamed, the first try refused too
    fresh = RefusingBackend(answer=inner.answer)
    assert asyncio.run(_stream_text(JumpForwardBackend(fresh), payload)) == inner.answer
    assert [s["prompt"] for s in fresh.sent] == ["P:" + analyse(ENVELOPE).text, "P:"]


async def _stream_text(jf: JumpForwardBackend, payload: dict[str, Any]) -> str:
    return "".join([e["content"] async for b in jf.stream_batches(payload) for e in b])


def test_never_cut_inside_a_special_token() -> None:
    grammar = 'root ::= "<|tool_call_start|>" ("[" [a-z]+ "]" | "{}")\n'
    assert analyse(grammar).text == "<|tool_call_start"  # tokens split at `|>`: as text
    inner = FakeBackend()
    asyncio.run(JumpForwardBackend(inner).complete({
        "prompt": "P:", "grammar": grammar, "preserved_tokens": ["<|tool_call_start|>"]}))
    sent = inner.sent[0]  # the whole special token (a split after it), never a part
    assert sent["prompt"] == "P:<|tool_call_start|>"
    assert accepts(sent["grammar"], "{}") and accepts(sent["grammar"], "[ab]")
    assert analyse(grammar, ["<|tool_call_start|>"]).text == "<|tool_call_start|>"
    assert token_safe_cut("x <|a|", ["<|a|>"]) == 2  # one begun at the end: before it
    whole = 'root ::= "<|tool_call_start|>[" [a-z]+ "]"\n'
    asyncio.run(JumpForwardBackend(inner).complete({
        "prompt": "P:", "grammar": whole, "preserved_tokens": ["<|tool_call_start|>"]}))
    assert inner.sent[1]["prompt"] == "P:<|tool_call_start|>"  # `[` and the letters: model
