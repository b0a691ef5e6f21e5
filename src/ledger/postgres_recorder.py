"""The scale-out event store: eventsourcing's PostgreSQL recorders, made conditional.

Selected by :meth:`ledger.settings.Settings.eventsourcing_env` when the event
store is a ``postgresql://`` URL. Kept apart from :mod:`ledger.sqlite_recorder`
so that the embedded store never imports psycopg.

With the server out of reach a statement fails within about
``LEDGER_LOCK_TIMEOUT`` (:func:`retried`), for the API to answer 503, and
the pool connects again within seconds of the server coming back
(:data:`RECONNECT_SECONDS`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresProcessRecorder,
)
from eventsourcing.utils import Environment, EnvType
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier
from psycopg_pool import PoolTimeout

from ledger.conditional_appends import ConditionalAppends, Unchanged
from ledger.postgres_tables import tables_lock

F = TypeVar("F", bound=Callable[..., Any])

RECONNECT_SECONDS = 5.0
"""How long the pool retries a lost connection before it connects afresh on
demand: about the longest a node stays unable to write after PostgreSQL is
back."""

RETRY_SECONDS = 2.0
"""How long a statement is retried on fresh connections after its own failed.

About what eventsourcing's ten retries 0.2 s apart give: enough to get past
connections a restart or a failover dropped."""


def undecorated(method: Any) -> Any:
    """An eventsourcing method without its ``@retry`` (kept by functools.wraps)."""
    return method.__wrapped__


def retried(once: F) -> F:
    """``once``, retried as long as retrying can help.

    eventsourcing retries every statement ten times on any connection error,
    each try waiting up to the pool's timeout for a connection: with the
    server down, one read took minutes. A connection that broke (a restart
    dropped it) is worth retrying on a fresh one, for up to
    :data:`RETRY_SECONDS`; a pool that had no connection to give within its
    timeout (``POSTGRES_CONNECT_TIMEOUT``, which the ledger sets to
    ``LEDGER_LOCK_TIMEOUT``) means the server is out of reach, and the
    error is raised at once, for the API to answer 503.
    """

    @functools.wraps(once)
    def call(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                return once(*args, **kwargs)
            except (InterfaceError, OperationalError) as error:
                if (
                    isinstance(error.__cause__, PoolTimeout)
                    or time.monotonic() >= deadline
                ):
                    raise
            time.sleep(0.2)

    return call  # type: ignore[return-value]


class TablesCreatedInTurn:
    """Creates a recorder's tables and types holding a lock of its schema.

    eventsourcing's ``CREATE TYPE`` and ``CREATE TABLE IF NOT EXISTS`` fail
    when run by two connections at once (see :func:`tables_lock`).
    """

    datastore: PostgresDatastore

    def create_table(self) -> None:
        with (
            self.datastore.get_connection() as conn,
            tables_lock(conn, self.datastore.schema),
        ):
            super().create_table()  # type: ignore[misc]


class LedgerPostgresAggregateRecorder(TablesCreatedInTurn, PostgresAggregateRecorder):
    """eventsourcing's snapshot recorder, its tables created in turn."""


class LedgerPostgresApplicationRecorder(
    TablesCreatedInTurn, ConditionalAppends, PostgresApplicationRecorder
):
    """PostgreSQL recorder with conditional appends.

    See :mod:`ledger.conditional_appends`. Appends are serialised by the
    table lock eventsourcing takes, so the check, made after the lock within
    the same transaction, is exact.
    """

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        # eventsourcing names the NOTIFY channel after the table alone, but
        # channels are per database: logs in other schemas would wake this
        # log's listeners (projections.log_listener) for nothing.
        self.channel_name = f"{datastore.schema}_{self.channel_name}"

    select_events = retried(undecorated(PostgresApplicationRecorder.select_events))
    select_notifications = retried(
        undecorated(PostgresApplicationRecorder.select_notifications)
    )
    max_notification_id = retried(
        undecorated(PostgresApplicationRecorder.max_notification_id)
    )
    _insert_events_unconditionally = retried(
        undecorated(PostgresApplicationRecorder.insert_events)
    )

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        unchanged: Unchanged = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        if not unchanged:
            return self._insert_events_unconditionally(stored_events, **kwargs)
        return self._insert_events_if_unchanged(stored_events, unchanged, **kwargs)

    @retried
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

    The aggregate recorder (snapshots) appends as eventsourcing's does: its
    table takes no lock on append, so a condition checked there would not be
    exact. Every recorder creates its tables in turn (:class:`TablesCreatedInTurn`).
    """

    aggregate_recorder_class = LedgerPostgresAggregateRecorder
    application_recorder_class = LedgerPostgresApplicationRecorder
    process_recorder_class = LedgerPostgresProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # psycopg_pool retries a lost connection with a growing back-off for
        # five minutes before it connects on demand again, so a node could
        # stay unable to write that long after the server came back.
        self.datastore.pool.reconnect_timeout = RECONNECT_SECONDS
