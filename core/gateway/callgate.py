"""The last gate before the client: every tool call is checked on its way out.

The grammar is the first line; this is the last. Whatever a stop word, a cut-off, a dialect
bug or an unenforced keyword did upstream, a call reaches the client only when its name is
one the request offered, its `arguments` parse as a JSON object that validates against the
tool's schema, and it is not the same call (name + arguments) as an earlier one in the same
answer — the same call twice is a small model looping, never a plan.

Streaming: a call is held until the dialect has moved past it (the next call or text began,
or the generation ended normally), then released whole — id, name and arguments — so a
client never assembles a call whose arguments fail the schema. A call that fails is logged
and dropped; when that leaves the answer empty, the raw text is returned as content so
nothing is lost.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
import msgspec

from gateway.cache import BoundedCache, digest
from gateway.dialect import (
    Delta,
    OutputParser,
    ParsedOutput,
    ParsedToolCall,
    ToolDef,
    new_call_id,
)
from gateway.errors import bad_request

log = logging.getLogger("gateway.callgate")

_VALIDATORS: BoundedCache[Any] = BoundedCache(512)


def validator_for(schema: Any) -> Any:
    """A compiled validator for a schema, cached by the schema's canonical JSON."""
    return _VALIDATORS.get_or_make(
        digest(schema), lambda: jsonschema_rs.validator_for(schema, validate_formats=True))


JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
# Type names other schema dialects use (programming languages, other tools' docs), with the
# JSON Schema type a client most likely meant: named in the error, never applied silently.
_TYPE_HINTS = {"str": "string", "char": "string", "text": "string", "int": "integer",
               "long": "integer", "short": "integer", "byte": "integer", "bigint": "integer",
               "float": "number", "double": "number", "decimal": "number", "bool": "boolean",
               "dict": "object", "map": "object", "hashmap": "object", "hashtable": "object",
               "record": "object", "list": "array", "tuple": "array", "set": "array",
               "arraylist": "array", "queue": "array", "stack": "array", "none": "null"}


def schema_problem(exc: Exception) -> str:
    """What is wrong with a schema, said for the person who wrote it: the validator's first
    line, where in the schema (a JSON pointer), and for a type name JSON Schema lacks
    ("String", "dict", "float") the types it has and the likely one."""
    first = str(exc).split("\n", 1)[0]
    path = [str(p) for p in getattr(exc, "instance_path", None) or []]
    where = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)
    instance = getattr(exc, "instance", None)
    if path and path[-1] == "type" or len(path) > 1 and path[-2] == "type":
        names = instance if isinstance(instance, list) else [instance]
        bad = [n for n in names if isinstance(n, str) and n not in JSON_TYPES]
        if bad:
            name = bad[0]
            meant = name.lower() if name.lower() in JSON_TYPES else _TYPE_HINTS.get(name.lower())
            first = (f"{json.dumps(name)} is not a JSON Schema type (they are "
                     f"{', '.join(map(json.dumps, JSON_TYPES))})"
                     + (f"; did you mean {json.dumps(meant)}?" if meant else
                        "; leave `type` out to allow any value" if name.lower() == "any"
                        else ""))
    return f"{first} (at {where})" if path else first


def check_tool_schemas(tools: list[ToolDef]) -> None:
    """Refuse, with a 400 naming the tool, a parameters schema that is not JSON Schema."""
    for i, tool in enumerate(tools):
        try:
            validator_for(tool.parameters)
        except (jsonschema_rs.ValidationError, ValueError, TypeError) as exc:
            raise bad_request(f"tool {tool.name!r}: parameters is not a valid JSON Schema: "
                              f"{schema_problem(exc)}", f"tools[{i}].function.parameters",
                              code="invalid_schema") from exc


def check_response_schema(schema: Any) -> None:
    """Refuse, with a 400, a response_format schema that is not JSON Schema (the converter
    is only promised valid ones)."""
    if schema is None:
        return
    try:
        validator_for(schema)
    except (jsonschema_rs.ValidationError, ValueError, TypeError) as exc:
        raise bad_request("response_format: the schema is not a valid JSON Schema: "
                          f"{schema_problem(exc)}", "response_format.json_schema.schema",
                          code="invalid_schema") from exc


REPEATED = "the same call (name and arguments) was already made in this answer"


@dataclass(slots=True)
class Rejection:
    name: str
    arguments: str
    reason: str


