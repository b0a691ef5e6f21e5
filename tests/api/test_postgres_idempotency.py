"""The PostgreSQL idempotency store on its own: locks held by connections.

Each store stands for a worker, of this node or another: they share nothing
but the server. A claim's lock is a real session advisory lock; a holder
"dies" by having its connection terminated by the server, as a crash or a
network cut ends it, and what the store then does is read back past it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from api.idempotency_store import Orphan, StoredResponse
from api.postgres_idempotency import TABLE, PostgresIdempotencyStore
from ledger.postgres_tables import Place
from tests.helpers import URL, private_schema

ANSWER = StoredResponse(201, b'{"position": 9}', {"Location": "/api/tools/x"})

Open = Callable[..., PostgresIdempotencyStore]


@pytest.fixture
def place(tmp_path: Path) -> Iterator[Place]:
    """A private schema, as ``LEDGER_EVENT_STORE`` and ``POSTGRES_SCHEMA`` name it."""
    for postgres in private_schema(tmp_path):
        yield Place(URL, postgres.env["POSTGRES_SCHEMA"], 5)


@pytest.fixture
def keys(place: Place) -> Iterator[Open]:
    """Opens stores on ``place``; closes them after the test."""
    opened: list[PostgresIdempotencyStore] = []

    def open_keys(ttl: float = 3600, at: Place = place) -> PostgresIdempotencyStore:
        store = PostgresIdempotencyStore(at, ttl)
        opened.append(store)
        return store

    yield open_keys
    for store in opened:
        store.close()


def _rows(place: Place) -> list[tuple[object, ...]]:
    with psycopg.connect(URL) as db:
        query = sql.SQL("SELECT key, status, request_id FROM {} ORDER BY key")
        return db.execute(query.format(place.table(TABLE))).fetchall()


def _terminate_holder(store: PostgresIdempotencyStore, scope: str, key: str) -> None:
    """Ends the connection holding a claim, as a crash of its process would.

    Waits (up to 5 s) until the backend has exited and so freed its locks:
    without a timeout, the server only signals it.
    """
    holder = store._held[scope, key]
    with psycopg.connect(URL, autocommit=True) as db:
        ended = db.execute(
            "SELECT pg_terminate_backend(%s, 5000)", (holder.info.backend_pid,)
        ).fetchone()
    assert ended == (True,)


def test_a_claim_whose_connection_was_terminated_is_taken_over(
    keys: Open, place: Place
) -> None:
    crashed, retry, rival = keys(), keys(), keys()
    assert crashed.claim("t", "k", "f", "first", 4).claimed
    assert retry.claim("t", "k", "f", "second", 5).in_flight
    _terminate_holder(crashed, "t", "k")
    taken = retry.claim("t", "k", "f", "second", 5)
    assert taken.orphan == Orphan("first", 4)
    # Taken over by one retry at a time.
    assert rival.claim("t", "k", "f", "third", 6).in_flight
    retry.adopt("t", "k", "second", 5)
    retry.complete("t", "k", ANSWER)
    # The first holder, its lock gone with its connection, cannot write over it.
    with pytest.raises(psycopg.Error):
        crashed.complete("t", "k", StoredResponse(500, b"{}", {}))
    assert rival.claim("t", "k", "f", "third", 6).replay == ANSWER
    assert _rows(place) == [("k", 201, "second")]


def test_a_replay_is_the_first_answer_and_another_body_is_a_mismatch(
    keys: Open,
) -> None:
    one, other = keys(), keys()
    assert one.claim("t", "k", "f", "r1", 1).claimed
    one.complete("t", "k", ANSWER)
    assert other.claim("t", "k", "f", "r2", 1).replay == ANSWER
    assert other.claim("t", "k", "another body", "r3", 1).mismatch
    # Keys are per token: another token's same key is a new claim.
    assert other.claim("u", "k", "another body", "r4", 1).claimed


def test_a_released_claim_lets_a_corrected_retry_run(keys: Open, place: Place) -> None:
    one, other = keys(), keys()
    assert one.claim("t", "k", "f", "r1", 1).claimed
    one.release("t", "k")
    assert _rows(place) == []
    assert other.claim("t", "k", "f", "r2", 1).claimed


def test_an_abandoned_claim_is_an_orphan_for_the_next_retry(keys: Open) -> None:
    one, other = keys(), keys()
    assert one.claim("t", "k", "f", "r1", 3).claimed
    one.abandon("t", "k")
    assert other.claim("t", "k", "f", "r2", 4).orphan == Orphan("r1", 3)


def test_old_keys_are_purged_but_not_a_claim_still_held(
    keys: Open, place: Place
) -> None:
    worker = keys(ttl=0)
    assert worker.claim("t", "answered", "f", "r1", 1).claimed
    worker.complete("t", "answered", ANSWER)
    assert worker.claim("t", "running", "f", "r2", 1).claimed
    dying = keys()  # remembers keys for an hour: its own purge keeps them
    assert dying.claim("t", "dead", "f", "r3", 1).claimed
    dying.close()  # its claim is let go unanswered, as a dying worker's is
    assert [row[0] for row in _rows(place)] == ["answered", "dead", "running"]
    # Another worker's first claim purges what has expired and nobody holds.
    assert keys(ttl=0).claim("t", "new", "f", "r4", 1).claimed
    assert [row[0] for row in _rows(place)] == ["new", "running"]
    assert keys(ttl=0).claim("t", "running", "f", "r5", 1).in_flight


def test_the_same_key_in_two_schemas_is_two_keys(keys: Open, tmp_path: Path) -> None:
    for postgres in private_schema(tmp_path / "other"):
        elsewhere = Place(URL, postgres.env["POSTGRES_SCHEMA"], 5)
        assert keys().claim("t", "k", "f", "r1", 1).claimed
        assert keys(at=elsewhere).claim("t", "k", "f", "r1", 1).claimed


def test_stores_opened_at_once_on_a_fresh_schema_create_the_table_in_turn(
    place: Place,
) -> None:
    opened: list[PostgresIdempotencyStore] = []
    failed: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(PostgresIdempotencyStore(place, 60))
        except BaseException as error:
            failed.append(error)

    starters = [threading.Thread(target=open_one) for _ in range(4)]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join(30)
    try:
        assert failed == []
        assert len(opened) == 4
    finally:
        for store in opened:
            store.close()
