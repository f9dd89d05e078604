"""contrib/agent without a model: tool schemas from type hints, the safe example tools, the
code tool's isolation, loading a user's tools module, and the loop's rules (results fed back,
a repeated call ends in an answer, the step limit) driven by a scripted client."""

from __future__ import annotations

import json
import os
import textwrap
from types import SimpleNamespace
from typing import Literal

import jsonschema
import pytest
from pydantic import BaseModel

from contrib.agent import Agent, Toolbox, function_tool
from contrib.agent.cli import _interactive, load_tools_module, loop_defaults, main
from contrib.agent.code_tool import python_runner
from contrib.agent.example_tools import calculate, current_time, file_reader, get_weather
from contrib.agent.printer import Printer
from contrib.agent.toolbox import parse_docstring


class Point(BaseModel):
    x: float
    y: float


def book(city: str, nights: int, kind: Literal["hotel", "hostel"] = "hotel",
         near: Point | None = None, tags: list[str] | None = None) -> str:
    """Book a room.

    Longer text that is still the summary.

    Args:
        city: where to stay.
        nights: how many nights,
            at least one.
        kind: the kind of place.

    Returns:
        a booking id.
    """
    return f"{city}:{nights}:{kind}:{near}:{tags}"


def test_schema_from_type_hints_and_docstring():
    spec = function_tool(book).spec()["function"]
    assert spec["name"] == "book"
    assert spec["description"] == "Book a room. Longer text that is still the summary."
    params = spec["parameters"]
    jsonschema.Draft202012Validator.check_schema(params)
    assert params["required"] == ["city", "nights"]
    assert params["additionalProperties"] is False
    props = params["properties"]
    assert props["nights"] == {"type": "integer", "description": "how many nights, at least one."}
    assert props["kind"]["enum"] == ["hotel", "hostel"] and props["kind"]["default"] == "hotel"
    assert "title" not in json.dumps(params).replace('"title": {', "")  # titles stripped
    assert "$defs" in params and "Point" in params["$defs"]
    jsonschema.validate({"city": "Oslo", "nights": 2, "near": {"x": 1, "y": 2}}, params)


def test_a_property_named_title_is_kept():
    def note(title: str, body: str = "") -> str:
        """Write a note."""
        return title
    props = function_tool(note).parameters()["properties"]
    assert set(props) == {"title", "body"}


def test_arguments_are_validated_and_errors_become_results():
    box = Toolbox([book])
    assert box.run("book", '{"city": "Oslo", "nights": "3"}') == "Oslo:3:hotel:None:None"
    assert box.run("book", '{"city": "Oslo", "nights": 1, "near": {"x": 1, "y": 2}}') \
        .endswith(":x=1.0 y=2.0:None")
    out = box.run("book", '{"city": "Oslo"}')
    assert out.startswith("error: invalid arguments for book") and "nights" in out
    assert box.run("book", '{"city": "Oslo", "nights": 1, "extra": 1}').startswith("error:")
    assert box.run("nope", "{}") == "error: no tool named 'nope'"
    assert box.run("book", "[1]").startswith("error: ValueError")


def test_functions_a_model_cannot_fill_are_refused():
    def star(*args: int) -> int:
        return 0

    def untyped(x):  # noqa: ANN001
        return x
    with pytest.raises(TypeError, match="args"):
        function_tool(star)
    with pytest.raises(TypeError, match="type hint"):
        function_tool(untyped)
    with pytest.raises(ValueError, match="two tools"):
        Toolbox([calculate, calculate])


def test_docstring_without_args_section():
    assert parse_docstring("Just one line.") == ("Just one line.", {})
    assert parse_docstring("") == ("", {})


@pytest.mark.parametrize(("expr", "value"), [
    ("17*23", "391"), ("2^10", "1024"), ("(1+2)/4", "0.75"), ("sqrt(16)", "4"),
    ("-3 % 5", "2"), ("round(pi, 2)", "3.14"), ("max(1, 7, 3)", "7")])