@dataclass
class CallGate:
    """Checks calls for one request; remembers what it let through to catch repeats."""

    tools: list[ToolDef]
    request: str = ""  # the user's last message: string arguments keep its spacing
    seen: set[tuple[str, bytes]] = field(default_factory=set)
    rejected: list[Rejection] = field(default_factory=list)
    looping: bool = False  # a call came again: the model is looping; stop generating
    _spelling: Spelling | None = None

    def admit(self, name: str, arguments: str) -> tuple[str | None, str]:
        """(None, the arguments as they go out) when the call may go out, else (why not,
        the arguments as they came) and the rejection is recorded. A string argument that
        is a piece of the user's last message with its spaces lost (`"Boston,MA"` for
        "Boston, MA") goes out as the user wrote it, when that still validates."""
        reason, out = self._reason(name, arguments)
        if reason is not None:
            log.warning("tool call %r dropped at the gate: %s", name, reason)
            self.rejected.append(Rejection(name, arguments, reason))
        return reason, out

    def _reason(self, name: str, arguments: str) -> tuple[str | None, str]:
        tool = next((t for t in self.tools if t.name == name), None)
        if tool is None:
            return "no such tool in this request", arguments
        try:
            value = json.loads(arguments)
        except ValueError as exc:
            return f"arguments are not JSON ({exc})", arguments
        if not isinstance(value, dict):
            return "arguments are not a JSON object", arguments
        try:
            canonical = msgspec.json.encode(value, order="sorted")
        except UnicodeEncodeError:
            return "arguments hold a lone UTF-16 surrogate escape (not valid Unicode)", arguments
        try:
            validator = validator_for(tool.parameters)
            errors = list(validator.iter_errors(value))
        except (ValueError, TypeError) as exc:
            return f"schema cannot be checked: {exc}", arguments
        if errors:
            return ("arguments do not match the schema: " + str(errors[0]).split("\n", 1)[0],
                    arguments)
        if self.request:
            if self._spelling is None:
                self._spelling = Spelling(self.request)
            respelled = self._spelling.apply(value)
            if respelled != value and validator.is_valid(respelled):
                value = respelled
                canonical = msgspec.json.encode(value, order="sorted")
                arguments = msgspec.json.encode(value).decode()
        key = (name, canonical)
        if key in self.seen:
            self.looping = True
            return REPEATED, arguments
        self.seen.add(key)
        return None, arguments


class Spelling:
    """The user's spacing for string values copied from their message without it: a small
    model often drops a space while copying (`"Boston,MA"`, `"HaNoi"`). A string whose
    characters other than whitespace are, in order and contiguous, a piece of the message
    (at least MIN_CHARS of them, starting and ending where the string does) becomes that
    piece; anything else is left as it is."""

    MIN_CHARS = 4

    def __init__(self, message: str) -> None:
        self.message = message
        kept = [(i, ch) for i, ch in enumerate(message) if not ch.isspace()]
        self._at = [i for i, _ in kept]
        self._dense = "".join(ch for _, ch in kept)

    def apply(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.apply(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.apply(v) for v in value]
        if isinstance(value, str):
            return self.respell(value)
        return value

    def respell(self, text: str) -> str:
        if text in self.message:
            return text
        dense = "".join(text.split())
        if len(dense) < self.MIN_CHARS:
            return text
        start = self._dense.find(dense)
        if start < 0:
            return text
        piece = self.message[self._at[start]:self._at[start + len(dense) - 1] + 1]
        return piece if "\n" not in piece else text


@dataclass
class _Pending:
    index: int
    id: str | None
    name: str
    args: list[str] = field(default_factory=list)


class GatedParser:
    """Wraps a dialect's parser: text deltas pass through, calls are held, checked, released.

    Released calls are renumbered 0, 1, ... in the order they pass, so a dropped call leaves
    no hole in the indices a client sees.
    """

    def __init__(self, inner: OutputParser, gate: CallGate) -> None:
        self.inner, self.gate = inner, gate
        self._pending: _Pending | None = None
        self.released = 0
        self.text_out = False  # content or reasoning went out

    def feed(self, text: str) -> list[Delta]:
        return self._pass(self.inner.feed(text))

    def finish(self, complete: bool = True) -> list[Delta]:
        """complete=False: the generation was cut (max_tokens); the call in progress, if
        any, is incomplete and dropped."""
        out = self._pass(self.inner.finish())
        if self._pending is not None:
            if complete:
                out += self._release()
            else:
                p = self._pending
                self.gate.rejected.append(Rejection(p.name, "".join(p.args),
                                                    "cut off by max_tokens"))
                self._pending = None
        return out

    def _pass(self, deltas: list[Delta]) -> list[Delta]:
        out: list[Delta] = []
        for d in deltas:
            if d.kind == "tool_start":
                out += self._release()
                self._pending = _Pending(d.index, d.id, d.name or "", [d.text] if d.text else [])
            elif d.kind == "tool_args":
                if self._pending is not None and d.index == self._pending.index:
                    self._pending.args.append(d.text)
            else:
                out += self._release()
                if d.text:
                    self.text_out = True
                    out.append(d)
        return out

    def _release(self) -> list[Delta]:
        p, self._pending = self._pending, None
        if p is None:
            return []
        reason, args = self.gate.admit(p.name, "".join(p.args).strip() or "{}")
        if reason is not None:
            return []
        index = self.released
        self.released += 1
        return [Delta("tool_start", index=index, id=p.id or new_call_id(), name=p.name),
                Delta("tool_args", args, index=index)]


def gate_output(parsed: ParsedOutput, gate: CallGate, complete: bool) -> ParsedOutput:
    """The non-streaming twin of GatedParser: every call but a cut-off last one is checked;
    failures and repeats are dropped."""
    kept: list[ParsedToolCall] = []
    for i, call in enumerate(parsed.tool_calls):
        args = call.arguments.strip() or "{}"
        if not complete and i == len(parsed.tool_calls) - 1:
            gate.rejected.append(Rejection(call.name, args, "cut off by max_tokens"))
        else:
            reason, args = gate.admit(call.name, args)
            if reason is None:
                kept.append(ParsedToolCall(call.id, call.name, args))
    return ParsedOutput(parsed.content, parsed.reasoning, kept)
