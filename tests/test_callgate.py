"""The last gate before the client: schema-invalid, unknown, cut-off and repeated calls never
go out, streamed or not, whatever the dialect produced."""

from __future__ import annotations

import json

import pytest
from gateway.callgate import CallGate, GatedParser, check_tool_schemas, gate_output
from gateway.dialect import Delta, ParsedOutput, ParsedToolCall, ToolDef, assemble
from gateway.errors import GatewayError

WEATHER = ToolDef("get_weather", "", {
    "type": "object", "properties": {"city": {"type": "string", "minLength": 1},
                                     "days": {"type": "integer", "maximum": 7}},
    "required": ["city"], "additionalProperties": False})
TOOLS = [WEATHER, ToolDef("noop", "", {"type": "object", "properties": {}})]


class ScriptedParser:
    """A dialect parser stand-in that replays a fixed delta script, one delta per feed."""

    def __init__(self, script: list[Delta]) -> None:
        self.script = list(script)

    def feed(self, text: str) -> list[Delta]:
        return [self.script.pop(0)] if self.script else []

    def finish(self) -> list[Delta]:
        rest, self.script = self.script, []
        return rest


def call(index: int, name: str, args: str) -> list[Delta]:
    return [Delta("tool_start", index=index, id=f"call_{index}", name=name),
            Delta("tool_args", args[:3], index=index), Delta("tool_args", args[3:], index=index)]


def run(script: list[Delta], complete: bool = True) -> tuple[list[Delta], CallGate]:
    gate = CallGate(TOOLS)
    parser = GatedParser(ScriptedParser(script), gate)
    out: list[Delta] = []
    for _ in range(len(script)):
        out += parser.feed("x")
    out += parser.finish(complete=complete)
    return out, gate


@pytest.mark.parametrize("args, why", [
    ('{"city":""}', "schema"),                  # minLength
    ('{"city":"Paris","days":9}', "schema"),    # maximum
    ('{"town":"Paris"}', "schema"),             # required / additionalProperties
    ('{"city":"Par', "not JSON"),               # a stop word cut the call
    ('["Paris"]', "not a JSON object"),
    ('{"city":"\\ud800"}', "surrogate"),        # lone surrogate escape
])
def test_invalid_arguments_never_go_out(args, why):
    out, gate = run(call(0, "get_weather", args))
    assert not [d for d in out if d.kind.startswith("tool")]
    assert why in gate.rejected[0].reason
    parsed = gate_output(ParsedOutput(tool_calls=[ParsedToolCall("c", "get_weather", args)]),
                         CallGate(TOOLS), complete=True)
    assert parsed.tool_calls == []


def test_unknown_tool_is_dropped():
    out, gate = run(call(0, "rm_rf", "{}"))
    assert not out and "no such tool" in gate.rejected[0].reason


