"""aiohttp client for llama.cpp's raw endpoints: /completion (JSON and SSE), /tokenize, /props,
/health. One keep-alive session for everything upstream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncGenerator, Callable
from typing import Any, Protocol

import aiohttp
import msgspec

from gateway.backend.batches import flattened
from gateway.errors import GatewayError

log = logging.getLogger("gateway.backend")
_JSON = {"Content-Type": "application/json"}
_JSON_CLOSE = {**_JSON, "Connection": "close"}  # the server closes it (and frees its thread)
_decode = msgspec.json.Decoder().decode
# Only what the gateway reads: llama.cpp's final event otherwise echoes the prompt, the
# grammar and all settings, which can be megabytes (and went over aiohttp's line limit).
RESPONSE_FIELDS = ["content", "stop", "stop_type", "stopping_word", "tokens_predicted",
                   "tokens_evaluated"]
# An SSE line may still be long (a big chunk of content): aiohttp's default limit is 128 KiB.
READ_BUFSIZE = 1 << 20  # aiohttp refuses a line over twice this
MAX_LINE_BYTES = 2 * READ_BUFSIZE  # the longest SSE line taken from llama.cpp
MAX_HEADER_BYTES = 64 * 1024
# A payload key (taken out before sending): the generation is wanted whole, not token by
# token. See LlamaCppBackend.stream_batches.
READ_WHOLE = "gateway_read_whole"
# Bytes waiting before a stream read whole wakes the gateway: more than a short answer's
# events, so it wakes once, when llama.cpp closes the connection after the last one.
WHOLE_LOW_WATER = 256 * 1024
# A payload key (taken out before sending): ask llama.cpp for the answer non-streamed. It
# then goes on decoding to n_predict when the client hangs up (no stream to close): only
# for answers bounded small. See LlamaCppBackend.stream_batches.
UNSTREAMED = "gateway_unstreamed"


class NumericConnector(aiohttp.TCPConnector):
    """aiohttp's TCP connector, opening a connection to one numeric address (llama.cpp's
    127.0.0.1:port) with the event loop's create_connection(host, port) instead of a socket
    of aiohappyeyeballs' connected by loop.sock_connect. uvloop's sock_connect looks the
    address up again, in libuv's thread pool (it asks getaddrinfo without a socket type,
    which misses its numeric fast path): a worker thread's wake-up and futex round trip
    before every connect() (seen with strace), on a machine whose cores llama.cpp's threads
    fill. Its create_connection takes a numeric host without a lookup. Anything else
    (several addresses, a local address, TLS, a socket factory) goes aiohttp's own way."""

    async def _wrap_create_connection(  # type: ignore[override]
            self, factory: Callable[[], asyncio.Protocol], *args: Any, req: Any,
            timeout: aiohttp.ClientTimeout,
            client_error: type[Exception] = aiohttp.ClientConnectorError,
            addr_infos: list[Any] | None = None, **kwargs: Any) -> tuple[asyncio.Transport, Any]:
        if addr_infos is None or len(addr_infos) != 1 or args or kwargs.get("ssl") or \
                not set(kwargs) <= {"ssl", "server_hostname"} or \
                getattr(self, "_local_addr_infos", None) or \
                getattr(self, "_socket_factory", None) is not None:
            if addr_infos is not None:
                kwargs["addr_infos"] = addr_infos
            return await super()._wrap_create_connection(  # type: ignore[no-any-return]
                factory, *args, req=req, timeout=timeout, client_error=client_error, **kwargs)
        family, _, _, _, address = addr_infos[0]
        try:
            async with asyncio.timeout(timeout.sock_connect):
                return await self._loop.create_connection(factory, address[0], address[1],
                                                          family=family)
        except OSError as exc:
            if exc.errno is None and isinstance(exc, TimeoutError):
                raise  # aiohttp's own connect timeout
            raise client_error(req.connection_key, exc) from exc


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
        self._keep_alive = False  # generations on kept-alive connections (limit_connections)
        self._session: aiohttp.ClientSession | None = None  # generations
        self._side: aiohttp.ClientSession | None = None  # /health, /props, /tokenize

    def limit_connections(self, slots: int) -> None:
        """Generations on at most `slots` (llama.cpp's parallel slots) kept-alive connections.

        llama.cpp serves HTTP on a fixed pool of n_parallel + 2 threads, and a kept-alive
        connection holds its thread while idle: with more connections than threads, the next
        ones were dropped unanswered (measured). No more generations than slots run at once
        anyway: the others wait here instead of in llama.cpp's queue. Until this is called
        (slots unknown), each generation has a connection of its own, closed after it.
        /health, /props and /tokenize go on short connections of their own, never queued
        behind generations."""
        if self._session is None:  # fixed once the first generation has opened the session
            self._limit, self._keep_alive = max(1, slots), True

    def _http(self) -> aiohttp.ClientSession:
        # Created lazily so it binds to the serving event loop.
        if self._session is None or self._session.closed:
            self._session = self._open(NumericConnector(
                # under llama.cpp's own 5 s keep-alive: never reuse a socket it is closing
                limit=self._limit, keepalive_timeout=4) if self._keep_alive else
                NumericConnector(limit=self._limit, force_close=True))
        return self._session

    def _side_http(self) -> aiohttp.ClientSession:
        if self._side is None or self._side.closed:
            self._side = self._open(NumericConnector(force_close=True))
        return self._side

    def _open(self, connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            timeout=self._timeout, read_bufsize=READ_BUFSIZE, connector=connector,
            max_line_size=MAX_HEADER_BYTES, max_field_size=MAX_HEADER_BYTES,
            cookie_jar=aiohttp.DummyCookieJar(),  # llama.cpp sets none: skip the jar's work
            json_serialize=lambda o: msgspec.json.encode(o).decode())

    async def close(self) -> None:
        for session in (self._session, self._side):
            if session is not None and not session.closed:
                await session.close()

    async def _send(self, path: str, payload: dict[str, Any], side: bool = False,
                    close: bool = False) -> aiohttp.ClientResponse:
        """POST, for a generation on a pooled keep-alive connection. llama.cpp closes an idle
        one after a few seconds; when it did so just as this request went out (nothing was
        read, so nothing was generated), the request goes again. Each failed try discards
        its connection and the pool holds at most `limit` of them, so the last try is on a
        fresh one (seen: two pooled connections closed together, the one resend met the
        other)."""
        data = msgspec.json.encode(payload)
        http = self._side_http() if side else self._http()
        headers = _JSON if self._keep_alive and not side and not close else _JSON_CLOSE
        retries = 0 if side or not self._keep_alive else self._limit
        for _ in range(retries):
            try:
                return await http.post(self.base_url + path, data=data, headers=headers)
            except aiohttp.ClientConnectorError:
                raise  # no connection at all: the server is down, not a stale socket
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                log.debug("a pooled connection to %s was closed; sending again",
                          self.base_url)
        return await http.post(self.base_url + path, data=data, headers=headers)

    async def _post(self, path: str, payload: dict[str, Any], side: bool = False
                    ) -> dict[str, Any]:
        try:
            async with await self._send(path, payload, side) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise _upstream_error(resp.status, body)
                result = _decode(body)
                if not isinstance(result, dict):
                    raise ValueError(f"an answer that is not an object: {body[:200]!r}")
                _check_content(result)
                return result
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise BackendError(f"llama.cpp backend unreachable: {exc}", 502) from exc
        except TimeoutError as exc:
            raise BackendError("llama.cpp backend timed out", 504) from exc
        except (msgspec.DecodeError, ValueError) as exc:
            raise BackendError(f"llama.cpp sent a malformed answer: {exc}", 502) from exc

    async def complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/completion", {"response_fields": RESPONSE_FIELDS, **payload,
                                                "stream": False})

    def stream(self, payload: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        """Yields llama.cpp's SSE events as dicts; the last one has `stop: true`."""
        return flattened(self.stream_batches(payload))

    async def stream_batches(self, payload: dict[str, Any]
                             ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """stream()'s events, in lists: those one read of the connection brought. A fast
        backend sends several events per read; each step of the chain above (metrics, parser,
        SSE writer) then runs once per read instead of once per token.

        With READ_WHOLE in the payload the answer is still streamed (closing the stream is
        what stops llama.cpp when the client has gone away: a non-streamed /completion goes
        on decoding to its end), but not read as it comes. The request asks llama.cpp to
        close the connection after it, and the socket wakes the gateway only when
        WHOLE_LOW_WATER bytes wait or the connection ends (SO_RCVLOWAT): one read at the
        end instead of one per token. On 2 cores whose llama.cpp threads spin, each wake-up
        took a core from its decoding: measured ~0.3 ms a token, the non-streamed answer's
        gap to llama.cpp's own /completion.

        With UNSTREAMED in the payload llama.cpp is asked for the answer non-streamed, given
        here as one batch of one final event: llama.cpp's own streaming costs a wake-up of
        its HTTP thread per token; a client gone meanwhile costs the rest of n_predict."""
        if UNSTREAMED in payload:
            result = await self.complete({k: v for k, v in payload.items()
                                          if k not in (UNSTREAMED, READ_WHOLE)})
            result["stop"] = True  # the one event is the final one
            yield [result]
            return
        whole = bool(payload.get(READ_WHOLE))
        if READ_WHOLE in payload:
            payload = {k: v for k, v in payload.items() if k != READ_WHOLE}
        try:
            # Kept alive for the next request once read to its end; a stream left early (the
            # client went away) closes its connection instead, which stops llama.cpp.
            async with await self._send("/completion", {"response_fields": RESPONSE_FIELDS,
                                                        **payload, "stream": True},
                                        close=whole) as resp:
                if resp.status != 200:
                    raise _upstream_error(resp.status, await resp.read())
                if whole:
                    _wake_at_end(resp)
                lines = SseLines()
                async for data in resp.content.iter_any():
                    batch, final = lines.events(data)
                    if final:
                        try:
                            yield batch
                        finally:
                            # Read the stream's end (even when the consumer stops here): a
                            # response left unread closes its connection instead of
                            # returning it to the pool, a new TCP connection per request.
                            await _drain(resp)
                        return
                    if batch:
                        yield batch
                    if lines.error is not None:  # after the events before it, as they came
                        raise lines.error
                    if lines.done:
                        return
                # the connection ended without a final event: llama.cpp died mid-answer
                raise BackendError("llama.cpp ended the stream before its final event", 502)
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise BackendError(f"llama.cpp backend unreachable: {exc}", 502) from exc
        except TimeoutError as exc:
            raise BackendError("llama.cpp backend timed out", 504) from exc
        except (msgspec.DecodeError, ValueError) as exc:  # garbage, or a line over the limit
            raise BackendError(f"llama.cpp sent a malformed stream: {exc}", 502) from exc

    async def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        out = await self._post("/tokenize", {"content": text, "add_special": add_special},
                               side=True)
        return list(out.get("tokens", []))

    async def props(self) -> dict[str, Any]:
        try:
            async with self._side_http().get(self.base_url + "/props") as resp:
                if resp.status != 200:
                    raise _upstream_error(resp.status, await resp.read())
                result: dict[str, Any] = _decode(await resp.read())
                return result
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise BackendError(f"llama.cpp backend unreachable: {exc}", 502) from exc

    async def healthy(self) -> bool:
        try:
            async with self._side_http().get(
                self.base_url + "/health", timeout=aiohttp.ClientTimeout(total=5)
            ) as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            return False


class SseLines:
    """llama.cpp's SSE byte stream, cut into events as it arrives: `events(data)` gives the
    events the data completed and whether the last one is final (`stop: true`). A line may
    span reads; one longer than MAX_LINE_BYTES is refused (ValueError), as aiohttp's line
    reader refused it before. A bad event after good ones in the same data is kept in
    `error`, so the good ones still go out first."""

    __slots__ = ("_tail", "done", "error")

    def __init__(self) -> None:
        self._tail = b""
        self.done = False  # `data: [DONE]` came
        self.error: Exception | None = None

    def events(self, data: bytes) -> tuple[list[dict[str, Any]], bool]:
        if self._tail:
            data = self._tail + data
        lines = data.split(b"\n")
        self._tail = lines.pop()
        out: list[dict[str, Any]] = []
        try:
            if len(self._tail) > MAX_LINE_BYTES:
                raise ValueError(f"a line over {MAX_LINE_BYTES} bytes")
            for raw in lines:
                if not raw:  # the blank line after each event
                    continue
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    self.done = True
                    break
                event = _decode(data)
                if not isinstance(event, dict):
                    raise ValueError(f"an event that is not an object: {data[:200]!r}")
                if "error" in event:
                    raise _upstream_error(500, data)
                if type(event.get("content", "")) is not str:  # _check_content, inline
                    _check_content(event)
                out.append(event)
                if event.get("stop"):
                    return out, True
        except Exception as exc:
            if not out:
                raise
            self.error = exc
        return out, False


def _wake_at_end(resp: aiohttp.ClientResponse) -> None:
    """The response's socket readable only once WHOLE_LOW_WATER bytes wait or it is closed.
    Where that cannot be set, the stream is read as it comes, as without READ_WHOLE."""
    transport = resp.connection.transport if resp.connection is not None else None
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, WHOLE_LOW_WATER)


def _check_content(event: dict[str, Any]) -> None:
    if not isinstance(event.get("content", ""), str):
        raise ValueError(f"`content` is not a string: {str(event.get('content'))[:200]}")


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


async def _drain(resp: aiohttp.ClientResponse, timeout: float = 1.0) -> None:
    # on failure the connection is closed rather than reused: nothing is lost. (A timeout
    # scope, not wait_for: that runs the read in a task of its own, one more per request.)
    with contextlib.suppress(TimeoutError, aiohttp.ClientError, ConnectionError):
        async with asyncio.timeout(timeout):
            await resp.read()
