"""Reading the ledger's log as raw rows, as fast as the store allows.

A projection needs every event's position, aggregate id, version, topic and
state bytes, nothing more. For the embedded SQLite store those are read with
one plain ``SELECT`` per batch on a connection of our own, which skips
eventsourcing's per-row ``Notification`` and ``UUID`` objects (they cost more
than the rest of the fold). Any other store (PostgreSQL) is read through the
recorder's ``select_notifications``, which works everywhere.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.application import Ledger

Raw = tuple[int, str, int, str, bytes]
"""One stored event: position, aggregate id (hex), version, topic, state."""

LAST = 2**63 - 1
CHUNK = 900
"""Bound parameters per ``IN (…)`` list, well below SQLite's limit."""


def chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """``values`` in slices of at most :data:`CHUNK`, one per ``IN (…)`` list."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


class LogFile:
    """The queries that read an SQLite log file's events table directly.

    Plain SQL on any DB-API connection to the file, so that a process of its
    own can read the log with another SQLite binding (see
    :mod:`projections.rebuild.fold_process`).

    Args:
        conn: A connection to the log file.
        table: The events table.
    """

    def __init__(self, conn: Any, table: str) -> None:
        self.conn = conn
        self.table = table

    def read(self, after: int, limit: int, stop: int | None = None) -> list[Raw]:
        """Up to ``limit`` events after position ``after`` (up to ``stop``)."""
        rows: list[Raw] = self.conn.execute(
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {self.table} WHERE rowid > ? AND rowid <= ? "
            "ORDER BY rowid LIMIT ?",
            (after, LAST if stop is None else stop, limit),
        ).fetchall()
        return rows

    def close(self) -> None:
        """Closes the connection."""
        self.conn.close()

    def with_later_events(self) -> Iterator[str]:
        """The ids of the aggregates that have a second event.

        One scan of the primary-key index (aggregate id, version) alone.
        """
        for (aggregate_id,) in self.conn.execute(
            f"SELECT originator_id FROM {self.table} WHERE originator_version = 2"
        ):
            yield aggregate_id

    def earlier_events(self, below: Mapping[str, int]) -> list[Raw]:
        """The events of each aggregate in ``below`` older than the version given."""
        found: list[Raw] = []
        for chunk in chunks(sorted(below)):
            found += self.conn.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {self.table} WHERE originator_id IN "
                f"({','.join('?' * len(chunk))}) "
                "ORDER BY originator_id, originator_version",
                chunk,
            ).fetchall()
        return [raw for raw in found if raw[2] < below[raw[1]]]


class LogSource:
    """The log of one ledger, read a batch at a time.

    Args:
        ledger: The ledger whose recorder is read.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.recorder = ledger.recorder
        self.cipher = ledger.mapper.cipher
        self.compressor = ledger.mapper.compressor
        self._sqlite: tuple[str, str] | None = None
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        recorder: Any = self.recorder
        if isinstance(recorder, SQLiteApplicationRecorder):
            pool = recorder.datastore.pool
            if not pool.is_sqlite_memory_mode:
                self._sqlite = (pool.db_name, recorder.events_table_name)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            assert self._sqlite is not None
            conn = sqlite3.connect(
                self._sqlite[0], isolation_level=None, check_same_thread=False
            )
            self._local.conn = conn
            self._opened.append(conn)
        return conn

    @property
    def sqlite_file(self) -> tuple[str, str] | None:
        """The log's SQLite file and table, if SQL can read its states as stored.

        None for any other store, and for states that are encrypted or
        compressed, which only the mapper's cipher and compressor can read.
        """
        return self._sqlite if self.readable_by_sql else None

    @property
    def readable_by_sql(self) -> bool:
        """Whether states are stored as read: neither encrypted nor compressed."""
        return self.cipher is None and self.compressor is None

    def with_later_events(self) -> Iterator[str] | None:
        """The ids of the aggregates that have a second event, if cheap to tell.

        None but for the embedded store, whose file can be scanned by its
        primary key.
        """
        return None if self._sqlite is None else self._file().with_later_events()

    def _file(self) -> LogFile:
        assert self._sqlite is not None
        return LogFile(self._connection(), self._sqlite[1])

    def read(self, after: int, limit: int, stop: int | None = None) -> list[Raw]:
        """Up to ``limit`` events after position ``after`` (up to ``stop``)."""
        if self._sqlite is not None:
            rows = self._file().read(after, limit, stop)
        else:
            rows = [
                (
                    n.id,
                    n.originator_id.hex
                    if isinstance(n.originator_id, UUID)
                    else UUID(str(n.originator_id)).hex,
                    n.originator_version,
                    n.topic,
                    n.state,
                )
                for n in self.recorder.select_notifications(
                    start=after, limit=limit, stop=stop, inclusive_of_start=False
                )
            ]
        if self.cipher is not None or self.compressor is not None:
            rows = [(*row[:4], self._plain(row[4])) for row in rows]
        return rows

    def earlier_events(self, below: Mapping[str, int]) -> list[Raw]:
        """The events of each aggregate in ``below`` older than the version given.

        What a fold needs to know of an aggregate it meets again, such as a
        vote's subject and last choice, without a table of its own: the log
        keeps every aggregate's events under its primary key (aggregate id,
        version). They come oldest first per aggregate. Their positions are 0
        but for the embedded store, as ``select_events`` does not give them.
        """
        found: list[Raw] = []
        if self._sqlite is not None:
            found = self._file().earlier_events(below)
        else:
            for aggregate_id, version in below.items():
                found += [
                    (0, aggregate_id, e.originator_version, e.topic, e.state)
                    for e in self.recorder.select_events(
                        UUID(hex=aggregate_id), lte=version - 1
                    )
                ]
        if self.cipher is not None or self.compressor is not None:
            found = [(*row[:4], self._plain(row[4])) for row in found]
        return found

    def _plain(self, state: bytes) -> bytes:
        if self.cipher is not None:
            state = self.cipher.decrypt(state)
        if self.compressor is not None:
            state = self.compressor.decompress(state)
        return state

    def head(self) -> int:
        """The position of the newest event (0 for an empty log)."""
        return self.recorder.max_notification_id() or 0

    def close(self) -> None:
        """Closes the connections this source opened to the store."""
        for conn in self._opened:
            conn.close()
        self._opened.clear()
        self._local = threading.local()
