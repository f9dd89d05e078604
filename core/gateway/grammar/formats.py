"""String ``format``s as GBNF (the content between the quotes) with their length bounds.

Each grammar is exact or a sound subset of its RFC: date/time/date-time (RFC 3339: real
day-of-month per month with leap years; upper-case T and Z; no leap second), uuid,
ipv4 (dotted quad, no leading zeros), email (dot-atom local part @ a domain of LDH
labels), hostname (RFC 1123 labels), uri (scheme ":" then RFC 3986 characters), ipv6
(RFC 4291 text forms, with an IPv4 tail, no zone id), json-pointer and relative-json-pointer
(<= 16 tokens of <= 64 characters), uri-template (RFC 6570 level 4, ASCII literals), and the
OpenAPI formats byte (base64), password/binary (plain strings).
Lengths are bounded (a sound subset) so a small model cannot loop inside them: email
local part <= 3 atoms of <= 20 characters (so <= 64 in all, as RFC 5321 asks), <= 4 domain
labels of <= 24, hostname <= 8 labels,
uri <= 200 characters before the fragment and <= 50 in it.
"""

from __future__ import annotations

import re

from . import charset as cs
from .gbnf import GrammarBuilder
from .numbers import int_range

_HEX = "[0-9a-fA-F]"
_YEAR = '([1-9] [0-9]{3} | "0" [1-9] [0-9]{2} | "00" [1-9] [0-9] | "000" [1-9])'
_LEAP_YY = " | ".join(f'"{n:02d}"' for n in range(4, 100, 4))
_LEAP_CC = " | ".join(f'"{n:02d}"' for n in range(4, 100, 4))
_LEAP = f'([0-9]{{2}} ({_LEAP_YY}) | ({_LEAP_CC}) "00")'
_DATE = (
    f'{_YEAR} "-" (("01" | "03" | "05" | "07" | "08" | "10" | "12") "-" ("0" [1-9] | [12] [0-9]'
    f' | "3" [01]) | ("04" | "06" | "09" | "11") "-" ("0" [1-9] | [12] [0-9] | "30")'
    f' | "02-" ("0" [1-9] | "1" [0-9] | "2" [0-8])) | {_LEAP} "-02-29"'
)
_TIME = (
    '([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,9})?'
    ' ("Z" | [+\\x2D] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])'
)
_OCTET = "(" + (int_range(0, 255) or "") + ")"
_ATEXT = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~\\x2D]"
_LABEL = "[a-zA-Z0-9] ([a-zA-Z0-9\\x2D]{0,61} [a-zA-Z0-9])?"
_SHORT_LABEL = "[a-zA-Z0-9] ([a-zA-Z0-9\\x2D]{0,22} [a-zA-Z0-9])?"  # emails: <= 24 chars
_UNRESERVED = "[a-zA-Z0-9._~\\x2D]"
_PCT = f'"%" {_HEX} {_HEX}'
_SUB = "[!$&'()*+,;=]"

_H16 = f"{_HEX}{{1,4}}"
_IPV6 = " | ".join(
    ['fmt-h16 (":" fmt-h16){7}', 'fmt-h16 (":" fmt-h16){5} ":" fmt-v4']
    + [" ".join(p for p in (
        "" if k == 0 else "fmt-h16" if k == 1 else f'fmt-h16 (":" fmt-h16){{{k - 1}}}',
        '"::"',
        "" if k == 7 else f'(fmt-h16 (":" fmt-h16){{0,{6 - k}}})?' if k < 6
        else "fmt-h16?") if p) for k in range(8)]
    + [" ".join(p for p in (
        "" if k == 0 else "fmt-h16" if k == 1 else f'fmt-h16 (":" fmt-h16){{{k - 1}}}',
        '"::"', f'(fmt-h16 ":"){{0,{5 - k}}}' if k < 5 else "", "fmt-v4") if p)
       for k in range(6)])
