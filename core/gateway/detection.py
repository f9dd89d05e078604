"""Which dialect serves a chat template: claims rank the candidates, a round trip decides.

A dialect claims a template only with evidence. A conversation with a planted assistant
tool call (known name, known arguments) is rendered through the template; the assistant part
is handed to the dialect's own parser, which must give back exactly the planted call. A
keyword match alone once sent templates with XML parameters to a JSON dialect — a foreign
syntax forced on the model, worse than the generic fallback.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from gateway.dialect import (
    Dialect,
    DialectClaim,
    RequestContext,
    ServedModel,
    ToolDef,
    assemble,
)
from gateway.templating import ChatTemplate, TemplateError

log = logging.getLogger("gateway.detection")

PLANTED_TOOLS = [
    ToolDef("get_weather", "Get the current weather for a city.", {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"},
                       "days": {"type": "integer", "description": "Days ahead"}},
        "required": ["city"]}),
    ToolDef("get_time", "Get the current time in a time zone.", {
        "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}),
]
PLANTED_CALL: tuple[str, dict[str, Any]] = ("get_weather", {"city": "Paris", "days": 3})
SECOND_CALL: tuple[str, dict[str, Any]] = ("get_time", {"zone": "Europe/Berlin"})
_USER = {"role": "user", "content": "What is the weather in Paris in three days?"}
_FOLLOW = {"role": "user", "content": "And the day after?"}


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """The evidence for (or against) a dialect on a template."""

    dialect: str
    ok: bool
    rendered: str  # the assistant part the template rendered for the planted call
    parsed: list[tuple[str, Any]] = field(default_factory=list)
    parallel: bool = False  # two planted calls came back too
    reason: str = ""

    def describe(self) -> dict[str, Any]:
        return {"dialect": self.dialect, "ok": self.ok, "rendered": self.rendered,
                "parsed": [{"name": n, "arguments": a} for n, a in self.parsed],
                "parallel": self.parallel, "reason": self.reason}


def end_of_turn_marker(template: ChatTemplate) -> str | None:
    """The text a template puts after an assistant turn (e.g. `<|im_end|>`): a stop word, so
    generation ends even when the template is not the model's own (--chat-template-file)."""
    turn = [{"role": "user", "content": "PING"}, {"role": "assistant", "content": "PONG"}]
    try:
        text = template.render(turn, add_generation_prompt=False)
    except TemplateError:
        try:  # tool_use variants that iterate `tools` unguarded
            text = template.render(turn, tools=[t.openai() for t in PLANTED_TOOLS],
                                   add_generation_prompt=False)
        except TemplateError:
            return None
    tail = text.rsplit("PONG", 1)[1] if "PONG" in text else ""
    marker = tail.strip().split("\n", 1)[0].strip() if tail.strip() else ""
    # a line that runs on past an end-of-generation token (`<|end|><|im_end|>`,
    # `<|eot_id|><|start_header_id|>assistant…`) ends there: the whole line would match only
    # when the model wrote every marker of it
    ends = [at + len(t) for t in END_OF_GENERATION if (at := marker.find(t)) >= 0]
    return marker[:min(ends)] if ends else marker or None


def _call_message(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"call{i}abcd", "type": "function",
         "function": {"name": name, "arguments": json.dumps(args)}}
        for i, (name, args) in enumerate(calls)]}


# Tokens that end a generation in common vocabularies: llama.cpp stops on them and never
# hands them to the parser, so the round trip cuts there too.
END_OF_GENERATION = ("<|eom_id|>", "<|eot_id|>", "<|im_end|>", "<|end|>", "<|endoftext|>",
                     "<|return|>", "<|call|>", "<end_of_turn>", "<|END_OF_TURN_TOKEN|>",
                     "<\uff5cend\u2581of\u2581sentence\uff5c>", "</s>", "<|end_of_text|>")
# a token named end of sequence (`<|eos|>`: Hunyuan A13B, `<｜hy_eos｜>`: Hy3, whose template
# sets it itself): the model's vocabulary ends generation there, whatever GGUF metadata or
# --chat-template-file the template came with
EOS_NAMED = re.compile(r"<[|\uff5c][^<>|\uff5c\s]*?(?<![a-z])eos(?![a-z])[^<>|\uff5c\s]*[|\uff5c]>")
_OPENER = re.compile(r"<([A-Za-z_]+)>\s*$")


