"""The sandboxed Jinja2 environment and the message shape Hugging Face chat templates expect.

The environment mirrors `transformers`' `apply_chat_template` (a sandbox, trim/lstrip blocks,
loop controls, `raise_exception`, `strftime_now`, an HF-style `tojson`) so that templates render
here as they do for the model's authors. Two differences, both for real templates:
- the sandbox is immutable only for what the caller passed in: lists, dicts and sets the template
  built itself may change (Kimi-K2 appends call ids to its own queue and pops them per result);
- variables read instead of `tools` get defaults (firefunction-v2's `functions`, `datetime`).

Messages are normalised from OpenAI's shape because real templates disagree about input:
- tool-call `arguments`: Qwen, Hermes, Llama 3, Mistral and Cohere do `arguments | tojson`
  (or `| items`) and need a dict; functionary v3.x, firefunction-v2 and DeepSeek-R1 do
  `'...' + arguments` and need the JSON text. `JsonArguments` is both at once.
- Qwen/Hermes read `tool_call.name` after `set tool_call = tool_call.function`, others read
  `tool_call.function.name`: each call carries `function` and flattened `name`/`arguments`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import types
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any, NoReturn

import jinja2
import jinja2.ext
import jinja2.meta
import jinja2.nodes
import msgspec
from jinja2.parser import Parser
from jinja2.sandbox import SandboxedEnvironment, modifies_known_mutable

from gateway import template_limits as lim
from gateway.cache import BoundedCache
from gateway.template_limits import DEFAULT_LIMITS, RenderLimits, TemplateError

_TEMPLATE_CACHE_SIZE = 64


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
    inputs = _FOREIGN.get()
    if inputs is not None and inputs.is_tool(value):
        return _tool_json(value, ensure_ascii, indent, separators, sort_keys)
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


# The JSON text of tool descriptions, by their content (msgspec's encoding, ~10x cheaper than
# json.dumps): templates write every tool with `tojson` on every render (20 tools took a
# quarter of a request's CPU). Only for the render's own `tools` (the list, each tool, its
# `function` and `parameters`), JSON data decoded from the request: str keys, no sets, no
# NaN, where two values with the same encoding have the same json.dumps text.
_TOOL_JSON: BoundedCache[str] = BoundedCache(1024)
_TOOL_JSON_MAX = 8192  # bytes of encoding memoised at most (a bigger value is dumped anew)
_encode = msgspec.json.encode
_PLAIN_OPTIONS = (False, None, None, False)  # tojson's defaults: the key is the encoding


def _tool_json(value: Any, ensure_ascii: bool, indent: int | str | None,
               separators: tuple[str, str] | None, sort_keys: bool) -> str:
    try:
        encoded = _encode(value)
    except (TypeError, ValueError, OverflowError):
        encoded = b""
    # a null may stand for NaN or infinity (msgspec writes them so): never memoised
    memo = 0 < len(encoded) <= _TOOL_JSON_MAX and b":null" not in encoded and \
        b"[null" not in encoded and b",null" not in encoded
    options = (ensure_ascii, indent, separators, sort_keys)
    key = encoded if options == _PLAIN_OPTIONS else repr(options).encode() + b"\0" + encoded
    found = _TOOL_JSON.get(key) if memo else None
    if found is None:
        found = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent,
                           separators=separators, sort_keys=sort_keys)
        if memo:
            _TOOL_JSON.put(key, found)
    return found


class _GenerationTag(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}` marks assistant text for HF's training masks;
    for inference it just renders its body, but without it such templates do not compile."""

    tags = {"generation"}

    def parse(self, parser: Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


class _Inputs:
    """The variables of the render in progress, and the ids of the containers reachable
    from them, found at the first call of a method that would change a container (most
    templates never make one: the walk over a whole conversation is saved). Found then,
    they are the same as at the start of the render: until that first check passes, no
    container can have changed."""

    __slots__ = ("_variables", "_ids", "_walked", "_tools")

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self._variables = variables
        self._ids: set[int] | None = None
        self._walked = False
        self._tools: set[int] | None = None

    def is_tool(self, value: Any) -> bool:
        """Whether `value` is the render's `tools` list, one of its tools, or a tool's
        `function` or `parameters` dict (see _tool_json)."""
        if type(value) not in (list, dict):
            return False
        if self._tools is None:
            found: set[int] = set()
            tools = self._variables.get("tools")
            if type(tools) is list:
                found.add(id(tools))
                for tool in tools:
                    if type(tool) is not dict:
                        continue
                    found.add(id(tool))
                    function = tool.get("function")
                    if type(function) is dict:
                        found.add(id(function))
                        parameters = function.get("parameters")
                        if type(parameters) is dict:
                            found.add(id(parameters))
            self._tools = found
        return id(value) in self._tools

    def ids(self) -> set[int] | None:
        """None: some input could hold containers we cannot see (all count as inputs)."""
        if not self._walked:
            found: set[int] = set()
            self._ids = found if _reachable_containers(self._variables.values(), found) \
                else None
            self._walked = True
        return self._ids


# the inputs of the render in progress; None outside `render_sandboxed` (all containers
# are foreign then)
_FOREIGN: ContextVar[_Inputs | None] = ContextVar("gateway_template_foreign", default=None)
_PLAIN = (str, int, float, bool, type(None))
_DICT_NAMES = frozenset(dir(dict))  # every attribute a plain dict instance has
_FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType, types.MethodType)


