"""Splitting streamed text at markers (`<tool_call>`, `</think>`, `>>>` ...) without ever
emitting half a marker: a possible marker prefix at the end of a chunk is held back until
the next chunk decides it."""

from __future__ import annotations

from gateway.dialect import Delta, DeltaKind

WS = " \t\r\n"


class MarkerSplitter:
    """feed(text) -> [(kind, text)] with kind "text" or "marker" (text = the marker)."""

    def __init__(self, markers: list[str] | tuple[str, ...]) -> None:
        # longest first, so "</tool_call>" wins over "</" style overlaps
        self.markers = sorted(set(markers), key=len, reverse=True)
        self._held = ""
        self._firsts_of: list[str] | None = None  # the markers _firsts and _reach are of
        self._firsts, self._reach = "", 0

    def set_markers(self, markers: list[str] | tuple[str, ...]) -> None:
        self.markers = sorted(set(markers), key=len, reverse=True)

    def feed(self, text: str) -> list[tuple[str, str]]:
        buf = self._held + text
        self._held = ""
        out: list[tuple[str, str]] = []
        while buf:
            pos, marker = self._find(buf)
            if marker is not None:
                if pos:
                    out.append(("text", buf[:pos]))
                out.append(("marker", marker))
                buf = buf[pos + len(marker):]
                continue
            keep = self._partial_tail(buf)
            if keep < len(buf):
                out.append(("text", buf[: len(buf) - keep]))
            self._held = buf[len(buf) - keep:]
            break
        return out

    def flush(self) -> list[tuple[str, str]]:
        held, self._held = self._held, ""
        return [("text", held)] if held else []

    def _find(self, buf: str) -> tuple[int, str | None]:
        best, found = len(buf), None
        for m in self.markers:
            i = buf.find(m)
            if i != -1 and i < best:
                best, found = i, m
        return best, found

    def _partial_tail(self, buf: str) -> int:
        """Length of the longest suffix of buf that is a proper prefix of a marker. Such a
        suffix starts with the marker's first character: only where that character occurs
        near the end is a prefix compared (a token's text usually has none of them, and
        comparing every prefix length of every marker cost microseconds per token)."""
        markers = self.markers
        if self._firsts_of is not markers:  # (markers may be set anew at any time)
            self._firsts_of = markers
            self._firsts = "".join({m[0] for m in markers if m})
            self._reach = max((len(m) - 1 for m in markers), default=0)
        size = len(buf)
        tail = buf[size - self._reach:] if size > self._reach else buf
        for c in self._firsts:
            if c in tail:
                break
        else:  # no marker's first character near the end: no partial marker
            return 0
        longest = 0
        for m in markers:
            if not m:
                continue
            # starts of suffixes longer than `longest`, shorter than the marker
            i = buf.find(m[0], max(0, size - len(m) + 1), size - longest)
            while i != -1:
                if m.startswith(buf[i:]):
                    longest = size - i
                    break
                i = buf.find(m[0], i + 1, size - longest)
        return longest


class TextRun:
    """One stretch of content or reasoning text between markup. Trailing whitespace is held
    back: if markup follows, it was a separator and is dropped; otherwise it is text."""

    def __init__(self, kind: DeltaKind, trim_lead: bool) -> None:
        self.kind = kind
        self.trim_lead = trim_lead  # it follows markup: leading whitespace is a separator
        self.held = ""
        self.any = False  # non-whitespace text was emitted

    def feed(self, text: str) -> list[Delta]:
        if self.trim_lead and not self.any:
            text = text.lstrip(WS)
        body = self.held + text
        kept = body.rstrip(WS)
        self.held = body[len(kept):]
        if not kept:
            return []
        self.any = True
        return [Delta(self.kind, kept)]

    def close(self, by_markup: bool) -> tuple[list[Delta], str]:
        """End of the run; returns its deltas and the whitespace dropped as a separator."""
        held, self.held = self.held, ""
        if by_markup or not held or (self.trim_lead and not self.any):
            return [], held
        return [Delta(self.kind, held)], ""


def merge_deltas(deltas: list[Delta]) -> list[Delta]:
    """Adjacent text of one kind (and call) as one delta: fewer SSE chunks per feed."""
    out: list[Delta] = []
    for d in deltas:
        prev = out[-1] if out else None
        if prev and d.kind == prev.kind != "tool_start" and d.index == prev.index:
            prev.text += d.text
        else:
            out.append(d)
    return out
