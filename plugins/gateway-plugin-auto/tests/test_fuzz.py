"""Mangled renderings (cut, spliced with markers, characters dropped): the parser never
raises, never returns a call with broken arguments, and streams exactly like the whole."""

from __future__ import annotations

import json
import random

import pytest
from auto_helpers import context, load, spec_of, written
from gateway.detection import PLANTED_TOOLS
from gateway.dialect import assemble
from gateway.testing import _norm, parse_all
from test_derivation import DERIVED

CALLS = [("get_weather", {"city": "Pa<ris", "days": 3}), ("get_time", {"zone": "Europe/Berlin"})]


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_mangled_output(name: str) -> None:
    rng = random.Random(name)
    template = load(name)
    spec = spec_of(template)
    base = written(template, CALLS[:1] if spec.single_call else CALLS,
                   None if spec.content == "dropped" else "Hi.")
    pieces = [spec.trigger, spec.section_close, spec.call_sep, "\n", "{", "}", '"', "<", "</",
              *[p for p in spec.call if len(p) > 1], *(spec.think or ())]
    if spec.args:
        pieces += [spec.args.open, spec.args.close, spec.args.key_end]
    for _ in range(40):
        text = base
        for _ in range(rng.randint(1, 4)):
            at, op = rng.randint(0, len(text)), rng.random()
            if op < 0.3:
                text = text[:at]
            elif op < 0.6:
                text = text[:at] + rng.choice(pieces) + text[at:]
            elif op < 0.8:
                text = text[:at] + text[at + rng.randint(1, 5):]
            else:
                text = text[:at] + rng.choice(["x", " ", "\n", "1", "'", "True"]) + text[at:]
        for choice in ("auto", "none"):
            ctx = context(template, list(PLANTED_TOOLS), choice)
            whole = assemble(parse_all(ctx, [text]))
            for call in whole.tool_calls:
                assert isinstance(json.loads(call.arguments), dict), (text, call.arguments)
            for i in rng.sample(range(len(text) + 1), min(6, len(text) + 1)):
                got = assemble(parse_all(ctx, [text[:i], text[i:]]))
                assert _norm(got) == _norm(whole), (text, i)
            assert _norm(assemble(parse_all(ctx, list(text)))) == _norm(whole), text
