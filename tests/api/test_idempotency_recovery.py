"""Idempotency claims outlive a crashed request: recovered from the log, once.

A claim left by a dead process is made for real: a child process claims a
key in the node's store (``api.sqlite``, or the table beside a PostgreSQL
log) and SIGKILLs itself. End to end, a real
``ledger serve`` is SIGKILLed while a create waits on a lock the test holds:
the writers' lock (the claim is taken, nothing appended) or ``api.sqlite``'s
(the command appended, its answer not stored); the log's event count shows
each write happened once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import msgspec
import psycopg
import pytest

from api.idempotency import fingerprint
from api.idempotency_store import (
    IdempotencyStore,
    KeyStore,
    Orphan,
    StoredResponse,
    open_idempotency_store,
)
from api.postgres_idempotency import lock_id
from api.schemas import ToolCreate
from ledger.auth import Principal, open_token_store
from ledger.context import Context
from ledger.log import of_request
from ledger.postgres_tables import Place
from tests.api.helpers import (
    Api,
    Crashable,
    crashable,
    issue_tokens,
    ledger_settings,
    make_home,
    served,
    settings_for,
)
from tests.helpers import URL
from tests.stores import Store

TOOL = {"slug": "crash-tool", "name": "Crash", "vendor": "V", "category": "C"}
TOOL_FINGERPRINT = fingerprint("POST", "/api/tools", msgspec.convert(TOOL, ToolCreate))
ROOT = Path(__file__).resolve().parents[2]
DIE_HOLDING_A_CLAIM = """
import os, signal, sys
from api.config import ApiSettings
from api.idempotency_store import open_idempotency_store
store = open_idempotency_store(ApiSettings.from_env())
scope, key, fingerprint, request_id, after = sys.argv[1:]
assert store.claim(scope, key, fingerprint, request_id, int(after)).claimed
os.kill(os.getpid(), signal.SIGKILL)
"""


def claim_and_die(
    home: Path, scope: str, key: str, fingerprint: str, request_id: str, after: int
) -> None:
    """A process that claims ``key`` in ``home``'s store and is killed holding it.

    Returns once the claim is dead: on PostgreSQL, once the server has seen
    the dead process's connection end, which frees its lock a moment later.
    """
    args = (scope, key, fingerprint, request_id, str(after))
    died = subprocess.run(
        [sys.executable, "-c", DIE_HOLDING_A_CLAIM, *args],
        cwd=ROOT,
        env={**os.environ, "LEDGER_HOME": str(home)},
        capture_output=True,
        check=False,
    )
    assert died.returncode == -signal.SIGKILL, died.stderr.decode()
    settings = ledger_settings(home)
    if settings.event_store is not None:
        place = Place.of(settings)
        lock = lock_id(place.schema, scope, key)
        _until(lambda: not advisory_lock_held(lock), "the dead claim's lock to go")


def advisory_lock_held(lock: int) -> bool:
    """Whether any session holds the advisory lock ``lock``."""
    with psycopg.connect(URL) as db:
        row = db.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = %s",
            (lock,),
        ).fetchone()
    return row is not None and row[0] > 0


@pytest.fixture
def keys(event_store: Store) -> Iterator[Callable[..., KeyStore]]:
    """Opens key stores on the test's home and store, as workers would."""
    opened: list[KeyStore] = []

    def open_keys(ttl: int = 3600) -> KeyStore:
        settings = settings_for(event_store.settings.home, idempotency_ttl_seconds=ttl)
        store = open_idempotency_store(settings)
        opened.append(store)
        return store

    yield open_keys
    for store in opened:
        store.close()


def store(db: Path, ttl: float = 3600) -> IdempotencyStore:
    return IdempotencyStore(db, ttl)


def test_a_live_claim_is_in_flight_for_every_worker(
    keys: Callable[..., KeyStore],
) -> None:
    first, other = keys(), keys()
    assert first.claim("t", "k", "f", "r1", 5).claimed
    assert other.claim("t", "k", "f", "r2", 5).in_flight
    assert first.claim("t", "k", "f", "r3", 5).in_flight
    answer = StoredResponse(201, b"{}", {"Location": "/x"})
    first.complete("t", "k", answer)
    assert other.claim("t", "k", "f", "r4", 5).replay == answer