# a JSON pointer's reference tokens: any character but "/" and "~", or "~0" / "~1"
_JP_CHAR = (cs.json_chars(cs.minus(cs.ANY, cs.of("/~"))) or "") + ' | "~" [01]'
_POINTER = '("/" fmt-jp-char{0,64}){0,16}'
# RFC 6570 (level 4): literals, and {op? var[:n|*], …} with the defined operators only
_UT_LIT = "[!#$&()*+,\\x2D./0-9:;=?@A-Z\\x5B\\x5D_a-z~] | " + '"%" ' + f"{_HEX} {_HEX}"

# name → (rules to define, body, min length, max length or None)
_FORMATS: dict[str, tuple[dict[str, str], str, int, int | None]] = {
    "date": ({"fmt-date": _DATE}, "fmt-date", 10, 10),
    "time": ({"fmt-time": _TIME}, "fmt-time", 9, 30),
    "date-time": ({"fmt-date": _DATE, "fmt-time": _TIME}, 'fmt-date "T" fmt-time', 20, 40),
    "uuid": ({}, f'{_HEX}{{8}} "-" {_HEX}{{4}} "-" {_HEX}{{4}} "-" {_HEX}{{4}} "-" {_HEX}{{12}}',
             36, 36),
    "ipv4": ({"fmt-octet": _OCTET}, 'fmt-octet "." fmt-octet "." fmt-octet "." fmt-octet', 7, 15),
    "email": (
        {"fmt-atom": f"{_ATEXT}{{1,20}}", "fmt-dlabel": _SHORT_LABEL},
        'fmt-atom ("." fmt-atom){0,2} "@" fmt-dlabel ("." fmt-dlabel){1,3}', 5, None,
    ),
    "hostname": ({"fmt-label": _LABEL}, 'fmt-label ("." fmt-label){0,7}', 1, None),
    "uri": (
        {"fmt-uchar": f"{_UNRESERVED} | {_PCT} | {_SUB} | [:@/?]"},
        '[a-zA-Z] [a-zA-Z0-9+.\\x2D]{0,15} ":" fmt-uchar{1,200} ("#" fmt-uchar{0,50})?',
        3, None,
    ),
    "byte": (
        {"fmt-b64": "[A-Za-z0-9+/]"},
        '(fmt-b64{4})* (fmt-b64{2} "==" | fmt-b64{3} "=")?', 0, None,
    ),
    # a sound subset of ECMA-262 regexes (each valid in Python's re as well): anchors, literal
    # and escaped characters, ".", classes of letters/digits, and the usual quantifiers
    "regex": (
        {"fmt-re-atom": '[a-zA-Z0-9 _,:;=@#%&~!<>\\x27/-] | "."'
                        ' | "\\\\\\\\" ([.*+?()|^$/\\x5B\\x5D{}dwsDWS] | "\\\\\\\\")'
                        ' | "[" "^"? ([a-zA-Z0-9_ .] | "a-z" | "A-Z" | "0-9"){1,16} "]"',
         "fmt-re-quant": '"*" | "+" | "?" | "{" [0-9]{1,3} ","? "}"'},
        '"^"? (fmt-re-atom fmt-re-quant?){0,40} "$"?', 0, None,
    ),
    # RFC 3339 appendix A durations (at most 4 digits a field)
    "duration": (
        {"fmt-dur-time": '"T" ([0-9]{1,4} "H" ([0-9]{1,4} "M")? ([0-9]{1,4} "S")?'
                         ' | [0-9]{1,4} "M" ([0-9]{1,4} "S")? | [0-9]{1,4} "S")'},
        '"P" (([0-9]{1,4} "D" | [0-9]{1,4} "M" ([0-9]{1,4} "D")? | [0-9]{1,4} "Y" ([0-9]{1,4}'
        ' "M" ([0-9]{1,4} "D")?)?) fmt-dur-time? | fmt-dur-time | [0-9]{1,4} "W")', 2, None,
    ),
    # an absolute URI (as "uri") or a relative reference whose first segment has no ":"
    "uri-reference": (
        {"fmt-uchar": f"{_UNRESERVED} | {_PCT} | {_SUB} | [:@/?]",
         "fmt-rchar": f"{_UNRESERVED} | {_PCT} | {_SUB} | \"@\""},
        '([a-zA-Z] [a-zA-Z0-9+.\\x2D]{0,15} ":" fmt-uchar{1,200}'
        ' | "/" (fmt-rchar fmt-uchar{0,200})? | fmt-rchar{1,50} ("/" fmt-uchar{0,200})?)?'
        ' ("#" fmt-uchar{0,50})?', 0, None,
    ),
    # RFC 4291 text forms, an IPv4 dotted quad in the last 32 bits allowed (no zone id)
    "ipv6": ({"fmt-h16": _H16, "fmt-octet": _OCTET,
              "fmt-v4": 'fmt-octet "." fmt-octet "." fmt-octet "." fmt-octet'},
             f"({_IPV6})", 2, 45),
    "json-pointer": ({"fmt-jp-char": _JP_CHAR}, _POINTER, 0, None),
    # no "0" before another digit (as the spec has it for the first one; jsonschema's check
    # rejects it anywhere, e.g. 101: a sound subset of both)
    "relative-json-pointer": ({"fmt-jp-char": _JP_CHAR},
                              f'("0" | [1-9]{{1,5}} "0"?) ("#" | {_POINTER})', 1, None),
    "uri-template": (
        {"fmt-ut-lit": _UT_LIT, "fmt-ut-vc": f'[A-Za-z0-9_] | "%" {_HEX} {_HEX}',
         "fmt-ut-var": 'fmt-ut-vc ("."? fmt-ut-vc){0,31} (":" [1-9] [0-9]{0,3} | "*")?'},
        '(fmt-ut-lit | "{" [+#./;?&]? fmt-ut-var ("," fmt-ut-var){0,7} "}"){0,64}', 0, None,
    ),
    "password": ({}, "", 0, None),
    "binary": ({}, "", 0, None),
}

