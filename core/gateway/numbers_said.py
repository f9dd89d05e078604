"""The numbers a conversation gives, for telling a call's number taken from it (or worked out
from one: 0.04 for "4 percent", 120 for "2 hours" in minutes) from one the model made up
(`10000` for a principal the user said was 5000)."""

from __future__ import annotations

import json
import math
import re

from gateway.toolprior import COMMON_WORDS, words

# every run of digits, in dates, times and codes too: a number may be taken from any of them
_ANY_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# a number as a user writes it on its own: `7`, `-3`, `3.5`, `20,000`, `$45.50`; not a piece of
# a date, a time, a version or a code (`2024-05-01`, `15:00`, `1.2.3`, `B12`)
_GIVEN = re.compile(r"(?<![\w.,:/-])(-?)(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
                    r"(?![\d/:-]|[.,]\d)")
_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
          "fourteen fifteen sixteen seventeen eighteen nineteen twenty")
_TENS = "thirty forty fifty sixty seventy eighty ninety"
_ORDINALS = "first second third fourth fifth sixth seventh eighth ninth tenth"
_WORDS = {w: float(i) for i, w in enumerate(_UNITS.split())}
_WORDS |= {w: float(30 + 10 * i) for i, w in enumerate(_TENS.split())}
_WORDS |= {w: float(i + 1) for i, w in enumerate(_ORDINALS.split())}
_WORDS |= {"hundred": 100.0, "thousand": 1000.0, "million": 1e6, "billion": 1e9,
           "dozen": 12.0, "half": 0.5, "quarter": 0.25, "twice": 2.0, "double": 2.0,
           "triple": 3.0, "single": 1.0, "once": 1.0, "pair": 2.0, "couple": 2.0}
_WORD = re.compile(r"[a-z]+")
DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")  # a number as JSON writes it (no exponent)
# the factors between a number said and one worked out from it: percent, units (k, milli,
# minutes, hours, days, weeks, months, dozens), a sign
_SCALES = (1.0, 100.0, 1000.0, 60.0, 3600.0, 24.0, 7.0, 12.0, 1e6, 1024.0)


def numbers_said(text: str) -> set[float]:
    """Every number in a text, written with digits (anywhere) or as a word ("two", "a
    dozen", "third")."""
    out: set[float] = set()
    for run in _ANY_NUMBER.findall(text):
        pieces = [run.replace(",", ""), *run.split(",")]  # 1,250 and a list "1,2,3"
        if run.count(".") > 1:
            pieces += run.replace(",", ".").split(".")  # a version, an address
        out.update(float(piece) for piece in pieces if DECIMAL.fullmatch(piece))
    out.update(_WORDS[w] for w in _WORD.findall(text.lower()) if w in _WORDS)
    return out


def numbers_given(text: str) -> list[str]:
    """The numbers a user's message gives on their own, as JSON literals, in order, each
    once (`20,000` as `20000`)."""
    out: list[str] = []
    for match in _GIVEN.finditer(text):
        literal = match.group(1) + match.group(2).replace(",", "")
        if literal not in out:
            out.append(literal)
    return out


_NEAR = 1  # the words either side of a number that say what it counts
_NEAR_WORD = re.compile(r"[^\W\d_]+")


def numbers_for(text: str, key: str, used: set[float]) -> list[str]:
    """The numbers the text gives (see `numbers_given`) that may fill the argument `key`:
    those with a word of the key right before or after them ("a 20000 loan" for
    `loan_amount`, "70 kg" for `weight_kg`) when any has one, and of those the ones no
    call `used` when any is left; else all of them."""
    wanted = set(words(key)) - COMMON_WORDS
    given: list[tuple[str, bool]] = []
    for match in _GIVEN.finditer(text):
        literal = match.group(1) + match.group(2).replace(",", "")
        before = _NEAR_WORD.findall(text[max(0, match.start() - 40):match.start()])[-_NEAR:]
        after = _NEAR_WORD.findall(text[match.end():match.end() + 40])[:_NEAR]
        near = bool(wanted & set(words(" ".join(before + after))))
        given.append((literal, near))
    out = [n for n, near in given if near] or [n for n, _ in given]
    out = list(dict.fromkeys(out))
    return [n for n in out if float(n) not in used] or out


def given_spans(text: str) -> dict[int, int]:
    """{start: end} of the digits of each number a text gives on its own (see
    `numbers_given`)."""
    return {m.start(2): m.end(2) for m in _GIVEN.finditer(text)}


def worked_out(value: float, said: set[float]) -> bool:
    """Is `value` one of the numbers `said`, or one worked out from one of them by a unit's
    factor or a sign?"""
    for number in said:
        for scale in _SCALES:
            for candidate in (number * scale, number / scale):
                if math.isclose(abs(value), candidate, rel_tol=1e-9, abs_tol=1e-12):
                    return True
    return False


def schema_numbers(schemas: object) -> set[float]:
    """The numbers tools' schemas hold (defaults, enums, bounds, examples in descriptions)."""
    return numbers_said(json.dumps(schemas, ensure_ascii=False))
