"""The event store's recorders: eventsourcing's, configured and extended on purpose.

Two things are added to eventsourcing's SQLite and PostgreSQL recorders.

Durable, cheap SQLite connections. eventsourcing's SQLite pool opens its
connections with a statement cache of one (``cached_statements=True``), so a
command that alternates a ``SELECT`` and an ``INSERT`` re-prepares every
statement, and it leaves a commit's durability to however the SQLite library
was compiled. :class:`LedgerSQLiteFactory` opens the same pooled connections
with a real statement cache and ``synchronous=FULL`` stated outright, so a
commit that returned is on disk whatever the platform's default is, and it
keeps one of them aside for the ledger's appends.

Conditional appends. A vote must not land on a retired tool, a review must
not land on a retired tool or by a retired reviewer. Checking the tool and
then appending the vote leaves a window in which the tool can be retired;
``insert_events(..., unchanged=[(tool_id, version)])`` closes it by checking,
inside the appending transaction, that nothing decisive happened to each named
aggregate since the version the command saw, and appending nothing if it did
(:class:`DependencyChanged`). The command then reloads and decides again.
"Decisive" is what the recorder's ``decisive_topics`` names (the ledger sets
the events that retire or reinstate something), so a tool's tagline edit does
not turn away the votes cast meanwhile; with no topics named, any later event
counts. Because the check is exact, a command may decide on a cached
aggregate without first reading the store to see whether it is current.
PostgreSQL's recorder is in :mod:`ledger.store_postgres`, so that the embedded
store never imports psycopg.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import (
    ConnectionPoolClosedError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType

STATEMENT_CACHE = 64

Unchanged = Sequence[tuple[UUID, int]]
"""Aggregates, by id, that must still be at these versions for an append."""


class DependencyChanged(Exception):
    """An aggregate a command decided on moved on before its events landed."""

    def __init__(self, originator_id: UUID, expected: int, actual: int):
        super().__init__(
            f"{originator_id} changed decisively at version {actual} after version "
            f"{expected}; nothing appended"
        )
        self.originator_id = originator_id


class ConditionalAppends:
    """Marks a recorder whose ``insert_events`` honours ``unchanged=...``.

    eventsourcing passes unknown keyword arguments down and ignores them, so
    the ledger asks for this marker rather than trusting any recorder with a
    condition it would silently drop.
    """

    decisive_topics: frozenset[str] = frozenset()
    """Topics of the events that break a condition; empty: every event does."""

    def check_later_events(
        self, originator_id: UUID, version: int, later: Sequence[Any]
    ) -> None:
        """Raises if any of ``later`` (version, topic) rows is decisive."""
        for row in later:
            if not self.decisive_topics or row[1] in self.decisive_topics:
                raise DependencyChanged(originator_id, version, row[0])

    refusals_use_positions = True
    """Whether an insert the store refuses still uses up a log position.

    PostgreSQL's sequence does, leaving a gap; SQLite's rowid does not. Where
    it does not, a command may create an aggregate first and load the
    existing one only if the store refuses the duplicate id.
    """


class LedgerSQLiteConnectionPool(SQLiteConnectionPool):
    """Pooled connections in WAL mode, ``synchronous=FULL``, statements cached.

    Appends do not take their connection from the pool: they share one
    dedicated writer connection, one append at a time under
    ``writer_lock``. SQLite lets only one transaction write at a time
    anyway, and the pool's bookkeeping to lend and take back a connection
    cost as much CPU as the ``INSERT`` itself. The pool still serves the
    readers, and the writes of eventsourcing's own code paths.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writer_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # eventsourcing issues BEGIN itself
                cached_statements=STATEMENT_CACHE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as error:
            raise InterfaceError(error) from error
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

    def writer(self) -> sqlite3.Connection:
        """The appends' connection, opened on first use; hold ``writer_lock``."""
        if self._writer is None:
            if self._closed:
                raise ConnectionPoolClosedError
            self._writer = self._connect()
        return self._writer

    def close(self) -> None:
        with self.writer_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            super().close()


class LedgerSQLiteApplicationRecorder(ConditionalAppends, SQLiteApplicationRecorder):
    """SQLite recorder with conditional appends and single-statement reads."""

    refusals_use_positions = False  # a rolled-back rowid is handed out again

    def __init__(
        self, datastore: Any, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name)
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

        The same statements as eventsourcing's ``insert_events``, issued on
        the pool's dedicated writer connection: eventsourcing's transaction
        and cursor wrappers cost more than the ``INSERT`` they wrap.
        """
        if kwargs.get("tracking") is not None:  # process recorders only
            return super().insert_events(stored_events, **kwargs)
        pool = cast(LedgerSQLiteConnectionPool, self.datastore.pool)
        with pool.writer_lock:
            conn = pool.writer()
            try:
                conn.execute("BEGIN")
                ids: list[Any] = []
                for event in stored_events:
                    originator_id = event.originator_id
                    cursor = conn.execute(
                        self.insert_events_statement,
                        (
                            originator_id.hex
                            if isinstance(originator_id, UUID)
                            else originator_id,
                            event.originator_version,
                            event.topic,
                            event.state,
                        ),
                    )
                    ids.append(cursor.lastrowid)
                # The INSERT took SQLite's write lock, so this reads the
                # newest committed state and nobody appends until we commit.
                for originator_id, version in unchanged:
                    later = conn.execute(
                        self.select_later_statement, (originator_id.hex, version)
                    ).fetchall()
                    self.check_later_events(originator_id, version, later)
                conn.execute("COMMIT")
            except BaseException as error:
                conn.rollback()
                if isinstance(error, sqlite3.IntegrityError):
                    raise IntegrityError(error) from error
                if isinstance(error, sqlite3.OperationalError):
                    raise OperationalError(error) from error
                raise
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


class LedgerSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite factory with the ledger's pool and recorder."""

    application_recorder_class = LedgerSQLiteApplicationRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        stock = self.datastore.pool  # lazy: it has opened no connection yet
        self.datastore.pool = LedgerSQLiteConnectionPool(
            db_name=stock.db_name, lock_timeout=stock.lock_timeout
        )
        stock.close()
