"""Derive a template's tool-call syntax by rendering planted variants and diffing them.

Order: the template must render calls itself; reasoning markers (a planted reasoning text
and what surrounds it); how arguments are written (arguments.py); the section and call
structure from three calls (structure.py); where content goes; the lazy-grammar trigger.
Last, the derived dialect must parse every planted rendering back to exactly the planted
calls (selfcheck.py) — a spec that cannot is no spec.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gateway.detection import EOS_NAMED
from gateway.templating import ChatTemplate

from .arguments import ONE, ArgumentsError, derive_tagged, json_spacing
from .markup import ATOM, ID, SLOTS, WS, first_atom, last_atom, show
from .probe import CONTENT, NAMES, REASONING, Probe, ProbeError, call
from .selfcheck import SelfCheckError, selfcheck
from .spec import Spec, Tagged
from .structure import StructureError, derive_structure

REASONING_KEYS = ("reasoning_content", "reasoning", "thinking", "thought", "tool_plan")
# Tokens that end a generation in common vocabularies: llama.cpp stops on them (a grammar
# cannot ask for one as text), so they never belong to the call syntax.
END_TOKENS = ("<|eom_id|>", "<|eot_id|>", "<|im_end|>", "<|end|>", "<|endoftext|>",
              "<|return|>", "<|call|>", "<end_of_turn>", "<|END_OF_TURN_TOKEN|>",
              "<\uff5cend\u2581of\u2581sentence\uff5c>", "</s>", "<|end_of_text|>")


class DeriveError(Exception):
    """Why a template's call syntax could not be derived (for logs and `explain`)."""


def derive(template: ChatTemplate) -> Spec:
    fixes = template.applied_fixes
    if "tool_calls" in fixes or not getattr(template, "renders_tool_calls", True):
        raise DeriveError("the template does not render assistant tool calls")
    try:
        return _derive_or_explain(template, follow=False)
    except DeriveError as first:
        try:  # the last assistant turn may be written unlike the others (see Probe)
            return _derive_or_explain(template, follow=True)
        except DeriveError:
            pass
        try:  # calls as a turn of their own after the text's end (see _content)
            return _derive_or_explain(template, follow=False, own_turn=True)
        except DeriveError:
            raise first from None


def _derive_or_explain(template: ChatTemplate, follow: bool, own_turn: bool = False) -> Spec:
    try:
        return _derive(template, follow, own_turn)
    except (ProbeError, ArgumentsError, StructureError, SelfCheckError) as exc:
        raise DeriveError(str(exc)) from exc
    except DeriveError:
        raise
    except Exception as exc:  # a stranger's template must never break detection
        raise DeriveError(f"derivation failed: {exc!r}") from exc


def _derive(template: ChatTemplate, follow: bool = False, own_turn: bool = False) -> Spec:
    probe = Probe(template, follow)
    probe.choose_empty_content()
    think = _reasoning(probe)
    forced = _forced(probe, think)
    strip = _stripper(probe, think)
    spacing = json_spacing(probe, strip)
    tagged = None if spacing else derive_tagged(probe, strip)

    def render(args: dict[str, Any]) -> str:
        return tagged.render(args) if tagged else json.dumps(args, separators=spacing)

    single = "split_calls" in template.applied_fixes
    try:
        st = derive_structure(probe, render, 1 if single else 3, strip)
    except ProbeError:  # the template refuses several calls in one turn
        single = True
        st = derive_structure(probe, render, 1, strip)
    named = EOS_NAMED.findall(st.section_close + "".join(p for p in st.call if p not in SLOTS))
    ends = [e for e in (*END_TOKENS, *named, template.eos_token, first_atom(probe.eot) or "")
            if e]
    close, call_parts = _cut_end(st.section_close, ends), list(st.call)
    if single and call_parts[-1] not in SLOTS:
        call_parts[-1] = _cut_end(call_parts[-1], ends)
    content = _content(probe, strip, own_turn)
    turn_end = ""
    if content == "after" and close and not _closed_before_text(probe, close):
        turn_end, close = close, ""  # Gemma 4: calls, text, then <|tool_response>
    spec = Spec(call=tuple(p for p in call_parts if p), args=tagged,
                json_spacing=spacing or (", ", ": "), section_open=st.section_open,
                section_close=close, call_sep=st.call_sep, single_call=single, think=think,
                think_forced=forced, content=content, turn_end=turn_end,
                short_ids=ID in st.call and _short_ids(probe),
                renders_tools=bool(getattr(template, "renders_tools", True)),
                index_base=st.index_base, notes=_notes(tagged, content))
    spec = _with_trigger(spec)
    selfcheck(spec, probe, ends)
    return spec


