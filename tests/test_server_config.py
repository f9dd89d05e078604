"""hypercorn's per-response headers, built once a second, and completion ids."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

import pytest
from gateway import chat, server_config
from gateway.server_config import ServerConfig
from hypercorn.config import Config


def test_headers_match_hypercorns_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_config.time, "time", lambda: 1_700_000_000.25)
    monkeypatch.setattr("hypercorn.config.time", lambda: 1_700_000_000.25)
    for protocol in ("h11", "h2"):
        assert ServerConfig().response_headers(protocol) == Config().response_headers(protocol)


def test_date_follows_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_700_000_000.1]
    monkeypatch.setattr(server_config.time, "time", lambda: now[0])
    hc = ServerConfig()
    first = dict(hc.response_headers("h11"))
    now[0] += 0.5  # same second: same header
    assert dict(hc.response_headers("h11")) == first
    now[0] += 1
    later = dict(hc.response_headers("h11"))
    delta = parsedate_to_datetime(later[b"date"].decode()) - parsedate_to_datetime(
        first[b"date"].decode())
    assert delta.total_seconds() == 1
    assert later[b"server"] == b"hypercorn-h11"


def test_each_caller_gets_its_own_list() -> None:
    hc = ServerConfig()
    hc.response_headers("h11").append((b"x-mine", b"1"))
    assert (b"x-mine", b"1") not in hc.response_headers("h11")


def test_date_header_can_be_turned_off() -> None:
    hc = ServerConfig()
    hc.include_date_header = False
    assert b"date" not in dict(hc.response_headers("h11"))


def test_completion_ids_are_unique_and_openai_shaped() -> None:
    ids = {chat._completion_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"chatcmpl-[0-9a-f]{24}", i) for i in ids)
