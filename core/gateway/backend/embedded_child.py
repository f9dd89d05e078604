"""Child-process entry point: serves llama.cpp's HTTP API through the xllamacpp wheel.

`xllamacpp.Server` serves until its process exits, so it lives in a process of its own that
the gateway can stop, kill and restart.
"""

from __future__ import annotations

import argparse
import ctypes
import signal
import sys
import threading


def _die_with_parent() -> None:
    # Linux: get SIGTERM when the gateway dies, even by SIGKILL, so no orphan keeps the port.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def declares_pooling(model: str) -> bool:
    """Whether the GGUF says how to pool token embeddings (embedding models do)."""
    from gguf import GGUFReader

    return any(k.endswith(".pooling_type") for k in GGUFReader(model, "r").fields)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="gateway-embedded-llama")
    ap.add_argument("--model", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ctx-size", type=int, default=4096)
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--embedding", action="store_true", help="serve /embedding, not generation")
    args = ap.parse_args(argv)
    _die_with_parent()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.n_ctx = args.ctx_size
    params.n_parallel = args.parallel
    params.port = args.port
    params.hostnames = [args.host]
    if args.threads > 0:
        params.cpuparams.n_threads = args.threads
        params.cpuparams_batch.n_threads = args.threads
    if args.embedding:
        params.embedding = True
        # a whole input must fit in one physical batch to be embedded
        params.n_batch = params.n_ubatch = args.ctx_size
        if not declares_pooling(args.model):
            params.pooling_type = 1  # mean: a generative model declares none (not OAI-shaped)
    server = xllamacpp.Server(params)  # noqa: F841 - serves while referenced
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
