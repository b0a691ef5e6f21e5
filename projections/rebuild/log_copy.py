"""A PostgreSQL log copied into a scratch SQLite file, for the bulk rebuild.

The bulk rebuild's two helper processes read the log as an SQLite file with
SQL of their own (:mod:`~projections.rebuild.fold_process`,
:mod:`~projections.rebuild.set_loader`). A log in PostgreSQL is copied into
a file of the same shape as the embedded store's (its rowid the position,
its aggregate ids in hex) with one ordered scan on a server-side cursor, so
a large rebuild from PostgreSQL takes the same path as one from SQLite. The
copy exists only to make that rebuild fast: the plain path, one process
reading the log through the recorder (:class:`projections.source.LogSource`),
gives the same read models (``tests/projections/test_rebuild_bulk.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from projections import files
from projections.rebuild import scratch

TABLE = "stored_events"
"""The copy's events table, named as the embedded store names its own."""

FETCH = 20_000
"""Rows per fetch from the server and per insert into the copy."""


def copyable(recorder: Any) -> bool:
    """Whether ``recorder`` keeps its log in PostgreSQL, where it can be copied."""
    datastore = getattr(recorder, "datastore", None)
    return hasattr(datastore, "schema") and hasattr(recorder, "events_table_name")


def copy_log(recorder: Any, path: Path, stop: int) -> tuple[str, str]:
    """Copies the log up to position ``stop`` into a new SQLite file at ``path``.

    Args:
        recorder: eventsourcing's PostgreSQL application recorder of the log.
        path: Where the copy goes; a file there is replaced.
        stop: The last position copied.

    Returns:
        The copy's file and events table, as ``LogSource.sqlite_file`` gives
        them for the embedded store.
    """
    files.discard(path)
    made_durable = getattr(recorder, "made_durable", None)
    if made_durable is not None:  # see ledger.postgres_appends
        made_durable(stop)
    select = SQL(
        "SELECT notification_id, replace(originator_id::text, '-', ''), "
        "originator_version, topic, state FROM {0}.{1} "
        "WHERE notification_id <= %s ORDER BY notification_id"
    ).format(
        Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
    )
    copy = scratch.connect(path)
    try:
        copy.execute(
            f"CREATE TABLE {TABLE} (originator_id TEXT, originator_version INTEGER, "
            "topic TEXT, state BLOB)"
        )
        insert = (
            f"INSERT INTO {TABLE} (rowid, originator_id, originator_version, "
            "topic, state) VALUES (?, ?, ?, ?, ?)"
        )
        with (
            recorder.datastore.get_connection() as pg,
            pg.transaction(),
            pg.cursor("ledger_log_copy", row_factory=tuple_row) as rows,
        ):
            rows.execute(select, (stop,))
            copy.execute("BEGIN")
            while batch := rows.fetchmany(FETCH):
                copy.executemany(insert, batch)
            copy.execute("COMMIT")
        # The embedded store's primary key, which the fold reads aggregates by.
        scratch.index(
            copy,
            [
                f"CREATE UNIQUE INDEX {TABLE}_by_aggregate "
                f"ON {TABLE} (originator_id, originator_version)"
            ],
            alone=True,
        )
    except BaseException:
        copy.close()
        files.discard(path)
        raise
    copy.close()
    return str(path), TABLE
