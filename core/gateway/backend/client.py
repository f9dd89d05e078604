"""aiohttp client for llama.cpp's raw endpoints: /completion (JSON and SSE), /tokenize, /props,
/health. One keep-alive session for everything upstream."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Protocol

import aiohttp
import msgspec

from gateway.errors import GatewayError

_decode = msgspec.json.Decoder().decode


class BackendError(GatewayError):
    """The backend failed or answered with an error; carries a 4xx/5xx for the client."""


class Backend(Protocol):
    """What the core needs from an inference server. llama.cpp is one implementation."""

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    def stream(self, payload: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]: ...

    async def tokenize(self, text: str, add_special: bool = True) -> list[int]: ...

    async def props(self) -> dict[str, Any]: ...

    async def healthy(self) -> bool: ...

    async def close(self) -> None: ...


class LlamaCppBackend:
    def __init__(self, base_url: str, *, timeout: float = 600.0, max_connections: int = 256):
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=10)
        self._limit = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        # Created lazily so it binds to the serving event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                # under llama.cpp's own 5 s keep-alive: never reuse a socket it is closing
                connector=aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=4),
                json_serialize=lambda o: msgspec.json.encode(o).decode(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self._http().post(
                self.base_url + path, data=msgspec.json.encode(payload),
                headers={"Content-Type": "application/json"},
            ) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise _upstream_error(resp.status, body)
                result: dict[str, Any] = _decode(body)
                return result
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise BackendError(f"llama.cpp backend unreachable: {exc}", 502) from exc
        except TimeoutError as exc:
            raise BackendError("llama.cpp backend timed out", 504) from exc

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/completion", {**payload, "stream": False})

    async def stream(self, payload: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        """Yields llama.cpp's SSE events as dicts; the last one has `stop: true`."""
        try:
            async with self._http().post(
                self.base_url + "/completion",
                data=msgspec.json.encode({**payload, "stream": True}),
                # llama.cpp may close the socket once a stream ends; a pooled copy of it would
                # make the next request fail ("Can not write request body"), so never reuse it
                headers={"Content-Type": "application/json", "Connection": "close"},
            ) as resp:
                if resp.status != 200:
                    raise _upstream_error(resp.status, await resp.read())
                async for raw in resp.content:
                    line = raw.strip()
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        return
                    event: dict[str, Any] = _decode(data)
                    if "error" in event:
                        raise _upstream_error(500, data)
                    yield event
                    if event.get("stop"):
                        return
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise BackendError(f"llama.cpp backend unreachable: {exc}", 502) from exc
        except TimeoutError as exc:
            raise BackendError("llama.cpp backend timed out", 504) from exc

    async def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        out = await self._post("/tokenize", {"content": text, "add_special": add_special})
        return list(out.get("tokens", []))

    async def props(self) -> dict[str, Any]:
        try:
            async with self._http().get(self.base_url + "/props") as resp:
                if resp.status != 200:
                    raise _upstream_error(resp.status, await resp.read())
                result: dict[str, Any] = _decode(await resp.read())
                return result
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise BackendError(f"llama.cpp backend unreachable: {exc}", 502) from exc

    async def healthy(self) -> bool:
        try:
            async with self._http().get(
                self.base_url + "/health", timeout=aiohttp.ClientTimeout(total=5)
            ) as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            return False


def _upstream_error(status: int, body: bytes) -> BackendError:
    try:
        err = _decode(body).get("error", {})
        message = err.get("message", "") if isinstance(err, dict) else str(err)
    except (msgspec.DecodeError, AttributeError):
        message = body[:500].decode(errors="replace")
    if status == 400:
        # llama.cpp refuses e.g. a grammar it cannot parse: the client asked for it, so 400.
        return BackendError(f"llama.cpp refused the request: {message}", 400,
                            code="backend_rejected")
    if status == 503:
        return BackendError(f"llama.cpp is not ready: {message}", 503)
    return BackendError(f"llama.cpp error {status}: {message}", 502)
