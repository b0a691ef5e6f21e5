"""PostgreSQL appends that let a waiting writer in before waiting for the disk.

eventsourcing's recorder takes ``LOCK TABLE … IN EXCLUSIVE MODE`` to append,
so that positions are committed in the order they are issued and a reader
never passes a gap that is filled later. A table lock lasts until the
transaction ends, and a synchronous commit ends only when its WAL flush has
returned: appends take turns for a flush each, and PostgreSQL's group commit
never gets two of them to share one. The plain recorders
(:mod:`ledger.postgres_recorder`) append that way.

The recorders here check, in the round trip that inserts, whether another
append waits for the lock. If none does, the commit is synchronous, as the
plain recorder's. If one does, the transaction commits with
``synchronous_commit = off``, which ends it, and releases the lock, as soon
as its commit record is written, in the same order as before; then, before
the append returns, it waits for the WAL to be flushed past that record
(:data:`FLUSH`). The waiting writers' flushes overlap and share the disk's
writes. An append still returns only once it is durable.

What a reader sees may then be a moment ahead of the disk: a commit is
visible once written, before its flush. So a reader makes what it read
durable before using it (:meth:`EarlyUnlockAppends.select_notifications`),
and a projection never holds an event that a crash of the server could take
back. The two kinds of recorder store the same log and refuse the same
appends (``tests/ledger/test_postgres_appends.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Notification, StoredEvent
from psycopg.sql import SQL, Identifier, Literal

from ledger.conditional_appends import Unchanged
from ledger.postgres_recorder import (
    LedgerPostgresApplicationRecorder,
    LedgerPostgresFactory,
    LedgerPostgresProcessRecorder,
    retried,
)

ASYNC_COMMIT = SQL("SET LOCAL synchronous_commit = off")

FLUSH = SQL("SELECT pg_logical_emit_message(true, 'ledger-flush', '')")
"""A transaction of its own that writes a WAL record (an empty logical
message, which needs no privilege and no ``wal_level = logical``), so its
commit, ``synchronous_commit`` being on, waits for the flush: the WAL is then
on disk up to it, with every commit written before it. A transaction that
only takes an id (``pg_current_xact_id()``) writes no record, and PostgreSQL
commits it without a flush: an append could be acknowledged and then lost to
a crash of the server (``tests/api/test_postgres_restart.py``)."""


class EarlyUnlockAppends:
    """Appends that commit before their flush, and reads made durable."""

    datastore: Any
    events_table_name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._durable_through = 0
        self._durable_lock = threading.Lock()
        self.released_early = 0
        """How many appends committed before their flush, another waiting."""
        self._later_statement = SQL(
            "SELECT originator_version, topic FROM {0}.{1} "
            "WHERE originator_id = %s AND originator_version > %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        self._waiting_statement = SQL(
            "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'relation' "
            "AND relation = {0}::regclass AND NOT granted) AS waiting"
        ).format(
            Literal(
                Identifier(self.datastore.schema, self.events_table_name).as_string()
            )
        )

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        unchanged: Unchanged = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        return self._append(stored_events, unchanged, **kwargs)

    @retried
    def _append(
        self, stored_events: Sequence[StoredEvent], unchanged: Unchanged, **kwargs: Any
    ) -> Sequence[int] | None:
        """Locks, inserts and checks in one round trip; commits in a second.

        The commit is synchronous, as the plain recorder's, unless another
        append is waiting for the lock: then it is written without waiting
        for the disk, letting the waiter in, and flushed afterwards.
        """
        recorder: Any = self
        ids: Sequence[int] | None = None
        failure: Exception | None = None
        with self.datastore.get_connection() as conn:
            with conn.pipeline() as pipeline:
                try:
                    with conn.transaction():
                        with conn.cursor() as curs:
                            recorder._insert_events(curs, stored_events, **kwargs)
                        inserted = conn.cursor()
                        if stored_events:
                            recorder._insert_stored_events(
                                inserted, stored_events, **kwargs
                            )
                        else:
                            recorder._lock_table(inserted)
                        later = [
                            conn.execute(self._later_statement, condition)
                            for condition in unchanged
                        ]
                        waiting = conn.execute(self._waiting_statement)
                        # Raises here a unique violation (someone appended
                        # first), rather than at the commit.
                        pipeline.sync()
                        if stored_events:
                            ids = recorder._fetch_ids_after_insert_events(
                                inserted, stored_events, **kwargs
                            )
                        for (originator_id, version), rows in zip(
                            unchanged, later, strict=True
                        ):
                            recorder.check_later_events(
                                originator_id,
                                version,
                                [(r["originator_version"], r["topic"]) for r in rows],
                            )
                        row = waiting.fetchone()
                        early = row is not None and row["waiting"]
                        if early:
                            conn.execute(ASYNC_COMMIT)
                    if early:
                        conn.execute(FLUSH)
                        self.released_early += 1
                except Exception as error:
                    # Raised once the pipeline has ended, as eventsourcing does.
                    failure = error
            if failure is not None:
                raise failure
        if ids:
            self._flushed_through(max(ids))
        return ids

    def _flushed_through(self, position: int) -> None:
        with self._durable_lock:
            self._durable_through = max(self._durable_through, position)

    def made_durable(self, position: int) -> None:
        """Returns once the log is on disk up to ``position``, which was read."""
        if position <= self._durable_through:
            return
        self._flush()
        self._flushed_through(position)

    @retried
    def _flush(self) -> None:
        with self.datastore.get_connection() as conn:
            conn.execute(FLUSH)

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """Events as eventsourcing's recorder reads them, durable once returned."""
        recorder: Any = super()
        notifications: Sequence[Notification] = recorder.select_notifications(
            start, limit, stop, topics, inclusive_of_start=inclusive_of_start
        )
        if notifications:
            self.made_durable(notifications[-1].id)
        return notifications


class EarlyUnlockApplicationRecorder(
    EarlyUnlockAppends, LedgerPostgresApplicationRecorder
):
    """The ledger's log on PostgreSQL, appended with the lock released early."""


class EarlyUnlockProcessRecorder(EarlyUnlockAppends, LedgerPostgresProcessRecorder):
    """A process application's log, appended with the lock released early."""


class EarlyUnlockPostgresFactory(LedgerPostgresFactory):
    """The ledger's PostgreSQL factory (what ``LEDGER_EVENT_STORE`` selects)."""

    application_recorder_class = EarlyUnlockApplicationRecorder
    process_recorder_class = EarlyUnlockProcessRecorder
