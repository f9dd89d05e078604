"""The markup of OpenAI's Harmony format (gpt-oss) and how a message header is read.

An assistant turn is a sequence of messages: `[<|start|>assistant]HEADER<|message|>BODY`
ended by `<|end|>`, `<|call|>` or `<|return|>` (the first `<|start|>assistant` is in the
prompt). HEADER names the channel (`<|channel|>analysis|commentary|final`) and, for a tool
call, the recipient `to=functions.NAME`, before or after the channel, with an optional
content type (`json` or `<|constrain|>json`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

START, CHANNEL, MESSAGE = "<|start|>", "<|channel|>", "<|message|>"
CONSTRAIN, END, CALL, RETURN = "<|constrain|>", "<|end|>", "<|call|>", "<|return|>"
RECIPIENT = "to=functions."
TRIGGER = " " + RECIPIENT  # the lazy grammar's trigger word (both header orders contain it)
# Special tokens of the format a grammar may match (llama.cpp's preserved tokens)
PRESERVED = [START, CHANNEL, MESSAGE, CONSTRAIN, END, CALL]
# Markers that end a message body: consumed (terminators) or opening the next header
TERMINATORS = (END, CALL, RETURN)
OPENERS = (START, CHANNEL)
BODY_MARKERS = TERMINATORS + OPENERS
HEADER_MAX = 256  # a header longer than this is not one
_MARKER_MAX = max(len(m) for m in (*BODY_MARKERS, MESSAGE, CONSTRAIN))

_NAME = r"[A-Za-z0-9_.\-]+"
_HEADER = re.compile(
    rf"(?:{re.escape(START)})?\s*(?:assistant)?\s*(?:to=functions\.(?P<n1>{_NAME})\s*)?"
    rf"{re.escape(CHANNEL)}(?P<ch>analysis|commentary|final)"
    rf"(?:\s+to=functions\.(?P<n2>{_NAME}))?\s*(?:{re.escape(CONSTRAIN)})?\s*(?:json)?\s*")
_HEADER_CHARS = re.compile(r"[A-Za-z0-9_.\-=\s]*")


@dataclass(frozen=True, slots=True)
class Header:
    channel: str
    recipient: str | None  # the function a call goes to


def parse_header(text: str) -> Header | None:
    """The header before `<|message|>`, or None when it is not a Harmony header."""
    m = _HEADER.fullmatch(text)
    if m is None or (m.group("n1") and m.group("n2")):
        return None
    return Header(m.group("ch"), m.group("n1") or m.group("n2"))


def _strip_prefix(text: str, word: str) -> tuple[str, bool]:
    """(rest, still viable): `text` with `word` removed from its start; a text that is a
    proper prefix of `word` is viable with nothing left."""
    if text.startswith(word):
        return text[len(word):], True
    if word.startswith(text):
        return "", True
    return text, False


def header_viable(text: str) -> bool:
    """Can `text` still grow into a header (before its `<|message|>`)?"""
    if len(text) > HEADER_MAX:
        return False
    if START.startswith(text):
        return True
    rest = text
    if text.startswith(START):
        rest, _ = _strip_prefix(text[len(START):].lstrip(), "assistant")
    rest = rest.lstrip()
    if not rest:
        return True
    if not (rest.startswith((CHANNEL, RECIPIENT)) or CHANNEL.startswith(rest)
            or RECIPIENT.startswith(rest)):
        return False
    parts = rest.replace(CHANNEL, " ").replace(CONSTRAIN, " ")
    cut = parts.rfind("<")
    if cut != -1:
        tail = parts[cut:]
        if not any(m.startswith(tail) for m in (CHANNEL, CONSTRAIN, MESSAGE)):
            return False
        parts = parts[:cut]
    return _HEADER_CHARS.fullmatch(parts) is not None


def partial_marker(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest tail of `text` that is a proper prefix of a marker."""
    for k in range(min(len(text), _MARKER_MAX - 1), 0, -1):
        tail = text[-k:]
        if any(m.startswith(tail) for m in markers):
            return k
    return 0
