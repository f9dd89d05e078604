"""contrib/bench/bfcl_score.py: schema conversion, validation, repeat detection, stream
assembly and the BFCL AST check (no server)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from types import SimpleNamespace as NS

import pytest


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "contrib" / "bench" / "bfcl_score.py"
    spec = importlib.util.spec_from_file_location("bfcl_score", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bfcl_score", mod)
    spec.loader.exec_module(mod)
    return mod


bs = _load()

DOC = {"type": "dict", "required": ["loc"], "properties": {
    "loc": {"type": "string", "description": "City"},
    "temp": {"type": "float", "default": 1.5},
    "pair": {"type": "tuple", "items": {"type": "integer"}},
    "anything": {"type": "any"},
    "opts": {"type": "dict", "properties": {"deep": {"type": "float"}}},
    "rows": {"type": "array", "items": {"type": "dict", "properties": {
        "x": {"type": "tuple", "items": {"type": "float"}}}}},
}}


def test_to_json_schema_converts_nested_types_and_keeps_the_rest() -> None:
    s = bs.to_json_schema(DOC)
    p = s["properties"]
    assert s["type"] == "object" and s["required"] == ["loc"]
    assert p["temp"] == {"type": "number", "default": 1.5, "format": "float",
                         "description": " This is a float type value."}
    assert p["pair"] == {"type": "array", "items": {"type": "integer"}}
    assert p["anything"] == {"type": "string"}  # BFCL's own mapping of "any"
    assert p["opts"]["type"] == "object" and p["opts"]["properties"]["deep"]["type"] == "number"
    x = p["rows"]["items"]["properties"]["x"]
    assert p["rows"]["items"]["type"] == "object" and x["type"] == "array" and \
        x["items"]["type"] == "number"
    assert DOC["properties"]["temp"]["type"] == "float"  # input untouched


JAVA_DOC = {"name": "Foo.bar", "description": "Does it.", "parameters": {
    "type": "dict", "required": ["map", "ids"], "properties": {
        "map": {"type": "HashMap", "description": "The entries."},
        "ids": {"type": "ArrayList", "description": "The ids.", "items": {"type": "String"}},
        "who": {"type": "any", "description": "Anyone."}}}}


def test_java_and_javascript_parameters_are_asked_as_strings_in_their_syntax() -> None:
    """BFCL's own preparation: Java/JavaScript types become strings described in words, so
    a case sends no type name JSON Schema lacks ("String", "HashMap")."""
    (java,) = bs.to_tools([JAVA_DOC], "simple_java")
    params = java["function"]["parameters"]
    assert java["function"]["description"].endswith("in Java 8 SDK syntax.")
    assert {p["type"] for p in params["properties"].values()} == {"string"}
    assert "Java HashMap type parameter in string representation" in \
        params["properties"]["map"]["description"]
    assert "elements are of type String" in params["properties"]["ids"]["description"]
    assert "items" not in params["properties"]["ids"]
    assert "any type of Java object" in params["properties"]["who"]["description"]
    js_doc = {"name": "f", "description": "d", "parameters": {"type": "dict", "properties": {
        "opts": {"type": "dict", "description": "o", "properties": {"a": {"type": "integer"}}},
        "xs": {"type": "array", "description": "x", "items": {"type": "integer"}}}}}
    (js,) = bs.to_tools([js_doc], "simple_javascript")
    props = js["function"]["parameters"]["properties"]
    assert props["opts"] == {"type": "string", "description": props["opts"]["description"]}
    assert '{"a": {"type": "integer"}}' in props["opts"]["description"]
    assert props["xs"]["type"] == "string" and "items" not in props["xs"]
    (py,) = bs.to_tools([js_doc], "simple_python")  # Python: types kept, a hint added
    assert py["function"]["parameters"]["properties"]["xs"]["type"] == "array"
    assert py["function"]["description"].endswith("in Python 3 syntax.")
    assert JAVA_DOC["parameters"]["properties"]["map"]["type"] == "HashMap"  # input untouched
    assert bs.language("simple_java") == "java" and bs.language("live_simple") == "python"


def test_java_answers_are_checked_by_the_java_checker() -> None:
    doc = [{"name": "Foo.bar", "description": "d", "parameters": {
        "type": "dict", "required": ["n"], "properties": {"n": {"type": "integer"}}}}]
    truth = [{"Foo.bar": {"n": [5]}}]
    assert bs.ast_ok({"function": doc}, [("Foo.bar", '{"n": "5"}')], truth, "simple_java")
    assert not bs.ast_ok({"function": doc}, [("Foo.bar", '{"n": "6"}')], truth, "simple_java")


def test_to_tools_keeps_dotted_names_and_validation() -> None:
    tools = bs.to_tools([{"name": "weather.get", "description": "d", "parameters": DOC}])
    assert tools[0]["function"]["name"] == "weather.get"
    calls = [("weather.get", '{"loc": "Paris", "temp": 2}'),
             ("weather.get", '{"temp": 2}'),            # missing required
             ("weather.get", '{"loc": 3}'),             # wrong type
             ("other", '{"loc": "Paris"}'),             # unknown tool
             ("weather.get", '{"loc": ')]               # not JSON
    assert bs.calls_valid(calls, tools) == [True, False, False, False, False]


def test_has_repeat_compares_parsed_arguments() -> None:
    assert bs.has_repeat([("f", '{"a": 1, "b": 2}'), ("f", '{"b":2,"a":1}')])
    assert not bs.has_repeat([("f", '{"a": 1}'), ("f", '{"a": 2}'), ("g", '{"a": 1}')])


def test_assemble_stream_merges_by_index() -> None:
    def chunk(*tcs: NS) -> NS:
        return NS(choices=[NS(delta=NS(tool_calls=list(tcs), content=None),
                              finish_reason=None)])

    def tc(i: int, name: str | None = None, args: str | None = None) -> NS:
        return NS(index=i, function=NS(name=name, arguments=args))

    chunks = [chunk(tc(0, "f", "")), chunk(tc(0, None, '{"a":')), chunk(tc(1, "g", "{}")),
              chunk(tc(0, None, " 1}")), NS(choices=[NS(delta=NS(tool_calls=None, content="hi"),
                                               finish_reason="tool_calls")]),
              NS(choices=[])]
    calls, finish, text = bs.assemble_stream(chunks)
    assert calls == [("f", '{"a": 1}'), ("g", "{}")] and finish == "tool_calls" and text == "hi"


CASE = {"id": "t", "function": [{"name": "get.weather", "description": "", "parameters": {
    "type": "dict", "required": ["city"], "properties": {
        "city": {"type": "string"}, "days": {"type": "float"},
        "unit": {"type": "string", "enum": ["c", "f"]}}}}]}
TRUTH = [{"get.weather": {"city": ["San Francisco", "SF"], "days": [3.0], "unit": ["", "c"]}}]


@pytest.mark.parametrize(("calls", "ok"), [
    ([("get.weather", '{"city": "san francisco", "days": 3}')], True),  # case, int for float
    ([("get.weather", '{"city": "S.F.", "days": 3.0, "unit": "c"}')], True),
    ([("get.weather", '{"city": "Paris", "days": 3}')], False),
    ([("get.weather", '{"city": "SF"}')], False),                      # days not optional
    ([("get.weather", '{"city": "SF", "days": 3, "unit": "f"}')], False),
    ([("weather", '{"city": "SF", "days": 3}')], False),
    ([("get.weather", '{"city": "SF", "days": 3}')] * 2, False),        # simple wants one
    ([], False),
    ([("get.weather", "not json")], False),
])
def test_ast_ok_simple(calls: list[tuple[str, str]], ok: bool) -> None:
    pytest.importorskip("bfcl_eval")
    assert bs.ast_ok(CASE, calls, TRUTH, "live_simple") is ok


def test_ast_ok_parallel_order_free() -> None:
    pytest.importorskip("bfcl_eval")
    truth = [{"get.weather": {"city": ["SF"], "days": [1.0], "unit": [""]}},
             {"get.weather": {"city": ["LA"], "days": [2.0], "unit": [""]}}]
    la, sf = ('{"city": "LA", "days": 2}', '{"city": "SF", "days": 1}')
    calls = [("get.weather", la), ("get.weather", sf)]
    assert bs.ast_ok(CASE, calls, truth, "live_parallel")
    assert not bs.ast_ok(CASE, calls[:1], truth, "live_parallel")


def test_ground_truth_of_real_cases_passes() -> None:
    pytest.importorskip("bfcl_eval")
    cases, truth = bs.load("live_simple")
    assert truth is not None
    case = cases[0]
    args = {k: v[0] for k, v in truth[case["id"]][0][case["function"][0]["name"]].items()
            if v[0] != ""}
    calls = [(case["function"][0]["name"], json.dumps(args))]
    assert bs.ast_ok(case, calls, truth[case["id"]], "live_simple")
    assert all(bs.calls_valid(calls, bs.to_tools(case["function"])))


def test_score_counts_answers_with_the_wanted_number_of_calls(monkeypatch) -> None:
    """count_pct: answers with as many calls as the ground truth, whatever their values."""
    pytest.importorskip("bfcl_eval")
    import argparse

    cases, truth = bs.load("live_parallel")
    assert truth is not None
    answers = iter([1, 2, 3])  # the first three cases want 2 calls each

    def ask(client, a, case, tools):
        name = case["function"][0]["name"]
        return [(name, "{}")] * next(answers), None, 0.1, {}

    monkeypatch.setattr(bs, "ask", ask)
    a = argparse.Namespace(offset=0, limit=3, verbose=False, tool_choice="required")
    row, records = bs.score(None, a, "live_parallel")
    assert [r["wanted_calls"] for r in records] == [2, 2, 2]
    assert row["count_pct"] == pytest.approx(33.3) and row["calls_per_answer"] == 2.0
