"""The embedded event store: eventsourcing's SQLite recorders, configured on purpose.

:class:`LedgerSQLiteFactory` is eventsourcing's SQLite factory with three
changes, each kept to what eventsourcing's own classes leave open.

Durable, cheap connections. eventsourcing's SQLite pool opens its
connections with a statement cache of one (``cached_statements=True``), so a
command that alternates a ``SELECT`` and an ``INSERT`` re-prepares every
statement, and it leaves a commit's durability to however the SQLite library
was compiled. The ledger's pool opens the same connections with a real
statement cache and ``synchronous=FULL`` stated outright, so a commit that
returned is on disk whatever the platform's default is.

One connection for appends. SQLite lets one transaction write at a time, and
lending a pooled connection and taking it back costs CPU on the busiest path
(docs/PERFORMANCE.md), so on a file every append goes through one dedicated
connection, one append at a time. An in-memory database exists only inside
the connection that opened it (or, with ``cache=shared``, inside its
process), so there the appends use the pool's own writer connection instead,
and a private ``:memory:`` database gets a pool of exactly that one
connection.

Conditional appends (:mod:`ledger.conditional_appends`): every recorder the
factory makes checks ``unchanged=...`` inside the appending transaction,
which holds SQLite's write lock from its ``BEGIN IMMEDIATE``, so the check
is exact.

Wherever these classes touch :mod:`sqlite3` themselves, its errors are
raised as eventsourcing's (:func:`persistence_errors`), the classes that
eventsourcing's own recorders raise and callers are written against.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, cast
from uuid import UUID

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
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteProcessRecorder,
)
from eventsourcing.utils import Environment, EnvType

from ledger.conditional_appends import ConditionalAppends, Unchanged

STATEMENT_CACHE = 64
SQLITE_BUSY, SQLITE_LOCKED = 5, 6  # https://sqlite.org/rescode.html

_ERRORS: tuple[tuple[type[sqlite3.Error], type[PersistenceError]], ...] = (
    (sqlite3.InterfaceError, InterfaceError),
    (sqlite3.DataError, DataError),
    (sqlite3.OperationalError, OperationalError),
    (sqlite3.IntegrityError, IntegrityError),
    (sqlite3.InternalError, InternalError),
    (sqlite3.ProgrammingError, ProgrammingError),
    (sqlite3.NotSupportedError, NotSupportedError),
    (sqlite3.DatabaseError, DatabaseError),
    (sqlite3.Error, PersistenceError),
)
"""sqlite3's errors and eventsourcing's, as ``SQLiteTransaction`` pairs them."""


@contextmanager
def persistence_errors() -> Iterator[None]:
    """Raises any :mod:`sqlite3` error of the block as eventsourcing's own."""
    try:
        yield
    except sqlite3.Error as error:
        ours = next(ours for raw, ours in _ERRORS if isinstance(error, raw))
        raise ours(error) from error


