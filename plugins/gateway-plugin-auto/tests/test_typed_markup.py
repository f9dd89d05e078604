"""Argument markup that says the value's JSON type (DeepSeek-V3.2 DSML `string="true|false"`,
Kimi K3 `type="number"`), and raw string values that must not run into the next parameter
(Seed-OSS, Qwen3-Coder): templates written for these tests in each shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from auto_helpers import context, written
from gateway.detection import round_trip
from gateway.dialect import ToolDef, assemble
from gateway.templating import ChatTemplate
from gateway.testing import accepts, parse_all, parse_gbnf
from gateway_plugin_auto import DIALECT, Spec
from test_generality import _TURNS  # the turns around an assistant's body(m)

# DeepSeek-V3.2's DSML: string="true" for a string, "false" for any value written as JSON
DSML = """{%- macro body(m) -%}
{{ m.content or '' }}
{%- if m.tool_calls %}<｜DSML｜function_calls>{% for c in m.tool_calls %}
<｜DSML｜invoke name="{{ c.function.name }}">
{%- for k, v in c.function.arguments | items %}
<｜DSML｜parameter name="{{ k }}" string="{{ 'true' if v is string else 'false' }}">
{{- v if v is string else v | tojson }}</｜DSML｜parameter>
{%- endfor %}
</｜DSML｜invoke>{% endfor %}
</｜DSML｜function_calls>{% endif %}
{%- endmacro %}""" + _TURNS

# Kimi K3: the JSON type by name (integers and floats are both "number")
KIND = """{%- macro kind(v) -%}
{%- if v is boolean %}boolean{% elif v is none %}null{% elif v is number %}number
{%- elif v is string %}string{% elif v is mapping %}object{% else %}array{% endif -%}
{%- endmacro %}
{%- macro body(m) -%}
{{ m.content or '' }}
{%- for c in m.tool_calls or [] %}<|open|>call tool="{{ c.function.name }}"<|sep|>
{%- for k, v in c.function.arguments | items %}<|open|>arg key="{{ k }}" type="{{ kind(v) }}"
{{- '<|sep|>' }}{{ v if v is string else v | tojson }}<|close|>arg<|sep|>
{%- endfor %}<|close|>call<|sep|>{% endfor %}
{%- endmacro %}""" + _TURNS

# Seed-OSS: raw string values between tags
RAW = """{%- macro body(m) -%}
{{ m.content or '' }}
{%- for c in m.tool_calls or [] %}<seed:tool_call>
<function={{ c.function.name }}>
{%- for k, v in c.function.arguments | items %}
<parameter={{ k }}>{{ v if v is string else v | tojson }}</parameter>
{%- endfor %}
</function>
</seed:tool_call>{% endfor %}
{%- endmacro %}""" + _TURNS

TRIP = ToolDef("plan_trip", "Plan a trip.", {"type": "object", "properties": {
    "city": {"type": "string"}, "days": {"type": "integer"}, "budget": {"type": "number"},
    "open": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "integer"}},
    "note": {}, "either": {"type": ["string", "integer"]}}, "required": ["city"]})
CALL = {"city": "Paris", "days": 3, "budget": 2.5, "open": True, "tags": [1], "note": "42",
        "either": 7}


def _spec(source: str, name: str) -> tuple[ChatTemplate, Spec]:
    template = ChatTemplate(source, name=name)
    spec = DIALECT.lookup(template)
    assert not isinstance(spec, str), spec
    return template, spec


def _grammar(template: ChatTemplate) -> Any:
    plan = context(template, [TRIP], "required").plan()
    assert plan.grammar
    return parse_gbnf(plan.grammar)


def _parsed(template: ChatTemplate, text: str) -> list[tuple[str, Any]]:
    out = assemble(parse_all(context(template, [TRIP]), list(text)))
    return [(c.name, json.loads(c.arguments)) for c in out.tool_calls]


@pytest.mark.parametrize("source, name, marks", [
    (DSML, "dsml", {"string": '" string="true">', "integer": '" string="false">',
                    "null": '" string="false">', "array": '" string="false">'}),
    (KIND, "kind", {"string": '" type="string"<|sep|>', "integer": '" type="number"<|sep|>',
                    "number": '" type="number"<|sep|>', "boolean": '" type="boolean"<|sep|>',
                    "null": '" type="null"<|sep|>', "object": '" type="object"<|sep|>'}),
])
def test_type_markup_is_derived_per_type(source: str, name: str, marks: dict[str, str]
                                         ) -> None:
    template, spec = _spec(source, name)
    assert spec.args is not None and not spec.args.quote_open
    typed = dict(spec.args.typed)
    assert {k: typed[k] for k in marks} == marks
    evidence = round_trip(DIALECT, template)
    assert evidence.ok and evidence.parallel, evidence.reason
    # the parser reads each value by the type its markup names, the template's own text
    text = written(template, [("plan_trip", CALL)], "Planning.")
    assert _parsed(template, text) == [("plan_trip", CALL)]
    assert spec.render_calls([("plan_trip", CALL)]) in text  # render writes what it writes


def test_dsml_grammar_asks_for_each_parameters_own_markup() -> None:
    template, spec = _spec(DSML, "dsml")
    g = _grammar(template)
    good = spec.render_calls([("plan_trip", {"city": "Paris", "days": 3, "open": False})])
    assert accepts(g, good)
    for wrong in ('name="days" string="false">3', 'name="city" string="true">Paris'):
        flipped = wrong.replace("false", "TMP").replace("true", "false").replace("TMP", "true")
        assert wrong in good and not accepts(g, good.replace(wrong, flipped)), flipped
    # an untyped parameter and one of several types: each type with its own markup
    for note in ("a text", 42, None, [1, "x"]):
        for either in ("x", 7):
            call = {"city": "Paris", "note": note, "either": either}
            text = spec.render_calls([("plan_trip", call)]).replace(", ", ",")
            assert accepts(g, text), text
    text = spec.render_calls([("plan_trip", {"city": "Paris", "either": 7})])
    assert not accepts(g, text.replace('string="false">7', 'string="false">"7"'))
    assert not accepts(g, text.replace('string="false">7', 'string="false">true'))


def test_kind_grammar_asks_for_each_parameters_own_markup() -> None:
    template, spec = _spec(KIND, "kind")
    g = _grammar(template)
    call = {"city": "Paris", "days": 3, "budget": 2.5, "open": True}
    good = spec.render_calls([("plan_trip", call)])
    assert accepts(g, good)
    for wrong, other in (('"days" type="number"', '"days" type="string"'),
                         ('"days" type="number"', '"days" type="boolean"'),
                         ('"open" type="boolean"', '"open" type="number"'),
                         ('"city" type="string"', '"city" type="null"')):
        assert wrong in good and not accepts(g, good.replace(wrong, other)), other


def test_markup_not_schema_decides_how_a_value_reads() -> None:
    """`note` (no type) written as a string stays "42"; written as JSON it is 42."""
    template, spec = _spec(DSML, "dsml")
    as_string = spec.render_calls([("plan_trip", {"city": "Paris", "note": "42"})])
    as_json = as_string.replace('string="true">42', 'string="false">42')
    assert as_json != as_string
    assert _parsed(template, as_string)[0][1]["note"] == "42"
    assert _parsed(template, as_json)[0][1]["note"] == 42
    # a string-typed parameter that the markup says is JSON: read as JSON (the gate judges)
    odd = as_string.replace('"city" string="true">Paris', '"city" string="false">[1]')
    assert _parsed(template, odd)[0][1]["city"] == [1]


def test_untyped_markup_stays_untyped() -> None:
    _, spec = _spec(RAW, "raw")
    assert spec.args is not None and spec.args.typed == ()
    assert (spec.args.open, spec.args.key_end, spec.args.close) == (
        "<parameter=", ">", "</parameter>")


def test_raw_value_cannot_swallow_the_next_parameter() -> None:
    template, spec = _spec(RAW, "raw")
    g = _grammar(template)

    def call(city: str) -> str:
        return spec.render_calls([("plan_trip", {"city": city, "days": 2})])

    for fine in ("Paris", "a < b", "x<y", "<p>Paris</p>"[:-4], "<parameters>", "<func>",
                 "<seed>", "1 <= 2"):
        assert accepts(g, call(fine)), fine
    for bad in ("\n<value>\nParis\n<parameter=days>2", "Paris<function=plan_trip>",
                "Paris\n<seed:tool_call>", "Paris</x", "a <<b"):
        assert not accepts(g, call(bad)), bad
    # what the template writes still reads back
    text = written(template, [("plan_trip", {"city": "a < b", "days": 2})])
    assert _parsed(template, text) == [("plan_trip", {"city": "a < b", "days": 2})]