def test_a_dead_claim_is_taken_over_by_one_retry_at_a_time(
    keys: Callable[..., KeyStore], event_store: Store
) -> None:
    claim_and_die(event_store.settings.home, "t", "k", "f", "dead-request", 7)
    retry, rival = keys(), keys()
    assert retry.claim("t", "k", "f", "retry-1", 9).orphan == Orphan("dead-request", 7)
    assert rival.claim("t", "k", "f", "retry-2", 9).in_flight
    # Let go before the log was asked: the next retry asks about the same request.
    retry.abandon("t", "k")
    assert rival.claim("t", "k", "f", "retry-2", 9).orphan == Orphan("dead-request", 7)
    # Adopted once the log showed nothing: from then on this request is looked for.
    rival.adopt("t", "k", "retry-2", 9)
    rival.abandon("t", "k")
    assert retry.claim("t", "k", "f", "retry-3", 11).orphan == Orphan("retry-2", 9)
    assert rival.claim("t", "k", "other body", "retry-4", 11).mismatch


def test_crashes_leave_no_lock_files_behind(tmp_path: Path) -> None:
    db = tmp_path / "api.sqlite"
    claims = tmp_path / "api-claims"
    claim_and_die(tmp_path, "t", "k", "f", "dead", 1)
    claim_and_die(tmp_path, "t", "never-retried", "f", "dead", 1)
    assert list(claims.iterdir()) != []
    retry = store(db)  # its first claim sweeps the dead claims' files
    assert retry.claim("t", "k", "f", "retry", 2).orphan is not None
    assert len(list(claims.iterdir())) == 1
    retry.complete("t", "k", StoredResponse(201, b"{}", {}))
    assert list(claims.iterdir()) == []
    retry.close()


def test_an_expired_key_is_forgotten_only_once_nobody_holds_it(
    keys: Callable[..., KeyStore],
) -> None:
    first, other = keys(ttl=0), keys(ttl=0)
    assert first.claim("t", "k", "f", "r1", 0).claimed
    assert other.claim("t", "k", "f", "r2", 0).in_flight
    first.complete("t", "k", StoredResponse(201, b"{}", {}))
    assert other.claim("t", "k", "f", "r2", 0).claimed


def test_a_claim_recorded_before_owners_were_kept_is_recovered(tmp_path: Path) -> None:
    db = tmp_path / "api.sqlite"
    old = sqlite3.connect(db)
    old.executescript(
        "CREATE TABLE idempotency (scope TEXT NOT NULL, key TEXT NOT NULL, "
        "fingerprint TEXT NOT NULL, created REAL NOT NULL, status INTEGER, "
        "body BLOB, headers TEXT, PRIMARY KEY (scope, key));"
        "INSERT INTO idempotency VALUES ('t', 'k', 'f', 1e12, NULL, NULL, NULL);"
    )
    old.close()
    retry = store(db)
    assert retry.claim("t", "k", "f", "retry", 3).orphan == Orphan("", 0)
    retry.close()


def _editor(api: Api, home: Path) -> Principal:
    tokens = open_token_store(ledger_settings(home))
    try:
        principal = tokens.verify(api.tokens["editor"])
    finally:
        tokens.close()
    assert principal is not None
    return principal


def _crashed_create(home: Path, editor: Principal, request_id: str, after: int) -> None:
    """The editor's create of TOOL with key ``crashed`` died holding its claim."""
    claim_and_die(home, editor.token_id, "crashed", TOOL_FINGERPRINT, request_id, after)


def _retry(api: Api, request_id: str) -> httpx.Response:
    headers = {"Idempotency-Key": "crashed", "X-Request-ID": request_id}
    return api.request("POST", "/api/tools", "editor", json=TOOL, headers=headers)


def test_a_retry_replays_a_crashed_create_from_the_log(api: Api, home: Path) -> None:
    editor = _editor(api, home)
    head = api.head()
    # The crashed request's command was committed; its answer never stored.
    ctx = Context(actor=editor.actor, request_id="crashed-1")
    fields = msgspec.convert(TOOL, ToolCreate).fields()
    api.ledger.register_tool(ctx, TOOL["slug"], fields)
    _crashed_create(home, editor, "crashed-1", head)
    with api.appends(0):
        replayed = _retry(api, "retry-1")
        again = _retry(api, "retry-2")
    assert replayed.status_code == 201, replayed.text
    assert replayed.json() == {"version": 1, "position": head + 1}
    assert replayed.headers["location"] == "/api/tools/crash-tool"
    assert replayed.headers["idempotent-replayed"] == "true"
    assert (again.status_code, again.json()) == (201, replayed.json())
    assert again.headers["location"] == "/api/tools/crash-tool"


