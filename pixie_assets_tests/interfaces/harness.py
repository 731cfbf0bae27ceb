"""Servers, ports and HTTP clients for the interface tests.

Every server runs in its own process group (so the run workers and code servers it spawns go
with it), writes its output to a log file, and is always stopped: SIGINT, then SIGTERM, then
SIGKILL to the whole group, each after a bounded grace period. Readiness is polled over HTTP
against a deadline; results are never waited for by sleeping.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import requests

from pixie_assets.core.settings import PROJECT_ROOT, ensure_dagster_home

T = TypeVar("T")

VENV_BIN = Path(sys.executable).parent
LOG_TAIL_LINES = 200

# Servers started and not yet stopped, so a failing test can show their logs.
RUNNING: list[Server] = []
# Measured wall times, printed in pytest's terminal summary.
TIMINGS: dict[str, float] = {}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pixie_env(home: Path, *, scale: str = "tiny", seed: int = 7, start_day: str) -> dict[str, str]:
    """The environment of a deployment rooted at ``home``, with its Dagster instance created."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIXIE_", "DAGSTER_"))}
    env.update(
        PIXIE_HOME=str(home),
        PIXIE_WORLD_SCALE=scale,
        PIXIE_WORLD_SEED=str(seed),
        PIXIE_START_DAY=start_day,
        DAGSTER_HOME=str(home / "dagster_home"),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    ensure_dagster_home(env)
    return env


class ServerError(RuntimeError):
    pass


class Server:
    """One server process (and its children) with its output in ``log_path``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        cwd: Path = PROJECT_ROOT,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(self.argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: pgid == pid
            )
        RUNNING.append(self)
        return self

    @property
    def pgid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _members(self) -> list[int]:
        """Live (non-zombie) processes of the group, read from /proc."""
        members = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            state, pgrp = fields[0], int(fields[2])
            if pgrp == self.pgid and state != "Z":
                members.append(int(entry.name))
        return members

    def stop(self) -> None:
        """Stop the whole process group, escalating; never raises for an already gone group."""
        if self.process is None:
            return
        try:
            for sig, grace in ((signal.SIGINT, 10.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                if not self._members():
                    break
                try:
                    os.killpg(self.pgid, sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + grace
                while time.monotonic() < deadline:
                    self.process.poll()  # reap the leader
                    if not self._members():
                        break
                    time.sleep(0.2)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        finally:
            if self in RUNNING:
                RUNNING.remove(self)

    def wait_until(
        self,
        probe: Callable[[], T | None],
        *,
        what: str,
        timeout: float,
        interval: float = 0.5,
    ) -> T:
        """Poll ``probe`` until it returns a truthy value; fail early if the server exits."""
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while True:
            if not self.alive():
                code = self.process.returncode if self.process else None
                raise ServerError(
                    f"{self.name} exited (code {code}) while waiting for {what}; "
                    f"log {self.log_path}:\n{self.tail()}"
                )
            try:
                result = probe()
                if result:
                    return result
            except (requests.RequestException, ValueError, KeyError) as error:
                last_error = error
            if time.monotonic() > deadline:
                raise ServerError(
                    f"{self.name}: no {what} within {timeout:.0f}s (last error: {last_error!r}); "
                    f"log {self.log_path}:\n{self.tail()}"
                )
            time.sleep(interval)


class GraphQLError(AssertionError):
    pass


class GraphQL:
    """A client of the Dagster webserver's GraphQL endpoint."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.url = f"{base_url}/graphql"
        self.session = requests.Session()

    def __call__(self, query: str, **variables) -> dict:
        response = self.session.post(
            self.url, json={"query": query, "variables": variables}, timeout=120
        )
        if response.status_code != 200:
            raise GraphQLError(
                f"HTTP {response.status_code} from {self.url}: {response.text[:3000]}"
            )
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(f"GraphQL errors: {body['errors']}")
        return body["data"]
