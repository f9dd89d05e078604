"""OpenAI-shaped errors: `{"error": {"message", "type", "param", "code"}}` with the right status."""

from __future__ import annotations

import re

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


def bad_request(message: str, param: str | None = None, code: str | None = None) -> GatewayError:
    return GatewayError(message, 400, param=param, code=code)


_PATH = re.compile(r"at `\$\.?(.*)`")


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