def _stripper(probe: Probe, think: tuple[str, str] | None) -> Callable[[str], str]:
    def strip(body: str) -> str:
        """A call-only turn's text from its first marker on (no empty reasoning block, no
        plain answer's opening)."""
        b = body.lstrip(WS)
        if think and b.startswith(think[0]):
            rest = b[len(think[0]):].lstrip(WS)
            if rest.startswith(think[1]):
                b = rest[len(think[1]):].lstrip(WS)
        elif think and b.startswith(think[1]):  # the prompt opened the block: its close
            b = b[len(think[1]):].lstrip(WS)
        pre = probe.pre.strip(WS)
        if pre and b.startswith(pre):
            b = b[len(pre):].lstrip(WS)
        return b
    return strip


def _notes(tagged: Tagged | None, content: str) -> tuple[str, ...]:
    notes = []
    if tagged and not tagged.nested_json:
        notes.append("objects/arrays are not written as JSON by the template (the grammar "
                      "asks for JSON)")
    if tagged and tagged.python_bools:
        notes.append("the template writes True/False (the grammar asks for true/false)")
    if content == "dropped":
        notes.append("the template drops text written with calls")
    elif content == "after":
        notes.append("text follows the calls")
    return tuple(notes)


def _short_ids(probe: Probe) -> bool:
    """Does the template insist on short call ids (Mistral's 9 alphanumerics)?"""
    long_id = "call_Zq0123456789abcdefXY"
    message = {"id": long_id, "type": "function",
               "function": {"name": "gwq_lookup", "arguments": "{}"}}
    try:
        return long_id not in probe.calls([message])
    except ProbeError:
        return True


def _cut_end(text: str, ends: list[str]) -> str:
    """text up to the first end-of-generation token in it."""
    at = min((text.find(e) for e in ends if e in text), default=len(text))
    return text[:at].rstrip(WS)


def _reasoning(probe: Probe) -> tuple[str, str] | None:
    """Reasoning markers: what the template writes around a planted reasoning text."""
    for key in REASONING_KEYS:
        for calls in ([], [call(0, ONE)]):
            message: dict[str, Any] = {"role": "assistant", "content": CONTENT, key: REASONING}
            if calls:
                message["tool_calls"] = calls
            try:
                body = probe.body(message)
            except ProbeError:
                continue
            if REASONING not in body:
                continue
            at = body.index(REASONING)
            before = body[:at].strip(WS).rsplit("\n", 1)[-1].strip(WS)
            if not before:  # the opener is in the prompt's part every turn shares (StepFun)
                before = _opened_by_prompt(probe) or ""
            close = ATOM.match(body[at + len(REASONING):].lstrip(WS))
            if not body[:at].strip(WS) and probe.forced.strip(WS) and not close:
                # the generation prompt opens the reasoning in words and a line of its own
                # closes it ("Here are my reasoning steps:" … "[BEGIN FINAL RESPONSE]")
                line = body[at + len(REASONING):].lstrip(WS).split("\n", 1)[0].strip(WS)
                if 0 < len(line) <= 48 and CONTENT not in line:
                    return probe.forced.strip(WS), line
            if before and close and before != close.group(0) and ("<" in before or
                                                                   "[" in before):
                return before, close.group(0)
    # the generation prompt opens a block the history never shows (QwQ): <x> ... </x>
    opened = re.fullmatch(r"<([A-Za-z_]+)>", probe.forced.strip(WS))
    if opened and f"</{opened.group(1)}>" in probe.template.source:
        return opened.group(0), f"</{opened.group(1)}>"
    # the template takes a reasoning block off the history's answers (`content.split(
    # '</think>')`): the model writes one before its answer, which the history never shows
    source = probe.template.source
    closed = _opened_by_prompt(probe) == "</think>" or "</think>" in probe.forced
    if ("'</think>'" in source or '"</think>"' in source) and not closed:
        return "<think>", "</think>"
    return None


def _opened_by_prompt(probe: Probe) -> str | None:
    """The marker the shared part of every rendering ends with (`<think>` when the template
    opens the block in the generation prompt and in each assistant turn alike), if any."""
    head = probe.prompt[:probe.head].rstrip(WS)
    found = last_atom(head)
    return found[1] if found and head.endswith(found[1]) else None


