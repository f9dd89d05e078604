"""The backend: one small interface (`Backend`) so that other servers can stand behind it.

The names are loaded on first use: `gateway serve` imports `gateway.backend.supervisor` to
spawn llama.cpp before anything else, and the HTTP client (aiohttp) is not needed for that."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.backend.client import Backend, BackendError, LlamaCppBackend

__all__ = ["Backend", "BackendError", "LlamaCppBackend"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from gateway.backend import client

        return getattr(client, name)
    raise AttributeError(f"module 'gateway.backend' has no attribute {name!r}")
