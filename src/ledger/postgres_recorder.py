"""The scale-out event store: eventsourcing's PostgreSQL recorders, made conditional.

Selected by :meth:`ledger.settings.Settings.eventsourcing_env` when the event
store is a ``postgresql://`` URL. Kept apart from :mod:`ledger.sqlite_recorder`
so that the embedded store never imports psycopg.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
)
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from ledger.conditional_appends import ConditionalAppends, Unchanged


class LedgerPostgresApplicationRecorder(
    ConditionalAppends, PostgresApplicationRecorder
):
    """PostgreSQL recorder with conditional appends.

    See :mod:`ledger.conditional_appends`. Appends are serialised by the
    table lock eventsourcing takes, so the check, made after the lock within
    the same transaction, is exact.
    """

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        unchanged: Unchanged = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        if not unchanged:
            return super().insert_events(stored_events, **kwargs)
        return self._insert_events_if_unchanged(stored_events, unchanged, **kwargs)

    # As eventsourcing's insert_events: a connection the server dropped
    # (a restart, a failover) fails the first statement, and a fresh one
    # from the pool succeeds.
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_events_if_unchanged(
        self, stored_events: Sequence[StoredEvent], unchanged: Unchanged, **kwargs: Any
    ) -> Sequence[int] | None:
        ids = None
        with self.datastore.transaction(commit=True) as curs:
            self._insert_events(curs, stored_events, **kwargs)  # e.g. tracking
            if stored_events:
                self._insert_stored_events(curs, stored_events, **kwargs)
                ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
            else:
                self._lock_table(curs)
            self._check_unchanged(curs, unchanged)
        return ids

    def _check_unchanged(self, curs: Cursor[DictRow], unchanged: Unchanged) -> None:
        statement = SQL(
            "SELECT originator_version, topic FROM {0}.{1} "
            "WHERE originator_id = %s AND originator_version > %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        for originator_id, version in unchanged:
            curs.execute(statement, (originator_id, version))
            later = [
                (row["originator_version"], row["topic"]) for row in curs.fetchall()
            ]
            self.check_later_events(originator_id, version, later)


class LedgerPostgresProcessRecorder(
    LedgerPostgresApplicationRecorder, PostgresProcessRecorder
):
    """The log of a process application: appends also record their tracking."""


class LedgerPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory with the ledger's event recorders.

    The aggregate recorder (snapshots) stays eventsourcing's: its table takes
    no lock on append, so a condition checked there would not be exact.
    """

    application_recorder_class = LedgerPostgresApplicationRecorder
    process_recorder_class = LedgerPostgresProcessRecorder
