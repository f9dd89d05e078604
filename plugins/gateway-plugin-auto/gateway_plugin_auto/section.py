"""Reads one call section after its trigger: literals, names, counters, ids and arguments,
as the derived spec says, call after call.

Until a call's name is complete everything read is tentative: if the text stops matching,
it is handed back (`fallback`) to be shown as content, nothing lost. Once a call has started
it is always finished with valid JSON arguments; text that stops matching after that ends
the section and is handed back (`leftover`) to be parsed as ordinary output.
"""

from __future__ import annotations

from typing import Any

from gateway.callargs import JsonArgs
from gateway.dialect import Delta, new_call_id

from .flex import first_of, flex, is_name_char
from .markup import ARGS, ID, INDEX, NAME
from .spec import Spec
from .tagreader import TaggedArgs

MAX_NAME = 256
_CHARS = {NAME: is_name_char, INDEX: str.isdigit, ID: lambda c: c.isalnum() or c in "_-"}


class SectionReader:
    def __init__(self, spec: Spec, types: dict[str, Any], index: int, opening: str) -> None:
        self.spec = spec
        self.types = types
        self.index = index
        self.body = list(spec.call[1:] if spec.head else spec.call)  # a call after its head
        self.steps: list[str] = [opening, *self.body] if opening else list(self.body)
        self.step = 0
        self.buf = ""
        self.status = "run"  # run | done | failed
        self.tentative: list[str] = []  # read since the last committed point
        self.started = False  # the current call has a tool_start
        self.calls = 0
        self._args: JsonArgs | TaggedArgs | None = None
        self._name = ""
        self._args_sent = False

    @property
    def leftover(self) -> str:
        return self.buf

    def fallback(self) -> str:
        return "".join(self.tentative)

    def feed(self, text: str, final: bool) -> list[Delta]:
        self.buf += text
        out: list[Delta] = []
        while self.status == "run" and self._advance(final, out):
            pass
        return out

    # -- one step at a time; False: wait for more text -------------------------------------
    def _advance(self, final: bool, out: list[Delta]) -> bool:
        if self.step == len(self.steps):
            return self._after_call(final, out)
        part = self.steps[self.step]
        if part == ARGS:
            return self._read_args(final, out)
        if part in _CHARS:
            return self._read_token(part, final, out)
        verdict, end = flex(part, self.buf)
        if verdict == "more" and not final:
            return False
        if verdict == "ok":
            self._consume(end)
            self.step += 1
            return True
        return self._broken(out)

    def _read_token(self, slot: str, final: bool, out: list[Delta]) -> bool:
        ok = _CHARS[slot]
        n = 0
        while n < len(self.buf) and n <= MAX_NAME and ok(self.buf[n]):
            n += 1
        if (n == len(self.buf) and not final) and n <= MAX_NAME:
            return False
        if n == 0 or n > MAX_NAME:
            return self._broken(out)
        # complete only where what follows it begins (a cut-off `<tool_call>get_ti` is text)
        verdict, _, _ = first_of(self._next(), self.buf, n)
        if verdict == "more" and not final:
            return False
        if verdict != "ok":
            return self._broken(out)
        text = self.buf[:n]
        self._consume(n)
        self.step += 1
        if slot == NAME:
            self._name = text
            self.started = True
            self.tentative.clear()
            out.append(Delta("tool_start", index=self.index, id=new_call_id(), name=text))
        return True

    def _read_args(self, final: bool, out: list[Delta]) -> bool:
        if self._args is None:
            if self.spec.args is None:
                self._args = JsonArgs()
            else:
                params = self.types.get(self._name) or {}
                props = params.get("properties") if isinstance(params, dict) else None
                self._args = TaggedArgs(self.spec.args, props if isinstance(props, dict)
                                        else {}, self._follow())
        args = self._args
        frags, used = args.feed(self.buf, final)
        self._consume(used)
        if args.done and isinstance(args, TaggedArgs):
            frags.append(args.closing())
        self._emit_args("".join(frags), out)
        if args.failed:
            self._args = None  # not arguments at all: the call keeps an empty object
            return self._broken(out)
        if not args.done:
            return False
        self._args = None
        self.step += 1
        return True

    def _after_call(self, final: bool, out: list[Delta]) -> bool:
        if self.started:
            self._end_call()
        s = self.spec
        alts = [] if s.single_call else [s.call_sep + s.head]
        if s.section_close:
            alts.append(s.section_close)
        # the longest that matches wins: OLMo 3's close `\n</function_calls>` begins with its
        # separator `\n`, so a separator is taken only once the close cannot be what follows
        best: tuple[int, int] | None = None
        for which, lit in enumerate(alts):
            verdict, end = flex(lit, self.buf)
            if verdict == "more" and not final:
                return False
            if verdict == "more" and lit == s.section_close:  # cut inside the close: it ends
                verdict, end = "ok", len(self.buf)
            if verdict == "ok" and (best is None or end > best[1]):
                best = (which, end)
        if best is not None:
            which, end = best
            self._consume(end)
            if which == 0 and not s.single_call:
                self.steps, self.step = list(self.body), 0
                return True
            self.tentative.clear()
            self.status = "done"
            return False
        self.status = "done"  # no close marker: what follows is ordinary output
        return False

    # -- helpers ---------------------------------------------------------------------------
    def _consume(self, n: int) -> None:
        if n:
            if not self.started:
                self.tentative.append(self.buf[:n])
            self.buf = self.buf[n:]

    def _end_call(self) -> None:
        self.started = False
        self._args_sent = False
        self.calls += 1
        self.index += 1
        self.tentative.clear()

    def _broken(self, out: list[Delta]) -> bool:
        """The text stopped matching: finish a started call, else give the text back."""
        if self.started:
            if self._args is not None:  # cut inside the arguments: close them
                self._emit_args(self._args.close(), out)
                self._args = None
            if not self._args_sent:
                self._emit_args("{}", out)
            self._end_call()
            self.status = "done"
            return False
        self.status = "failed"
        return False

    def _emit_args(self, text: str, out: list[Delta]) -> None:
        if text and self.started:
            out.append(Delta("tool_args", text, index=self.index))
            self._args_sent = True

    def _next(self) -> list[str]:
        """What may follow the current slot (literals, up to the arguments' opening)."""
        lit, k = "", self.step + 1
        while k < len(self.steps) and self.steps[k] not in _CHARS and self.steps[k] != ARGS:
            lit, k = lit + self.steps[k], k + 1
        if k == len(self.steps):
            s = self.spec
            ends = [s.section_close] + ([] if s.single_call else [s.call_sep + s.head])
            return [lit + e for e in ends]
        if self.steps[k] != ARGS:
            return [lit]
        t = self.spec.args
        if t is None:
            return [lit + "{"]
        after = self.steps[k + 1] if k + 1 < len(self.steps) else ""
        after = "" if after in _CHARS else after
        return [lit + t.start + t.open, lit + t.empty + after]

    def _follow(self) -> list[str]:
        """What may come right after the arguments (for values without an end marker)."""
        rest = self.steps[self.step + 1:]
        if rest and rest[0] not in _CHARS and rest[0] != ARGS:
            return [rest[0]]
        s = self.spec
        follow = [] if s.single_call else [s.call_sep + s.head]
        return follow + [s.section_close]
