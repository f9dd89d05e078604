"""The plugin author's kit in the core: the shared call-argument reader and grammar helpers,
and the conformance suite catching a grammar or a prompt that does not match the parser."""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar

import pytest
from gateway.callargs import ArgsRepair, JsonArgs, string_arguments, valid_scalar
from gateway.callgrammar import call_list, grammar_text, lazy_plan, response_rules, tool_args_rules
from gateway.dialect import GrammarPlan, RequestContext, SchemaGrammars, ServedModel
from gateway.dialects.generic import GenericDialect
from gateway.jsonstream import JsonScanner
from gateway.testing import CLOCK, WEATHER, DialectConformance, Golden, accepts, make_case

# -- gateway.callargs ----------------------------------------------------------------------


def repaired(text: str) -> str:
    scan, repair = JsonScanner(), ArgsRepair()
    body = "".join(repair.event(ev) for ev in scan.feed(text))
    return body + repair.close()


@pytest.mark.parametrize("cut", range(1, 48))
def test_arguments_cut_anywhere_close_into_valid_json(cut: int) -> None:
    whole = '{"city": "Par\\"is", "days": [1, 2.5], "opts": {"x": null}}'
    value = json.loads(repaired(whole[:cut]))
    assert isinstance(value, dict)
    assert set(value) <= {"city", "days", "opts"}


def test_bad_scalars_and_control_characters_stay_json() -> None:
    assert json.loads(repaired('{"a": tru, "b": 1.2.3}')) == {"a": None, "b": None}
    assert json.loads(repaired('{"a": "x\ny"}')) == {"a": "x\ny"}
    assert valid_scalar("12") == "12" and valid_scalar("1.2.3") == "null"
    assert string_arguments('{"a": 1}') == '{"a": 1}'
    assert json.loads(string_arguments("not json")) == "not json"


def test_json_args_reports_what_it_consumed() -> None:
    args = JsonArgs()
    frags, used = args.feed('{"a": [1, {"b": "c"}]}</call> tail', final=False)
    assert args.done and not args.failed
    assert "".join(frags) == '{"a":[1,{"b":"c"}]}' and used == len('{"a": [1, {"b": "c"}]}')
    cut = JsonArgs()
    frags, _ = cut.feed('{"a": "b', final=True)
    assert json.loads("".join(frags)) == {"a": "b"}
    wrong = JsonArgs()
    assert wrong.feed("[1]", final=False) == ([], 0) and wrong.failed


# -- gateway.callgrammar -------------------------------------------------------------------


def test_call_list_is_bounded() -> None:
    g = grammar_text(call_list('"c"', '","', 3), [])
    assert accepts(g, "c") and accepts(g, "c,c,c")
    assert not accepts(g, "c,c,c,c") and not accepts(g, "cc")
    assert call_list("call", '"\\n"', 1) == "call"
    assert accepts(grammar_text(call_list('"c"', "", 2), []), "cc")


def test_tool_args_and_response_rules_embed_the_schemas() -> None:
    case = make_case(GenericDialect(), [WEATHER, CLOCK], "auto",
                     response_schema={"type": "object", "properties": {"n": {"type": "integer"}},
                                      "required": ["n"]})
    rules, roots = tool_args_rules(case.grammars, case.ctx.tools, "t")
    found = response_rules(case.ctx, case.grammars)
    assert found is not None
    g = grammar_text(f"{roots[0]} | {roots[1]} | {found[1]}", rules + found[0])
    assert accepts(g, '{"city":"Paris"}') and accepts(g, "{}") and accepts(g, '{"n":3}')
    assert not accepts(g, '{"town":"Paris"}')
    case = make_case(GenericDialect(), [WEATHER])
    assert response_rules(case.ctx, case.grammars) is None


def test_lazy_plan_carries_word_triggers() -> None:
    plan = lazy_plan('"<c>" "x"', [], ["<c>"], ["<c>"], ["</s>"])
    assert plan.lazy and plan.triggers == [{"type": 1, "value": "<c>"}]
    assert plan.preserved_tokens == ["<c>"] and plan.stop == ["</s>"]
    assert plan.grammar is not None and accepts(plan.grammar, "<c>x")


# -- the conformance suite catches what it promises to -------------------------------------

ONE_CALL = json.dumps({"tool_calls": [{"name": "get_time", "arguments": {}}]},
                      separators=(",", ":"))


class _WrongGrammar(GenericDialect):
    def tools_grammar(self, ctx: RequestContext, model: ServedModel,
                      grammars: SchemaGrammars) -> GrammarPlan:
        return GrammarPlan(grammar='root ::= "{}"\n')  # not what the parser reads


class _ForgetfulPrompt(GenericDialect):
    def render_prompt(self, ctx: RequestContext, model: ServedModel) -> str:
        plain = [m for m in ctx.messages if not m.get("tool_calls")]
        return super().render_prompt(dataclasses.replace(ctx, messages=plain), model)


def _suite(dialect: GenericDialect) -> DialectConformance:
    class Suite(DialectConformance):
        goldens: ClassVar[list[Golden]] = [
            Golden("call", ONE_CALL, calls=[("get_time", {})], grammar=True,
                   ctx={"tool_choice": "required"})]

    Suite.dialect = dialect
    return Suite()


def test_the_suite_passes_a_sound_dialect() -> None:
    suite = _suite(GenericDialect())
    suite.test_goldens_match_grammar()
    suite.test_round_trip()
    suite.test_round_trip_several_calls()


def test_the_suite_catches_a_grammar_that_rejects_the_goldens() -> None:
    with pytest.raises(AssertionError, match="grammar rejects"):
        _suite(_WrongGrammar()).test_goldens_match_grammar()


def test_the_suite_catches_a_prompt_that_loses_calls() -> None:
    with pytest.raises(AssertionError, match="parsed back"):
        _suite(_ForgetfulPrompt()).test_round_trip()
