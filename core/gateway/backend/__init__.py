"""The backend: one small interface (`Backend`) so that other servers can stand behind it."""

from gateway.backend.client import Backend, BackendError, LlamaCppBackend

__all__ = ["Backend", "BackendError", "LlamaCppBackend"]
