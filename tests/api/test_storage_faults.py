"""Storage faults, injected for real: 503 with Retry-After, nothing appended, recovery.

Each test breaks the storage under a running app the way it breaks in
production (another writer holds SQLite's lock, the disk fills up, files
turn unwritable, PostgreSQL goes out of reach) and checks the contract: every
write answers 503 ``storage-unavailable`` with ``Retry-After``, the log is
the same before and after, reads of the read models keep working,
``/healthz/live`` stays 200 while ``/healthz/ready`` fails, and once the
fault clears a write succeeds and the node is ready, with no restart.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from api import create_app
from api.writer_thread import WriterThread
from ledger import demo, log
from ledger.application import Ledger
from ledger.context import Context
from ledger.settings import Settings
from tests.api.faults import (
    TcpProxy,
    disk_full,
    immutable,
    need_root,
    small_filesystem,
    write_lock_held,
)
from tests.api.helpers import (
    CARD,
    Api,
    issue_tokens,
    make_home,
    problem,
    served,
    settings_for,
)
from tests.helpers import URL, Postgres, private_schema

TOOL = {"slug": "new-tool", "name": "New", "vendor": "V", "category": "C"}
# Four kilobytes of description: an append that needs fresh pages on disk.
BIG_TOOL = {**TOOL, "description": "x" * 4000}


@contextmanager
def _app(home: Path, **overrides: Any) -> Iterator[Api]:
    """The app over ``home``, its writers waiting one second for the store."""
    tokens = issue_tokens(home)
    ledger = overrides.pop("ledger", Settings(home=home, lock_timeout=1))
    settings = settings_for(home, ledger=ledger, ready_timeout_seconds=0.2, **overrides)
    with TestClient(app=create_app(settings)) as client:
        yield Api(client, tokens)


def _log(api: Api) -> list[log.LoggedEvent]:
    return log.read(api.ledger.recorder, limit=1_000_000)


def _retryable(answer: httpx.Response, retry_after: int) -> dict[str, Any]:
    """Checks a 503 ``storage-unavailable`` with its ``Retry-After``."""
    body = problem(answer, 503)
    assert body["type"] == "/problems/storage-unavailable"
    assert answer.headers["Retry-After"] == str(retry_after)
    return body


def _not_ready(api: Api, check: str) -> None:
    body = problem(api.client.get("/healthz/ready"), 503)
    assert body["type"] == "/problems/not-ready"
    assert check in body["detail"]
    assert api.client.get("/healthz/live").status_code == 200


def _ready(api: Api) -> None:
    answer = api.client.get("/healthz/ready")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ready"


def _reads_work(api: Api) -> None:
    card = api.client.get(CARD)
    assert card.status_code == 200
    assert card.json()["slug"] == "code-llama-4"
    assert api.client.get("/api/tools").status_code == 200
    assert api.client.get("/tools/code-llama-4").status_code == 200


HOLDS_THE_FILE_LOCK = (
    "holds SQLite's write lock on the log file (BEGIN IMMEDIATE from another"
    " connection), a fault of the embedded store"
)


def _post_tool(api: Api, body: dict[str, str], **headers: str) -> httpx.Response:
    return api.request("POST", "/api/tools", "editor", json=body, headers=headers)


def _faults_counted(api: Api, cause: str) -> float:
    """``ledger_storage_faults_total`` of ``cause`` on ``/metrics``."""
    text = api.request("GET", "/metrics", "admin").text
    found = re.search(
        rf'^ledger_storage_faults_total{{cause="{cause}"}} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


@pytest.mark.sqlite_only(HOLDS_THE_FILE_LOCK)
def test_a_lock_held_past_the_timeout_is_503_and_clears_by_itself(
    tmp_path: Path,
) -> None:
    home = make_home(tmp_path)
    with _app(home) as api:
        before = _log(api)
        counted = _faults_counted(api, "busy")
        with write_lock_held(home / "events.sqlite"):
            key = {"Idempotency-Key": "during-the-fault"}
            _retryable(_post_tool(api, TOOL, **key), 1)
            vote = {"choice": "skip"}
            _retryable(api.request("PUT", CARD + "/vote", "voter", json=vote), 1)
            edit = {"tagline": "Faster", "reason": "benchmarks"}
            _retryable(api.request("PATCH", CARD, "editor", json=edit), 1)
            _reads_work(api)
            _not_ready(api, "event_store")
            assert api.client.get("/healthz").json()["status"] == "ok"
            assert _log(api) == before
            assert _faults_counted(api, "busy") == counted + 3
        # The same request again, key and all, now performs the write.
        created = _post_tool(api, TOOL, **key)
        assert created.status_code == 201, created.text
        assert api.request("PUT", CARD + "/vote", "voter", json=vote).status_code == 201
        after = _log(api)
        assert after[: len(before)] == before
        assert [event.type for event in after[len(before) :]] == [
            "Tool.Registered",
            "Vote.Cast",
        ]
        _ready(api)


@pytest.mark.sqlite_only(HOLDS_THE_FILE_LOCK)
def test_commands_queued_behind_a_fault_fail_without_waiting_on_it(
    tmp_path: Path,
) -> None:
    """A batch stops at its first storage fault; the writer serves the next."""
    ledger = Ledger(Settings(home=tmp_path / "home", lock_timeout=1))
    writer = WriterThread(ledger)
    gate = threading.Event()
    ran: list[int] = []

    def register(index: int) -> Any:
        def command() -> Any:
            ran.append(index)
            context = Context(actor="editor", request_id=f"r{index}")
            fields = {"name": "N", "vendor": "V", "category": "C"}
            return ledger.register_tool(context, f"tool-{index}", fields)

        return command

    async def batch() -> list[Any]:
        # The writer waits on the gate while five commands queue up behind it.
        blocker = asyncio.ensure_future(writer.run(gate.wait))
        queued = [asyncio.ensure_future(writer.run(register(i))) for i in range(5)]
        await asyncio.sleep(0.05)
        gate.set()
        await blocker
        return await asyncio.gather(*queued, return_exceptions=True)

    try:
        with write_lock_held(ledger.settings.events_path):
            outcomes = asyncio.run(batch())
        assert ran == [0]  # the first met the lock; the others never ran
        assert all(isinstance(outcome, Exception) for outcome in outcomes)
        fault = writer.health.recent_fault()
        assert fault is not None
        assert fault.cause == "busy"
        # The thread outlived the fault: the next command runs and succeeds.
        receipt = asyncio.run(writer.run(register(9)))
        assert receipt.position == ledger.head_position()
        assert writer.health.recent_fault() is None
    finally:
        writer.close()
        ledger.close()


@pytest.mark.sqlite_only(
    "fills the file system under the home's SQLite log;"
    " PostgreSQL's log is on the server's disk, not in the home"
)
def test_a_full_disk_is_503_and_a_write_succeeds_once_space_is_freed(
    tmp_path: Path,
) -> None:
    need_root()
    with small_filesystem(tmp_path) as mount:
        home = make_home(mount)
        with _app(home, min_free_bytes=1024 * 1024) as api:
            before = _log(api)
            with disk_full(mount):
                _retryable(_post_tool(api, BIG_TOOL), 5)
                _reads_work(api)
                _not_ready(api, "disk")
                assert _log(api) == before
            created = _post_tool(api, BIG_TOOL)
            assert created.status_code == 201, created.text
            assert len(_log(api)) == len(before) + 1
            _ready(api)


@pytest.mark.sqlite_only(
    "turns the home's SQLite log unwritable;"
    " PostgreSQL's log is on the server, not in the home"
)
def test_a_home_turned_read_only_is_503_until_it_is_writable_again(
    tmp_path: Path,
) -> None:
    """Every file of the home, and the home itself, turn immutable under the app.

    As a home whose file system went read-only would: writes to the open
    files fail, and nothing may be created beside them. (The shared-memory
    index SQLite maps beside each WAL file is left alone: a mapped page
    that may not be written kills the process, which a real read-only
    remount would do too.)
    """
    need_root()
    with small_filesystem(tmp_path) as mount:
        home = make_home(mount)
        with _app(home, min_free_bytes=1024 * 1024) as api:
            before = _log(api)
            assert (home / "events.sqlite-wal").exists()  # open, in WAL mode
            unwritable = [
                path
                for path in home.iterdir()
                if path.is_file() and not path.name.endswith("-shm")
            ]
            key = {"Idempotency-Key": "while-read-only"}
            with immutable(*unwritable, home):
                _retryable(_post_tool(api, BIG_TOOL, **key), 5)
                _retryable(api.client.post("/api/voters"), 5)
                _reads_work(api)
                _not_ready(api, "event_store")
                assert _log(api) == before
            created = _post_tool(api, BIG_TOOL, **key)
            assert created.status_code == 201, created.text
            assert len(_log(api)) == len(before) + 1
            # The read models take the new event in, and tokens are issued again.
            position = created.json()["position"]
            seen = api.client.get(
                "/api/tools/new-tool", params={"min_position": position}
            )
            assert seen.status_code == 200
            assert api.client.post("/api/voters").status_code == 201
            _ready(api)


def test_postgresql_out_of_reach_is_503_and_recovers_when_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A schema of its own rather than the ``postgres`` fixture, whose home
    # would run the test once per store for nothing.
    for postgres in private_schema(tmp_path / "schema"):
        _out_of_reach_and_back(tmp_path, postgres, monkeypatch)


def _out_of_reach_and_back(
    tmp_path: Path, postgres: Postgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app's ledger, and the tokens, read the schema from the environment.
    monkeypatch.setenv("POSTGRES_SCHEMA", postgres.env["POSTGRES_SCHEMA"])
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    url = URL.replace(":5432/", f":{proxy.port}/")  # the test database, relayed
    monkeypatch.setenv("LEDGER_EVENT_STORE", url)
    settings = Settings(home=tmp_path / "home", event_store=url, lock_timeout=1)
    ledger = Ledger(settings)
    try:
        demo.load(ledger)
    finally:
        ledger.close()
    try:
        with _app(settings.home, ledger=settings) as api:
            before = _log(api)
            proxy.cut()
            _retryable(_post_tool(api, TOOL), 5)
            vote = {"choice": "ship"}
            _retryable(api.request("PUT", CARD + "/vote", "voter", json=vote), 5)
            _reads_work(api)
            _not_ready(api, "event_store")
            health = api.client.get("/healthz")
            assert health.status_code == 200
            assert health.json()["status"] == "storage-unavailable"
            # Tokens live beside the log, so a token's request cannot be
            # checked either: a clear 503 too, never a 500 or a 401.
            _retryable(api.request("GET", "/metrics", "admin"), 5)
            proxy.start()
            created = _once_back(api)
            assert created.status_code == 201, created.text
            assert _faults_counted(api, "unreachable") >= 2
            assert _log(api)[: len(before)] == before
            assert len(_log(api)) == len(before) + 1
            _ready(api)
    finally:
        proxy.cut()


def _once_back(api: Api) -> httpx.Response:
    """Retries a write, as a client told Retry-After would, for up to 20 s.

    The pool reconnects in the background, so the first write after the
    server is back may still find no connection.
    """
    deadline = time.monotonic() + 20
    while True:
        answer = _post_tool(api, TOOL, **{"Idempotency-Key": "once-back"})
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer
        _retryable(answer, 5)
        time.sleep(0.2)


def _wait_ready(base: str) -> httpx.Response:
    """Polls readiness until it is 200, for at most ten seconds."""
    deadline = time.monotonic() + 10
    while True:
        answer = httpx.get(base + "/healthz/ready", timeout=5)
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


@pytest.mark.sqlite_only(HOLDS_THE_FILE_LOCK)
def test_a_served_node_survives_a_held_lock(tmp_path: Path) -> None:
    """Two granian workers: writes refused together, then taken again."""
    home = make_home(tmp_path)
    tokens = issue_tokens(home)
    env = {"LEDGER_LOCK_TIMEOUT": "1", "LEDGER_READY_TIMEOUT": "0.2"}
    with served(home, workers=2, env=env) as base:
        voters = [tokens["voter"], tokens["voter2"]]

        def vote(token: str, choice: str) -> httpx.Response:
            return httpx.put(
                base + CARD + "/vote",
                json={"choice": choice},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )

        ledger = Ledger(Settings(home=home))
        try:
            head = ledger.head_position()
            with write_lock_held(home / "events.sqlite"):
                answers: list[httpx.Response] = []
                threads = [
                    threading.Thread(
                        target=lambda token=token: answers.append(vote(token, "skip"))
                    )
                    for token in voters * 3
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(60)
                assert len(answers) == 6
                for answer in answers:
                    _retryable(answer, 1)
                refused = httpx.get(base + "/healthz/ready", timeout=5)
                assert problem(refused, 503)["type"] == "/problems/not-ready"
                assert httpx.get(base + CARD, timeout=5).status_code == 200
                assert ledger.head_position() == head
            for token in voters:
                assert vote(token, "ship").status_code == 201
            assert ledger.head_position() == head + 2
            assert _wait_ready(base).status_code == 200
        finally:
            ledger.close()
