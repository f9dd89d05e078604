"""What `gateway serve` tells the terminal once the model is ready: where the API is, and
one curl command to try it."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from typing import TextIO

from gateway.runtime import Runtime


def ready_banner(host: str, port: int, model: str, api_key: bool = False) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    base = f"http://{shown}:{port}/v1"
    body = json.dumps({"model": model, "max_tokens": 32,
                       "messages": [{"role": "user", "content": "Say hello."}]})
    auth = ' -H "Authorization: Bearer $GATEWAY_API_KEY"' if api_key else ""
    curl = (f"curl -s {base}/chat/completions -H 'Content-Type: application/json'{auth} "
            f"-d {shlex.quote(body)}")
    return (f"\nready: the OpenAI API is at {base}  (model {model})\n"
            f"try:   {curl}\n")


async def until_ready(runtime: Runtime) -> bool:
    """Once the runtime is first ready: True; False if its start failed."""
    while not runtime.ready:
        if runtime.status.startswith("failed"):
            return False
        await asyncio.sleep(0.1)
    return True


async def announce_when_ready(runtime: Runtime, host: str, port: int,
                              out: TextIO | None = None) -> None:
    """Print the banner once, when the runtime first becomes ready (never if it fails)."""
    if not await until_ready(runtime):
        return
    model = runtime.service.model_id if runtime.service else "model"
    stream = out or sys.stderr
    stream.write(ready_banner(host, port, model, api_key=runtime.cfg.settings.api_key is not None))
    stream.flush()