def _render_pair(template: ChatTemplate, message: dict[str, Any], tools: list[dict[str, Any]],
                 followed: bool = False) -> tuple[str, str]:
    """The generation prompt after the user turn, and the conversation with `message` after
    it. `followed`: the message is rendered with a user turn after it and cut where that
    begins, for templates that write the conversation's last assistant turn unlike the
    others (a training form that leaves out its calls: vLLM's Nemotron JSON template)."""
    prefix = template.render([_USER], tools=tools, add_generation_prompt=True)
    if not followed:
        return prefix, template.render([_USER, message], tools=tools,
                                       add_generation_prompt=False)
    alone = template.render([_USER], tools=tools, add_generation_prompt=False)
    text = template.render([_USER, message, _FOLLOW], tools=tools, add_generation_prompt=False)
    at, head = text.rfind(_FOLLOW["content"]), alone.find(_USER["content"])
    if at < 0 or head < 0:
        raise TemplateError("the template does not show a user turn after an assistant turn")
    # the next turn's own opening (`<|user|>\n`) is what it shares with the first's
    before, user_head = text[:at], alone[:head]
    n = 0
    while n < min(len(before), len(user_head)) and before[-1 - n] == user_head[-1 - n]:
        n += 1
    return prefix, before[:len(before) - n]


def assistant_part(template: ChatTemplate, message: dict[str, Any],
                   tools: list[ToolDef]) -> str:
    """What the template writes for one assistant turn after a user turn: the text the model
    would generate, cut where llama.cpp would stop."""
    openai_tools = [t.openai() for t in tools]
    part = _assistant_part(template, message, openai_tools, followed=False)
    names = [c["function"]["name"] for c in message.get("tool_calls") or ()]
    if names and not any(n in part for n in names):
        try:  # the last turn may be written without its calls (see _render_pair)
            followed = _assistant_part(template, message, openai_tools, followed=True)
        except TemplateError:
            return part
        if any(n in followed for n in names):
            return followed
    return part


def _assistant_part(template: ChatTemplate, message: dict[str, Any],
                    tools: list[dict[str, Any]], followed: bool) -> str:
    prefix, full = _render_pair(template, message, tools, followed)
    if full.count("None") > prefix.count("None") and message.get("content") is None:
        # the template prints a null content; a call-only turn the model writes has none
        try:
            prefix2, full2 = _render_pair(template, {**message, "content": ""}, tools,
                                          followed)
            if full2.count("None") == prefix2.count("None"):
                prefix, full = prefix2, full2
        except TemplateError:
            pass
    return turn_text(prefix, full, template, _USER["content"])


def turn_text(prefix: str, full: str, template: ChatTemplate, user: str | None = None) -> str:
    """The assistant turn `full` adds after the generation prompt `prefix`, cut where
    llama.cpp would stop: the text the model would generate. `user`: the last user
    message's text, where the turn may also be found after it."""
    if full.startswith(prefix):
        part = full[len(prefix):]
    elif full.startswith(core := prefix.rstrip()) and core:
        # the prompt ends in whitespace the history's turn writes otherwise (`ASSISTANT: \n`
        # before `ASSISTANT:\n<function_call>`): the model writes on after the prompt's
        part = full[len(core):].lstrip()
    elif (after_user := _after_user(prefix, full, user)) is not None:
        part = after_user
    else:
        # The generation prompt differs from the history's turn (an opened or empty thinking
        # block): align on the last line or tag boundary both share.
        n = 0
        while n < min(len(prefix), len(full)) and prefix[n] == full[n]:
            n += 1
        while n and prefix[n - 1] not in "\n>":
            n -= 1
        part = full[n:]
        opened = _OPENER.search(prefix[n:])
        if opened and f"</{opened.group(1)}>" in template.source:
            # the prompt opens a block the model must close before calling (QwQ's <think>)
            part = f"</{opened.group(1)}>\n\n" + part.lstrip()
    for stop in (end_of_turn_marker(template), template.eos_token, *END_OF_GENERATION,
                 *EOS_NAMED.findall(part)):
        if stop and stop in part:
            part = part[:part.index(stop)]
    return part


