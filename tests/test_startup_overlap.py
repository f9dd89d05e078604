"""Start-up: the template and dialect are settled while llama.cpp loads the model, not after."""

from __future__ import annotations

import asyncio

from gateway.plugins import create_plugins
from gateway.runtime import Runtime, ServeConfig, demo_model_path


class LoadingServer:
    """A spawned llama.cpp stand-in whose model finishes loading only once the gateway has
    chosen its dialect: start() completes only if the two overlap."""

    url = "http://127.0.0.1:9"
    pid = 0

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.started = False
        self.ready_after_detection = False

    def start(self) -> None:
        self.started = True

    async def wait_ready(self, *a: object, **kw: object) -> None:
        assert self.runtime is not None
        while self.runtime.detection is None:
            await asyncio.sleep(0.01)
        self.ready_after_detection = True

    def alive(self) -> bool:
        return True

    def stop(self) -> None:
        pass


def test_dialect_is_chosen_while_the_model_loads() -> None:
    model = demo_model_path()
    assert model, "the demo model is installed by `make install`"
    server = LoadingServer()
    runtime = Runtime(ServeConfig(model=model, plugins=["generic"]),
                      plugins=create_plugins(["generic"]), server=server)  # type: ignore[arg-type]
    server.runtime = runtime

    async def run() -> None:
        await asyncio.wait_for(runtime.start(), 60)
        await runtime.stop()

    asyncio.run(run())
    assert not server.started  # the server handed in (spawned first by the CLI) is the one used
    assert server.ready_after_detection
    assert runtime.ready and runtime.service is not None
    assert runtime.service.dialect.name == "generic"
