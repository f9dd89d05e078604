"""GBNF for tagged arguments: one tag per parameter, in declared (or the template's sorted)
order, each at most once, every required one present.

A string parameter's value is raw text as the template writes it: its enum/const as
literals, else bounded text that cannot contain the end marker; `pattern`/`format` cannot be
enforced on raw text (refused under strict, else left to the call gate). Every other value
is the JSON grammar of the parameter's own schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.chat import budget_limits
from gateway.dialect import RequestContext, SchemaGrammars, ServedModel, ToolDef
from gateway.grammar import GrammarLimits, SchemaError, literal, rename_rules
from gateway.grammar.gbnf import char_class

from .markup import WS
from .spec import Tagged
from .values import is_string_param, restrict, schema_types

VALUE_MAX_CHARS = 2000  # a raw string value's bound (option value_max_chars)
_RAW_ONLY = ("pattern", "format")


def _seq(*items: str) -> str:
    return " ".join(i for i in items if i and i != '""')


def string_stop(t: Tagged) -> str:
    """What ends a raw string value."""
    for text in (t.quote_close, t.close.lstrip(WS), (t.sep + t.open).lstrip(WS),
                 t.end.lstrip(WS)):
        if text:
            return text
    raise SchemaError("string values of this template have no end marker")


def tagged_rules(ctx: RequestContext, model: ServedModel, grammars: SchemaGrammars, t: Tagged,
                 tool: ToolDef, prefix: str, bounded: Callable[[str, str, int], list[str]]
                 ) -> tuple[list[str], str]:
    """Rules for one tool's arguments; returns them and the arguments' rule name."""
    params = tool.parameters if isinstance(tool.parameters, dict) else {}
    found = params.get("properties")
    props: dict[str, Any] = found if isinstance(found, dict) else {}
    required = set(params.get("required") or [])
    keys = sorted(props) if t.sorted_keys else list(props)
    rules: list[str] = []
    items: list[tuple[str, bool]] = []
    text_rule = f"{prefix}-text"
    cap = value_cap(model, grammars)
    for j, key in enumerate(keys):
        name = f"{prefix}-p{j}"
        if t.typed:
            rules.append(f"{name} ::= " + _seq(literal(t.open + key), _typed_value(
                ctx, grammars, cap, t, props[key], tool.strict, name, text_rule, rules, key),
                literal(t.close)))
            items.append((name, key in required))
            continue
        value = _value(ctx, grammars, cap, t, props[key], tool.strict, name, text_rule, rules,
                       key)
        rules.append(f"{name} ::= " + _seq(literal(t.open + key + t.key_end), value,
                                           literal(t.close)))
        items.append((name, key in required))
    if any(text_rule in r for r in rules):  # used, not yet defined
        rules += bounded(text_rule, string_stop(t), cap)
    root = f"{prefix}-args"
    if not items:  # no parameters: the empty form, or nothing at all
        if not t.empty:
            return rules, ""
        rules.append(f"{root} ::= {literal(t.empty)}")
        return rules, root
    sep, n = literal(t.sep) if t.sep else "", len(items)
    for i in reversed(range(1, n)):  # r_i: parameters i.. after one was written
        name, req = items[i]
        after = f"{prefix}-r{i + 1}" if i + 1 < n else ""
        one = _seq(sep, name)
        rules.append(f"{prefix}-r{i} ::= " + (_seq(one, after) if req else
                                              _seq(f"({one})?", after)))
    i = 0
    while True:  # f_i: parameters i.., at least one (f_i+1 only after an optional one)
        name, req = items[i]
        first = _seq(name, f"{prefix}-r{i + 1}" if i + 1 < n else "")
        more = not req and i + 1 < n
        rules.append(f"{prefix}-f{i} ::= " + first + (f" | {prefix}-f{i + 1}" if more else ""))
        if not more:
            break
        i += 1
    some = _seq(literal(t.start), f"{prefix}-f0", literal(t.end))
    if required:
        rules.append(f"{root} ::= {some}")
    elif t.empty:
        rules.append(f"{root} ::= {literal(t.empty)} | {some}")
    else:
        rules.append(f"{root} ::= ({some})?")
    return rules, root


def value_cap(model: ServedModel, grammars: SchemaGrammars) -> int:
    """Characters a raw string value may take beyond its minLength: value_max_chars, and under
    a token budget no more than the core allows a free JSON string, so a model looping in a
    value still closes the call before max_tokens."""
    limit = max(0, model.options.get("value_max_chars", VALUE_MAX_CHARS))  # typed at start-up
    free = budget_limits(GrammarLimits(), grammars.budget_tokens).max_free_string
    return limit if free is None else min(limit, free)


def _typed_value(ctx: RequestContext, grammars: SchemaGrammars, cap: int, t: Tagged,
                 schema: Any, strict: bool, name: str, text_rule: str, rules: list[str],
                 key: str) -> str:
    """The value after the key's type markup: for each type the schema allows, that type's
    markup (`string="true"` or `string="false"`) and the values of that type."""
    alts = []
    for i, (end, types) in enumerate(t.key_ends(schema_types(schema))):
        sub = restrict(schema, types)
        value = _value(ctx, grammars, cap, t, sub, strict, f"{name}-{i}" if i else name,
                       text_rule, rules, key)
        alts.append(_seq(literal(end), value))
    return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"


def _value(ctx: RequestContext, grammars: SchemaGrammars, cap: int, t: Tagged, schema: Any,
           strict: bool, name: str, text_rule: str, rules: list[str], key: str) -> str:
    if not (is_string_param(schema) and not t.json_strings):
        body, root = rename_rules(grammars.schema(schema, strict), f"{name}-")
        rules.append(body.strip())
        return root
    q_open, q_close = t.quote_open, t.quote_close
    values = schema.get("enum") if "enum" in schema else (
        [schema["const"]] if "const" in schema else None)
    if values is not None:
        return "(" + " | ".join(literal(q_open + v + q_close) for v in values) + ")"
    unenforced = [k for k in _RAW_ONLY if k in schema]
    if unenforced and (strict or ctx.strict):
        raise SchemaError("cannot be enforced on a raw (unquoted) string value in this "
                          "template's call syntax", keyword=unenforced[0],
                          path=f"#/properties/{key}/{unenforced[0]}")
    lo, hi = schema.get("minLength"), schema.get("maxLength")
    if isinstance(lo, int) or isinstance(hi, int):
        stop = string_stop(t)
        char = char_class([(ord(stop[0]), ord(stop[0]))], negated=True)
        lo_n = lo if isinstance(lo, int) else 0
        hi_n = hi if isinstance(hi, int) else lo_n + cap
        rules.append(f"{name}-s ::= {char}{{{lo_n},{hi_n}}}")
        return _seq(literal(q_open), f"{name}-s", literal(q_close))
    return _seq(literal(q_open), text_rule, literal(q_close))
