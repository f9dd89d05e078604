"""The core's dialect conformance suite with the skeleton's golden outputs: parsing
(streamed at every split point == non-streamed), malformed output, the grammar accepting
what the model may write under it, and calls rendered as history parsing back."""

from __future__ import annotations

from typing import ClassVar

from gateway.testing import DialectConformance, Golden
from gateway_plugin_skeleton import DIALECT

PARIS = ("get_weather", {"city": "Paris", "unit": "c"})
TIME = ("get_time", {})
W = '<call:get_weather>{"city":"Paris","unit":"c"}</call>'
T = "<call:get_time>{}</call>"


class TestSkeleton(DialectConformance):
    dialect = DIALECT
    # template: ClassVar = shared_template("...jinja")  # the model's template, if it matters
    goldens: ClassVar[list[Golden]] = [
        # grammar=True: the model may write exactly this under the grammar (checked)
        Golden("one call", W, calls=[PARIS], grammar=True),
        Golden("empty arguments", T, calls=[TIME], tags={"empty_arguments"}, grammar=True),
        Golden("several calls", W + "\n" + T, calls=[PARIS, TIME], tags={"several_calls"},
               grammar=True),
        Golden("content before a call", "Let me check.\n" + T, content="Let me check.\n",
               calls=[TIME], tags={"content_before_call"}, grammar=True),
        Golden("plain answer", "  It is sunny, 3 < 4.\n", content="  It is sunny, 3 < 4.\n"),
        # what unconstrained output may hold: loose JSON, no closing tag, text after calls
        Golden("spaces in the JSON", '<call:get_weather>{ "city": "Paris", "unit": "c" }'
               "</call>", calls=[PARIS]),
        Golden("markers inside a JSON string", '<call:get_weather>{"city":"</call><call:x>"}'
               "</call>", calls=[("get_weather", {"city": "</call><call:x>"})]),
        Golden("no closing tag", '<call:get_time>{}\n<call:get_weather>{"city":"Paris",'
               '"unit":"c"}', calls=[TIME, PARIS]),
        Golden("text after the calls", T + "\nDone.", content="Done.", calls=[TIME]),
        Golden("tool_choice none: calls are text", T, content=T, ctx={"tool_choice": "none"}),
        # malformed: nothing lost, never a call with broken arguments
        Golden("unknown tool", '<call:nope>{"a":1}</call>',
               content='<call:nope>{"a":1}</call>', tags={"malformed"}),
        Golden("not JSON", "<call:get_time>oops</call>", content="<call:get_time>oops</call>",
               tags={"malformed"}),
        Golden("cut inside the arguments", '<call:get_weather>{"city":"Par',
               calls=[("get_weather", {"city": "Par"})], tags={"malformed"}),
        Golden("cut inside the name", "Hi <call:get_we", content="Hi <call:get_we",
               tags={"malformed"}),
        Golden("half a marker at the end", "Hi <cal", content="Hi <cal", tags={"malformed"}),
    ]
