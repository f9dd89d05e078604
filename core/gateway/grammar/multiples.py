"""multipleOf as decimal text: exact grammars for the multiples of a decimal m.

A number written ``I.F`` (no exponent) is a multiple of m = M·10^-K (M an integer prime to
10 after normalisation, or with 10^-K folded into it when K < 0) iff F has at most K
significant digits and the integer N = I‖F padded to K digits is divisible by M. When M has
no prime factor but 2 and 5 (0.01, 0.5, 0.25, 4, 10, 250, …) that depends only on the last
j = max(a, b) digits of N (M = 2^a·5^b): a finite set of digit suffixes, so the multiples
are a small regular language written as alternatives. Other M (0.3, 7, 1.5, …) get the
automaton of the remainder mod M over the digits, one rule per (remainder, digits left)
after merging equal rules, refused beyond MAX_DFA_RULES.

Bounds: none, or a lower bound of 0 (inclusive or exclusive; prices, amounts), or any range
holding at most MAX_LISTED multiples (listed one by one). Digit runs stay bounded as in
numbers.py. Negative values carry a "-" before the same unsigned forms ("-0" is JSON for 0).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from .gbnf import GrammarBuilder
from .numbers import FREE_INT_DIGITS

MAX_SUFFIX_DIGITS = 3  # j: at most 10^j digit suffixes are enumerated
MAX_FRACTION = 12  # K: fraction digits a multiple may need
MAX_LISTED = 256  # multiples of a bounded range written one by one


def split(m: Decimal) -> tuple[int, int]:
    """m = M·10^-K with K >= 0 and M a positive integer (K as small as it can be)."""
    sign, digits, exp = m.normalize().as_tuple()
    assert isinstance(exp, int) and not sign
    n = int("".join(map(str, digits)))
    return (n * 10**exp, 0) if exp >= 0 else (n, -exp)


def _two_five(n: int) -> int | None:
    """j with n | 10^j (n = 2^a·5^b, j = max(a, b)); None when n has another factor."""
    j = 0
    while 10**j % n:
        j += 1
        if j > MAX_SUFFIX_DIGITS:
            return None
    return j


def text(v: Decimal) -> str:
    """The shortest decimal text of ``v`` (an integer without a fraction)."""
    if v == v.to_integral_value():
        return str(int(v))
    return format(v.normalize(), "f")


def listed(m: Decimal, lo: Decimal, lx: bool, hi: Decimal, hx: bool,
           integer: bool) -> list[str] | None:
    """The multiples in a bounded range as literals' texts; None when there are too many."""
    with localcontext() as ctx:
        ctx.prec = 1000  # exact for every double's digits
        first = (lo / m).to_integral_value(rounding=ROUND_CEILING)
        last = (hi / m).to_integral_value(rounding=ROUND_FLOOR)
        if last - first + 1 > MAX_LISTED:
            return None
        out = []
        k = first
        while k <= last:
            v = k * m
            if lo <= v <= hi and not (v == lo and lx or v == hi and hx
                                       or integer and v != v.to_integral_value()):
                out.append(text(v))
            k += 1
        return out


def _rep(atom: str, n: int) -> list[str]:
    return [] if n <= 0 else [atom] if n == 1 else [f"{atom}{{{n}}}"]


