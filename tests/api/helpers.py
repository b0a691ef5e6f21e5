"""Helpers for the API tests: a demo ledger, tokens, settings, a client, a server.

Most tests drive the app in-process through Litestar's TestClient (see the
``api`` fixture); the end-to-end ones start ``ledger serve`` (granian) as a
real server with :func:`served`, or with :func:`crashable` to SIGKILL it.
The page tests use these too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from psycopg import sql

from api.config import ApiSettings
from api.postgres_idempotency import TABLE as IDEMPOTENCY_TABLE
from ledger import demo
from ledger.application import Ledger
from ledger.auth import open_token_store
from ledger.postgres_tables import Place
from ledger.settings import Settings

LEDGER = shutil.which("ledger", path=str(Path(sys.executable).parent)) or "ledger"
CARD = "/api/tools/code-llama-4"
PAIR = "/api/comparisons/code-llama-4/mistral-medium-3"
PROBLEM_JSON = "application/problem+json"


@dataclass
class Api:
    """A test client over a demo ledger, with a token per role."""

    client: TestClient[Litestar]
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def ledger(self) -> Ledger:
        ledger: Ledger = self.client.app.state.ledger
        return ledger

    def head(self) -> int:
        """The log's head position: unchanged means nothing was appended."""
        return self.ledger.head_position()

    @contextmanager
    def appends(self, events: int) -> Iterator[None]:
        """Asserts that the block appends exactly ``events`` events to the log."""
        head = self.head()
        yield
        assert self.head() == head + events

    def auth(self, who: str, **headers: str) -> dict[str, str]:
        """Headers with the bearer token of ``who`` (a key of :attr:`tokens`)."""
        return {"Authorization": f"Bearer {self.tokens[who]}", **headers}

    def request(
        self, method: str, path: str, who: str | None = None, **kw: Any
    ) -> httpx.Response:
        """``method path`` with the token of ``who`` (anonymous when None)."""
        headers = kw.pop("headers", {})
        if who is not None:
            headers = self.auth(who, **headers)
        return self.client.request(method, path, headers=headers, **kw)

    def refuses(
        self, status: int, method: str, path: str, who: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        """Sends the request; returns its problem body, checked to be ``status``."""
        return problem(self.request(method, path, who, **kw), status)


def problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The RFC 9457 body of ``answer``, after checking it is one of ``status``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= set(body)
    return body


def ledger_settings(home: Path) -> Settings:
    """``home``'s settings on the event store the environment names.

    As ``ledger serve`` reads them: a test on PostgreSQL (see
    ``tests/stores.py``) has ``LEDGER_EVENT_STORE`` and its schema set, any
    other test the embedded store.
    """
    return Settings.from_env({**os.environ, "LEDGER_HOME": str(home)})


def make_home(root: Path) -> Path:
    """A LEDGER_HOME holding only the demo comparison."""
    return load_demo(root / "ledger")


def load_demo(home: Path) -> Path:
    """``home``, with the demo comparison loaded into its event store."""
    ledger = Ledger(ledger_settings(home))
    try:
        demo.load(ledger)
    finally:
        ledger.close()
    return home


def log_head(home: Path) -> int:
    """The head of the log in ``home``, read from outside any server on it."""
    ledger = Ledger(ledger_settings(home))
    try:
        return ledger.head_position()
    finally:
        ledger.close()


def issue_tokens(
    home: Path, settings: Settings | None = None, env: dict[str, str] | None = None
) -> dict[str, str]:
    """One token per role, plus reviewer tokens for two panel members.

    Issued into the token store of ``settings`` (by default ``home`` on the
    store the environment names), with ``env`` naming its schema if the
    environment does not.
    """
    store = open_token_store(settings or ledger_settings(home), env)
    try:
        return {
            "admin": store.create("admin"),
            "editor": store.create("editor"),
            "builder": store.create("reviewer", "builder"),
            "skeptic": store.create("reviewer", "skeptic"),
            "voter": store.create("voter"),
            "voter2": store.create("voter"),
        }
    finally:
        store.close()


def idempotency_keys(home: Path) -> list[str]:
    """The idempotency keys kept for ``home``, read past the store.

    From ``api.sqlite``, or from the table beside a PostgreSQL log.
    """
    settings = ledger_settings(home)
    if settings.event_store is None:
        with contextlib.closing(sqlite3.connect(home / "api.sqlite")) as db:
            return [row[0] for row in db.execute("SELECT key FROM idempotency")]
    table = Place.of(settings).table(IDEMPOTENCY_TABLE)
    with psycopg.connect(settings.event_store) as db:
        keys = db.execute(sql.SQL("SELECT key FROM {}").format(table))
        return [row[0] for row in keys]


def settings_for(home: Path, **overrides: Any) -> ApiSettings:
    """Test settings: quiet logs, a tight voter-token limit, short waits."""
    values: dict[str, Any] = {
        "ledger": ledger_settings(home),
        "access_log": False,
        "log_level": "WARNING",
        "voter_tokens_per_window": 3,
        "voter_window_seconds": 3600,
        "min_position_timeout": 0.5,
        "max_body_bytes": 16 * 1024,
    }
    values.update(overrides)
    return ApiSettings(**values)


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served(
    home: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Runs ``ledger serve`` on a free port; yields its base URL.

    Stopped with SIGINT, as a person would; fails the test if it is still up
    15 s later.
    """
    process, base, log_path = _launch(home, workers, env)
    try:
        _wait_until_up(process, base, log_path)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            tail = log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"ledger serve did not stop within 15 s of SIGINT:\n{tail}")


@dataclass
class Crashable:
    """A ``ledger serve`` in a process group of its own, to be SIGKILLed."""

    base: str
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """SIGKILLs the server and its workers; returns once none of them runs.

        A dead worker may stay a zombie until it is reaped, but by then the
        kernel has closed its files and dropped its locks.
        """
        group = psutil.Process(self.process.pid)
        members = [group, *group.children(recursive=True)]
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for member in members:
            with contextlib.suppress(psutil.NoSuchProcess):
                while member.status() != psutil.STATUS_ZOMBIE:
                    time.sleep(0.01)


@contextmanager
def crashable(
    home: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[Crashable]:
    """Runs ``ledger serve`` for a test that SIGKILLs it (see :class:`Crashable`)."""
    process, base, log_path = _launch(home, workers, env, new_group=True)
    server = Crashable(base, process)
    try:
        _wait_until_up(process, base, log_path)
        yield server
    finally:
        if process.poll() is None:
            server.kill()


def _launch(
    home: Path,
    workers: int,
    env: dict[str, str] | None,
    *,
    new_group: bool = False,
) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    environ = {
        **os.environ,
        "LEDGER_HOME": str(home),
        "LEDGER_ACCESS_LOG": "0",
        "LEDGER_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = home / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [LEDGER, "serve", "--port", str(port), "--workers", str(workers)],
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=new_group,
        )
    return process, f"http://127.0.0.1:{port}", log_path


def _wait_until_up(process: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"ledger serve exited: {log_path.read_text()}")
        try:
            if httpx.get(base + "/healthz/ping", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"ledger serve did not answer within 30 s:\n{log_path.read_text()}"
            )
        time.sleep(0.1)
