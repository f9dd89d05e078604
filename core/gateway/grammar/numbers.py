"""Exact numeric ranges as GBNF: integers by digit-range decomposition, decimals in [a, b].

Output is canonical JSON: no leading zeros, no "-0" for integers, no exponent when a bound
is given (a sound subset: every produced number is in range). Digit runs are bounded so a
small model cannot loop on digits: INT_DIGITS integer digits, FRAC_DIGITS fraction digits.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

INT_DIGITS = 15
FRAC_DIGITS = 10
EXP_DIGITS = 3

# Unbounded integers and numbers: every 64-bit integer, and every double as JSON encoders
# write it (at most 17 significant digits, up to 20 fraction digits before they switch to
# an exponent), still bounded so a model cannot loop on digits.
FREE_INT_DIGITS = 20
FREE_FRAC_DIGITS = 20
INTEGER = f'("0" | "-"? [1-9] [0-9]{{0,{FREE_INT_DIGITS - 1}}})'
NUMBER = (
    f'"-"? ("0" | [1-9] [0-9]{{0,{FREE_INT_DIGITS - 1}}}) ("." [0-9]{{1,{FREE_FRAC_DIGITS}}})?'
    f' ([eE] [-+]? [0-9]{{1,{EXP_DIGITS}}})?'
)


def _rep(atom: str, n: int) -> str:
    return "" if n == 0 else atom if n == 1 else f"{atom}{{{n}}}"


def _cls(lo: int, hi: int) -> str:
    return f'"{lo}"' if lo == hi else f"[{lo}-{hi}]"


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _ge(s: str) -> str:
    """Digit strings of len(s) that are >= s."""
    if not s:
        return ""
    if set(s) == {"0"}:
        return _rep("[0-9]", len(s))
    d, rest = int(s[0]), s[1:]
    alts = [_join(f'"{d}"', _group(_ge(rest)))]
    if d < 9:
        alts.append(_join(_cls(d + 1, 9), _rep("[0-9]", len(rest))))
    return " | ".join(alts)


def _le(s: str) -> str:
    """Digit strings of len(s) that are <= s."""
    if not s:
        return ""
    if set(s) == {"9"}:
        return _rep("[0-9]", len(s))
    d, rest = int(s[0]), s[1:]
    alts = [_join(f'"{d}"', _group(_le(rest)))]
    if d > 0:
        alts.insert(0, _join(_cls(0, d - 1), _rep("[0-9]", len(rest))))
    return " | ".join(alts)


def _group(expr: str) -> str:
    return f"({expr})" if " | " in expr else expr


def _same_len(lo: str, hi: str) -> list[str]:
    i = 0
    while i < len(lo) and lo[i] == hi[i]:
        i += 1
    if i == len(lo):
        return [f'"{lo}"']
    prefix = f'"{lo[:i]}"' if i else ""
    a, b = int(lo[i]), int(hi[i])
    lrest, hrest = lo[i + 1 :], hi[i + 1 :]
    n = len(lrest)
    low_full, high_full = set(lrest) <= {"0"}, set(hrest) <= {"9"}
    first = a if low_full else a + 1
    last = b if high_full else b - 1
    alts = []
    if not low_full:
        alts.append(_join(prefix, f'"{a}"', _group(_ge(lrest))))
    if first <= last:
        alts.append(_join(prefix, _cls(first, last), _rep("[0-9]", n)))
    if not high_full:
        alts.append(_join(prefix, f'"{b}"', _group(_le(hrest))))
    return alts


def uint_range(lo: int, hi: int) -> list[str]:
    """Alternatives matching exactly the decimal integers in [lo, hi] (0 <= lo <= hi)."""
    alts: list[str] = []
    full: list[int] = []  # digit counts whose whole span is inside the range

    def flush() -> None:
        if full:
            a, b = full[0] - 1, full[-1] - 1
            alts.append("[1-9]" + ("" if b == 0 else f" [0-9]{{{a},{b}}}" if a != b
                                   else f" {_rep('[0-9]', a)}"))
            full.clear()

    for d in range(len(str(lo)), len(str(hi)) + 1):
        a = max(lo, 10 ** (d - 1) if d > 1 else 0)
        b = min(hi, 10**d - 1)
        if d > 1 and a == 10 ** (d - 1) and b == 10**d - 1:
            full.append(d)
            continue
        flush()
        if a <= b:
            alts += _same_len(str(a), str(b))
    flush()
    return alts


def default_cap(*bounds: int | None) -> int:
    digits = max([INT_DIGITS] + [len(str(abs(x))) for x in bounds if x is not None])
    return 10**digits - 1


@lru_cache(maxsize=1024)
def int_range(lo: int | None, hi: int | None) -> str | None:
    """Alternatives for the integers in [lo, hi] (None: open, capped at INT_DIGITS digits)."""
    if lo is None and hi is None:
        return INTEGER
    cap = default_cap(lo, hi)
    lo = -cap if lo is None else lo
    hi = cap if hi is None else hi
    if lo > hi:
        return None
    alts = []
    if lo < 0:
        neg = uint_range(max(1, -hi), -lo)
        alts.append('"-" ' + _group(" | ".join(neg)))
    if hi >= 0:
        alts += uint_range(max(lo, 0), hi)
    return " | ".join(alts)


# -- decimals ----------------------------------------------------------------------------

def _split(x: Decimal) -> tuple[int, str]:
    """Non-negative decimal → (integer part, fraction digits without trailing zeros)."""
    sign, digits, exp = x.normalize().as_tuple()
    assert isinstance(exp, int)
    s = "".join(map(str, digits))
    if exp >= 0:
        return int(s + "0" * exp), ""
    s = s.rjust(-exp + 1, "0")
    return int(s[:exp]), s[exp:].rstrip("0")


_ANY = f"[0-9]{{0,{FRAC_DIGITS - 1}}}"


@lru_cache(maxsize=4096)
def _frac(lo: str | None, lx: bool, hi: str | None, hx: bool) -> tuple[str | None, bool]:
    """Fraction digit strings f with lo <(=) 0.f <(=) hi, split as (non-empty alternatives,
    whether the empty fraction — i.e. no "." part — is allowed)."""
    if lo == "" and not lx:
        lo = None
    empty_ok = lo is None and (hi is None or hi != "" or not hx)
    if hi == "" and hx:
        return None, False
    if lo is None and hi is None:
        return f"[0-9] {_ANY}", True
    if lo == "" and hi is None:  # strictly positive: canonical, ends in a non-zero digit
        return f"{_ANY} [1-9]", False
    if lo is None and hi == "":  # zero: only zero digits
        return f'"0"{{1,{FRAC_DIGITS}}}', True
    if lo == "" and hi == "":
        return None, False
    dlo = int(lo[0]) if lo else 0
    dhi = int(hi[0]) if hi else 9
    groups: dict[tuple[str | None, str | None], list[int]] = {}
    for e in range(10):
        if lo is not None and e < dlo or hi is not None and hi != "" and e > dhi:
            continue
        if hi == "" and e > 0:
            continue
        nlo = None if lo is None or e > dlo else lo[1:]
        nhi = None if hi is None or hi != "" and e < dhi else hi[1:]
        groups.setdefault((nlo, nhi), []).append(e)
    alts = []
    for (nlo, nhi), ds in groups.items():
        rest, rest_empty = _frac(nlo, lx, nhi, hx)
        cls = _cls(ds[0], ds[-1]) if ds == list(range(ds[0], ds[-1] + 1)) else "[" + "".join(
            map(str, ds)) + "]"
        if rest is not None:
            alts.append(f"{cls} ({rest}){'?' if rest_empty else ''}")
        elif rest_empty:
            alts.append(cls)
    return (" | ".join(alts) or None), empty_ok


def _mag(lo: Decimal, lx: bool, hi: Decimal, hx: bool) -> list[str]:
    """Unsigned decimal texts "I(.f)?" with value in the interval (lo >= 0)."""
    (a, alpha), (b, beta) = _split(lo), _split(hi)
    alts: list[str] = []

    def part(i_lo: int, i_hi: int, flo: str | None, fhi: str | None) -> None:
        if i_lo > i_hi:
            return
        digits, empty_ok = _frac(flo, lx, fhi, hx)
        ints = " | ".join(uint_range(i_lo, i_hi))
        if digits is None and not empty_ok:
            return
        frac = "" if digits is None else (
            f'("." ({digits}))?' if empty_ok else f'"." ({digits})')
        alts.append(_join(_group(ints), frac))

    if a == b:
        part(a, a, alpha, beta)
        return alts
    if alpha == "" and not lx:
        part(a, b - 1, None, None)
    else:
        part(a, a, alpha, None)
        part(a + 1, b - 1, None, None)
    part(b, b, None, beta)
    return alts


@lru_cache(maxsize=1024)
def decimal_range(
    lo: Decimal | None, lx: bool, hi: Decimal | None, hx: bool
) -> str | None:
    """Alternatives for the JSON numbers (no exponent) in the interval; None if empty."""
    cap = Decimal(default_cap(*(None if x is None else int(x) for x in (lo, hi))))
    alts: list[str] = []
    # an open side ends just before cap + 1: INT_DIGITS digits with any fraction
    top, tx = (hi, hx) if hi is not None else (cap + 1, True)
    bottom, bx = (lo, lx) if lo is not None else (-cap - 1, True)
    if top > 0 or top == 0 and not tx:  # non-negative side
        if bottom >= 0:
            alts += _mag(bottom, bx, top, tx)
        else:
            alts += _mag(Decimal(0), False, top, tx)
    if bottom < 0:  # negative side: magnitude in (max(-top, 0), -bottom]
        mlo, mlx = (-top, tx) if top < 0 else (Decimal(0), True)
        neg = _mag(mlo, mlx, -bottom, bx)
        if neg:
            alts.append('"-" ' + _group(" | ".join(neg)))
    return " | ".join(alts) or None
