"""End-to-end: the generic dialect's `more_calls_pct` option on the real llama.cpp and demo
model. The call list is generated in parts (first call, a one-token probe, then more calls
or the end; with `more_calls_each` a probe after every call); the client sees one ordinary
answer, streamed and not, with valid calls."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Current time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"], "additionalProperties": False}}},
]
ASK = [{"role": "user", "content": "What is the weather in Oslo and the time in Lima?"}]


def gateway(gateway_factory, backend_url, pct: int, each: str = "off"):
    return gateway_factory("--endpoint", backend_url, "--dialect", "generic",
                           "--dialect-option", f"more_calls_pct={pct}",
                           "--dialect-option", f"more_calls_each={each}").openai()


def answer(client, stream: bool) -> tuple[list[tuple[str, dict]], str | None, int | None]:
    """(calls with decoded arguments, finish_reason, completion tokens)."""
    body = dict(model="demo", messages=ASK, tools=TOOLS, tool_choice="required",
                max_tokens=128, temperature=0)
    if not stream:
        r = client.chat.completions.create(**body)
        calls = r.choices[0].message.tool_calls or []
        return ([(c.function.name, json.loads(c.function.arguments)) for c in calls],
                r.choices[0].finish_reason, r.usage.completion_tokens)
    acc: dict[int, list[str]] = {}
    finish = tokens = None
    for chunk in client.chat.completions.create(**body, stream=True,
                                                stream_options={"include_usage": True}):
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for tc in choice.delta.tool_calls or []:
                entry = acc.setdefault(tc.index, ["", ""])
                entry[0] += tc.function.name or ""
                entry[1] += tc.function.arguments or ""
    return [(n, json.loads(a)) for _, (n, a) in sorted(acc.items())], finish, tokens


@pytest.mark.parametrize("stream", [False, True])
def test_a_certain_threshold_stops_after_the_first_call(gateway_factory, backend_url,
                                                         stream) -> None:
    """At 100% the model goes on only if it is certain: one call, closed by the gateway."""
    calls, finish, tokens = answer(gateway(gateway_factory, backend_url, 100), stream)
    assert finish == "tool_calls" and len(calls) == 1
    name, args = calls[0]
    assert name in ("get_weather", "get_time") and set(args) == {"city"}
    assert tokens is not None and 0 < tokens <= 128


@pytest.mark.parametrize("each", ["off", "on"])
def test_going_on_gives_one_answer_the_same_streamed_and_not(gateway_factory,
                                                             backend_url, each) -> None:
    """At 1% the next part runs after nearly any call: still one answer of valid,
    distinct calls, the same whether streamed or not, within max_tokens."""
    client = gateway(gateway_factory, backend_url, 1, each)
    plain, finish, tokens = answer(client, stream=False)
    streamed, s_finish, s_tokens = answer(client, stream=True)
    assert plain == streamed and finish == s_finish == "tool_calls"
    assert 1 <= len(plain) <= 4
    assert all(n in ("get_weather", "get_time") and set(a) == {"city"} for n, a in plain)
    assert len({json.dumps(c, sort_keys=True) for c in plain}) == len(plain)  # no repeats
    assert tokens == s_tokens and tokens is not None and 0 < tokens <= 129


# -- a further call's second try (more_calls_retry) ----------------------------------------

WEATHER = [{"type": "function", "function": {
    "name": "get_current_weather", "description": "Current weather of a location",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string", "description": "The city, e.g. San Francisco, CA"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location"]}}}]
TWO_CITIES = [{"role": "user",
               "content": "请问北京的当前天气状况如何？还有，上海的天气情况是怎样的？"}]


def _calls(client, stream: bool) -> list[tuple[str, str]]:
    body = dict(model="demo", messages=TWO_CITIES, tools=WEATHER, tool_choice="required",
                max_tokens=160, temperature=0)
    if not stream:
        message = client.chat.completions.create(**body).choices[0].message
        return [(c.function.name, c.function.arguments) for c in message.tool_calls or []]
    acc: dict[int, list[str]] = {}
    for chunk in client.chat.completions.create(**body, stream=True):
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                entry = acc.setdefault(tc.index, ["", ""])
                entry[0] += tc.function.name or ""
                entry[1] += tc.function.arguments or ""
    return [(n, a) for _, (n, a) in sorted(acc.items())]


def test_a_second_try_only_adds_calls_that_are_new(gateway_factory, backend_url) -> None:
    """The second try changes nothing before the point where one try gives up: the calls
    without it are where the calls with it begin; every further call with it is for a city
    no earlier call asked for; streamed and not the same. (On the demo model one try gives
    Shanghai alone, its second further call copying the first; the second try adds
    Beijing.)"""
    def client(retry: str):
        return gateway_factory("--endpoint", backend_url, "--dialect", "generic",
                               "--dialect-option", f"more_calls_retry={retry}").openai()
    with_retry, without = client("on"), client("off")
    plain, streamed = _calls(with_retry, False), _calls(with_retry, True)
    once = _calls(without, False)
    assert plain == streamed and 1 <= len(plain) <= 4
    assert plain[:len(once)] == once
    places = [json.loads(a).get("location") for _, a in plain]
    assert all(isinstance(p, str) and p for p in places)
    assert len(set(places)) == len(places)  # each call its own city


def test_llama_cpp_takes_the_second_trys_logit_bias(backend_url) -> None:
    """The bias format the second try sends (gateway.staged.BAN on token ids) moves
    llama.cpp's greedy choice off the banned token."""
    import urllib.request

    from gateway.staged import BAN

    def post(path: str, body: dict) -> dict:
        req = urllib.request.Request(backend_url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    ask = {"prompt": 'Weather in Paris: {"location":"', "n_predict": 1, "temperature": 0,
           "cache_prompt": True}
    first = post("/completion", ask)["content"]
    token = post("/tokenize", {"content": first})["tokens"][0]
    again = post("/completion", {**ask, "logit_bias": [[token, BAN]]})["content"]
    assert first and again and not again.startswith(first)



# -- a further call that brings nothing new, varied (more_calls_vary_pct) -------------------

STOCK = [{"type": "function", "function": {
    "name": "stock_price", "description": "The latest price of a stock",
    "parameters": {"type": "object", "properties": {"ticker": {"type": "string"}},
                   "required": ["ticker"]}}}]
TICKERS = [{"role": "user", "content": "Get me the stock prices of AAPL, MSFT and GOOG."}]


def test_varied_further_calls_take_items_the_request_lists(gateway_factory,
                                                           backend_url) -> None:
    """With variation on (the default; the unit tests in test_staged.py show the mechanism),
    on the demo model the further calls for "AAPL, MSFT and GOOG" (which copy the first,
    then are written again with the next listed ticker) give one call per ticker, each
    from the request's list, none twice, streamed and not the same."""
    c = gateway_factory("--endpoint", backend_url, "--dialect", "generic",
                        "--dialect-option", "more_calls_vary_pct=20").openai()

    def ask(stream: bool) -> list[str]:
        body = dict(model="demo", messages=TICKERS, tools=STOCK, tool_choice="required",
                    max_tokens=256, temperature=0)
        if not stream:
            message = c.chat.completions.create(**body).choices[0].message
            return [t.function.arguments for t in message.tool_calls or []]
        acc: dict[int, str] = {}
        for chunk in c.chat.completions.create(**body, stream=True):
            for choice in chunk.choices:
                for tc in choice.delta.tool_calls or []:
                    acc[tc.index] = acc.get(tc.index, "") + (tc.function.arguments or "")
        return [a for _, a in sorted(acc.items())]

    plain = ask(False)
    assert ask(True) == plain and len(plain) >= 2
    tickers = [json.loads(a)["ticker"] for a in plain]
    assert set(tickers) <= {"AAPL", "MSFT", "GOOG"} and len(set(tickers)) == len(tickers)


# -- a further call's copied values put in step with the request (more_calls_pair) ---------

CONVERT = [{"type": "function", "function": {
    "name": "currency.convert", "description": "Convert an amount between currencies.",
    "parameters": {"type": "object", "required": ["amount", "from_currency", "to_currency"],
                   "properties": {"amount": {"type": "number", "description": "amount"},
                                  "from_currency": {"type": "string", "description": "ISO code"},
                                  "to_currency": {"type": "string",
                                                  "description": "ISO code"}}}}}]
TWO_CONVERSIONS = [{"role": "user", "content": "Convert 100 USD to EUR and 250 GBP to JPY."}]


def required_arguments(c, messages: list[dict], tools: list[dict], *, stream: bool
                       ) -> list[dict]:
    """The decoded arguments of each call of a required answer at temperature 0."""
    body = dict(model="demo", messages=messages, tools=tools, tool_choice="required",
                max_tokens=256, temperature=0)
    if not stream:
        message = c.chat.completions.create(**body).choices[0].message
        return [json.loads(t.function.arguments) for t in message.tool_calls or []]
    acc: dict[int, str] = {}
    for chunk in c.chat.completions.create(**body, stream=True):
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                acc[tc.index] = acc.get(tc.index, "") + (tc.function.arguments or "")
    return [json.loads(a) for _, a in sorted(acc.items())]


@pytest.mark.parametrize("pair", ["on", "off"])
def test_a_further_call_takes_the_next_group_of_the_request(gateway_factory, backend_url,
                                                            pair) -> None:
    """On the demo model the second conversion moves on to 250 and JPY but copies the first
    call's USD; put in step (the default), it takes GBP, which stands to 250 as USD stood
    to 100. Off, the copy stays: the option, not the model, makes the call right."""
    c = gateway_factory("--endpoint", backend_url, "--dialect", "generic",
                        "--dialect-option", f"more_calls_pair={pair}").openai()
    plain = required_arguments(c, TWO_CONVERSIONS, CONVERT, stream=False)
    assert required_arguments(c, TWO_CONVERSIONS, CONVERT, stream=True) == plain
    right = [{"amount": 100, "from_currency": "USD", "to_currency": "EUR"},
             {"amount": 250, "from_currency": "GBP", "to_currency": "JPY"}]
    assert (plain == right) == (pair == "on"), plain


TICKETS = [{"type": "function", "function": {
    "name": "tickets_price", "description": "Price of tickets for a show.",
    "parameters": {"type": "object", "required": ["show", "quantity"],
                   "properties": {"show": {"type": "string", "description": "name of the show"},
                                  "quantity": {"type": "integer",
                                               "description": "number of tickets"}}}}}]
TWO_SHOWS = [{"role": "user", "content": "How much are 3 tickets for Hamilton and 2 tickets "
                                         "for Wicked?"}]


@pytest.mark.parametrize("realign", ["on", "off"])
def test_the_calls_are_put_in_step_with_each_other(gateway_factory, backend_url,
                                                   realign) -> None:
    """On the demo model the two calls swap the quantities: (Hamilton, 2), (Wicked, 3).
    Put in step with each other (the default), each show takes the number that stands to it
    as "N tickets for": the first call, already complete when the second was made, changes
    too. Off, the swap stays. Streamed and not, the same calls. Token by token: with the
    forced envelope in the prompt (jump-forward) the demo model gets this one right itself."""
    c = gateway_factory("--endpoint", backend_url, "--dialect", "generic", "--no-jump-forward",
                        "--dialect-option", f"more_calls_realign={realign}").openai()
    plain = required_arguments(c, TWO_SHOWS, TICKETS, stream=False)
    assert required_arguments(c, TWO_SHOWS, TICKETS, stream=True) == plain
    right = [{"show": "Hamilton", "quantity": 3}, {"show": "Wicked", "quantity": 2}]
    assert (plain == right) == (realign == "on"), plain
