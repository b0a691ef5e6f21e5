"""PostgreSQL appends in one round trip, letting a waiting writer in before the disk.

eventsourcing's recorder takes ``LOCK TABLE … IN EXCLUSIVE MODE`` to append,
so that positions are committed in the order they are issued and a reader
never passes a gap that is filled later. A table lock lasts until the
transaction ends, and a synchronous commit ends only when its WAL flush has
returned: appends take turns for a flush each, and PostgreSQL's group commit
never gets two of them to share one. The plain recorders
(:mod:`ledger.postgres_recorder`) append that way, in several round trips
with the lock held across them, so a writer that waits for a core holds up
every other.

The recorders here append with one statement, a call of the server function
:data:`APPEND_FUNCTION`, which locks, notifies, inserts, checks the
conditions (:mod:`ledger.conditional_appends`) and then asks whether another
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
import uuid
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import DatabaseError, Notification, StoredEvent
from psycopg.sql import SQL, Identifier, Literal

from ledger.conditional_appends import DependencyChanged, Unchanged
from ledger.postgres_recorder import (
    LedgerPostgresApplicationRecorder,
    LedgerPostgresFactory,
    LedgerPostgresProcessRecorder,
    retried,
)

CHANGED = "LD409"
"""The SQLSTATE :data:`APPEND_FUNCTION` raises when a condition fails; its
detail is ``"<aggregate id> <expected version> <decisive version>"``."""

APPEND_FUNCTION = SQL(
    """CREATE OR REPLACE FUNCTION {schema}.{function}(
    events {schema}.{event_type}[], dependencies uuid[], versions bigint[],
    decisive text[], lock_timeout text, OUT ids bigint[], OUT released boolean)
LANGUAGE plpgsql AS $BODY$
DECLARE
    moved bigint;
BEGIN
    PERFORM set_config('lock_timeout', lock_timeout, true);
    LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;
    NOTIFY {channel};
    WITH inserted AS (
        INSERT INTO {schema}.{table}
            (originator_id, originator_version, topic, state)
        SELECT originator_id, originator_version, topic, state FROM unnest(events)
        RETURNING notification_id)
    SELECT array_agg(notification_id ORDER BY notification_id) INTO ids
    FROM inserted;
    FOR i IN 1 .. coalesce(cardinality(dependencies), 0) LOOP
        SELECT min(originator_version) INTO moved FROM {schema}.{table}
        WHERE originator_id = dependencies[i] AND originator_version > versions[i]
            AND (cardinality(decisive) = 0 OR topic = ANY(decisive));
        IF moved IS NOT NULL THEN
            RAISE EXCEPTION 'a dependency changed' USING ERRCODE = {changed},
                DETAIL = dependencies[i]::text || ' ' || versions[i] || ' ' || moved;
        END IF;
    END LOOP;
    released := EXISTS (SELECT FROM pg_locks WHERE locktype = 'relation'
        AND relation = {table_name}::regclass AND NOT granted);
    IF released THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
END
$BODY$"""
)
"""The append, whole, on the server: nothing waits for the client while the
table is locked. Later events of a dependency count when their topic is in
``decisive``, or any when it is empty, as
:meth:`ledger.conditional_appends.ConditionalAppends.check_later_events`
decides."""

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
    channel_name: str
    stored_event_type_name: str
    sql_create_statements: list[Any]
    decisive_topics: frozenset[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._durable_through = 0
        self._durable_lock = threading.Lock()
        self.released_early = 0
        """How many appends committed before their flush, another waiting."""
        schema = Identifier(self.datastore.schema)
        function = Identifier(f"ledger_append_{self.events_table_name}")
        self.sql_create_statements.append(
            APPEND_FUNCTION.format(
                schema=schema,
                function=function,
                event_type=Identifier(self.stored_event_type_name),
                table=Identifier(self.events_table_name),
                channel=Identifier(self.channel_name),
                changed=Literal(CHANGED),
                table_name=Literal(
                    Identifier(
                        self.datastore.schema, self.events_table_name
                    ).as_string()
                ),
            )
        )
        self._append_statement = SQL(
            "SELECT ids, released FROM {0}.{1}(%s, %s, %s, %s, %s)"
        ).format(schema, function)

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        unchanged: Unchanged = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        tracking = kwargs.get("tracking")
        if not stored_events and not unchanged and tracking is None:
            return None
        try:
            ids = self._append(stored_events, unchanged, **kwargs)
        except DatabaseError as error:
            cause = getattr(error.__cause__, "diag", None)
            if cause is None or cause.sqlstate != CHANGED:
                raise
            originator, expected, actual = str(cause.message_detail).split()
            raise DependencyChanged(
                uuid.UUID(originator), int(expected), int(actual)
            ) from None
        if not ids:
            return None
        self._flushed_through(max(ids))
        return ids

    @retried
    def _append(
        self, stored_events: Sequence[StoredEvent], unchanged: Unchanged, **kwargs: Any
    ) -> list[int] | None:
        """Calls the append function; flushes after it if it let another in.

        A process application's tracking record goes in the same transaction,
        before the call.
        """
        recorder: Any = self
        params = (
            [
                recorder.construct_pg_stored_event(
                    event.originator_id,
                    event.originator_version,
                    event.topic,
                    event.state,
                )
                for event in stored_events
            ],
            [originator_id for originator_id, _ in unchanged],
            [version for _, version in unchanged],
            sorted(self.decisive_topics),
            f"{self.datastore.lock_timeout}s",
        )
        with self.datastore.get_connection() as conn:
            if kwargs.get("tracking") is None:
                row = conn.execute(
                    self._append_statement, params, prepare=True
                ).fetchone()
            else:
                with conn.transaction(), conn.cursor() as curs:
                    recorder._insert_events(curs, stored_events, **kwargs)
                    curs.execute(self._append_statement, params, prepare=True)
                    row = curs.fetchone()
            assert row is not None
            if row["released"]:
                conn.execute(FLUSH)
                self.released_early += 1
        return row["ids"]

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
