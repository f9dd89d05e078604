"""Model metadata (chat template, special tokens, context length) from a GGUF file or /props.

`gguf.GGUFReader` maps every tensor and takes seconds on even a 100 MB model; start-up only
needs the key/value header, so this module parses that section itself and stops before the
tensor infos. Large arrays are skipped by seeking, except `tokenizer.ggml.tokens`, which is
walked once to turn the bos/eos/eot token ids into their strings.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from gguf import GGUFValueType, Keys

_MAGIC = b"GGUF"
_CHUNK = 1 << 20
_MAX_KV = 1 << 20  # a real model has a few dozen; a huge count means a corrupt header
# struct formats (without the byte-order prefix) of the fixed-size value types
_SCALAR_FMT: dict[int, str] = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}
_TEMPLATE_PREFIX = Keys.Tokenizer.CHAT_TEMPLATE + "."
# small arrays worth keeping; every other array (scores, token types, merges...) is skipped
_KEEP_ARRAYS = frozenset({Keys.Tokenizer.CHAT_TEMPLATES})


@dataclass(frozen=True)
class ModelMetadata:
    """What the gateway needs to know about a model to render its prompts."""

    name: str | None = None
    architecture: str | None = None
    context_length: int | None = None  # {arch}.context_length (or the server's n_ctx)
    chat_template: str | None = None  # tokenizer.chat_template
    chat_templates: dict[str, str] = field(default_factory=dict)  # tokenizer.chat_template.<n>
    bos_token: str | None = None
    eos_token: str | None = None
    eot_token: str | None = None
    add_bos_token: bool | None = None


class _Cursor:
    """Forward-only reader over a buffered file: parses from an in-memory chunk (fast
    `unpack_from`) and seeks over whatever it is told to skip."""

    def __init__(self, f: BinaryIO, size: int, endian: str) -> None:
        self._f = f
        self._size = size
        self._buf = b""
        self._pos = 0
        self._file_pos = f.tell()  # file offset of the end of _buf
        self._e = endian

    def _remaining(self) -> int:
        return len(self._buf) - self._pos + self._size - self._file_pos

    def _need(self, n: int) -> None:
        if self._pos + n <= len(self._buf):
            return
        if n > self._remaining():
            raise ValueError("GGUF file is truncated")
        rest = self._buf[self._pos :]
        more = self._f.read(max(n - len(rest), _CHUNK))
        self._file_pos += len(more)
        self._buf, self._pos = rest + more, 0

    def unpack(self, fmt: str) -> Any:
        fmt = self._e + fmt
        size = struct.calcsize(fmt)
        self._need(size)
        (value,) = struct.unpack_from(fmt, self._buf, self._pos)
        self._pos += size
        return value

    def raw(self, n: int) -> bytes:
        self._need(n)
        data = self._buf[self._pos : self._pos + n]
        self._pos += n
        return data

    def skip(self, n: int) -> None:
        if n > self._remaining():
            raise ValueError("GGUF file is truncated")
        if self._pos + n <= len(self._buf):
            self._pos += n
            return
        beyond = n - (len(self._buf) - self._pos)
        self._f.seek(beyond, os.SEEK_CUR)
        self._file_pos += beyond
        self._buf, self._pos = b"", 0

    def string(self) -> str:
        return self.raw(self.unpack("Q")).decode("utf-8", errors="replace")

    def strings(self, count: int, keep: bool) -> list[bytes]:
        """Walk `count` strings in one tight loop (the token/merge arrays hold ~50k each);
        return their raw bytes only when `keep`, to decode just the few that are needed."""
        out: list[bytes] = []
        length = struct.Struct(self._e + "Q")
        for _ in range(count):
            if self._pos + 8 > len(self._buf):
                self._need(8)
            n = length.unpack_from(self._buf, self._pos)[0]
            start = self._pos + 8
            if start + n > len(self._buf):
                self._pos += 8
                self._need(n)
                start = self._pos
            if keep:
                out.append(self._buf[start : start + n])
            self._pos = start + n
        return out


def _read_value(cur: _Cursor, vtype: int) -> Any:
    if vtype == GGUFValueType.STRING:
        return cur.string()
    fmt = _SCALAR_FMT.get(vtype)
    if fmt is None:
        raise ValueError(f"GGUF: unknown value type {vtype}")
    return cur.unpack(fmt)


def _skip_array(cur: _Cursor, etype: int, count: int) -> None:
    if etype == GGUFValueType.STRING:
        cur.strings(count, keep=False)
    elif etype == GGUFValueType.ARRAY:
        for _ in range(count):
            inner, n = cur.unpack("I"), cur.unpack("Q")
            _skip_array(cur, inner, n)
    elif etype in _SCALAR_FMT:
        cur.skip(count * struct.calcsize(_SCALAR_FMT[etype]))
    else:
        raise ValueError(f"GGUF: unknown array element type {etype}")


def _read_kv(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[bytes]]:
    """Scalar/string values by key (plus the few kept arrays), and the token list."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8 or head[:4] != _MAGIC:
            raise ValueError(f"{os.fspath(path)!r} is not a GGUF file (bad magic {head[:4]!r})")
        # a big-endian file shows its version byte-swapped (gguf's own reader does the same)
        version = struct.unpack_from("<I", head, 4)[0]
        endian = "<"
        if version & 0xFFFF == 0:
            endian, version = ">", struct.unpack_from(">I", head, 4)[0]
        if version not in (2, 3):
            raise ValueError(f"unsupported GGUF version {version} (only v2 and v3 are read)")
        cur = _Cursor(f, size, endian)
        _tensor_count, kv_count = cur.unpack("Q"), cur.unpack("Q")
        if kv_count > _MAX_KV:
            raise ValueError(f"GGUF header claims {kv_count} key/value pairs: corrupt file")
        values: dict[str, Any] = {}
        tokens: list[bytes] = []
        for _ in range(kv_count):
            key, vtype = cur.string(), cur.unpack("I")
            if vtype != GGUFValueType.ARRAY:
                values[key] = _read_value(cur, vtype)
                continue
            etype, count = cur.unpack("I"), cur.unpack("Q")
            if key == Keys.Tokenizer.LIST and etype == GGUFValueType.STRING:
                # ids may come after this array in the file, so keep the strings until the end
                tokens = cur.strings(count, keep=True)
            elif key in _KEEP_ARRAYS and etype != GGUFValueType.ARRAY:
                values[key] = [_read_value(cur, etype) for _ in range(count)]
            else:
                _skip_array(cur, etype, count)
    return values, tokens