class _ChatSandbox(SandboxedEnvironment):
    """Templates come from model files, i.e. from strangers: no private attributes or
    internals (SandboxedEnvironment), and nothing the caller passed in may be changed (as
    in ImmutableSandboxedEnvironment). A list, dict or set the template built itself is
    its own business: `{% set q = namespace(ids=[]) %}{% do q.ids.append(x) %}`."""

    # operators whose result size is checked before they run (see template_limits)
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return lim.checked_binop(operator, left, right, self.binop_table)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `message.role` on a plain dict is its item: what Jinja returns after looking for an
        # attribute first, which a plain dict has only among dict's own names. Raising and
        # catching that AttributeError on each `.role`/`.content` was a good part of a render.
        if type(obj) is dict and attribute not in _DICT_NAMES:
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                pass
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        # a str changes nothing (`.startswith`, `.strip`...): no need to ask, against four
        # abstract base classes, whether the method would
        if type(obj) is str or not modifies_known_mutable(obj, attr):
            return True
        if type(obj) not in (list, dict, set):
            return False
        inputs = _FOREIGN.get()
        foreign = inputs.ids() if inputs is not None else None
        return foreign is not None and id(obj) not in foreign


def _reachable_containers(values: Iterable[Any], found: set[int]) -> bool:
    """Add the ids of all containers in `values` to `found`; False if some object could
    hold containers we cannot see (then nothing counts as the template's own)."""
    stack = list(values)
    while stack:
        item = stack.pop()
        if isinstance(item, _PLAIN) or id(item) in found:
            continue
        found.add(id(item))
        if isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif not isinstance(item, _FUNCTIONS):  # functions in the context are fine; an object
            return False  # may hold lists in its attributes
    return True


def render_sandboxed(template: jinja2.Template, variables: Mapping[str, Any],
                     limits: RenderLimits = DEFAULT_LIMITS) -> str:
    """Render with the caller's data immutable and the template's own containers mutable,
    within the time and size limits (TemplateLimitError past them).
    (The inputs stay alive during the render, so no new object can reuse one of their ids.)"""
    token = _FOREIGN.set(_Inputs(variables))
    try:
        return lim.bounded(lambda: template.generate(variables), limits)
    finally:
        _FOREIGN.reset(token)


def _make_environment() -> SandboxedEnvironment:
    env = _ChatSandbox(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[jinja2.ext.loopcontrols, jinja2.ext.do, _GenerationTag],
    )
    env.filters["tojson"] = _tojson
    # `|safe` makes Markup, and `Markup + str` HTML-escapes the str: functionary v3.1 does
    # `"..."|safe + tool|tojson` and would show the model `&#34;name&#34;`. Identity is
    # what the authors meant (and what llama.cpp's minja does).
    env.filters["safe"] = _identity
    # filters that could build a huge string in one C call: size checked first
    env.filters.update(join=lim.checked_join, center=lim.checked_center,
                       indent=lim.checked_indent, format=lim.checked_format)
    # `namespace` is a Jinja default already; set it so the contract is visible. `range` is
    # the sandbox's capped one (Python's builtin would let `range(10**9)` through).
    env.globals.update(
        raise_exception=_raise_exception,
        strftime_now=_strftime_now,
        range=lim.capped_range,
        namespace=jinja2.utils.Namespace,
    )
    return env


ENVIRONMENT = _make_environment()


@functools.lru_cache(maxsize=_TEMPLATE_CACHE_SIZE)
def compile_template(source: str) -> jinja2.Template:
    """Compile once per distinct source (compiling costs ms; rendering must stay cheap)."""
    try:
        template = ENVIRONMENT.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"chat template does not compile: {exc} (line {exc.lineno})") from exc
    lim.patch_concat(template)
    # Jinja keeps a template's globals as a ChainMap over the environment's, and copies them
    # into a dict (key by key, through ChainMap's Python methods) on every render. The
    # environment's globals are all set before any template compiles (_make_environment):
    # a plain dict of the same names renders the same, without that cost.
    template.globals = dict(template.globals)
    return template


