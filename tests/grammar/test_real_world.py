"""Real-world schemas vendored in the check-jsonschema wheel (CI configs, Compose, Taskfile,
…) that the converter refused before patternProperties, propertyNames, `not`, more oneOf
proofs, allOf merges and more formats: each gets a grammar under strict, instances generated
from it are accepted (keys in declared order) and strings sampled from it validate."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import check_jsonschema
import pytest
from gateway.grammar import GrammarLimits, schema_to_gbnf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis_jsonschema import from_schema

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf, sample
from tests.grammar.grammar_helpers import is_valid, reachable, unroll
from tests.grammar.ordering import declared_order, dumps

OPEN = GrammarLimits(open_objects=True)
VENDOR = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor"
# file#definition → what the converter used to refuse there
CASES = {
    "compose-spec#healthcheck": "patternProperties",
    "gitlab-ci#rulesVariables": "patternProperties",
    "meltano#env": "propertyNames",
    "buildkite#matrixAdjustmentsWithObject": "propertyNames",
    "bitbucket-pipelines#image_no_auth": "not",
    "github-workflows#workflowDispatchInput": "oneOf",
    "bitbucket-pipelines#artifacts_expanded": "oneOf",
    "renovate#matchUpdateTypes": "oneOf",
    "gitlab-ci#services": "allOf",
    "renovate#extractVersion": "format",  # regex: a sound subset of the valid regexes
}
# built and sampled only: valid values outside the grammar's subset exist (regex), or
# hypothesis-jsonschema cannot generate from the schema ('not')
SAMPLED_ONLY = {"renovate#extractVersion", "bitbucket-pipelines#image_no_auth"}


def _schema(case: str) -> dict[str, Any]:
    stem, name = case.split("#")
    root = json.loads((VENDOR / f"{stem}.json").read_text())
    key = "definitions" if name in root.get("definitions", {}) else "$defs"
    schema = reachable(root, f"#/{key}/{name}")
    assert schema is not None
    return schema


def _within_bounds(value: Any) -> bool:
    """Within the grammar's deliberate bounds for undeclared keys (keys.OPEN_EXTRAS of
    them, values as primitives.any_value): no object with more than 8 keys, short strings."""
    if isinstance(value, dict):
        return len(value) <= 8 and all(_within_bounds(k) and _within_bounds(v)
                                       for k, v in value.items())
    if isinstance(value, list):
        return all(_within_bounds(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return len(str(abs(value))) <= 20  # numbers.py: bounded digit runs
    return not isinstance(value, str) or len(value) <= 64


@pytest.mark.parametrize("case", sorted(CASES))
def test_real_world_schema(case: str) -> None:
    schema = _schema(case)
    strict = parse_gbnf(schema_to_gbnf(schema, strict=True))
    # as for a response_format: undeclared keys allowed (JSON Schema), still exact
    opened = parse_gbnf(schema_to_gbnf(schema, strict=False, limits=OPEN))
    rng = random.Random(case)
    for grammar in (strict, opened):
        for _ in range(15):
            text = sample(grammar, rng)
            assert is_valid(schema, json.loads(text)), f"{case}: grammar produced {text}"

    if case in SAMPLED_ONLY:
        return

    @settings(max_examples=8, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(from_schema(unroll(schema, 2)))
    def check(instance: Any) -> None:
        assume(is_valid(schema, instance))
        text = dumps(declared_order(schema, schema, instance))
        assume(len(text) < 400 and _within_bounds(instance))
        assert accepts(opened, text), f"{case}: valid instance rejected: {text}"

    check()
