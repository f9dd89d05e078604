"""End-to-end: templates of the shapes derivation learnt this time (written for the tests,
see test_generality.py and test_typed_markup.py) behind `gateway serve --chat-template-file`
on the real llama.cpp and demo model: none falls back to the generic envelope, and a required
call comes back in the template's own syntax, its arguments valid for the tool's schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from test_generality import (
    CALLS_OR_TEXT,
    CALLS_OWN_TURN,
    CLOSED_BEFORE_TEXT,
    LAST_TURN_APART,
    OPENS_EACH_TURN,
    OPENS_IN_WORDS,
    QUOTES_ALL,
    SEP_CLOSE,
    STRIPS_REASONING,
)
from test_typed_markup import DSML, KIND

pytestmark = pytest.mark.e2e

SHAPES = {"opens each turn": OPENS_EACH_TURN, "opens in words": OPENS_IN_WORDS,
          "last turn apart": LAST_TURN_APART, "strips reasoning": STRIPS_REASONING,
          "typed markup (string=)": DSML, "typed markup (type=)": KIND,
          "close begins with separator": SEP_CLOSE, "closed before text": CLOSED_BEFORE_TEXT,
          "every value quoted": QUOTES_ALL, "text or calls": CALLS_OR_TEXT,
          "calls as their own turn": CALLS_OWN_TURN}
SCHEMA = {"type": "object", "properties": {
    "city": {"type": "string", "maxLength": 40}, "days": {"type": "integer", "minimum": 1,
                                                           "maximum": 14}},
    "required": ["city", "days"], "additionalProperties": False}
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                         "parameters": SCHEMA}}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_required_call_in_the_templates_own_syntax(shape: str, gateway_factory: Any,
                                                      backend_url: str, tmp_path: Path) -> None:
    path = tmp_path / "template.jinja"
    path.write_text(SHAPES[shape])
    client = gateway_factory("--endpoint", backend_url, "--chat-template-file",
                             str(path)).openai()
    # its own syntax: auto, or a hand-written dialect that round-trips it (hermes claims the
    # `<tool_call>{json}</tool_call>` shapes) — never the generic envelope
    assert client.models.list().data[0].model_extra["meta"]["dialect"] != "generic"
    r = client.chat.completions.create(
        model="demo", temperature=0, max_tokens=160, tools=[TOOL], tool_choice="required",
        messages=[{"role": "user", "content": "Weather in Paris for 3 days?"}])
    calls = r.choices[0].message.tool_calls
    assert calls and calls[0].function.name == "get_weather"
    jsonschema.validate(json.loads(calls[0].function.arguments), SCHEMA)