def test_calculate(expr, value):
    assert calculate(expr) == value


@pytest.mark.parametrize("expr", ["__import__('os').system('true')", "open('x')",
                                  "(1).__class__", "x", "2**10**10", "'a'*3", "[1,2]"])
def test_calculate_refuses_what_is_not_arithmetic(expr):
    box = Toolbox([calculate])
    assert box.run("calculate", json.dumps({"expression": expr})).startswith("error:")


def test_current_time_and_weather_stub():
    assert "UTC" in current_time() and current_time("Europe/Paris")[:4].isdigit()
    with pytest.raises(ValueError, match="unknown time zone"):
        current_time("Mars/Olympus")
    a, b = get_weather("Paris"), get_weather("paris", "fahrenheit")
    assert a == get_weather("Paris") and a["unit"] == "celsius" and b["unit"] == "fahrenheit"


def test_read_file_stays_in_its_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path.parent / "secret.txt").write_text("no")
    box = Toolbox([file_reader(tmp_path)])
    assert box.run("read_file", '{"path": "notes.txt"}') == "hello"
    assert "outside" in box.run("read_file", '{"path": "../secret.txt"}')
    assert "outside" in box.run("read_file", json.dumps({"path": str(tmp_path.parent)}))
    assert "no file" in box.run("read_file", '{"path": "missing.txt"}')


def test_code_runs_in_a_subprocess_with_a_timeout():
    run = python_runner(timeout=2)
    assert run(f"import os; print(os.getpid() != {os.getpid()})") == "True"
    assert "ZeroDivisionError" in run("1/0") and run("1/0").startswith("exit code 1")
    assert "longer than 2 s" in run("while True: pass")


def test_code_tool_only_with_the_flag(monkeypatch):
    from contrib.agent import cli
    seen = {}

    class Stop(Exception):
        pass

    def fake_agent(client, model, toolbox, **kw):
        seen["tools"] = set(toolbox.tools)
        raise Stop
    monkeypatch.setattr(cli, "Agent", fake_agent)
    monkeypatch.setattr(cli.openai, "OpenAI", lambda **kw: SimpleNamespace(
        models=SimpleNamespace(list=lambda: SimpleNamespace(data=[SimpleNamespace(id="m")]))))
    for flags, has_code in (([], False), (["--allow-code"], True)):
        with pytest.raises(Stop):
            main(["--base-url", "http://127.0.0.1:9/v1", "--prompt", "x", *flags])
        assert ("run_python" in seen["tools"]) is has_code
        assert {"calculate", "current_time", "get_weather", "read_file"} <= seen["tools"]


def test_user_tools_module(tmp_path):
    f = tmp_path / "mytools.py"
    f.write_text(textwrap.dedent('''
        from math import floor

        def shout(text: str) -> str:
            """Upper-case the text."""
            return text.upper()

        def _helper() -> None:
            pass
    '''))
    fns = load_tools_module(str(f))
    assert [fn.__name__ for fn in fns] == ["shout"]  # imported and private names left out
    g = tmp_path / "listed.py"
    g.write_text("def a(x: int) -> int:\n    return x\n\ndef b() -> int:\n    return 1\n"
                 "TOOLS = [b]\n")
    assert [fn.__name__ for fn in load_tools_module(str(g))] == ["b"]


def test_demo_model_gets_one_required_round_then_the_answer():
    demo = loop_defaults("SmolLM2-135M-Instruct.Q4_1")
    assert (demo["tool_choice"], demo["max_steps"], demo["parallel_tool_calls"]) == (
        "required", 2, False)
    other = loop_defaults("qwen2.5-7b-instruct")
    assert (other["tool_choice"], other["max_steps"], other["parallel_tool_calls"]) == (
        "auto", 6, None)


# -- the loop, with a scripted client ------------------------------------------------------

