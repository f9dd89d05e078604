"""regex_to_gbnf against Python's re (ASCII classes, as ECMA-262) on JSON-quoted samples."""

from __future__ import annotations

import json
import re

import pytest
from gateway.grammar import GrammarBuilder, SchemaError, literal, regex_to_gbnf, rename_rules

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf

SAMPLES = [
    "", "a", "b", "c", "ab", "abc", "xabcx", "ABC-12", "ABC-12345", "12345", "12345-6789", "1234",
    "a b", "x@y.z", "me@example.com", 'quote"in', "back\\slash", "tab\there", "new\nline", "é",
    "😀", "aaa", "aa", "ababab", "abcd", "cdab", "-", "a-b", "-12", "+7", "2024-01", "2024-1",
    "+1234567890", "foo", "foobar", "barfoo", "fo", "color", "colour", "/x", "a.b", ".", "A",
    "AAA", "\u00e9\u00e9", "c", "bbc", "ac", "\x01", "9", "ÿ", "a_b", " ", "\t",
]

PATTERNS = [
    "^abc$", "abc", "^a", "b$", "^[a-z]+$", "^[^a-z]*$", r"^\d{3,5}$", r"^\w+@\w+\.\w+$",
    "^(foo|bar)+$", "^a?b*c+$", "^.{2,4}$", r"^[\s\S]*$", r"^\S+$", "^(?:ab|cd){2}$",
    r"^(?<y>\d{4})-(?<m>\d{1,2})$", "^[A-Z]{3}-[0-9]{2,4}$", '^"', r"\\", r"^[\-+]?\d+$",
    r"^\u00e9+$", r"^\x41+$", "^.$", "a{2}", "^a{2,}$", "^(a|b)*c$", r"^\t", "colou?r",
    "^[a-c]{0,2}$", r"^\+?[1-9]\d{1,14}$", "^$", "", r"^\/", "[.]", "^a|b$", "^(?:a|)$",
    "^a+?$", "^a{2,3}?$", r"^[\w.-]+$", r"^[^\s@]+@[^\s@]+$", r"\d", r"^\D+$", r"^\W$",
    r"^[\u00e0-\u00ff]+$", "^x*$|^y+$", r"^[^\x00-\x1f]*$", r"^\x01$",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_pattern_matches_like_python(pattern: str) -> None:
    g = parse_gbnf(regex_to_gbnf(pattern))
    # Python spells named groups (?P<n>...); ASCII classes match ECMA-262's \d \w
    rx = re.compile(re.sub(r"\(\?<(?=\w)", "(?P<", pattern), re.ASCII)
    for s in SAMPLES:
        expected = rx.search(s) is not None
        text = json.dumps(s, ensure_ascii=False)
        assert accepts(g, text) == expected, (pattern, s)


def test_escaped_characters_use_json_escapes() -> None:
    g = parse_gbnf(regex_to_gbnf('^[a"\\\\\\n]+$'))
    assert accepts(g, '"a\\"\\\\\\n"')
    assert not accepts(g, '"a\\u0022"')  # only canonical escapes


def test_long_repetition_is_composed() -> None:
    text = regex_to_gbnf("^a{2500,2600}$")
    assert "{2500" not in text and "{2600" not in text
    g = parse_gbnf(text)
    for n in (2499, 2500, 2555, 2600, 2601):
        assert accepts(g, json.dumps("a" * n)) == (2500 <= n <= 2600), n


def test_empty_class_matches_nothing() -> None:
    g = parse_gbnf(regex_to_gbnf("^[]a]"))  # ECMA: empty class, then "a]"
    assert not any(accepts(g, json.dumps(s)) for s in ("a]", "]", "a", ""))
    assert accepts(parse_gbnf(regex_to_gbnf("^[^]$")), '"\\n"')  # [^] is any char


def test_rule_name() -> None:
    text = regex_to_gbnf("^a$", name="zip-code")
    assert text.startswith("zip-code ::= ")


@pytest.mark.parametrize(
    "pattern,why",
    [
        ("a(?=b)", "lookaround"), ("a(?!b)", "lookaround"), ("(?<=a)b", "lookaround"),
        ("(?<!a)b", "lookaround"), (r"(a)\1", "backreference"), (r"(?<n>a)\k<n>", "backreference"),
        (r"\bword", "word-boundary"), ("a(^b)", "anchor"), ("a^b", "anchor"), ("a$b", "anchor"),
        ("(a", "missing"), ("a)", "unbalanced"), ("[a", "unterminated"), ("a{2,1}", "order"),
        ("*a", "nothing to repeat"), ("a**", "nothing to repeat"), ("(?P<x>a)", "invalid group"),
        (r"\p{L}", "property"), ("(a*)*", "empty string"), ("[z-a]", "out of order"),
        ("\\", "trailing backslash"), (r"\q", "unknown escape"),
    ],
)
def test_refused_patterns(pattern: str, why: str) -> None:
    with pytest.raises(SchemaError) as err:
        regex_to_gbnf(pattern)
    assert err.value.keyword == "pattern"
    assert why in str(err.value)


# -- GBNF helpers ----------------------------------------------------------------------------

def test_literal_escapes_round_trip() -> None:
    s = 'a"b\\c\n\t\x01é😀-^[]'
    g = parse_gbnf(f"root ::= {literal(s)}\n")
    assert accepts(g, s) and not accepts(g, s[:-1])


def test_rename_rules_embeds_grammars() -> None:
    a, ra = rename_rules(regex_to_gbnf("^[a-z]+$"), "t1-")
    b, rb = rename_rules(regex_to_gbnf(r"^\d+$"), "t2-")
    assert ra == "t1-root" and rb == "t2-root"
    combined = f"root ::= {ra} | {rb}\n{a}{b}"
    g = parse_gbnf(combined)
    assert accepts(g, '"abc"') and accepts(g, '"123"') and not accepts(g, '"a1"')
    assert '"t1-' not in a  # literals untouched


def test_builder_dedups_bodies() -> None:
    b = GrammarBuilder()
    assert b.add("x", '"a"') == b.add("y", '"a"')
    assert b.add("x", '"b"') != b.add("x", '"c"')


@pytest.mark.parametrize("pattern,good,bad", [
    (r"^(\d+,)+\d+$", ["1,2", "10,200,3"], ["1,,2", "1,2,", ",1"]),
    (r"^((\d+,)+\d+|\*) ?$", ["1,2 ", "*"], ["1,,2", "*,1"]),
])
def test_group_of_quantified_classes_repeats_as_a_whole(pattern: str, good: list[str],
                                                        bad: list[str]) -> None:
    """A group such as (\\d+,) is repeated as one unit, not as its parts."""
    g = parse_gbnf(regex_to_gbnf(pattern))
    for s in good:
        assert accepts(g, json.dumps(s)), s
    for s in bad:
        assert not accepts(g, json.dumps(s)), s
