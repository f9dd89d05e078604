"""schema_to_gbnf: valid instances are accepted, invalid ones rejected, output is sound."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest
from gateway.grammar import (
    cache_info,
    cached_schema_to_gbnf,
    json_object_gbnf,
    json_value_gbnf,
    schema_to_gbnf,
)
from gateway.grammar.errors import GrammarLimits
from gateway.grammar.numbers import int_range
from hypothesis import HealthCheck, assume, given, settings
from hypothesis_jsonschema import from_schema

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf, sample
from tests.grammar.grammar_helpers import compiled, for_generation, is_valid
from tests.grammar.ordering import Unrepresentable, dumps, order
from tests.grammar.schemas import SCHEMAS

NAMES = sorted(SCHEMAS)


def test_schema_set_is_broad() -> None:
    assert len(SCHEMAS) >= 40


@pytest.mark.parametrize("name", NAMES)
def test_valid_instances_accepted(name: str) -> None:
    grammar = compiled(name)

    def check(value: object) -> None:
        text = dumps(value)
        assert accepts(grammar, text), f"{name}: valid instance rejected: {text}"

    for_valid_values(SCHEMAS[name], 20)(check)()


def for_valid_values(schema: dict, examples: int) -> Callable[[Callable[[object], None]],
                                                                Callable[[], None]]:
    """A Hypothesis test of `check` over valid values of `schema`, in its declared key order
    (as the grammar writes them)."""
    def wrap(check: Callable[[object], None]) -> Callable[[], None]:
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(from_schema(for_generation(schema)))
        def run(instance: object) -> None:
            try:
                value = order(schema, schema, instance)
            except Unrepresentable:
                assume(False)
            assume(is_valid(schema, value))
            check(value)
        return run  # type: ignore[no-any-return]
    return wrap


@pytest.mark.parametrize("name", NAMES)
def test_spaced_grammar_takes_one_space_after_each_separator(name: str) -> None:
    """response_format's grammar (limits.spaced): valid values written as json.dumps writes
    them by default (a space after each ':' and ','), while the compact grammar of a tool's
    arguments refuses that text; and what the spaced grammar produces is still valid."""
    schema = SCHEMAS[name]
    spaced = parse_gbnf(schema_to_gbnf(schema, limits=GrammarLimits(spaced=True)))
    compact = compiled(name)

    def check(value: object) -> None:
        text = json.dumps(value, ensure_ascii=False)
        assert accepts(spaced, text), f"{name}: spaced instance rejected: {text}"
        if text != dumps(value):
            assert not accepts(compact, text), f"{name}: compact grammar took {text}"

    for_valid_values(schema, 10)(check)()
    rng = random.Random(name)
    for _ in range(10):
        text = sample(spaced, rng)
        assert is_valid(schema, json.loads(text)), f"{name}: grammar produced invalid {text}"


@pytest.mark.parametrize("name", NAMES)
def test_grammar_output_is_valid(name: str) -> None:
    """Soundness: random strings of the grammar are valid instances."""
    schema, grammar = SCHEMAS[name], compiled(name)
    rng = random.Random(name)
    for _ in range(25):
        text = sample(grammar, rng)
        value = json.loads(text)
        assert is_valid(schema, value), f"{name}: grammar produced invalid {text}"


VALID = {
    "weather": ['{"location":"Paris"}', '{"location":"Paris","unit":"celsius"}'],
    "all_optional": ["{}", '{"b":true}', '{"a":3,"d":"y"}', '{"a":0,"b":false,"c":null,"d":"x"}'],
    "bounded_numbers": ['{"ratio":0,"temp":-40}', '{"ratio":1.0,"temp":60,"pos":0.001}',
                        '{"ratio":0.5,"temp":-39.99,"price":0.5}',
                        '{"ratio":0,"temp":0,"price":99.99}'],
    "bounded_ints": ['{"a":-17,"b":1}', '{"a":2304,"b":99,"c":1000,"d":-5,"e":-2147483648}'],
    "patterns": ['{"zip":"12345","code":"ABC-12"}', '{"zip":"12345-6789","code":"XYZ-1234",'
                 '"slug":"a-b-c","has_at":"x@y"}'],
    "pattern_length": ['{"user":"abc"}', '{"user":"a_23456789012345"}'],
    "tree": ['{"value":1,"children":[{"value":2},{"value":3,"children":[]}]}'],
    "linked_list": ['{"head":"a","tail":{"head":"b","tail":null}}'],
    "oneof_required_keys": ['{"email":"a@b.co"}', '{"phone":"+12345678"}'],
    "oneof_discriminator": ['{"shape":{"kind":"circle","r":2.5}}',
                            '{"shape":{"kind":"rect","w":1,"h":100}}'],
    "min_max_props": ['{"a":true}', '{"b":true,"d":false}'],
    "dependent_required": ['{"name":"x"}', '{"name":"x","cvv":"123"}',
                           '{"name":"x","card":"1234567812345678","cvv":"123"}'],
    "unique_tags": ['{"tags":[]}', '{"tags":["red","blue","green"]}'],
    "additional_schema": ['{"name":"a","x":1,"y":2,"z":3}'],
    "map_of_strings": ["{}", '{"k":"v","name":"x"}'],
    "prefix_items": ['{"point":[1,2.5]}', '{"point":[0,0],"row":["a",1,true,false]}'],
    "type_array": ['{"v":"abcdef"}', '{"v":-3}', '{"v":null}'],
    "enum_mixed": ['{"mode":2.5,"level":"max"}', '{"mode":null,"level":"max"}'],
    "unicode_keys": ['{"名前":"太郎","quote\\"key":true}'],
    "multiple_of": ['{"step":0}', '{"step":100,"whole":-3}'],
    "top_level_int": ["10", "99"],
    "top_level_array": ['["a","b"]', '["c","c","c","a"]'],
    "string_lengths": ['{"exact":"abc","short":""}', '{"exact":"\\n\\"\\u00e9","short":"\\\\"}'],
    "recursive_root": ['{"name":"a","sub":{"name":"b","sub":{"name":"c"}}}'],
    "calendar_event": ['{"title":"t","start":"2024-01-01T10:00:00Z","day":"2024-02-29",'
                       '"at":"23:59:59.5+02:00"}'],
    "network": ['{"ip":"255.255.255.255","port":65535,"url":"https://x.org/a?b=c#d"}'],
}

INVALID = {
    "weather": ['{"location":""}', '{"unit":"celsius"}', '{"location":"a","extra":1}',
                '{"location":"a","unit":"kelvin"}', '{"location":' + json.dumps("x" * 41) + "}",
                '{"location": "Paris"}', '{"location":"a","location":"b"}', '{"location":1}'],
    "search": ['{"query":"q","limit":0}', '{"query":"q","limit":51}', '{"limit":5}',
               '{"query":"q","safe":"yes"}'],
    "all_optional": ['{"a":10}', '{"a":-1}', '{,"b":true}', '{"b":true,}', '{"b":true,"a":1}'],
    "send_email": ['{"to":[],"subject":"s"}', '{"to":["a@b.co","a@b.co","a@b.co","a@b.co",'
                   '"a@b.co","a@b.co"],"subject":"s"}', '{"to":["not-an-email"],"subject":"s"}'],
    "calendar_event": ['{"title":"t","day":"2023-02-29"}', '{"title":"t","day":"2023-13-01"}',
                       '{"title":"t","day":"2023-04-31"}', '{"title":"t","day":"2023-1-1"}',
                       '{"title":"t","day":"2024-01-01","start":"2024-01-01 10:00:00Z"}',
                       '{"title":"t","day":"2024-01-01","at":"24:00:00Z"}'],
    "uuid_lookup": ['{"id":"1234"}', '{"id":"123e4567-e89b-12d3-a456-42661417400g"}'],
    "network": ['{"ip":"256.1.1.1","port":80}', '{"ip":"01.1.1.1","port":80}',
                '{"ip":"1.1.1.1","port":0}', '{"ip":"1.1.1.1","port":65536}',
                '{"ip":"1.1.1","port":80}', '{"ip":"1.1.1.1","port":80,"url":"no scheme"}'],
    "bounded_numbers": ['{"ratio":1.5,"temp":0}', '{"ratio":-0.1,"temp":0}',
                        '{"ratio":0,"temp":60.01}', '{"ratio":0,"temp":-40.5}',
                        '{"ratio":0,"temp":0,"pos":0}', '{"ratio":0,"temp":0,"pos":-1}',
                        '{"ratio":0,"temp":0,"price":0.49}', '{"ratio":0,"temp":0,"price":100}',
                        '{"ratio":0,"temp":0,"price":99.991}', '{"ratio":1e0,"temp":0}'],
    "bounded_ints": ['{"a":-18,"b":1}', '{"a":2305,"b":1}', '{"a":0,"b":0}', '{"a":0,"b":100}',
                     '{"a":0,"b":1,"c":999}', '{"a":0,"b":1,"d":-4}', '{"a":1.5,"b":1}',
                     '~{"a":0,"b":1,"e":2147483648}', '{"a":-0,"b":1}', '{"a":01,"b":1}'],
    "patterns": ['{"zip":"1234","code":"ABC-12"}', '{"zip":"12345-678","code":"ABC-12"}',
                 '{"zip":"12345","code":"AB-12"}', '{"zip":"12345","code":"ABC-12345"}',
                 '{"zip":"12345","code":"ABC-12","slug":"a--b"}',
                 '{"zip":"12345","code":"ABC-12","has_at":"none"}'],
    "pattern_length": ['{"user":"ab"}', '{"user":"a2345678901234567"}', '{"user":"1abc"}',
                       '{"user":"Abc"}'],
    "nested_address": ['{"name":"n","address":{"city":"c"}}',
                       '{"name":"n","address":{"city":"c","country":"IT"}}',
                       '{"name":"n","address":{"city":"c","country":"FR","zip":"1"}}'],
    "array_of_objects": ['{"items":[]}', '{"items":[{"sku":"abc1","qty":1}]}',
                         '{"items":[{"sku":"ABCD","qty":100}]}'],
    "nullable_fields": ['{"nick":"01234567890","age":1}', '{"nick":null,"age":151}',
                        '{"nick":null}'],
    "anyof_value": ['{"value":11}', '{"value":"01234567890"}', '{"value":null}'],
    "oneof_types": ['"123456789"', "100", "true"],
    "oneof_discriminator": ['{"shape":{"kind":"circle","w":1,"h":1}}',
                            '{"shape":{"kind":"square","r":1}}'],
    "oneof_required_keys": ["{}", '{"email":"a@b.co","phone":"+12345678"}',
                            '{"phone":"12345678"}'],
    "allof_merge": ['{"id":1}', '{"name":"x"}', '{"id":0,"name":"x"}'],
    "allof_ref": ['{"note":"x"}', '{"kind":"c"}'],
    "tree": ['{"value":1,"children":[{"value":2},{"value":3},{"value":4}]}',
             '{"value":1,"children":[{"children":[]}]}', '{"value":101}'],
    "linked_list": ['{"head":"a"}', '{"head":"a","tail":{"head":"b"}}'],
    "recursive_root": ['{"sub":{"name":"b"}}', '{"name":"a","sub":{}}'],
    "prefix_items": ['{"point":[1]}', '{"point":[1,2,3]}', '{"point":[0,0],"row":[1]}',
                     '{"point":[0,0],"row":["a",1,true,false,true]}'],
    "type_array": ['{"v":"abcdefg"}', '{"v":4}', '{"v":true}'],
    "enum_mixed": ['{"mode":"manual","level":"max"}', '{"mode":1,"level":"min"}',
                   '{"mode":2,"level":"max"}'],
    "additional_schema": ['{"name":"a","x":10}', '{"name":"a","x":1,"y":2,"z":3,"w":4}',
                          '{"name":"a","name":"b"}', '{"x":1}'],
    "map_of_strings": ['{"a":"1","b":"2","c":"3","d":"4"}', '{"a":1}'],
    "min_max_props": ["{}", '{"a":true,"b":true,"c":true}', '{"e":true}'],
    "dependent_required": ['{"name":"x","card":"1234567812345678"}', '{"card":"1"}',
                           '{"name":"x","card":"123"}'],
    "unique_tags": ['{"tags":["red","red"]}', '{"tags":["red","blue","green","black"]}',
                    '{"tags":["pink"]}'],
    "free_any": ["{}", '{"meta":1}'],
    "string_lengths": ['{"exact":"ab","short":""}', '{"exact":"abcd","short":""}',
                       '{"exact":"abc","short":"abc"}', '{"exact":"abc","short":"","long":"abcd"}'],
    "matrix": ['{"rows":[[10]]}', '{"rows":[[1,2,3,4]]}', '{"rows":[[],[],[],[]]}'],
    "untyped_object": ['{"q":1}', "{}"],
    "top_level_array": ['["a"]', '["a","b","c","a","b"]', '["d","a"]'],
    "top_level_int": ["9", "100", "-10", "~10.0"],
    "top_level_number": ["01", "1.", ".5", "+1", "~NaN", "~1e1000"],
    "openapi_style": ['{"id":0}', '~{"id":9223372036854775808}', '{"id":1,"tag":1}'],
    "multiple_of": ['{"step":3}', '{"step":105}', '{"step":5,"whole":0.5}'],
    "unicode_keys": ['{"名前":"1234567","quote\\"key":true}', '{"quote\\"key":true}'],
    "shared_defs": ['{"price":{"amount":1,"currency":"eur"}}',
                    '{"price":{"amount":-1,"currency":"EUR"}}',
                    '{"discount":{"amount":1,"currency":"EUR"}}'],
    "hostname_and_bytes": ['{"host":"-bad.com"}', '~{"host":"a.com","blob":"abc"}'],
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_handwritten_valid(name: str) -> None:
    for text in VALID[name]:
        assert is_valid(SCHEMAS[name], json.loads(text)), text
        assert accepts(compiled(name), text), f"{name}: rejected valid {text}"


@pytest.mark.parametrize("name", sorted(INVALID))
def test_handwritten_invalid(name: str) -> None:
    """Rejected: invalid instances, and ("~" prefix) valid ones outside the grammar's
    deliberate subset (OpenAPI int32/int64, base64 padding, 10.0 for an integer, ...)."""
    schema = SCHEMAS[name]
    for text in INVALID[name]:
        subset_only = text.startswith("~")
        text = text.removeprefix("~")
        if not subset_only:
            try:
                value = json.loads(text)
                bad = not is_valid(schema, value) or dumps(order(schema, schema, value)) != text
            except (ValueError, Unrepresentable):
                bad = True
            assert bad, f"test data is a valid compact instance: {text}"
        assert not accepts(compiled(name), text), f"{name}: accepted invalid {text}"


RANGES = [(-17, 2304), (0, 9), (10, 99), (1, 1_000_000), (-1000, -10), (-5, 5), (0, 0),
          (7, None), (None, -3), (-99, 99), (123, 45678)]


@pytest.mark.parametrize("lo,hi", RANGES)
def test_exact_integer_ranges(lo: int | None, hi: int | None) -> None:
    g = parse_gbnf(f"root ::= {int_range(lo, hi)}\n")
    for bound in (b for b in (lo, hi) if b is not None):
        for i in range(bound - 25, bound + 26):
            inside = (lo is None or i >= lo) and (hi is None or i <= hi)
            assert accepts(g, str(i)) == inside, (lo, hi, i)
    assert not accepts(g, "-0") and not accepts(g, "00")


@pytest.mark.parametrize(
    "keywords,inside",
    [
        ({"exclusiveMinimum": 3, "exclusiveMaximum": 9}, range(4, 9)),
        ({"minimum": 2.5, "maximum": 7.5}, range(3, 8)),
        ({"exclusiveMinimum": -3.0, "maximum": 0}, range(-2, 1)),
        ({"minimum": 5, "exclusiveMinimum": 6}, range(7, 40)),
    ],
)
def test_exclusive_and_fractional_integer_bounds(keywords: dict, inside: range) -> None:
    g = parse_gbnf(schema_to_gbnf({"type": "integer", **keywords}))
    for i in range(-20, 30):
        assert accepts(g, str(i)) == (i in inside or i >= 30 and inside.stop == 40), (keywords, i)


@pytest.mark.parametrize(
    "keywords",
    [{"minimum": 0, "maximum": 1}, {"minimum": -2.5, "maximum": 1.25},
     {"exclusiveMinimum": 0.1, "exclusiveMaximum": 0.3}, {"minimum": -10, "exclusiveMaximum": -9},
     {"exclusiveMinimum": 0}, {"maximum": -0.5}],
)
def test_decimal_bounds_exact(keywords: dict) -> None:
    schema = {"type": "number", **keywords}
    g = parse_gbnf(schema_to_gbnf(schema))
    rng = random.Random(1)
    cases = [f"{x / 100:.2f}" for x in range(-1100, 300, 7)]
    cases += [f"{rng.uniform(-11, 3):.{rng.randint(1, 6)}f}" for _ in range(150)]
    cases += [str(v) for v in keywords.values()] + ["0", "-0.5", "0.1", "0.3", "1", "-9", "-10"]
    for text in cases:
        valid = is_valid(schema, json.loads(text))
        if accepts(g, text):
            assert valid, (keywords, text)
        canonical = text.rstrip("0").rstrip(".") if "." in text else text
        if valid and canonical not in ("-0", ""):
            assert accepts(g, canonical), (keywords, canonical)


def test_any_value_grammars() -> None:
    g = parse_gbnf(json_value_gbnf())
    for text in ['{"a":[1,-2.5e+3,{"b":null}],"c":"x\\n"}', "[]", "true", '"é"', "-0.0"]:
        assert accepts(g, text), text
    for text in ["[1,]", '{"a" :1}', "[[[[[[[[1]]]]]]]]", "1.", "tru"]:
        assert not accepts(g, text), text
    o = parse_gbnf(json_object_gbnf())
    assert accepts(o, '{"a":{"b":[]}}') and not accepts(o, "[]") and not accepts(o, "1")


def test_cache() -> None:
    s = {"type": "object", "properties": {"zz": {"type": "integer"}}}
    first = cached_schema_to_gbnf(s, strict=True)
    hits = cache_info().hits
    assert cached_schema_to_gbnf(json.loads(json.dumps(s)), strict=True) == first
    assert cache_info().hits == hits + 1
    assert first == schema_to_gbnf(s)


def test_no_whitespace_and_declared_order() -> None:
    g = compiled("search")
    assert accepts(g, '{"query":"q","limit":5,"safe":true}')
    assert not accepts(g, '{"query":"q","safe":true,"limit":5}')
    assert not accepts(g, '{ "query":"q"}')
    assert not accepts(g, '{"query":"q"}\n')


def test_bounded_digits() -> None:
    g = parse_gbnf(schema_to_gbnf({"type": "integer"}))
    assert accepts(g, "9" * 20) and not accepts(g, "9" * 21)  # every int64 fits
    n = parse_gbnf(schema_to_gbnf({"type": "number"}))
    assert accepts(n, "1." + "5" * 20) and not accepts(n, "1." + "5" * 21)  # every double