def _spoils_connection(error: sqlite3.Error) -> bool:
    """Whether the appends' connection is to be reopened after ``error``.

    A write that failed on the file (it was read-only, the disk was full or
    failed) can leave the connection refusing every later write even once
    the file is writable again; a fresh one sees the file as it is. A held
    lock and a refused duplicate leave it as it was.
    """
    if isinstance(error, sqlite3.IntegrityError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    return code is None or code & 0xFF not in (SQLITE_BUSY, SQLITE_LOCKED)


def _is_private_memory(db_name: str) -> bool:
    return SQLiteConnectionPool.detect_memory_mode(db_name) and (
        "cache=shared" not in db_name
    )


class LedgerSQLiteConnectionPool(SQLiteConnectionPool):
    """Pooled connections in WAL mode, ``synchronous=FULL``, statements cached.

    The pool serves the readers, and the writes of eventsourcing's own code
    paths; the ledger's appends go through :meth:`appending`.
    """

    def __init__(self, *, db_name: str, **kwargs: Any) -> None:
        if _is_private_memory(db_name):
            # Every further connection would open another, empty database.
            kwargs.update(pool_size=1, max_overflow=0)
        super().__init__(db_name=db_name, **kwargs)
        self.writer_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # transactions are begun explicitly
                cached_statements=STATEMENT_CACHE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as error:
            raise InterfaceError(error) from error
        with persistence_errors():
            if not self.is_sqlite_memory_mode:
                if not self.is_journal_mode_wal:
                    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                    if mode.lower() != "wal":
                        conn.execute("PRAGMA journal_mode=WAL")
                        self.journal_mode_was_changed_to_wal = True
                    self.is_journal_mode_wal = True
                # A per-connection setting: every connection needs it.
                conn.execute("PRAGMA synchronous=FULL")
        conn.row_factory = sqlite3.Row
        return conn

    def _create_connection(self) -> SQLiteConnection:
        return SQLiteConnection(sqlite_conn=self._connect(), max_age=self.max_age)

    @contextmanager
    def appending(self) -> Iterator[sqlite3.Connection]:
        """The appends' connection, held by one append at a time."""
        if self.is_sqlite_memory_mode:
            pooled = self.get_connection(is_writer=True)
            try:
                with pooled.cursor() as cursor:
                    yield cursor.connection
            finally:
                self.put_connection(pooled)
            return
        with self.writer_lock:
            if self._writer is None:
                if self._closed:
                    raise ConnectionPoolClosedError
                self._writer = self._connect()
            try:
                yield self._writer
            except sqlite3.Error as error:
                if _spoils_connection(error):
                    with suppress(sqlite3.Error):
                        self._writer.close()
                    self._writer = None
                raise

    def close(self) -> None:
        with self.writer_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            super().close()


class LedgerSQLiteAggregateRecorder(ConditionalAppends, SQLiteAggregateRecorder):
    """eventsourcing's SQLite recorder, appending conditionally on one connection.

    The application and process recorders below add eventsourcing's own
    notification and tracking statements to the same append.
    """

    refusals_use_positions = False  # a rolled-back rowid is handed out again

    def __init__(
        self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.select_later_statement = (
            f"SELECT originator_version, topic FROM {self.events_table_name} "
            "WHERE originator_id=? AND originator_version>?"
        )

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        unchanged: Unchanged = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        """Appends in one transaction, if ``unchanged`` still holds.

        eventsourcing's own statements (``_insert_events``), on the pool's
        appends' connection rather than in eventsourcing's transaction
        wrapper, which costs more than the ``INSERT`` it wraps.
        """
        pool = cast(LedgerSQLiteConnectionPool, self.datastore.pool)
        with persistence_errors(), pool.appending() as conn:
            cursor = conn.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")  # SQLite's write lock, till COMMIT
                ids = self._insert_events(SQLiteCursor(cursor), stored_events, **kwargs)
                for originator_id, version in unchanged:
                    cursor.execute(
                        self.select_later_statement, (originator_id.hex, version)
                    )
                    self.check_later_events(originator_id, version, cursor.fetchall())
                cursor.execute("COMMIT")
            except BaseException:
                conn.rollback()
                raise
            finally:
                cursor.close()
        return ids

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """One autocommit ``SELECT``: already a consistent snapshot.

        eventsourcing wraps each read in ``BEGIN`` … ``ROLLBACK``, two extra
        statements on every aggregate load.
        """
        statement = self.select_events_statement
        params: list[Any] = [
            originator_id.hex if isinstance(originator_id, UUID) else originator_id
        ]
        if gt is not None:
            statement += "AND originator_version>? "
            params.append(gt)
        if lte is not None:
            statement += "AND originator_version<=? "
            params.append(lte)
        statement += "ORDER BY originator_version " + ("DESC " if desc else "ASC ")
        if limit is not None:
            statement += "LIMIT ? "
            params.append(limit)
        with (
            persistence_errors(),
            self.datastore.get_connection(commit=False) as conn,
            conn.cursor() as cursor,
        ):
            rows = cursor.execute(statement, params).fetchall()
        return [
            StoredEvent(
                originator_id=self.convert_originator_id(row["originator_id"]),
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"],
            )
            for row in rows
        ]


class LedgerSQLiteApplicationRecorder(
    LedgerSQLiteAggregateRecorder, SQLiteApplicationRecorder
):
    """The ledger's log: appends return their positions (SQLite's rowids)."""


class LedgerSQLiteProcessRecorder(
    LedgerSQLiteApplicationRecorder, SQLiteProcessRecorder
):
    """The log of a process application: appends also record their tracking."""


class LedgerSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite factory with the ledger's pool and recorders."""

    aggregate_recorder_class = LedgerSQLiteAggregateRecorder
    application_recorder_class = LedgerSQLiteApplicationRecorder
    process_recorder_class = LedgerSQLiteProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        stock = self.datastore.pool  # lazy: it has opened no connection yet
        self.datastore.pool = LedgerSQLiteConnectionPool(
            db_name=stock.db_name, lock_timeout=stock.lock_timeout
        )
        stock.close()
