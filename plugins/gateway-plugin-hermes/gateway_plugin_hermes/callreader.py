"""Reads the JSON of one `<tool_call>` incrementally: `{"name": ..., "arguments": {...}}`.

The call starts (id + name) as soon as the name string is complete; the arguments' raw JSON
streams as it arrives. Arguments written before the name (unconstrained output) are held
until the name comes. Inside the arguments a `,` / key / `:` is held back until its value
begins, so that a call cut off anywhere can be closed into valid JSON by `close()`.
"""

from __future__ import annotations

import json

from gateway.callargs import ArgsRepair, string_arguments, valid_scalar
from gateway.dialect import Delta, new_call_id
from gateway.jsonstream import Event, JsonScanner

ARG_KEYS = ("arguments", "parameters")  # "parameters": Llama-style models trained on Hermes


class CallReader:
    def __init__(self, index: int) -> None:
        self.index = index
        self.scan = JsonScanner()
        self.fed: list[str] = []  # all text given, for the content fallback
        self.started = False
        self._name: list[str] = []
        self._named = False
        self._args_key: str | None = None
        self._args_state = "none"  # none | open | done
        self._held: list[str] = []  # arguments text before the call has started
        self._repair = ArgsRepair()  # arguments cut off anywhere still close as JSON
        self._string_args: list[str] | None = None  # arguments given as a JSON string

    @property
    def ended(self) -> bool:
        return self.scan.done or self.scan.error is not None

    def feed(self, text: str) -> list[Delta]:
        self.fed.append(text)
        out: list[Delta] = []
        for ev in self.scan.feed(text):
            self._on(ev, out)
        return out

    def consumed(self) -> str:
        """The text fed so far that belongs to the call (not what follows its JSON)."""
        text = "".join(self.fed)
        return text[: len(text) - len(self.scan.rest)]

    def close(self) -> list[Delta]:
        """End of the call (JSON complete, broken or cut off): finish the arguments as valid
        JSON. Only meaningful once started; otherwise the caller shows the text as content."""
        out: list[Delta] = []
        if not self.scan.done and self.scan.error is None:
            for ev in self.scan.finish():
                self._on(ev, out)
        if not self.started:
            return out
        if self._args_state == "none":
            self._emit("{}", out)
        elif self._args_state == "open":
            if self._string_args is not None:
                self._emit(json.dumps("".join(self._string_args)), out)
            else:
                self._emit(self._repair.close(), out)
        self._args_state = "done"
        return out

    # -- events ---------------------------------------------------------------------------
    def _on(self, ev: Event, out: list[Delta]) -> None:
        path = ev.path
        if not path:
            if ev.kind == "key" and ev.text in ARG_KEYS and self._args_key is None:
                self._args_key = ev.text
            return
        if path == ("name",) and not self._named:
            if ev.kind == "str":
                self._name.append(ev.text)
            elif ev.kind == "end_str":
                self._named = True
                self._start(out)
            return
        if path[0] == self._args_key and self._args_state != "done":
            self._on_args(ev, len(path) == 1, out)

    def _start(self, out: list[Delta]) -> None:
        self.started = True
        out.append(Delta("tool_start", index=self.index, id=new_call_id(),
                         name="".join(self._name)))
        if self._held:
            out.append(Delta("tool_args", "".join(self._held), index=self.index))
            self._held.clear()

    def _emit(self, text: str, out: list[Delta]) -> None:
        if not text:
            return
        if self.started:
            out.append(Delta("tool_args", text, index=self.index))
        else:
            self._held.append(text)

    def _on_args(self, ev: Event, top: bool, out: list[Delta]) -> None:
        kind = ev.kind
        if self._args_state == "none":
            self._args_state = "open"
            if kind == "begin_str":  # arguments as a JSON string: decode at its end
                self._string_args = []
                return
            if kind == "scalar":  # null / a number: no arguments object at all
                self._emit("{}" if ev.text == "null" else valid_scalar(ev.text), out)
                self._args_state = "done"
                return
        if self._string_args is not None:
            if kind == "str":
                self._string_args.append(ev.text)
            elif kind == "end_str":
                self._emit(string_arguments("".join(self._string_args)), out)
                self._string_args = None
                self._args_state = "done"
            return
        self._emit(self._repair.event(ev), out)
        if top and kind in ("end_obj", "end_arr", "end_str", "scalar"):
            self._args_state = "done"

