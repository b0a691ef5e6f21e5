"""The embedded store's own choices: one appends' connection, memory, errors.

eventsourcing's conformance cases (test_sqlite_conformance.py) check what
every SQLite recorder must do; these check what the ledger's does beyond
that, and the failures eventsourcing's own repository checks outside its
base cases (a table that was never created, an argument SQLite refuses).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import (
    ConnectionPoolClosedError,
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
)

from ledger import log
from ledger.application import Ledger
from ledger.settings import Settings
from ledger.sqlite_recorder import (
    LedgerSQLiteConnectionPool,
    LedgerSQLiteFactory,
    persistence_errors,
)

from .helpers import VOTER, register

pytestmark = pytest.mark.sqlite_only(
    "tests the ledger's SQLite recorder itself; test_postgres.py and"
    " test_postgres_conformance.py test PostgreSQL's"
)

SYNCHRONOUS_FULL = 2


def stored(state: object = b"{}") -> StoredEvent:
    return StoredEvent(
        originator_id=uuid4(), originator_version=1, topic="topic", state=state
    )  # type: ignore[arg-type]


@pytest.fixture
def without_tables(tmp_path: Path) -> Iterator[LedgerSQLiteFactory]:
    """The ledger's factory on a file whose tables were never created."""
    factory = LedgerSQLiteFactory(
        {"SQLITE_DBNAME": str(tmp_path / "events.sqlite"), "CREATE_TABLE": "n"}
    )
    yield factory
    factory.close()


def test_appends_share_one_connection_until_closed(home: Path) -> None:
    ledger = Ledger(Settings(home=home))
    pool = ledger.recorder.datastore.pool
    assert isinstance(pool, LedgerSQLiteConnectionPool)
    register(ledger, "alpha")
    with pool.appending() as writer:
        assert writer.execute("PRAGMA synchronous").fetchone()[0] == SYNCHRONOUS_FULL
    ledger.cast_vote(VOTER, "carol", "alpha", "ship")
    with pool.appending() as again:
        assert again is writer
    assert pool.num_in_use == 0  # no append took a pooled connection
    ledger.close()
    with pytest.raises(ConnectionPoolClosedError), pool.appending():
        pass


@pytest.mark.parametrize(
    "db_name", [":memory:", "file:ledger-memory-test?mode=memory&cache=shared"]
)
def test_a_ledger_in_memory_appends_where_it_reads(home: Path, db_name: str) -> None:
    # given a ledger whose event store is an in-memory database
    ledger = Ledger(Settings(home=home), {"SQLITE_DBNAME": db_name})
    try:
        # when commands append to it
        register(ledger, "alpha")
        receipts = [
            ledger.cast_vote(VOTER, f"voter-{n}", "alpha", "ship") for n in range(3)
        ]
        # then what they appended is read back from the same database
        assert [r.position for r in receipts] == [2, 3, 4]
        assert [e.type for e in log.read(ledger.recorder)] == ["Tool.Registered"] + [
            "Vote.Cast"
        ] * 3
        assert ledger.vote("voter-2", "tool:alpha") == "ship"
    finally:
        ledger.close()
    assert not Settings(home=home).events_path.exists()


def test_a_private_memory_database_serves_threads_from_its_one_connection(
    home: Path,
) -> None:
    ledger = Ledger(Settings(home=home), {"SQLITE_DBNAME": ":memory:"})
    failures: list[BaseException] = []

    def vote_and_read(thread: int) -> None:
        try:
            for n in range(20):
                ledger.cast_vote(VOTER, f"t{thread}-{n}", "alpha", "skip")
                log.read(ledger.recorder, limit=5)
        except BaseException as error:
            failures.append(error)

    try:
        register(ledger, "alpha")
        threads = [threading.Thread(target=vote_and_read, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert failures == []
        assert ledger.head_position() == 1 + 4 * 20
        assert ledger.recorder.datastore.pool.pool_size == 1
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (sqlite3.InterfaceError, InterfaceError),
        (sqlite3.DataError, DataError),
        (sqlite3.OperationalError, OperationalError),
        (sqlite3.IntegrityError, IntegrityError),
        (sqlite3.InternalError, InternalError),
        (sqlite3.ProgrammingError, ProgrammingError),
        (sqlite3.NotSupportedError, NotSupportedError),
        (sqlite3.DatabaseError, DatabaseError),
        (sqlite3.Error, PersistenceError),
    ],
)
def test_sqlite3_errors_are_raised_as_eventsourcings(
    raised: type[sqlite3.Error], expected: type[PersistenceError]
) -> None:
    with pytest.raises(expected) as info, persistence_errors():
        raise raised("from sqlite3")
    assert type(info.value) is expected
    assert isinstance(info.value.__cause__, raised)


def test_every_read_and_append_of_a_missing_table_is_an_operational_error(
    without_tables: LedgerSQLiteFactory,
) -> None:
    for recorder in (
        without_tables.aggregate_recorder(),
        without_tables.application_recorder(),
        without_tables.process_recorder(),
    ):
        with pytest.raises(OperationalError, match="no such table"):
            recorder.select_events(uuid4())
        with pytest.raises(OperationalError, match="no such table"):
            recorder.insert_events([stored()])


def test_a_value_sqlite_cannot_bind_is_a_programming_error(
    without_tables: LedgerSQLiteFactory,
) -> None:
    recorder = without_tables.application_recorder()
    recorder.create_table()
    with pytest.raises(ProgrammingError, match="binding parameter"):
        recorder.select_events({"not": "an id"})  # type: ignore[arg-type]
    with pytest.raises(ProgrammingError, match="binding parameter"):
        recorder.insert_events([stored(state={"not": "bytes"})])
    # and the refused append left nothing behind
    assert recorder.select_notifications(start=None, limit=10) == []
