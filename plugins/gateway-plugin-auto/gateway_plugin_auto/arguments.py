"""How a template writes a call's arguments: one JSON object, or one tag per argument.

JSON: the planted arguments appear as JSON text (the spacing is recorded). Tags: the text
that differs between a call without arguments and one with a string argument is the
argument region; a second argument gives the separator, and a typed call (number, boolean,
object) shows how values are quoted: `'...'` (LFM), `<|"|>...<|"|>` (Gemma 4), raw
(Qwen3-Coder, GLM, MiniMax).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from .markup import WS, common_prefix, common_suffix
from .probe import NAMES, Probe, ProbeError, call
from .spec import Tagged

SPACINGS = ((", ", ": "), (",", ":"), (", ", ":"), (",", ": "))
ONE = {"kqalpha": "vqalpha"}
TWO = {"kqalpha": "vqalpha", "kqbeta": "vqbeta"}
TYPED = {"kqalpha": "vqalpha", "kqnum": 42, "kqflag": True,
         "kqobj": {"kqx": [1, "vqy"]}, "kqlist": [2, "vqz"]}
REVERSED = {"kqbeta": "vqbeta", "kqalpha": "vqalpha"}
EXTRA = {"kqalpha": "vqalpha", "kqreal": 1.5, "kqnone": None}  # types TYPED does not show
TYPED_SCALARS: dict[str, Any] = {"kqalpha": "vqalpha", "kqnum": 42}
# how each non-string value of the probes may be written: its whole text, or how it starts
FORMS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "number": ("kqreal", ("1.5",), False), "boolean": ("kqflag", ("true", "True"), False),
    "null": ("kqnone", ("null", "None"), False), "object": ("kqobj", ("{",), True),
    "array": ("kqlist", ("[",), True)}


class ArgumentsError(Exception):
    pass


def json_spacing(probe: Probe, strip: Any) -> tuple[str, str] | None:
    """The separators of JSON arguments, or None when arguments are not one JSON object."""
    body = strip(probe.calls([call(0, TYPED)]))
    for spacing in SPACINGS:
        if json.dumps(TYPED, separators=spacing) in body:
            return spacing
    return None


def _region(a: str, b: str, floor: int) -> tuple[str, str, int, int]:
    """The differing middle of two renderings of one call (snapped to boundaries)."""
    p = common_prefix(a, b, floor)
    m = common_suffix(a[p:], b[p:])
    return a[p: len(a) - m], b[p: len(b) - m], p, m


def _find(region: str, key: str, value: str, start: int = 0) -> tuple[int, int, int, int]:
    k = region.find(key, start)
    v = region.find(value, k + len(key)) if k != -1 else -1
    if k == -1 or v == -1:
        raise ArgumentsError(f"argument {key!r} is not written as its key then its value")
    return k, k + len(key), v, v + len(value)


def _extra(region: Any) -> str:
    """The argument region of a call with a float and a null, or "" where it cannot render."""
    try:
        text = region(EXTRA)
    except (ArgumentsError, ProbeError):
        return ""
    return text if isinstance(text, str) else ""


def _typed_ends(rt: str, extra: str, tails: tuple[str, ...]) -> dict[str, str]:
    """The text between key and value for each non-string type the probes show (integer's
    is known): a value is followed by the next parameter's opening or the arguments' end
    (`tails`), so the value is found from its end and what is before it is the key's end."""
    keys = [*TYPED, *EXTRA]
    out: dict[str, str] = {}
    for kind, (key, forms, opens) in FORMS.items():
        text = extra if key in EXTRA else rt
        k = text.find(key)
        if k == -1:
            continue
        k += len(key)
        nxt = min((i for i in (text.find(o, k) for o in keys) if i != -1), default=len(text))
        seg = text[k:nxt]
        for tail in (t for t in tails if seg.endswith(t)):
            body = seg[: len(seg) - len(tail)]
            at = [body.find(f) if opens else len(body) - len(f) for f in forms
                  if (f in body if opens else body.endswith(f))]
            if at:
                out[kind] = body[: min(at)]
                break
    return out


