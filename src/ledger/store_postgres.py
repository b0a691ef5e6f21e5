"""Conditional appends on PostgreSQL (see :mod:`ledger.store`).

Selected by :meth:`ledger.settings.Settings.eventsourcing_env` with
``APPLICATION_RECORDER_TOPIC`` when the event store is a ``postgresql://`` URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from ledger.store import ConditionalAppends, Unchanged


class LedgerPostgresApplicationRecorder(
    ConditionalAppends, PostgresApplicationRecorder
):
    """PostgreSQL recorder with conditional appends.

    Appends are serialised by the table lock eventsourcing takes, so the
    check, made after the lock within the same transaction, is exact.
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
        with self.datastore.transaction(commit=True) as curs:
            self._insert_stored_events(curs, stored_events, **kwargs)
            ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
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