def test_a_retry_performs_a_crashed_create_once(api: Api, home: Path) -> None:
    editor = _editor(api, home)
    head = api.head()
    _crashed_create(home, editor, "crashed-2", head)
    with api.appends(1):
        performed = _retry(api, "retry-1")
        again = _retry(api, "retry-2")
    assert performed.status_code == 201, performed.text
    assert "idempotent-replayed" not in performed.headers
    assert performed.json() == {"version": 1, "position": head + 1}
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == performed.json()
    # The write carries the retry's request id, not the crashed one's.
    recorder = api.ledger.recorder
    assert of_request(recorder, "crashed-2", actor=editor.actor, after=head) == []
    assert len(of_request(recorder, "retry-1", actor=editor.actor, after=head)) == 1


def test_events_of_another_actor_are_not_taken_for_the_crashed_ones(
    api: Api, home: Path
) -> None:
    editor = _editor(api, home)
    head = api.head()
    # Another token's request that happens to carry the same X-Request-ID.
    other = Context(actor="admin:someone", request_id="reused-id")
    api.ledger.register_tool(
        other, "elsewhere", {"name": "E", "vendor": "V", "category": "C"}
    )
    _crashed_create(home, editor, "reused-id", head)
    with api.appends(1):
        performed = _retry(api, "retry-1")
    assert performed.status_code == 201, performed.text
    assert "idempotent-replayed" not in performed.headers


# End to end: a real `ledger serve`, SIGKILLed while a create is under way.


def _events_in(home: Path) -> int:
    with contextlib.closing(sqlite3.connect(home / "events.sqlite")) as db:
        count: int = db.execute("SELECT count(*) FROM stored_events").fetchone()[0]
    return count


def _until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.02)


def _claimed(home: Path) -> bool:
    with contextlib.closing(sqlite3.connect(home / "api.sqlite")) as db:
        row = db.execute(
            "SELECT status FROM idempotency WHERE key = 'crashed'"
        ).fetchone()
    return row is not None and row[0] is None


@contextlib.contextmanager
def _writes_held(home: Path) -> Iterator[None]:
    """Holds the lock every worker's writer takes before it appends."""
    with (home / "writer.lock").open("a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def _answers_held(home: Path) -> Iterator[None]:
    """Holds the write lock of ``api.sqlite``, where answers are stored."""
    db = sqlite3.connect(home / "api.sqlite", isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        yield
        db.execute("ROLLBACK")
    finally:
        db.close()


def _post(base: str, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "crashed"}
    return httpx.post(base + "/api/tools", json=TOOL, headers=headers, timeout=60)


def _claim_in_background(server: Crashable, home: Path, token: str) -> threading.Thread:
    """Sends the create the crash interrupts; returns once it claimed its key."""

    def send() -> None:
        with contextlib.suppress(httpx.TransportError):  # it gets no answer
            _post(server.base, token)

    request = threading.Thread(target=send)
    request.start()
    _until(lambda: _claimed(home), "the key to be claimed")
    return request


def _ledger(tmp_path: Path) -> tuple[Path, str, int]:
    """A demo ledger, an editor's token and how many events the log holds."""
    home = make_home(tmp_path)
    return home, issue_tokens(home)["editor"], _events_in(home)


def _retried_once(home: Path, token: str, before: int) -> httpx.Response:
    """Restarts the server (two workers) and retries: twice at once, then again.

    Checks that the log holds the write once and that no retry failed;
    returns the last answer, a 201.
    """
    with served(home, workers=2) as base, ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: _post(base, token), range(2)))
        answers.append(_post(base, token))
    assert _events_in(home) == before + 1
    assert {answer.status_code for answer in answers} <= {201, 409}
    final = answers[-1]
    assert final.status_code == 201, final.text
    return final


def test_a_create_killed_before_it_appended_is_performed_once_by_retries(
    tmp_path: Path,
) -> None:
    home, token, before = _ledger(tmp_path)
    with crashable(home) as server:
        with _writes_held(home):
            request = _claim_in_background(server, home, token)
            server.kill()
        request.join()
    assert _events_in(home) == before
    final = _retried_once(home, token, before)
    assert final.json() == {"version": 1, "position": before + 1}
    assert final.headers["location"] == "/api/tools/crash-tool"


def test_a_create_killed_before_its_answer_was_stored_is_replayed(
    tmp_path: Path,
) -> None:
    home, token, before = _ledger(tmp_path)
    with crashable(home) as server:
        with contextlib.ExitStack() as answers_held:
            with _writes_held(home):
                request = _claim_in_background(server, home, token)
                answers_held.enter_context(_answers_held(home))
            # The command appends; storing its answer waits for api.sqlite.
            _until(lambda: _events_in(home) == before + 1, "the command to append")
            server.kill()
        request.join()
    final = _retried_once(home, token, before)
    assert final.headers["idempotent-replayed"] == "true"
    assert final.json() == {"version": 1, "position": before + 1}
    assert final.headers["location"] == "/api/tools/crash-tool"