FORMATS = frozenset(_FORMATS)
# OpenAPI numeric formats: enforced as bounds (int*) or plain JSON numbers (float, double).
INT_FORMATS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
NUMBER_FORMATS = frozenset({"float", "double"})


def format_body(b: GrammarBuilder, name: str) -> tuple[str, int, int | None] | None:
    """(GBNF body for the string content, min length, max length); "" body = any string."""
    spec = _FORMATS.get(name)
    if spec is None:
        return None
    rules, body, lo, hi = spec
    for rname, rbody in rules.items():
        b.fixed(rname, rbody)
    cap = b.limits.max_free_string
    if cap is not None:  # a budget: a URI's 200 characters bounded like any free string
        body = _BOUNDED.sub(lambda m: f"{{{m[1]},{max(int(m[1]), min(int(m[2]), cap))}}}", body)
    return body, lo, hi


_BOUNDED = re.compile(r"\{(\d+),(\d+)\}")

# Formats JSON Schema (2020-12) and OpenAPI define. Any other name is a vocabulary of its own
# that validators treat as an annotation (no assertion), so it constrains nothing.
STANDARD = frozenset({
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname",
    "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid",
    "uri-template", "json-pointer", "relative-json-pointer", "regex", "byte", "binary",
    "password", "int32", "int64", "float", "double",
})


# The same languages as ECMA regexes, for the automata (automaton.py) that intersect a
# format with a pattern, excluded patterns or lengths.
_URI_CHAR = "(?:[a-zA-Z0-9._~!$&'()*+,;=:@/?-]|%[0-9a-fA-F]{2})"
FORMAT_REGEX: dict[str, str] = {
    "uri": f"^[a-zA-Z][a-zA-Z0-9+.-]{{0,15}}:{_URI_CHAR}{{1,200}}(?:#{_URI_CHAR}{{0,50}})?$",
    "uuid": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "date": ("^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(?:(?:01|03|05|07|08|10"
             "|12)-(?:0[1-9]|[12][0-9]|3[01])|(?:04|06|09|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0"
             "[1-9]|1[0-9]|2[0-8]))$|^(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]"
             "|[2468][048]|[13579][26])00)-02-29$"),
}