def _after_user(prefix: str, full: str, user: str | None) -> str | None:
    """What follows the generation prompt's end in `full`, found after the user's message:
    for templates that write the last user turn otherwise when it is the last message
    (vLLM's parallel Mistral template puts its instructions before it); None if not so."""
    if not user or user not in prefix or user not in full:
        return None
    tail = prefix[prefix.rindex(user) + len(user):]
    rest = full[full.rindex(user) + len(user):]
    return rest[len(tail):] if tail.strip() and rest.startswith(tail) else None


def _parse(dialect: Dialect, template: ChatTemplate, text: str
           ) -> tuple[list[tuple[str, Any]], str]:
    ctx = RequestContext(messages=[_USER], tools=list(PLANTED_TOOLS))
    parser = dialect.create_parser(ctx, ServedModel(template, dialect))
    out = assemble(parser.feed(text) + parser.finish())
    calls = []
    for c in out.tool_calls:
        try:
            calls.append((c.name, json.loads(c.arguments)))
        except ValueError:
            calls.append((c.name, c.arguments))
    return calls, out.content or ""


def round_trip(dialect: Dialect, template: ChatTemplate) -> RoundTrip:
    """Render the planted call through the template and parse it back with the dialect."""
    try:
        text = assistant_part(template, _call_message([PLANTED_CALL]), PLANTED_TOOLS)
    except TemplateError as exc:
        return RoundTrip(dialect.name, False, "", reason=f"the template cannot render a "
                         f"tool call: {exc}")
    if PLANTED_CALL[0] not in text or "Paris" not in text:
        return RoundTrip(dialect.name, False, text, reason="the template does not render "
                         "assistant tool calls")
    try:
        calls, content = _parse(dialect, template, text)
    except Exception as exc:  # a parser that chokes on its own template is not a match
        return RoundTrip(dialect.name, False, text, reason=f"parser failed: {exc!r}")
    if calls != [PLANTED_CALL] or content.strip():
        return RoundTrip(dialect.name, False, text, calls,
                         reason=f"parsed back {calls} and content {content.strip()[:60]!r}, "
                                f"not the planted call")
    parallel = False
    try:
        two = assistant_part(template, _call_message([PLANTED_CALL, SECOND_CALL]),
                             PLANTED_TOOLS)
        parallel = _parse(dialect, template, two)[0] == [PLANTED_CALL, SECOND_CALL]
    except Exception:  # noqa: BLE001 - parallel support is optional evidence
        parallel = False
    return RoundTrip(dialect.name, True, text, calls, parallel,
                     reason="the planted call rendered by the template parses back exactly")


@dataclass(slots=True)
class Detection:
    """The chosen dialect, why, and the evidence for every candidate tried."""

    dialect: Dialect
    reason: str
    evidence: list[RoundTrip] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"dialect": self.dialect.name, "reason": self.reason,
                "candidates": [e.describe() for e in self.evidence]}


def detect(dialects: dict[str, Dialect], claims: list[DialectClaim],
           template: ChatTemplate) -> Detection:
    """The first claim (highest score first) whose round trip succeeds; else generic."""
    tried: list[RoundTrip] = []
    for claim in claims:
        if claim.dialect == "generic" or claim.dialect not in dialects:
            continue
        evidence = round_trip(dialects[claim.dialect], template)
        tried.append(evidence)
        if evidence.ok:
            par = "; parallel calls round-trip too" if evidence.parallel else ""
            return Detection(dialects[claim.dialect], f"{claim.reason}; round trip: planted "
                             f"call rendered as {evidence.rendered.strip()[:120]!r} parsed "
                             f"back exactly{par}", tried)
        log.info("dialect %r claimed the template but its round trip failed: %s",
                 claim.dialect, evidence.reason)
    why = "no dialect round-trips this template's tool calls"
    if tried:
        why += " (tried " + ", ".join(f"{e.dialect}: {e.reason}" for e in tried) + ")"
    return Detection(dialects["generic"], why, tried)
