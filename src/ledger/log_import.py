"""Appending a checked log file to a store, every event at its own position.

Each event keeps the position it had in the store it was exported from: an
SQLite log takes it as the rowid, a PostgreSQL one as the notification id
(its sequence is moved past the last one afterwards). The leaves of the
tamper-evident chain hold the position, so a log moved this way gives the
same tree, and the checkpoints signed before the move still verify.

The whole file goes in as one transaction under the store's write lock
(SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's table lock that every append
takes), a batch of rows at a time: a refused target, a duplicate, a lost
connection or a file changed since it was checked leave the store as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from eventsourcing.persistence import ApplicationRecorder
from psycopg.sql import SQL, Identifier

from ledger.log_transfer import CheckedFile, batches, refuse_target
from ledger.postgres_recorder import LedgerPostgresApplicationRecorder
from ledger.sqlite_recorder import (
    LedgerSQLiteApplicationRecorder,
    LedgerSQLiteConnectionPool,
    persistence_errors,
)

Progress = Callable[[int], None]
"""Told the number of events appended so far, after each batch."""


def import_log(
    recorder: ApplicationRecorder,
    checked: CheckedFile,
    *,
    append: bool,
    batch_size: int,
    progress: Progress,
) -> int:
    """Appends the events of ``checked`` to the store of ``recorder``.

    Returns:
        The number of events appended.

    Raises:
        TransferError: The store does not take the file (see
            :func:`ledger.log_transfer.refuse_target`), or the file changed.
        eventsourcing.persistence.PersistenceError: The store refused a row
            (an aggregate version it already holds) or failed.
    """
    if isinstance(recorder, LedgerSQLiteApplicationRecorder):
        return _into_sqlite(recorder, checked, append, batch_size, progress)
    if isinstance(recorder, LedgerPostgresApplicationRecorder):
        return _into_postgres(recorder, checked, append, batch_size, progress)
    msg = f"cannot import into a {type(recorder).__name__}"
    raise TypeError(msg)


def _into_sqlite(
    recorder: LedgerSQLiteApplicationRecorder,
    checked: CheckedFile,
    append: bool,
    batch_size: int,
    progress: Progress,
) -> int:
    table = recorder.events_table_name
    insert = (
        f"INSERT INTO {table} "
        "(rowid, originator_id, originator_version, topic, state) "
        "VALUES (?, ?, ?, ?, ?)"
    )
    pool = cast(LedgerSQLiteConnectionPool, recorder.datastore.pool)
    count = 0
    with persistence_errors(), pool.appending() as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            (head,) = conn.execute(f"SELECT MAX(rowid) FROM {table}").fetchone()
            refuse_target(checked, head or 0, append=append)
            for batch in batches(checked, batch_size):
                conn.executemany(
                    insert,
                    [
                        (
                            r.position,
                            r.originator_id.hex,
                            r.originator_version,
                            r.topic,
                            r.state,
                        )
                        for r in batch
                    ],
                )
                count += len(batch)
                progress(count)
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            raise
    return count


def _into_postgres(
    recorder: LedgerPostgresApplicationRecorder,
    checked: CheckedFile,
    append: bool,
    batch_size: int,
    progress: Progress,
) -> int:
    datastore = recorder.datastore
    table = Identifier(datastore.schema, recorder.events_table_name)
    insert = SQL(
        "INSERT INTO {0} (originator_id, originator_version, topic, state, "
        "notification_id) VALUES (%s, %s, %s, %s, %s)"
    ).format(table)
    as_text = datastore.originator_id_type == "text"
    count, last = 0, 0
    with datastore.transaction(commit=True) as curs:
        for statement in recorder.lock_table_statements:
            curs.execute(statement)
        curs.execute(recorder.max_notification_id_statement)
        row: Any = curs.fetchone()
        refuse_target(checked, row["max"] or 0, append=append)
        for batch in batches(checked, batch_size):
            curs.executemany(
                insert,
                [
                    (
                        str(r.originator_id) if as_text else r.originator_id,
                        r.originator_version,
                        r.topic,
                        r.state,
                        r.position,
                    )
                    for r in batch
                ],
            )
            count += len(batch)
            last = batch[-1].position
            progress(count)
        if count:
            curs.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)",
                (table.as_string(curs), last),
            )
            # Followers listening for appends see these as they see any.
            curs.execute(SQL("NOTIFY {0}").format(Identifier(recorder.channel_name)))
    return count
