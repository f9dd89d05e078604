"""Formats ipv6, json-pointer, relative-json-pointer and uri-template as grammars: what
they write is valid (sampled), valid texts of each form are accepted, invalid ones not."""

from __future__ import annotations

import ipaddress
import json
import random

import pytest
from gateway.grammar import schema_to_gbnf

from tests.grammar.gbnf_recognizer import accepts, parse_gbnf, sample
from tests.grammar.grammar_helpers import is_valid

CASES = {
    "ipv6": (["::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
              "fe80::a:b", "::ffff:192.168.0.1", "1:2:3:4:5:6:1.2.3.4", "1::1.2.3.4",
              "ABCD:EF01:2345:6789:ABCD:EF01:2345:6789"],
             ["", ":", "1:2", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "::g",
              "1:2:3:4:5:6:7:1.2.3.4", "::256.1.1.1", "::01.1.1.1", "fe80::1%eth0",
              "1:2:3:4:5:6:7", " ::1"]),
    "json-pointer": (["", "/", "/foo", "/foo/0", "/a~1b", "/m~0n", "/ /x", "//", "/%25"],
                     ["foo", "/~", "/~2", "#/a", "a/b"]),
    "relative-json-pointer": (["0", "1", "0#", "1/0", "120/foo/bar", "2/0/foo~1bar", "10#"],
                              ["", "-1/foo", "+1", "01/a", "0##", "/foo", "#"]),
    "uri-template": (["", "http://example.com/dictionary/{term:1}/{term}",
                      "http://example.com/{+path}{?q,lang}", "{x}", "/a{/b*}{#c}", "%20x"],
                     ["{", "}", "{x", "a{}b", "{x:0}", "{=x}", "a b", "{x y}", "%2"]),
}


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_format_grammar(fmt: str) -> None:
    schema = {"type": "string", "format": fmt}
    grammar = parse_gbnf(schema_to_gbnf(schema))
    good, bad = CASES[fmt]
    for text in good:
        assert accepts(grammar, json.dumps(text)), text
    for text in bad:
        assert not accepts(grammar, json.dumps(text)), text
    rng = random.Random(fmt)
    for _ in range(40):
        doc = json.loads(sample(grammar, rng))
        assert is_valid(schema, doc), doc
        if fmt == "ipv6":
            ipaddress.IPv6Address(doc)


def test_ipv6_random_addresses() -> None:
    grammar = parse_gbnf(schema_to_gbnf({"type": "string", "format": "ipv6"}))
    rng = random.Random(0)
    for _ in range(200):
        addr = ipaddress.IPv6Address(rng.getrandbits(128) & ~((1 << rng.randrange(128)) - 1))
        for text in (str(addr), addr.exploded):
            assert accepts(grammar, json.dumps(text)), text
