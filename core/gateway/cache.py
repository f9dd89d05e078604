"""The one policy for what the gateway remembers between requests.

Work that depends only on a request's tools, tool_choice and response_format (tool
descriptions, grammar plans, schema validators) or on the chat template (a derived dialect)
is cached in a `BoundedCache`: least recently used first out, a fixed number of entries, keys
that are 16-byte digests (`digest`) so a multi-megabyte tool list is never held twice as a key.
Pure helpers of the grammar converter memoise with `functools.lru_cache` on small arguments
(character classes, number ranges, regexes); that is the only other cache.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec

V = TypeVar("V")

_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def digest(value: Any) -> bytes:
    """A 16-byte key for any JSON-like value (dict key order does not matter) or bytes/str."""
    if isinstance(value, str):
        value = value.encode()
    data = value if isinstance(value, bytes) else _encode_sorted(value)
    # SHA-256 cut to 16 bytes: on CPUs with SHA extensions (most x86 since 2017, ARMv8) half
    # the time of BLAKE2b on a tool list's kilobytes, hashed on every request that has tools
    return hashlib.sha256(data).digest()[:16]


class BoundedCache(Generic[V]):
    """LRU map from digests to values, at most `size` entries; safe across threads (templates
    render in worker threads)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: bytes) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
                self._items.move_to_end(key)
            return found

    def put(self, key: bytes, value: V) -> V:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def get_or_make(self, key: bytes, make: Callable[[], V]) -> V:
        found = self.get(key)
        return self.put(key, make()) if found is None else found

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