def test_repeated_call_is_dropped_and_indices_stay_dense():
    script = (call(0, "get_weather", '{"city":"Paris"}') + call(1, "get_weather",
              '{"city":"Paris"}') + call(2, "get_weather", '{"city":"Rome"}'))
    out, gate = run(script)
    got = assemble(out)
    assert [(c.name, json.loads(c.arguments)) for c in got.tool_calls] == [
        ("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]
    assert [d.index for d in out if d.kind == "tool_start"] == [0, 1]
    assert "already made" in gate.rejected[0].reason
    # same rule without streaming; key order does not make a call new
    calls = [ParsedToolCall("a", "get_weather", '{"city":"Paris","days":1}'),
             ParsedToolCall("b", "get_weather", '{"days":1,"city":"Paris"}')]
    assert len(gate_output(ParsedOutput(tool_calls=calls), CallGate(TOOLS), True).tool_calls) == 1


def test_a_call_is_held_until_the_parser_moves_on():
    gate = CallGate(TOOLS)
    script = call(0, "get_weather", '{"city":"Paris"}') + [Delta("content", "done")]
    parser = GatedParser(ScriptedParser(script), gate)
    released = [parser.feed("x") for _ in range(3)]
    assert released == [[], [], []]  # start and argument fragments held back
    after = parser.feed("x")
    assert [d.kind for d in after] == ["tool_start", "tool_args", "content"]
    assert after[1].text == '{"city":"Paris"}'


def test_cut_off_call_is_dropped_but_finished_ones_stay():
    script = call(0, "get_weather", '{"city":"Paris"}') + call(1, "noop", "{}")
    out, gate = run(script, complete=False)
    assert [d.name for d in out if d.kind == "tool_start"] == ["get_weather"]
    assert "cut off" in gate.rejected[-1].reason
    calls = [ParsedToolCall("a", "get_weather", '{"city":"Paris"}'),
             ParsedToolCall("b", "noop", "{}")]
    kept = gate_output(ParsedOutput(tool_calls=calls), CallGate(TOOLS), complete=False)
    assert [c.name for c in kept.tool_calls] == ["get_weather"]


def test_empty_arguments_are_an_empty_object():
    out, _ = run([Delta("tool_start", index=0, id="c", name="noop")])
    assert assemble(out).tool_calls[0].arguments == "{}"


def test_invalid_tool_schema_is_a_400_naming_the_tool():
    with pytest.raises(GatewayError) as err:
        check_tool_schemas([ToolDef("f", "", {"type": "dict"})])
    assert err.value.status == 400 and "'f'" in err.value.message
    assert err.value.param == "tools[0].function.parameters"
    assert '"dict" is not a JSON Schema type' in err.value.message
    assert 'did you mean "object"?' in err.value.message


@pytest.mark.parametrize("schema,said", [
    ({"type": "object", "properties": {"a": {"type": "String"}}},
     'did you mean "string"? (at /properties/a/type)'),
    ({"type": "object", "properties": {"x/y": {"type": ["integer", "float"]}}},
     '"float" is not a JSON Schema type'),
    ({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "any"}}}},
     "leave `type` out to allow any value (at /properties/a/items/type)"),
    ({"type": "object", "properties": {"a": {"type": "Widget"}}},
     '"string") (at /properties/a/type)'),
    ({"type": "object", "required": "a"}, "(at /required)"),
])
def test_a_schema_error_says_where_and_what_was_meant(schema, said):
    """A type name from another dialect ("String", "float", "any") is named with the JSON
    Schema types and the likely one, and every error says where in the schema it is."""
    with pytest.raises(GatewayError) as err:
        check_tool_schemas([ToolDef("f", "", schema)])
    assert said in err.value.message, err.value.message


def test_a_string_copied_without_its_spaces_goes_out_as_the_user_wrote_it():
    code = ToolDef("code", "", {"type": "object", "properties": {
        "city": {"type": "string"}, "id": {"type": "string", "pattern": "^[A-Za-z]+$"},
        "tags": {"type": "array", "items": {"type": "string"}}}})
    request = "Weather for Boston, MA and Ha  Noi? ID: Ab Cd. Tag los angeles"
    script = call(0, "code", '{"city":"Boston,MA","tags":["HaNoi","Boston","LosAngeles"]}')
    gate = CallGate([code], request)
    out = GatedParser(ScriptedParser(script), gate)
    deltas = [d for _ in script for d in out.feed("x")] + out.finish()
    got = json.loads(assemble(deltas).tool_calls[0].arguments)
    # the user's own spacing (nested too); a piece found whole, or in another case, stays
    assert got == {"city": "Boston, MA", "tags": ["Ha  Noi", "Boston", "LosAngeles"]}
    # a respelling the schema refuses is not made: the call goes out as the model wrote it
    same = [ParsedToolCall("a", "code", '{"id":"AbCd"}')]
    kept = gate_output(ParsedOutput(tool_calls=same), CallGate([code], request), True)
    assert json.loads(kept.tool_calls[0].arguments) == {"id": "AbCd"}
    # short strings are left alone; without the request nothing changes
    for args, req in (('{"city":"a,b"}', "a, b"), ('{"city":"Boston,MA"}', "")):
        kept = gate_output(ParsedOutput(tool_calls=[ParsedToolCall("a", "code", args)]),
                           CallGate([code], req), True)
        assert kept.tool_calls[0].arguments == args
    # a respelled call that repeats an earlier one is still a repeat
    twice = [ParsedToolCall("a", "code", '{"city":"Boston, MA"}'),
             ParsedToolCall("b", "code", '{"city":"Boston,MA"}')]
    assert len(gate_output(ParsedOutput(tool_calls=twice), CallGate([code], request),
                           True).tool_calls) == 1