def unsigned(m: Decimal, integer: bool, nonzero: bool) -> list[str] | None:
    """GBNF alternatives for the unsigned decimal texts of the multiples of ``m`` (only
    integral ones with ``integer``; not zero with ``nonzero``); None when they are not a
    small regular language."""
    big, k = split(m)
    j = _two_five(big)
    if j is None or k > MAX_FRACTION:
        return None
    top = FREE_INT_DIGITS
    alts: list[str] = []
    for f in range(0, 1 if integer else k + 1):  # fraction digits written
        pad = k - f
        t = max(j - pad, 0)  # the last t digits of I‖F decide divisibility
        for x in range(10**t):
            s = str(x).rjust(t, "0") if t else ""
            if t and int(s) * 10**pad % big:
                continue
            # (integer part, its value is zero, fraction digits, fraction may be all zero)
            forms: list[tuple[str, bool, list[list[str]]]] = []
            if t <= f:  # the deciding digits are the fraction's last ones
                free = f - t
                last = [f'"{s}"'] if s else []
                any_frac = _rep("[0-9]", free) + last
                if s.strip("0") or not f:
                    nonzero_fracs = [any_frac] if f else []
                else:  # the first non-zero digit of the fraction is among the free ones
                    nonzero_fracs = [_rep('"0"', i) + ["[1-9]"] + _rep("[0-9]", free - 1 - i)
                                     + last for i in range(free)]
                forms.append((f"[1-9] [0-9]{{0,{top - 1}}}", False, [any_frac]))
                forms.append(('"0"', True, nonzero_fracs if nonzero else [any_frac]))
            else:  # they end the integer part (and fill the fraction)
                head, tail = s[: t - f], s[t - f:]
                frac = [f'"{tail}"'] if tail else []
                room = top - 1 - len(head)
                forms.append((" ".join(["[1-9]"] + (
                    [f"[0-9]{{0,{room}}}"] if room > 0 else []) + [f'"{head}"']), False, [frac]))
                zero = int(head) == 0 and not tail.strip("0")
                if not (nonzero and zero):
                    forms.append((f'"{int(head)}"', zero, [frac]))
            for ipart, _, fracs in forms:
                for fr in fracs:
                    alts.append(" ".join([ipart] + (['"."'] + fr if f else [])))
    return list(dict.fromkeys(alts))


MAX_DFA_RULES = 600  # rules the remainder automaton of one multipleOf may cost


def _digits(xs: list[int]) -> str:
    if len(xs) == 1:
        return f'"{xs[0]}"'
    if xs == list(range(xs[0], xs[-1] + 1)):
        return f"[{xs[0]}-{xs[-1]}]"
    return "[" + "".join(map(str, xs)) + "]"


def remainder_automaton(b: GrammarBuilder, m: Decimal, integer: bool) -> str | None:
    """A rule for the unsigned decimal texts of the multiples of ``m`` (any M): the digits
    of I‖F read by the automaton of the remainder mod M, one rule per (remainder, digits
    left), at most FREE_INT_DIGITS integer digits. None when that costs too many rules."""
    big, k = split(m)
    k_frac = 0 if integer else k
    top = FREE_INT_DIGITS
    if big * (top + k_frac) > MAX_DFA_RULES or k > MAX_FRACTION:
        return None

    def ok(r: int, written: int) -> bool:  # N = I‖F‖0^(k - written) divisible by M
        return r * 10 ** (k - written) % big == 0

    def grouped(r: int, target: Callable[[int], str | None]) -> list[str]:
        by: dict[str, list[int]] = {}
        for x in range(10):
            name = target((10 * r + x) % big)
            if name is not None:
                by.setdefault(name, []).append(x)
        return [f"{_digits(xs)} {name}".replace(' ""', "") for name, xs in by.items()]

    # fraction digit i (1-based) after remainder r: rules built from the last digit back
    frac: dict[tuple[int, int], str | None] = {}

    def after(t: int, i: int) -> str | None:  # what may follow fraction digit i
        alts = ['""'] if ok(t, i) else []
        more = frac[t, i + 1] if i < k_frac else None
        if more is not None:
            alts.append(more)
        if not alts:
            return None
        return alts[0] if len(alts) == 1 and alts[0] == '""' else b.add(
            "mult-frac", " | ".join(alts))

    for i in range(k_frac, 0, -1):
        for r in range(big):
            alts = grouped(r, lambda t, i=i: after(t, i))  # type: ignore[misc]
            frac[r, i] = b.add("mult-frac", " | ".join(alts)) if alts else None

    def end(r: int) -> list[str]:
        out = ['""'] if ok(r, 0) else []
        if k_frac and frac.get((r, 1)):
            out.append(f'"." {frac[r, 1]}')
        return out

    ints: dict[tuple[int, int], str | None] = {}
    for d in range(top):
        for r in range(big):
            alts = end(r)
            if d:
                alts += grouped(r, lambda t, d=d: ints[t, d - 1])  # type: ignore[misc]
            ints[r, d] = b.add("mult-int", " | ".join(alts)) if alts else None
    zero = end(0)
    heads = [] if not zero else ['"0"'] if zero == ['""'] else [f'"0" ({" | ".join(zero)})']
    by: dict[str, list[int]] = {}
    for x in range(1, 10):
        name = ints[x % big, top - 1]
        if name is not None:
            by.setdefault(name, []).append(x)
    heads += [f"{_digits(xs)} {name}" for name, xs in by.items()]
    return b.add("mult-abs", " | ".join(heads)) if heads else None
