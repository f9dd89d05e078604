"""A discriminated anyOf of many object variants whose discriminator is also declared as an
anyOf of many const/enum branches (the shape of CI schemas with one variant per task): the
plain value sets merge into one enum, so each variant keeps its one name instead of the
cross product of variants and names being expanded or refused."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from gateway.grammar import GrammarLimits, SchemaError, schema_to_gbnf

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf, sample
from tests.grammar.grammar_helpers import is_valid
from tests.grammar.ordering import declared_order, dumps

N = 150  # more than resolve.MAX_COMBOS


def _tasks(n: int) -> dict[str, Any]:
    names = [f"Task{i}@{i % 3 + 1}" for i in range(n)]
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "task": {"anyOf": [{"enum": [t], "description": f"task {t}", "ignoreCase": "value"}
                               for t in names]},
            "name": {"type": "string"},
            "inputs": {"type": "object"},
        },
        "anyOf": [{"properties": {"task": {"pattern": f"^{t}$"},
                                  "inputs": {"type": "object", "additionalProperties": False,
                                             "properties": {f"in{i}": {"type": "boolean"}}}},
                   "required": ["task"]} for i, t in enumerate(names)],
    }


def test_variants_with_an_anyof_discriminator_build() -> None:
    schema = _tasks(N)
    grammar = parse_gbnf(schema_to_gbnf(schema))
    good = [{"task": "Task0@1"}, {"task": "Task7@2", "name": "x", "inputs": {"in7": True}},
            {"task": f"Task{N - 1}@{(N - 1) % 3 + 1}", "inputs": {}}]
    bad = [{"task": "Task7@2", "inputs": {"in8": True}},  # another variant's input
           {"task": "Task7@1"},  # not a declared name
           {"task": f"Task{N}@1"}, {"name": "x"}, {}]
    for doc in good:
        assert is_valid(schema, doc)
        assert accepts(grammar, json.dumps(doc, separators=(",", ":"))), doc
    for doc in bad:
        assert not is_valid(schema, doc)
        assert not accepts(grammar, json.dumps(doc, separators=(",", ":"))), doc


def test_one_variant_per_name_in_the_grammar() -> None:
    text = schema_to_gbnf(_tasks(N))
    # each name is written once as a value (no variant × name cross product)
    for i in (0, 77, N - 1):
        assert text.count(json.dumps(json.dumps(f"Task{i}@{i % 3 + 1}"))[1:-1]) == 1


@pytest.mark.parametrize("kw", ["anyOf", "oneOf"])
def test_value_set_branches_merge_exactly(kw: str) -> None:
    schema = {"allOf": [{kw: [{"const": 1}, {"enum": ["a", 2.5]}, {"enum": [None]}]},
                        {"type": ["integer", "string"]}]}
    grammar = parse_gbnf(schema_to_gbnf(schema))
    for doc, ok in [("1", True), ('"a"', True), ("2.5", False), ("null", False), ("2", False),
                    ("1.0", False)]:
        assert accepts(grammar, doc) is ok, doc


def test_overlapping_oneof_values_are_not_merged() -> None:
    # "a" is in two branches: oneOf excludes it; merged into one enum it would be admitted
    schema = {"allOf": [{"oneOf": [{"enum": ["a", "b"]}, {"enum": ["a", "c"]}]},
                        {"type": "string"}]}
    try:
        text = schema_to_gbnf(schema)
    except SchemaError as err:
        assert err.keyword == "oneOf"
        return
    grammar = parse_gbnf(text)
    assert not accepts(grammar, '"a"')
    assert accepts(grammar, '"b"') and accepts(grammar, '"c"')


def test_azure_pipelines_job_builds_sound() -> None:
    """The real schema behind the size refusals: ~260 task variants, each a name and its
    own inputs; built, and what its grammar writes is valid."""
    from tests.grammar.test_real_world import OPEN, _schema

    schema = _schema("azure-pipelines#job")
    rng = random.Random(0)
    for strict in (True, False):
        text = schema_to_gbnf(schema, strict=strict, limits=GrammarLimits() if strict else OPEN)
        assert len(text) < GrammarLimits().max_grammar_bytes
        grammar = parse_gbnf(text)
        for _ in range(10):
            doc = sample(grammar, rng)
            assert is_valid(schema, json.loads(doc)), doc
        task = {"task": "PowerShell@2", "inputs": {"targetType": "inline", "script": "ls"}}
        job = {"job": "build", "steps": [task]}
        assert is_valid(schema, job)
        assert accepts(grammar, dumps(declared_order(schema, schema, job)))
        task["inputs"] = {"azureSubscription": "x"}  # another task's input
        assert not is_valid(schema, job)
        assert not accepts(grammar, dumps(declared_order(schema, schema, job)))