def _token(tokens: list[bytes], token_id: Any) -> str | None:
    if isinstance(token_id, int) and 0 <= token_id < len(tokens):
        return tokens[token_id].decode("utf-8", errors="replace")
    return None


def read_gguf_metadata(path: str | os.PathLike[str]) -> ModelMetadata:
    """Read a GGUF (v2/v3) header; raises ValueError naming the problem on a bad file."""
    try:
        values, tokens = _read_kv(path)
    except (struct.error, UnicodeDecodeError) as exc:  # defensive: cursor checks sizes first
        raise ValueError(f"{os.fspath(path)!r}: malformed GGUF header ({exc})") from exc
    arch = values.get(Keys.General.ARCHITECTURE)
    ctx = values.get(Keys.LLM.CONTEXT_LENGTH.format(arch=arch)) if arch else None
    named = {
        key[len(_TEMPLATE_PREFIX) :]: value
        for key, value in values.items()
        if key.startswith(_TEMPLATE_PREFIX) and isinstance(value, str)
    }
    add_bos = values.get(Keys.Tokenizer.ADD_BOS)
    return ModelMetadata(
        name=values.get(Keys.General.NAME),
        architecture=arch,
        context_length=int(ctx) if isinstance(ctx, int) else None,
        chat_template=values.get(Keys.Tokenizer.CHAT_TEMPLATE),
        chat_templates=named,
        bos_token=_token(tokens, values.get(Keys.Tokenizer.BOS_ID)),
        eos_token=_token(tokens, values.get(Keys.Tokenizer.EOS_ID)),
        eot_token=_token(tokens, values.get(Keys.Tokenizer.EOT_ID)),
        add_bos_token=bool(add_bos) if add_bos is not None else None,
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def metadata_from_props(props: dict[str, Any]) -> ModelMetadata:
    """Metadata from a llama.cpp server's `GET /props` (for `--endpoint` backends, where the
    gateway has no file). `context_length` is the server's per-slot n_ctx, not the trained
    length; architecture, eot token and add_bos_token are not reported there."""
    settings = props.get("default_generation_settings") or {}
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    model_path = _str_or_none(props.get("model_path"))
    name = os.path.splitext(os.path.basename(model_path))[0] if model_path else None
    tool_use = _str_or_none(props.get("chat_template_tool_use"))
    return ModelMetadata(
        name=name,
        context_length=n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else None,
        chat_template=_str_or_none(props.get("chat_template")),
        chat_templates={"tool_use": tool_use} if tool_use else {},
        bos_token=_str_or_none(props.get("bos_token")),
        eos_token=_str_or_none(props.get("eos_token")),
    )