def _chunk(content=None, reasoning=None, calls=None):
    delta = SimpleNamespace(content=content, reasoning_content=reasoning, tool_calls=[
        SimpleNamespace(index=i, id=f"id{i}" if part == 0 else None,
                        function=SimpleNamespace(name=name if part == 0 else None,
                                                 arguments=args))
        for i, (name, args, part) in enumerate(calls or [])])
    return SimpleNamespace(choices=[SimpleNamespace(delta=delta)])


class ScriptedClient:
    """Answers each create() with the next scripted turn, recording the requests."""

    def __init__(self, turns):
        self.turns = list(turns)
        self.requests = []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))

    def _create(self, **kw):
        self.requests.append(json.loads(json.dumps(kw)))
        return iter(self.turns.pop(0))


def _call_turn(name, args):
    half = len(args) // 2  # arguments arrive in pieces, as when streamed
    return [_chunk(reasoning="let me use a tool"), _chunk(calls=[(name, args[:half], 0)]),
            _chunk(calls=[(name, args[half:], 1)])]


def test_loop_runs_calls_and_feeds_results_back(capsys):
    client = ScriptedClient([_call_turn("calculate", '{"expression": "17*23"}'),
                             [_chunk("It is "), _chunk("391.")]])
    agent = Agent(client, "m", Toolbox([calculate]), first_tool_choice="required",
                  parallel_tool_calls=False, printer=Printer(color=False))
    result = agent.run("What is 17*23?")
    assert client.requests[0]["parallel_tool_calls"] is False
    assert result.answer == "It is 391." and result.results == ["391"] and result.steps == 2
    assert [r["tool_choice"] for r in client.requests] == ["required", "auto"]
    tool_msg = client.requests[1]["messages"][-1]
    assert tool_msg == {"role": "tool", "tool_call_id": "id0", "content": "391"}
    out = capsys.readouterr().out
    assert "thought: let me use a tool" in out and '→ call calculate({"expression": "17*23"})' \
        in out and "← calculate: 391" in out and "It is 391." in out


def test_a_repeated_call_is_not_run_again_and_the_next_step_must_answer():
    args = '{"expression": "1+1"}'
    client = ScriptedClient([_call_turn("calculate", args), _call_turn("calculate", args),
                             [_chunk("2")]])
    result = Agent(client, "m", Toolbox([calculate]), printer=Printer(color=False)).run("1+1?")
    assert len(result.calls) == 1 and result.answer == "2"
    assert [r["tool_choice"] for r in client.requests] == ["auto", "auto", "none"]
    # the repeat gets the earlier result again, not a note the model could parrot
    assert client.requests[-1]["messages"][-1]["content"] == "2"


def test_step_limit_asks_for_the_answer_without_tools(capsys):
    client = ScriptedClient([_call_turn("calculate", '{"expression": "1+1"}'),
                             _call_turn("calculate", '{"expression": "2+2"}'), [_chunk("done")]])
    result = Agent(client, "m", Toolbox([calculate]), max_steps=3,
                   printer=Printer(color=False)).run("go")
    assert result.stopped_at_limit and result.answer == "done" and result.steps == 3
    assert client.requests[-1]["tool_choice"] == "none"
    assert "step 3 of 3: the answer, without tools" in capsys.readouterr().out


def test_interactive_session_keeps_the_conversation(monkeypatch, capsys):
    client = ScriptedClient([[_chunk("Hi!")], [_chunk("Again.")], [_chunk("Fresh.")]])
    agent = Agent(client, "m", Toolbox([calculate]), printer=Printer(color=False))
    lines = iter(["hello", "", "/tools", "more", "/reset", "new", "/quit", "never read"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert _interactive(agent) == 0
    out = capsys.readouterr().out
    assert "calculate: Evaluate an arithmetic expression" in out and "[new conversation]" in out
    assert [len(r["messages"]) for r in client.requests] == [1, 3, 1]  # /reset forgot it
    assert next(lines) == "never read"


def test_interactive_ends_on_ctrl_d(monkeypatch):
    def eof(prompt=""):
        raise EOFError
    monkeypatch.setattr("builtins.input", eof)
    assert _interactive(Agent(ScriptedClient([]), "m", Toolbox())) == 0
