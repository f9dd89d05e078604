"""OpenAI-shaped errors: `{"error": {"message", "type", "param", "code"}}` with the right status;
on the Anthropic Messages routes Anthropic's shape, `{"type": "error", "error": {"type",
"message"}}`, with the same status."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from starlette.responses import Response

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "backend_error",
    503: "service_unavailable",
    504: "backend_timeout",
}

# Anthropic's error types by status: another 4xx is an invalid_request_error, another 5xx an
# api_error (overloaded_error is its 529; a gateway that is not ready answers 503)
_ANTHROPIC_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def anthropic_type(status: int) -> str:
    return _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else
                                "invalid_request_error")


# a chat error's type (all an error event of the chat stream says) as Anthropic's
_ANTHROPIC_BY_TYPE = {kind: anthropic_type(status) for status, kind in reversed(_TYPES.items())}


def anthropic_error(message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    """Anthropic's error body. Its errors have no param: the field leads the message, as
    Anthropic writes it (`messages.1.content.0.type: ...`). `kind`: Anthropic's type."""
    if param:
        message = _INDEX.sub(r".\1", param) + ": " + message
    return {"type": "error", "error": {"type": kind, "message": message}}


def anthropic_error_of(message: str, chat_type: str | None, param: str | None = None
                       ) -> dict[str, Any]:
    """anthropic_error for an error the chat stream sent (its OpenAI type)."""
    return anthropic_error(message, _ANTHROPIC_BY_TYPE.get(chat_type or "", "api_error"), param)


_INDEX = re.compile(r"\[(\d+)\]")  # messages[1].content -> messages.1.content

T = TypeVar("T")


class GatewayError(Exception):
    """An error meant for the client; `message` says what to change."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code
        self.type = type or _TYPES.get(status, "server_error")

    def body(self) -> dict[str, dict[str, str | None]]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> Response:
        return Response(
            msgspec.json.encode(self.body()), status_code=self.status, media_type="application/json"
        )

    def anthropic_response(self) -> Response:
        """The error as Anthropic's Messages API answers it."""
        body = anthropic_error(self.message, anthropic_type(self.status), self.param)
        return Response(msgspec.json.encode(body), status_code=self.status,
                        media_type="application/json")


def bad_request(message: str, param: str | None = None, code: str | None = None) -> GatewayError:
    return GatewayError(message, 400, param=param, code=code)


_PATH = re.compile(r"at `\$\.?(.*)`")


def decode_body(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    """A request body decoded, or the 400 that says what in it is wrong."""
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise from_decode_error(exc) from exc


def from_decode_error(exc: msgspec.DecodeError, under: str = "") -> GatewayError:
    """Turn msgspec's message (`Expected str, got int - at $.messages[0].role`) into a 400.
    `under`: the request's field the decoded text was (`tools`), put in front of the path."""
    text = str(exc)
    if under:
        text = text.replace("at `$", f"at `$.{under}", 1) if "at `$" in text \
            else f"{text} - at `$.{under}`"
    m = _PATH.search(text)
    param = m.group(1) or None if m else None
    if isinstance(exc, msgspec.ValidationError):
        return bad_request(f"Invalid request body: {text}", param=param, code="invalid_value")
    return bad_request(f"Request body is not valid JSON: {text}", code="invalid_json")
