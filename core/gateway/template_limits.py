"""Time and size bounds for rendering chat templates, which come from model files, i.e. from
strangers: a template may loop for hours (`range(10**9)`, nested loops) or build gigabytes
(`'x' * 10**10`).

Two mechanisms, because Python cannot stop a thread from outside:
- Python-level work (the template's own loops) is interrupted by a watchdog thread that raises
  `RenderTimeout` asynchronously in the rendering thread once its deadline has passed.
- Single C-level operations that the watchdog cannot interrupt (string/list repetition,
  concatenation, big powers, `join`, padding filters) are checked *before* they run against
  the output-size bound, and `range` keeps the sandbox's cap.
Rendering also runs off the event loop (see ChatService.prepare_async), so even a template
that defeats both costs one worker thread, never the server. The exception, small requests
rendered on the loop, run under a short leash (`leashed`) and go to a thread past it.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.filters import sync_do_join
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import safe_range


class TemplateError(ValueError):
    """A chat template could not be compiled or rendered; the message says why (for a
    template's own `raise_exception`, it is the template's text, meant for the client)."""


class TemplateLimitError(TemplateError):
    """Rendering went over its time or size bound (a hostile or broken template)."""


class RenderTimeout(BaseException):
    """Raised inside the rendering thread by the watchdog. A BaseException, so that no
    `except ValueError` in a filter can swallow it (it is turned into TemplateLimitError
    where the render started)."""


class RenderLeashExceeded(BaseException):
    """A render under `leashed` took longer than the leash: the caller renders it again
    without one (in a worker thread). A BaseException, like RenderTimeout, so that no
    `except Exception` on the way (a template's error classification) turns it into a 400."""


@dataclass(frozen=True)
class RenderLimits:
    seconds: float = 10.0
    max_chars: int = 32 * 1024 * 1024  # the rendered prompt and any string built on the way


DEFAULT_LIMITS = RenderLimits()
# the limits of the render running in this thread (renders do not nest across threads)
_local = threading.local()


def current_limits() -> RenderLimits:
    limits: RenderLimits = getattr(_local, "limits", DEFAULT_LIMITS)
    return limits


def check_size(chars: int) -> None:
    limit = current_limits().max_chars
    if chars > limit:
        raise TemplateLimitError(f"chat template rendering would build a string of {chars} "
                                 f"characters, over the limit of {limit}")


# --- the watchdog -------------------------------------------------------------------------

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_REFIRE = 0.5
_TICK = 0.25  # while renders come, the watchdog looks this often even with none running
_IDLE = 30.0  # seconds without a render after which it sleeps until the next one


class _Watchdog:
    """One daemon thread for all renders: interrupts each one past its deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._renders: dict[int, float] = {}  # thread id → deadline
        self._fired: set[int] = set()
        self._thread: threading.Thread | None = None
        self._wakes_at = math.inf  # when the watchdog thread looks next
        self._last_enter = 0.0

    def enter(self, seconds: float, slack: float = 0.0) -> None:
        """slack: the render may be interrupted up to that long after its deadline (then a
        watchdog already looking within that time is not woken for it)."""
        with self._lock:
            now = time.monotonic()
            deadline = self._renders[threading.get_ident()] = now + seconds
            self._last_enter = now
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="template-watchdog",
                                                daemon=True)
                self._thread.start()
            elif deadline + slack < self._wakes_at:
                # Only then: waking a thread on every render costs each request two context
                # switches. Busy, the watchdog looks at least every _TICK seconds anyway.
                self._wake.notify()

    def leave(self) -> None:
        while True:  # a timeout delivered right here must not leave the render registered
            try:
                tid = threading.get_ident()
                with self._lock:
                    self._renders.pop(tid, None)
                    if tid in self._fired:  # fired, maybe not delivered yet: take it back
                        self._fired.discard(tid)
                        _set_async_exc(tid, ctypes.py_object())  # NULL: clear a pending one
                return
            except RenderTimeout:
                continue

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for tid, deadline in list(self._renders.items()):
                    if deadline <= now:
                        self._fired.add(tid)
                        _set_async_exc(tid, ctypes.py_object(RenderTimeout))
                        self._renders[tid] = now + _REFIRE  # in case something swallowed it
                if self._renders:
                    self._wakes_at = min(self._renders.values())
                elif now - self._last_enter < _IDLE:
                    self._wakes_at = now + _TICK
                else:  # idle for a while: sleep until a render comes (it wakes us)
                    self._wakes_at = math.inf
                self._wake.wait(None if self._wakes_at == math.inf else self._wakes_at - now)


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def leashed(seconds: float) -> Iterator[None]:
    """Renders in this block (in this thread) stop after `seconds`, or at most _TICK later,
    with RenderLeashExceeded, when that is shorter than their own time limit: for a render
    tried on the event loop, which must not hold it for long."""
    previous = getattr(_local, "leash", None)
    _local.leash = seconds
    try:
        yield
    finally:
        _local.leash = previous


def bounded(render: Callable[[], Iterable[str]], limits: RenderLimits) -> str:
    """Run `render` (a generator of output pieces) under the limits; TemplateLimitError if
    it goes over either of them (RenderLeashExceeded over a shorter `leashed` bound)."""
    previous = getattr(_local, "limits", None)
    _local.limits = limits
    leash: float | None = getattr(_local, "leash", None)
    if leash is not None and leash >= limits.seconds:
        leash = None
    try:
        if leash is None:
            _WATCHDOG.enter(limits.seconds)
        else:  # no wake-up per render: the watchdog looks every _TICK while renders come
            _WATCHDOG.enter(leash, slack=_TICK)
        try:
            out: list[str] = []
            append, size, most = out.append, 0, limits.max_chars
            for piece in render():
                size += len(piece)
                if size > most:
                    raise TemplateLimitError(f"the rendered prompt is over the limit of "
                                             f"{most} characters")
                append(piece)
            return "".join(out)
        finally:
            _WATCHDOG.leave()
    except RenderTimeout as exc:  # also when it lands in the `finally` above
        if leash is not None:
            raise RenderLeashExceeded(f"rendering took over {leash:g} s") from exc
        raise TemplateLimitError(f"chat template rendering took over {limits.seconds:g} s "
                                 "(a hostile or broken template?)") from exc
    finally:
        _local.limits = previous


# --- size checks before single C-level operations -----------------------------------------

_MAX_POW_BITS = 1 << 16


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def checked_binop(operator: str, left: Any, right: Any, table: dict[str, Any]) -> Any:
    """`*`, `**`, `+` and `%` with their result size checked before they run."""
    if operator == "+":  # the common one (templates build their text with it): inline
        size = (len(left) if isinstance(left, (str, list, tuple)) else 0) + \
            (len(right) if isinstance(right, (str, list, tuple)) else 0)
        if size > getattr(_local, "limits", DEFAULT_LIMITS).max_chars:
            check_size(size)
    elif operator == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(n, int) and _size(seq):
                check_size(_size(seq) * n)
        if isinstance(left, int) and isinstance(right, int):
            _check_bits(left.bit_length() + right.bit_length())
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        _check_bits(left.bit_length() * right)
    elif operator == "%" and isinstance(left, str):
        _check_format(left)
    return table[operator](left, right)


def _check_bits(bits: int) -> None:
    if bits > _MAX_POW_BITS:
        raise TemplateLimitError(f"chat template arithmetic would build a {bits}-bit number")


_WIDTH = re.compile(r"%[-#0 +]*(\d+)|\.(\d+)")


def _check_format(fmt: str) -> None:
    for m in _WIDTH.finditer(fmt):
        check_size(int(m.group(1) or m.group(2)))


def checked_str_join(seq: Iterable[Any]) -> str:
    """Jinja's `~` operator."""
    items = list(seq)
    check_size(sum(len(x) if isinstance(x, str) else 32 for x in items))
    return str_join(items)


def checked_markup_join(seq: Iterable[Any]) -> str:
    items = list(seq)
    check_size(sum(len(x) if isinstance(x, str) else 32 for x in items))
    return markup_join(items)


@jinja2.pass_eval_context
def checked_join(eval_ctx: Any, value: Iterable[Any], d: str = "",
                 attribute: str | int | None = None) -> str:
    items = list(value)
    if attribute is None:
        check_size(sum(len(x) if isinstance(x, str) else 32 for x in items)
                   + len(d) * len(items))
    return sync_do_join(eval_ctx, items, d, attribute)


def checked_center(value: Any, width: int = 80) -> str:
    check_size(int(width))
    return str(value).center(width)


def checked_indent(s: str, width: int | str = 4, first: bool = False,
                   blank: bool = False) -> str:
    from jinja2.filters import do_indent

    pad = len(width) if isinstance(width, str) else int(width)
    check_size(len(s) + pad * (str(s).count("\n") + 1))
    return do_indent(s, width, first, blank)


def checked_format(value: str, *args: Any, **kwargs: Any) -> str:
    from jinja2.filters import do_format

    _check_format(str(value))
    return do_format(value, *args, **kwargs)


def capped_range(*args: int) -> range:
    """The sandbox's `range` (at most 100000 items), with a clear message."""
    try:
        return safe_range(*args)
    except OverflowError as exc:
        raise TemplateLimitError(f"chat template asked for a range over the sandbox's cap: "
                                 f"{exc}") from exc


def patch_concat(template: jinja2.Template) -> None:
    """Route the template's `~` through the size check: compiled templates call the
    `str_join`/`markup_join` names of their own module namespace."""
    namespace = template.root_render_func.__globals__
    namespace["str_join"] = checked_str_join
    namespace["markup_join"] = checked_markup_join
