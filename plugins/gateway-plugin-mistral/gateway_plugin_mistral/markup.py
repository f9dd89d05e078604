"""The markup of Mistral's tool-call formats and what a template tells us about them."""

from __future__ import annotations

from typing import Literal

from gateway.templating import ChatTemplate

TOOL_CALLS, CALL_ID, ARGS = "[TOOL_CALLS]", "[CALL_ID]", "[ARGS]"
THINK_OPEN, THINK_CLOSE = "[THINK]", "[/THINK]"
WS = " \t\r\n"

# array: `[TOOL_CALLS][{"name": ..., "arguments": {...}, "id": "..."}]` (Nemo, Mixtral-style)
# call_id: `[TOOL_CALLS]NAME[CALL_ID]id[ARGS]{...}` per call (Small 3.2)
# args: `[TOOL_CALLS]NAME[ARGS]{...}` per call (Ministral 3, Magistral, Devstral)
Variant = Literal["array", "call_id", "args"]


def variant_of(template: ChatTemplate | None) -> Variant:
    source = template.source if template is not None else ""
    if CALL_ID in source:
        return "call_id"
    if ARGS in source:
        return "args"
    return "array"


def has_think(template: ChatTemplate | None) -> bool:
    return template is not None and THINK_OPEN in template.source


def partial_tail(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest suffix of text that is a proper prefix of a marker."""
    for k in range(min(len(text), max(len(m) for m in markers) - 1), 0, -1):
        if any(m.startswith(text[-k:]) and len(m) > k for m in markers):
            return k
    return 0


def first_marker(text: str, markers: tuple[str, ...]) -> tuple[int, str | None]:
    best, found = len(text), None
    for m in markers:
        i = text.find(m)
        if i != -1 and i < best:
            best, found = i, m
    return best, found