@functools.lru_cache(maxsize=_TEMPLATE_CACHE_SIZE)
def template_reads(source: str) -> frozenset[str]:
    """Variables the template may read without setting them first (call after compiling)."""
    return frozenset(jinja2.meta.find_undeclared_variables(ENVIRONMENT.parse(source)))


def default_variables(reads: frozenset[str], tools: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Values for the variables in `reads` that some templates need besides messages/tools.

    All else the shared templates read (`reasoning_effort`, `enable_thinking`, `builtin_tools`,
    `date_string`...) is optional there: left undefined, the template's default applies (as
    in HF without kwargs)."""
    out: dict[str, Any] = {}
    if "functions" in reads:  # firefunction-v2's model card: json.dumps(specs, indent=4)
        specs = [tool.get("function", tool) for tool in tools or ()]
        out["functions"] = json.dumps(specs, ensure_ascii=False, indent=4)
    if "datetime" in reads:  # the same card: datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        # to the minute: the prompts of one minute share their prefix (llama.cpp's prompt
        # cache), and two renders compared (dialect detection) rarely straddle a change
        out["datetime"] = datetime.now().strftime("%Y-%m-%d %H:%M:00")
    return out


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


# --- call shapes some templates insist on (ChatTemplate applies them where needed) ----


def _short_id(call_id: Any) -> str:
    text = str(call_id or "")
    if re.fullmatch(r"[A-Za-z0-9]{9}", text):
        return text
    # deterministic, so a replayed history maps to the same ids (and the same prompt cache)
    return hashlib.sha256(text.encode()).hexdigest()[:9]


def short_call_ids(messages: list[Message]) -> list[Message]:
    """Mistral's 9-alphanumeric call ids, the same on the call and on its result."""
    out = []
    for msg in messages:
        if msg.get("tool_calls"):
            msg = {
                **msg,
                "tool_calls": [{**c, "id": _short_id(c.get("id"))} for c in msg["tool_calls"]],
            }
        if msg["role"] == "tool":
            msg = {**msg, "tool_call_id": _short_id(msg.get("tool_call_id"))}
        out.append(msg)
    return out


def one_call_per_turn(messages: list[Message]) -> list[Message]:
    """One call per assistant turn, each followed by its result (matched by id, else by
    position): the order a model that calls one tool at a time would have produced."""
    out: list[Message] = []
    i = 0
    while i < len(messages):
        msg, i = messages[i], i + 1
        calls = msg.get("tool_calls") or []
        if len(calls) < 2:
            out.append(msg)
            continue
        ids: list[Any] = [c.get("id") for c in calls]
        paired: dict[int, Message] = {}
        unmatched: list[Message] = []
        while i < len(messages) and messages[i]["role"] == "tool":
            result, i = messages[i], i + 1
            call_id = result.get("tool_call_id")
            k = next((k for k, c in enumerate(ids) if c is not None and c == call_id), None)
            if k is None:
                unmatched.append(result)
            else:
                paired[k], ids[k] = result, None  # a repeated id pairs with the next call
        later = {key: v for key, v in msg.items() if key not in ("reasoning_content", "thinking")}
        for k, call in enumerate(calls):  # text and thoughts stay with the first call
            out.append(
                {**msg, "tool_calls": [call]}
                if k == 0
                else {**later, "content": None, "tool_calls": [call]}
            )
            if k in paired:
                out.append(paired[k])
            elif unmatched:
                out.append(unmatched.pop(0))
        out.extend(unmatched)
    return out


def named_call_ids(messages: list[Message]) -> list[Message]:
    """Call ids that carry the function name (`functions.get_weather:0`, counted over the
    conversation), for templates that show the id but not the name (Kimi-K2)."""
    new_ids: dict[Any, list[str]] = {}
    out, count = [], 0
    for msg in messages:
        if msg.get("tool_calls"):
            calls = []
            for call in msg["tool_calls"]:
                new = f"functions.{call.get('name')}:{count}"
                if re.fullmatch(r"functions\.[^:]+:\d+", str(call.get("id") or "")):
                    new = call["id"]  # already the model's own shape
                new_ids.setdefault(call.get("id"), []).append(new)
                calls.append({**call, "id": new})
                count += 1
            msg = {**msg, "tool_calls": calls}
        elif msg["role"] == "tool" and new_ids.get(msg.get("tool_call_id")):
            msg = {**msg, "tool_call_id": new_ids[msg.get("tool_call_id")].pop(0)}
        out.append(msg)
    return out
