"""Planted conversations rendered through a template, cut down to the assistant's part.

The assistant part of a rendering is what follows the user turn: the text after the longest
prefix it shares with the generation prompt, where that prefix is measured against a plain
answer too (a call rendered after `<|turn>model\\n` shares a `<|` with a generation prompt
ending `<|channel>…`: the plain answer stops the prefix at the true boundary). Whatever the
generation prompt adds beyond that shared part is `forced` (an opened `<think>`).
"""

from __future__ import annotations

import json
from typing import Any

from gateway.templating import ChatTemplate

from .markup import common_suffix

USER = {"role": "user", "content": "Zqu question 7?"}
FOLLOW = {"role": "user", "content": "Zqf next question 8?"}
CONTENT = "Zqc visible answer"
REASONING = "Zqr private reasoning"
NAMES = ("gwq_lookup", "gwq_store", "gwq_query")
IDS = ("Zq1a2b3c4", "Zq5d6e7f8", "Zq9g0h1i2")  # 9 alphanumerics: fine for Mistral too
STRING_PROPS = ("kqalpha", "kqbeta")


def _tool(name: str) -> dict[str, Any]:
    props = {"kqalpha": {"type": "string"}, "kqbeta": {"type": "string"},
             "kqnum": {"type": "integer"}, "kqflag": {"type": "boolean"},
             "kqobj": {"type": "object"}, "kqlist": {"type": "array"}}
    return {"type": "function", "function": {
        "name": name, "description": f"Probe tool {name}.",
        "parameters": {"type": "object", "properties": props, "required": ["kqalpha"]}}}


TOOLS = [_tool(n) for n in NAMES]


def call(i: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": IDS[i], "type": "function",
            "function": {"name": NAMES[i], "arguments": json.dumps(args)}}


class ProbeError(Exception):
    """The template cannot render a planted conversation the derivation needs."""


def _common_tail(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _lcp(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


_OPEN_CLOSE = {"<": ">", "[": "]"}


def _marker_start(text: str, at: int) -> int:
    """`at`, or the start of a marker `text[:at]` ends inside of: a generation prompt that
    opens `<think>` and a call that opens `<TOOLCALL>` share their `<`, but the boundary is
    before it (else the call's body would begin `TOOLCALL>` and the prompt add `think>`)."""
    for opener, closer in _OPEN_CLOSE.items():
        start = text.rfind(opener, max(0, at - 64), at)
        if start >= 0 and closer not in text[start:at]:
            return start
    return at


class Probe:
    """Renders planted assistant turns; `body` is the assistant part of one.

    `follow`: each planted turn is rendered with a user turn after it, and cut where that
    begins: for templates that write the conversation's last assistant turn unlike the
    others (a training form: its calls as a turn of their own, its reasoning kept), where
    the turns a model's answer becomes part of are the others."""

    def __init__(self, template: ChatTemplate, follow: bool = False) -> None:
        self.template = template
        self.follow = follow
        self._user_head = ""
        if follow:
            try:
                alone = template.render([USER], tools=TOOLS, add_generation_prompt=False)
            except Exception as exc:
                raise ProbeError(f"the template cannot render a user turn: {exc}") from exc
            if USER["content"] not in alone:
                raise ProbeError("the template does not show the user's message")
            self._user_head = alone[:alone.index(USER["content"])]
        try:
            self.prompt = template.render([USER], tools=TOOLS, add_generation_prompt=True)
        except Exception as exc:  # a template can raise anything
            raise ProbeError(f"the template cannot render a user turn with tools: {exc}") from exc
        self.empty: str | None = ""  # the content of a call-only turn ("" or None)
        plain = self.full({"role": "assistant", "content": CONTENT})
        one = self.full({"role": "assistant", "content": "", "tool_calls": [call(0, {})]})
        self.head = _marker_start(self.prompt,
                                  min(_lcp(self.prompt, plain), _lcp(self.prompt, one)))
        if CONTENT not in plain[self.head:]:
            raise ProbeError("the template does not render a plain assistant answer")
        self.forced = self.prompt[self.head:]  # what the generation prompt adds, e.g. <think>
        self.plain = plain[self.head:]
        at = self.plain.index(CONTENT)
        self.pre, self.eot = self.plain[:at], self.plain[at + len(CONTENT):]

    def full(self, message: dict[str, Any]) -> str:
        turns = [USER, message, FOLLOW] if self.follow else [USER, message]
        try:
            text = self.template.render(turns, tools=TOOLS, add_generation_prompt=False)
        except Exception as exc:
            raise ProbeError(f"the template cannot render {_what(message)}: {exc}") from exc
        if not self.follow:
            return text
        at = text.rfind(FOLLOW["content"])
        if at < 0:
            raise ProbeError("the template does not show a user turn after an assistant turn")
        # the next turn's own opening (`<|user|>\n`) is what it shares with the first's
        return text[:at - _common_tail(text[:at], self._user_head)]

    def body(self, message: dict[str, Any]) -> str:
        text = self.full(message)
        if text[: self.head] != self.prompt[: self.head]:
            raise ProbeError(f"{_what(message)} changes the turns before it")
        return text[self.head:]

    def calls(self, calls: list[dict[str, Any]], content: str | None = None,
              **extra: Any) -> str:
        """The assistant part of a turn with these calls, end of turn cut off."""
        message = {"role": "assistant", "content": self.empty if content is None else content,
                   "tool_calls": calls, **extra}
        body = self.body(message)
        # what a plain answer ends with, as far as this turn ends the same way (Cohere ends
        # both with <|END_OF_TURN_TOKEN|>, after <|END_RESPONSE|> or <|END_ACTION|>)
        cut = common_suffix(body, self.plain, len(self.eot))
        return body[: len(body) - cut]

    def choose_empty_content(self) -> None:
        """Content "" for call-only turns, or None where only that renders the calls."""
        if NAMES[0] in self.calls([call(0, {"kqalpha": "vqalpha"})]):
            return
        self.empty = None
        if NAMES[0] not in self.calls([call(0, {"kqalpha": "vqalpha"})]):
            raise ProbeError("the template renders no planted tool call")


def _what(message: dict[str, Any]) -> str:
    if message.get("tool_calls"):
        n = len(message["tool_calls"])
        return "an assistant turn with " + ("one tool call" if n == 1 else f"{n} tool calls")
    return "an assistant answer"
