"""The sandboxed Jinja2 environment and the message shape Hugging Face chat templates expect.

The environment mirrors `transformers`' `apply_chat_template` (ImmutableSandboxedEnvironment,
trim/lstrip blocks, loop controls, `raise_exception`, `strftime_now`, an HF-style `tojson`)
so that templates render here as they do for the model's authors.

Messages are normalised from OpenAI's shape because real templates disagree about input:
- tool-call `arguments`: Qwen, Hermes, Llama 3, Mistral and Cohere do `arguments | tojson`
  (or `| items`) and need a dict; functionary v3.x, firefunction-v2 and DeepSeek-R1 do
  `'...' + arguments` and need the JSON text. `JsonArguments` is both at once.
- Qwen/Hermes read `tool_call.name` after `set tool_call = tool_call.function`, others read
  `tool_call.function.name`: each call carries `function` and flattened `name`/`arguments`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NoReturn

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

_TEMPLATE_CACHE_SIZE = 64


class TemplateError(ValueError):
    """A chat template could not be compiled or rendered; the message says why (for a
    template's own `raise_exception`, it is the template's text, meant for the client)."""


def _raise_exception(message: str) -> NoReturn:
    raise TemplateError(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _identity(value: Any) -> Any:
    return value


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # HF's version: unlike Jinja's built-in it neither HTML-escapes nor sorts keys, and it
    # takes `indent` (Llama 3 uses `tojson(indent=4)`); key order is part of the prompt.
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


class _GenerationTag(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}` marks assistant text for HF's training masks;
    for inference it just renders its body, but without it such templates do not compile."""

    tags = {"generation"}

    def parse(self, parser: Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


def _make_environment() -> ImmutableSandboxedEnvironment:
    # Immutable sandbox: templates come from model files, i.e. from strangers.
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[jinja2.ext.loopcontrols, jinja2.ext.do, _GenerationTag],
    )
    env.filters["tojson"] = _tojson
    # `|safe` makes Markup, and `Markup + str` HTML-escapes the str: functionary v3.1 does
    # `"..."|safe + tool|tojson` and would show the model `&#34;name&#34;`. Identity is
    # what the authors meant (and what llama.cpp's minja does).
    env.filters["safe"] = _identity
    # `range` and `namespace` are Jinja defaults already; set them so the contract is visible.
    env.globals.update(
        raise_exception=_raise_exception,
        strftime_now=_strftime_now,
        range=range,
        namespace=jinja2.utils.Namespace,
    )
    return env


ENVIRONMENT = _make_environment()


@functools.lru_cache(maxsize=_TEMPLATE_CACHE_SIZE)
def compile_template(source: str) -> jinja2.Template:
    """Compile once per distinct source (compiling costs ms; rendering must stay cheap)."""
    try:
        return ENVIRONMENT.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"chat template does not compile: {exc} (line {exc.lineno})") from exc


# --- the message shape templates expect -----------------------------------------------

Message = dict[str, Any]


class JsonArguments(dict[str, Any]):
    """Tool-call arguments that behave as a dict (`| tojson`, `| items`, `.city`) and as
    the original JSON text (`'<function=x>' + arguments`, `{{ arguments }}`)."""

    def __init__(self, parsed: Mapping[str, Any], raw: str) -> None:
        super().__init__(parsed)
        self.raw = raw

    def __str__(self) -> str:
        return self.raw

    def __add__(self, other: object) -> str:
        if isinstance(other, str):
            return self.raw + other
        return NotImplemented

    def __radd__(self, other: object) -> str:
        if isinstance(other, str):
            return other + self.raw
        return NotImplemented


def _arguments(value: Any) -> Any:
    if isinstance(value, Mapping):
        return JsonArguments(value, json.dumps(value, ensure_ascii=False))
    if value is None or value == "":
        return JsonArguments({}, "{}")
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value  # invalid JSON in history: the text is all there is
        return JsonArguments(parsed, value) if isinstance(parsed, dict) else value
    return value


def _text(content: Any, role: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts; llama.cpp also joins with "\n"
        texts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                texts.append(str(part.get("text") or ""))
            else:
                kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
                raise TemplateError(f"{role} message: content part {kind!r} is not supported")
        return "\n".join(texts)
    raise TemplateError(f"{role} message: content must be a string or a list of text parts")


def normalise_message(message: Mapping[str, Any]) -> Message:
    """A copy of an OpenAI message in the shape templates expect (the input is not changed)."""
    msg = dict(message)
    calls = msg.get("tool_calls")
    if calls:
        msg["tool_calls"] = [_normalise_call(call) for call in calls]
    else:
        msg.pop("tool_calls", None)  # templates test `'tool_calls' in message`
    content = _text(msg.get("content"), msg.get("role"))
    # most templates do `'...' + message.content`; only a call-only assistant turn keeps None
    msg["content"] = "" if content is None and not calls else content
    return msg


def _normalise_call(call: Mapping[str, Any]) -> Message:
    function = dict(call.get("function") or {})
    function["arguments"] = _arguments(function.get("arguments"))
    flat = {"type": "function", **call, "function": function}
    flat.setdefault("name", function.get("name"))
    flat.setdefault("arguments", function["arguments"])
    return flat