def _forced(probe: Probe, think: tuple[str, str] | None) -> bool:
    """Does the generation prompt open the reasoning block the model continues?"""
    forced = probe.forced.strip(WS)
    if not forced:
        return think is not None and _opened_by_prompt(probe) == think[0]
    if think and forced == think[0]:
        return True
    if think and think[0] in forced and think[1] in forced[forced.index(think[0]):]:
        return False  # an empty block: reasoning is switched off
    if think and forced == think[1]:
        return False
    if _empty_block(forced):  # a block opened and closed at once: reasoning switched off
        return False
    raise DeriveError(f"the generation prompt ends with {forced!r}, which assistant turns in "
                      "the history do not start with")


def _marker_name(atom: str) -> tuple[str, bool]:
    """A marker's name and whether it closes: `</think>`, `<channel|>` and `[/INST]` close
    `<think>`, `<|channel>` and `[INST]`."""
    inner = atom.strip("<>[]")
    closing = inner.startswith("/") or (inner.endswith("|") and not inner.startswith("|"))
    return inner.strip("/|\uff5c"), closing


def _empty_block(text: str) -> bool:
    """Is `text` a block opened and closed with nothing but a label and whitespace inside
    (`<think>\n\n</think>`, `<|channel>thought\n<channel|>`)?"""
    atoms = list(ATOM.finditer(text))
    if len(atoms) != 2 or atoms[0].start() != 0 or atoms[1].end() != len(text):
        return False
    (a, a_closes), (b, b_closes) = (_marker_name(m.group(0)) for m in atoms)
    inside = text[atoms[0].end():atoms[1].start()].strip(WS)
    return a == b and not a_closes and b_closes and re.fullmatch(r"[A-Za-z_]*", inside) is not None


def _compact(text: str) -> str:
    return "".join(text.split())


def _content(probe: Probe, strip: Any, own_turn: bool = False) -> str:
    """Where a turn's text goes when it also calls tools. `own_turn`: calls written after an
    end-of-generation token count as a turn of their own."""
    calls_only = _compact(strip(probe.calls([call(0, ONE)])))
    body = probe.calls([call(0, ONE)], content=CONTENT)
    # a generation ends at an end-of-generation token: calls written after one, as a turn
    # of their own (HyperCLOVA X: `TEXT<|im_end|>\n<|im_start|>assistant -> tool
    # /function_call\n[...]`), never follow text in one answer
    if own_turn:
        if probe.pre.strip(WS):  # Harmony: the text goes to a channel of its own
            raise DeriveError("text is written in a channel (after "
                              f"{show(probe.pre.strip(WS))!r}): needs a hand-written dialect")
        body = body[:min((body.find(e) for e in END_TOKENS if e in body), default=len(body))]
    if CONTENT not in body or NAMES[0] not in body:
        return "dropped"  # the text or (Phi-4-mini's vLLM template) the calls
    at = body.index(CONTENT)
    before, after = body[:at], body[at + len(CONTENT):]
    if not _compact(strip(before)) and _compact(after) == calls_only:
        return "before"
    if _compact(strip(before)) + _compact(after) == calls_only and _compact(before):
        return "after"
    raise DeriveError(f"text with calls is written as {show(before)!r} TEXT {show(after)!r}, "
                      "unlike a plain answer (channels?): needs a hand-written dialect")


def _closed_before_text(probe: Probe, close: str) -> bool:
    """Does the section's close come before the turn's text (MiniCPM 3: the calls' code
    fence and <|tool_call_end|>, then the text), not after it (Gemma 4)?"""
    body = probe.calls([call(0, ONE)], content=CONTENT)
    return close.strip(WS) in body[:body.index(CONTENT)]


def _with_trigger(spec: Spec) -> Spec:
    """The lazy grammar's trigger: the section's last marker, else the call's first one."""
    if spec.section_open:
        found = last_atom(spec.section_open)
        trigger = found[1] if found else spec.section_open.strip(WS)
    else:
        head = spec.head.lstrip(WS)
        trigger = first_atom(head) or head
    if not trigger.strip(WS):
        raise DeriveError("calls start with the function name itself: there is no marker "
                          "a lazy grammar could trigger on")
    return replace(spec, trigger=trigger)
