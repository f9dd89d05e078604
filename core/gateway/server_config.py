"""hypercorn's settings for `gateway serve` (and the benchmark's floor, which must match)."""

from __future__ import annotations

import time
from wsgiref.handlers import format_date_time

from hypercorn.config import Config


class ServerConfig(Config):
    """hypercorn's Config whose per-response headers are built once a second, not once per
    response: hypercorn formats the Date header on every response (an strftime-like call
    and an encode), a visible share of a small request's cost under load."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._headers: dict[str, list[tuple[bytes, bytes]]] = {}

    def response_headers(self, protocol: str) -> list[tuple[bytes, bytes]]:
        now = int(time.time())
        if now != self._second:
            self._second, self._headers = now, {}
        headers = self._headers.get(protocol)
        if headers is None:
            headers = self._headers[protocol] = self._build(protocol, now)
        return list(headers)  # callers get their own list, as hypercorn's own method gives

    def _build(self, protocol: str, now: int) -> list[tuple[bytes, bytes]]:
        if not self.include_date_header:
            return super().response_headers(protocol)
        self.include_date_header = False
        try:
            rest = super().response_headers(protocol)
        finally:
            self.include_date_header = True
        return [(b"date", format_date_time(now).encode("ascii")), *rest]


def server_config(bind: list[str]) -> ServerConfig:
    """The settings `gateway serve` runs hypercorn with: no access log (the gateway logs its
    own requests), a short graceful shutdown."""
    hc = ServerConfig()
    hc.bind = bind
    hc.accesslog = None
    hc.graceful_timeout = 3
    return hc
