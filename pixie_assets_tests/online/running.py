"""The online service on a real socket for tests: uvicorn in a thread of the test process, so a
test can also reach the ``Service`` behind it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from pixie_assets.online.app import create_app
from pixie_assets.online.service import Service
from pixie_assets_tests.interfaces.harness import free_port


@dataclass(frozen=True)
class Running:
    service: Service
    url: str


@contextmanager
def running(service: Service, start_timeout: float = 30.0) -> Iterator[Running]:
    port = free_port()
    config = uvicorn.Config(
        create_app(service, poll_seconds=0), host="127.0.0.1", port=port, log_level="warning",
        access_log=False,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:  # readiness, polled against a deadline
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    try:
        yield Running(service, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=30)