def derive_tagged(probe: Probe, strip: Any) -> Tagged:
    empty = strip(probe.calls([call(0, {})]))
    floor = empty.find(NAMES[0]) + len(NAMES[0])
    one = strip(probe.calls([call(0, ONE)]))
    r0, r1, p, m = _region(empty, one, floor)

    def region(args: dict[str, Any]) -> str:
        body = strip(probe.calls([call(0, args)]))
        if body[:p] != one[:p] or not body.endswith(one[len(one) - m:]):
            raise ArgumentsError("arguments change the call outside the argument region")
        return body[p: len(body) - m]

    r2, rt = region(TWO), region(TYPED)
    k1, k1e, v1, v1e = _find(r1, "kqalpha", "vqalpha")
    m1, pk, after = r1[:k1], r1[k1e:v1], r1[v1e:]
    a_end = _find(r2, "kqalpha", "vqalpha")[3]
    mid = r2[a_end:_find(r2, "kqbeta", "vqbeta", a_end)[0]]  # close, separator, open
    # a number shows the key/value separator without quotes around the value
    _, n_e, n_v, n_ve = _find(rt, "kqnum", "42")
    pk_num = rt[n_e:n_v]
    next_key = min((i for i in (rt.find(k, n_ve) for k in TYPED) if i != -1), default=-1)
    mid_num = rt[n_ve:next_key] if next_key != -1 else None
    q1 = pk[len(pk_num):] if pk.startswith(pk_num) else None
    q2 = mid[: len(mid) - len(mid_num)] if mid_num is not None and mid.endswith(mid_num) else None
    if q2 is None or not after.startswith(q2):
        raise ArgumentsError("string values are quoted in a way that could not be told")
    ends = _typed_ends(rt, _extra(region), (mid_num or "", after[len(q2):]))
    typed: tuple[tuple[str, str], ...] = ()
    if q1 is None or (q1 == "") != (q2 == "") or any(e != pk_num for e in ends.values()):
        # the text after a key depends on the value's type (DSML `string="true|false"`)
        q1 = "" if not q2 else q2 if pk.endswith(q2) else None
        if q1 is None:
            raise ArgumentsError("string values are quoted in a way that could not be told")
        typed = (("string", pk[: len(pk) - len(q1)]), ("integer", pk_num), *ends.items())
    mid, after = mid[len(q2):], after[len(q2):]
    po = mid[len(mid) - common_suffix(m1, mid):]
    po = po.lstrip(WS + ">]})")  # a parameter opens with its own tag, not the last one's end
    start = m1[: len(m1) - len(po)]
    if not mid.endswith(po) or not m1.endswith(po):
        raise ArgumentsError("the arguments' opening marker could not be told")
    rest = mid[: len(mid) - len(po)]
    pc = rest[: common_prefix(after, rest)]
    pc = pc.rstrip(WS)  # trailing whitespace separates, it does not close
    spec = Tagged(start=start, open=po, key_end=pk_num, close=pc, sep=rest[len(pc):],
                  end=after[len(pc):], empty=r0, quote_open=q1, quote_close=q2,
                  json_strings=q1 == q2 == '"', typed=typed)
    flag = rt.find("kqflag")
    python_bools = flag != -1 and rt.startswith(spec.key_end_for(True) + "True",
                                                flag + len("kqflag"))
    obj = rt.find("kqobj")
    nested = any(rt.startswith(spec.key_end_for({}) + json.dumps(TYPED["kqobj"], separators=s),
                               obj + len("kqobj")) for s in SPACINGS)
    order = sorted(TYPED, key=lambda k: rt.find(k))
    reordered = region(REVERSED)
    spec = replace(spec, python_bools=python_bools, nested_json=nested,
                   sorted_keys=order == sorted(TYPED) and
                   reordered.find("kqalpha") < reordered.find("kqbeta"))
    checks: list[tuple[dict[str, Any], str]] = [(ONE, r1), (TWO, r2)]
    if typed:
        checks.append((TYPED_SCALARS, region(TYPED_SCALARS)))
    for args, text in checks:
        if spec.render(args) != text:
            raise ArgumentsError(f"arguments {args} would be written {spec.render(args)!r}, "
                                 f"the template writes {text!r}")
    return spec
