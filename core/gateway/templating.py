"""Render a model's Hugging Face chat template for OpenAI-style messages.

Beyond the argument shapes handled in templating_env, real templates (tests/test_templating.py
runs all of ../shared/templates) reject a system role (Gemma), demand strict user/assistant
alternation or have no tool role (Gemma, Mixtral, Mistral), insist on 9-character call ids
(Mistral), silently drop tool calls/results (Phi-3.5, Granite, SmolLM3), crash on or print
`content: null` (Qwen3, QwQ, Granite; GLM-4.6, MiniMax-M2) while DeepSeek needs that null to
render calls at all, take one call per turn (Llama 3.x raises, gpt-oss drops the rest) or show
a call's id instead of its name (Kimi-K2, whose ids are `functions.<name>:<n>`).
`ChatTemplate` probes the template once, at load time, and keeps the fixes the probes show it
needs; `render` tries the conversation with those and, on an error it recognises, applies the
matching fix to that render only (one client's odd conversation never changes the prompts of
the others).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from typing import Any

import jinja2

from gateway.template_limits import DEFAULT_LIMITS, RenderLimits, TemplateLimitError
from gateway.templating_env import (
    JsonArguments,
    Message,
    TemplateError,
    compile_template,
    default_variables,
    named_call_ids,
    normalise_message,
    one_call_per_turn,
    render_sandboxed,
    short_call_ids,
    template_reads,
)

__all__ = ["ChatTemplate", "JsonArguments", "RenderLimits", "TemplateError", "TemplateLimitError",
           "load_template_file"]


# markers planted by the capability probes; unlikely to occur in any template's own text
_P_SYS, _P_USER, _P_TOOL = "gw-probe-system-7431", "gw-probe-user-7431", "gw_probe_tool_7431"
_P_FN, _P_VAL, _P_RES = "gw_probe_fn_7431", "gw-probe-arg-7431", "gw-probe-result-7431"
_P_FN2, _P_VAL2, _P_RES2 = "gw_probe_fn2_7431", "gw-probe-arg2-7431", "gw-probe-result2-7431"
# ids as OpenAI clients send them: a template that insists on another shape (Mistral's 9
# alphanumerics) fails the probe, which settles the id fix once, at load time
_P_ID, _P_ID2 = "call_gwprobe7431a", "call_gwprobe7431b"


# --- fixes: each turns the message list into one the template accepts -------------------


def _merge_system(messages: list[Message]) -> list[Message]:
    """Leading system text goes in front of the first user turn; later ones become user."""
    lead = 0
    while lead < len(messages) and messages[lead]["role"] == "system":
        lead += 1
    system = "\n\n".join(m["content"] or "" for m in messages[:lead])
    rest = [{**m, "role": "user"} if m["role"] == "system" else m for m in messages[lead:]]
    if not system:
        return rest
    for i, msg in enumerate(rest):
        if msg["role"] == "user":
            rest[i] = {**msg, "content": f"{system}\n\n{msg['content'] or ''}"}
            return rest
    return [{"role": "user", "content": system}, *rest]


def _polyfill_calls(messages: list[Message]) -> list[Message]:
    """Tool calls as JSON text in the assistant turn (the shape llama.cpp's minja uses)."""
    out = []
    for msg in messages:
        if msg.get("tool_calls"):
            calls = [
                {"name": c["name"], "arguments": c["arguments"], "id": c.get("id")}
                for c in msg["tool_calls"]
            ]
            text = json.dumps({"tool_calls": calls}, ensure_ascii=False)
            msg = {k: v for k, v in msg.items() if k != "tool_calls"}
            msg["content"] = f"{msg['content']}\n{text}" if msg.get("content") else text
        out.append(msg)
    return out


def _polyfill_results(messages: list[Message]) -> list[Message]:
    """Tool results as user turns, for templates without a tool role."""
    names = {c.get("id"): c["name"] for m in messages for c in m.get("tool_calls") or ()}
    out = []
    for msg in messages:
        if msg["role"] == "tool":
            call_id = msg.get("tool_call_id")
            body = {"tool": msg.get("name") or names.get(call_id), "content": msg["content"]}
            if call_id:
                body["tool_call_id"] = call_id
            msg = {"role": "user", "content": json.dumps({"tool_response": body})}
        out.append(msg)
    return out


def _merge_turns(messages: list[Message]) -> list[Message]:
    """Join consecutive same-role turns, for templates that demand strict alternation."""
    out: list[Message] = []
    for msg in messages:
        prev = out[-1] if out else None
        if (
            prev
            and prev["role"] == msg["role"]
            and not (prev.get("tool_calls") or msg.get("tool_calls"))
        ):
            out[-1] = {**prev, "content": f"{prev['content'] or ''}\n\n{msg['content'] or ''}"}
        else:
            out.append(msg)
    return out


def _result_names(messages: list[Message]) -> list[Message]:
    """Each tool result named after the call it answers, for templates that require
    `message.name` on a tool turn (vLLM's Hermes template raises without it)."""
    names = {c.get("id"): c["name"] for m in messages for c in m.get("tool_calls") or ()}
    return [{**m, "name": names[m.get("tool_call_id")]}
            if m["role"] == "tool" and not m.get("name") and m.get("tool_call_id") in names
            else m for m in messages]


def _empty_content(messages: list[Message]) -> list[Message]:
    return [{**m, "content": ""} if m.get("content") is None else m for m in messages]


_FIXES: dict[str, Callable[[list[Message]], list[Message]]] = {  # applied in this order
    "system": _merge_system,
    "split_calls": one_call_per_turn,
    "result_names": _result_names,
    "tool_results": _polyfill_results,  # before tool_calls: it looks up the calls' names
    "tool_calls": _polyfill_calls,
    "merge_turns": _merge_turns,
    "short_ids": short_call_ids,
    "name_ids": named_call_ids,
    "empty_content": _empty_content,
}
_NO_TOOL_ROLE = frozenset({"tool_calls", "tool_results", "merge_turns"})
# fixes that hold for every conversation once seen; the others may be needed by one
# conversation only (Mistral rejects user right after a tool result, not tool calls as such)
_STICKY = frozenset({"system", "split_calls", "short_ids", "name_ids", "empty_content",
                     "result_names"})
# fixes for templates that render without error but lose or garble part of a conversation;
# the probe keeps one only where it shows more of the planted conversation
_SILENT = ("split_calls", "name_ids", "empty_content")
_NONE: frozenset[str] = frozenset()


def _fixes_for(error: str) -> list[frozenset[str]]:
    """Fix groups that may cure a render error, most specific first."""
    text = error.lower()
    groups = []
    if "alternate" in text:  # "After the optional system message, roles must alternate"
        groups += [frozenset({"merge_turns"}), _NO_TOOL_ROLE]
    if "system" in text:
        groups.append(frozenset({"system"}))
    if "role" in text:
        groups.append(_NO_TOOL_ROLE)
    if re.search(r"\b(single|one|multiple|parallel) tool", text):  # Llama 3.x
        groups.append(frozenset({"split_calls"}))
    if re.search(r"\bids?\b", text):
        groups.append(frozenset({"short_ids"}))
    if re.search(r"\bname\b", text) and "tool" in text:  # "Tool response dicts require a
        groups.append(frozenset({"result_names"}))  # 'name' key"
    if "nonetype" in text or "'none'" in text:  # `None + str`, `None.split`
        groups.append(frozenset({"empty_content"}))
    return groups


def _as_template_error(exc: Exception, name: str) -> TemplateError:
    if isinstance(exc, TemplateError):
        return exc  # the template's own raise_exception text
    if isinstance(exc, jinja2.UndefinedError):
        return TemplateError(f"chat template {name!r} needs a variable it was not given: {exc}")
    return TemplateError(f"chat template {name!r} failed: {type(exc).__name__}: {exc}")


class ChatTemplate:
    """One compiled chat template plus what probing learned about it.

    `render` strips one leading `bos_token`: llama.cpp's /completion already prepends BOS
    to a string prompt when the model's add_bos_token is true, and a doubled BOS degrades
    output. Pass `strip_bos=metadata.add_bos_token`. When that is unknown (None), the BOS is
    stripped only if it occurs nowhere else in the prompt: SmolLM2's "BOS" is `<|im_start|>`
    (add_bos_token false), a turn marker that must stay.
    `context` holds extra template variables for every render (and the probes), and a
    render's `extra_context` more for that render (e.g. the request's `reasoning_effort` for
    gpt-oss, `enable_thinking` for Qwen3/GLM); a None value there means "not given", so the
    template's own default applies. Variables the template reads instead of `tools`
    (firefunction-v2's `functions`, `datetime`) default to values derived per render.
    """

    def __init__(
        self,
        source: str,
        *,
        bos_token: str = "",
        eos_token: str = "",
        name: str = "default",
        strip_bos: bool | None = None,
        context: Mapping[str, Any] | None = None,
        limits: RenderLimits = DEFAULT_LIMITS,
    ) -> None:
        self._source = source
        self.limits = limits
        # Set when a render at start-up (probes, detection) went over the limits: with our
        # own tiny conversations that is a hostile template, and later renders fail at once
        # instead of each burning the time limit. Clients cannot trip it (`settle()`).
        self.hostile: TemplateLimitError | None = None
        self._trip = True
        self._template = compile_template(source)
        # every variable it reads without setting it: messages, tools, enable_thinking...
        self.variables = template_reads(source)
        self.name, self.bos_token, self.eos_token = name, bos_token, eos_token
        self._strip_bos = strip_bos
        self._context = dict(context or {})
        self._fixes: frozenset[str] = frozenset()
        self._probe()

    @property
    def source(self) -> str:
        return self._source

    def settle(self) -> None:
        """Start-up is over: from now on a render over the limits fails that render only."""
        self._trip = False

    @property
    def applied_fixes(self) -> frozenset[str]:
        """Fixes this template needs (from probes and from errors seen so far)."""
        return self._fixes

    def render(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
        extra_context: Mapping[str, Any] | None = None,
    ) -> str:
        """The prompt text; raises TemplateError with a message fit for the client."""
        normalised = [normalise_message(m) for m in messages]
        text, fixes = self._render_fixing(
            normalised, tools, add_generation_prompt, extra_context, self._fixes, frozenset(_FIXES)
        )
        bos = self.bos_token
        strip = self._strip_bos
        if strip is None:  # unknown add_bos_token: only a BOS that is nothing else
            strip = bos not in text[len(bos) :]
        if bos and strip and text.startswith(bos):
            text = text[len(bos) :]
        return text

    def _render_fixing(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None,
        add_generation_prompt: bool,
        extra: Mapping[str, Any] | None,
        fixes: frozenset[str],
        allowed: frozenset[str],
    ) -> tuple[str, frozenset[str]]:
        while True:
            fixed = messages
            for fix_name, fix in _FIXES.items():
                if fix_name in fixes:
                    fixed = fix(fixed)
            try:
                return self._render_raw(fixed, tools, add_generation_prompt, extra), fixes
            except TemplateLimitError as exc:  # no fix makes a hostile template cheaper
                if self._trip and self.hostile is None:
                    self.hostile = exc
                raise
            except Exception as exc:  # a template can raise anything; classify, then re-raise
                new = [g for g in _fixes_for(str(exc)) if (g & allowed) - fixes]
                if not new:
                    raise _as_template_error(exc, self.name) from exc
                fixes = fixes | (new[0] & allowed)

    def _render_raw(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None,
        add_generation_prompt: bool,
        extra: Mapping[str, Any] | None,
    ) -> str:
        given = {k: v for k, v in self._context.items() if v is not None}
        given.update((k, v) for k, v in (extra or {}).items() if v is not None)
        variables = default_variables(self.variables - given.keys(), tools)
        variables.update(given)
        variables.update(
            messages=messages,
            tools=tools or None,  # HF passes None without tools; `[]` would still be "defined"
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )
        if self.hostile is not None:
            raise TemplateLimitError(f"{self.hostile} (seen at start-up; pass a "
                                     "--chat-template-file)")
        return render_sandboxed(self._template, variables, self.limits)

    def _attempt(
        self,
        messages: list[Mapping[str, Any]],
        tools: list[dict[str, Any]] | None,
        fixes: frozenset[str] = frozenset(),
        allowed: frozenset[str] = frozenset(),
    ) -> tuple[str, frozenset[str]] | None:
        try:
            normalised = [normalise_message(m) for m in messages]
            return self._render_fixing(normalised, tools, True, None, fixes, allowed | fixes)
        except TemplateLimitError:
            raise
        except Exception:
            return None

    def _probe(self) -> None:
        """Render planted conversations once to learn what the template does with them."""
        try:
            self._probe_all()
        except TemplateLimitError:  # hostile: no verdict, every later render fails fast
            self.renders_tools = False
            self.supports_system_role = self.renders_tool_calls = True
            self.renders_tool_results = True

    def _probe_all(self) -> None:
        user = {"role": "user", "content": _P_USER}
        params = {"type": "object", "properties": {}}
        function = {"name": _P_TOOL, "description": "probe", "parameters": params}
        tool = {"type": "function", "function": function}
        with_tools = self._attempt([user], [tool])
        self.renders_tools = with_tools is not None and _P_TOOL in with_tools[0]
        # tool_use variants (Hermes) iterate `tools` unguarded: probe those with a tool list;
        # so too templates that show tools (a call comes with its tools: Hunyuan renders calls
        # only in its branch for a request with tools)
        probe_tools = None if not self.renders_tools and self._attempt([user], None) \
            is not None else [tool]
        if probe_tools and with_tools is None:
            # needs variables we do not know: no verdict, so no proactive fixes
            self.supports_system_role = self.renders_tool_calls = True
            self.renders_tool_results = True
            return
        out = self._attempt([{"role": "system", "content": _P_SYS}, user], probe_tools)
        self.supports_system_role = out is not None and _P_SYS in out[0]
        calls = [
            {"id": i, "type": "function", "function": {"name": f, "arguments": {"arg": v}}}
            for i, f, v in ((_P_ID, _P_FN, _P_VAL), (_P_ID2, _P_FN2, _P_VAL2))
        ]
        conversation: list[Mapping[str, Any]] = [
            user,
            {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "tool_call_id": _P_ID, "content": _P_RES},
            {"role": "tool", "tool_call_id": _P_ID2, "content": _P_RES2},
        ]
        planted = (_P_FN, _P_VAL, _P_FN2, _P_VAL2, _P_RES, _P_RES2)

        def score(result: tuple[str, frozenset[str]] | None) -> tuple[int, int]:
            text = result[0] if result else ""  # more planted text, then fewer printed Nones
            return sum(p in text for p in planted), -text.count("None")

        allowed = frozenset({"short_ids", "empty_content", "split_calls", "result_names"})
        best = self._attempt(conversation, probe_tools, allowed=allowed)
        for fix in _SILENT:  # keep a fix that shows more of the conversation
            start = (best[1] if best else _NONE) | {fix}
            tried = self._attempt(conversation, probe_tools, start, allowed)
            if score(tried) > score(best):
                best = tried
        text, fixes = best or ("", _NONE)
        self.renders_tool_calls = _P_FN in text and _P_VAL in text
        self.renders_tool_results = _P_RES in text
        learned = set(fixes & _STICKY) if self.renders_tool_calls else set()
        if not self.supports_system_role:
            learned.add("system")
        if not self.renders_tool_calls:
            learned.add("tool_calls")
        if not self.renders_tool_results:
            learned |= {"tool_results", "merge_turns"}
        self._fixes = frozenset(learned)

    def __repr__(self) -> str:
        return f"ChatTemplate(name={self.name!r}, fixes={sorted(self._fixes)})"


def load_template_file(path: str | PathLike[str]) -> str:
    """A template file's text (for `--chat-template-file`); a clear error if unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read chat template file {str(path)!r}: {exc}") from exc
