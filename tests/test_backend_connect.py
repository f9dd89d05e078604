"""Connections to llama.cpp are opened without an address lookup in a worker thread: every
generation may open one (llama.cpp closes streamed connections), so a thread's wake-up there
is paid on every request."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


UVLOOP_RUN = textwrap.dedent("""
    import asyncio, os, sys
    import uvloop
    from gateway.backend.client import LlamaCppBackend
    from tests.stub_llama import StubLlama

    def wakeups():
        # context switches of every thread but the main one (libuv's pool, if started)
        total = 0
        for tid in os.listdir("/proc/self/task"):
            if int(tid) != os.getpid():
                with open(f"/proc/self/task/{tid}/status") as f:
                    total += sum(int(line.split()[1]) for line in f
                                 if line.startswith("voluntary_ctxt_switches"))
        return total

    async def main():
        stub = await StubLlama().start()
        backend = LlamaCppBackend(stub.url)
        await backend.complete({"prompt": "x"})  # whatever starts once has started
        before = wakeups()
        for _ in range(3):
            assert (await backend.complete({"prompt": "x"}))["content"] == "Hello, world!"
            assert [e async for e in backend.stream({"prompt": "x"})][-1]["stop"]
        after = wakeups()
        await backend.close()
        await stub.stop()
        print(before, after, len(stub.peers))

    uvloop.run(main())
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/task")
def test_under_uvloop_no_worker_thread_wakes_to_open_a_connection() -> None:
    pytest.importorskip("uvloop")
    out = subprocess.run([sys.executable, "-c", UVLOOP_RUN], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    before, after, connections = map(int, out.stdout.split())
    assert connections == 7  # a connection of its own for each generation...
    assert after == before  # ...and no other thread woke for any of them
