"""The read-model file's schema: every read model's tables, from the registry.

Two sqlite-utils migrations make a fresh file: the bare tables and views,
then the indexes queries read through (a rebuild bulk-loads bare tables and
indexes them once at the end, much faster than keeping indexes up to date
row by row). A read model can always be rebuilt from the log, so a schema
change is not migrated in place: the file records a fingerprint of the
schema it was made with, and a file made with another one asks for a rebuild
(:class:`SchemaChanged`).

Every table is keyed so that ``SELECT *`` ordered by its key is the same for
an incremental projection and a full rebuild: no rowids that depend on how
many times a row was replaced, no wall-clock values (times come from events).
"""

from __future__ import annotations

import hashlib
import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from projections import registry
from projections.engine import TRACKING, TRACKING_TABLE, tracked_position

__all__ = ["TRACKING", "SchemaChanged", "check", "migrate", "tracked_position"]

TRACKING_DDL = f"""
    CREATE TABLE {TRACKING_TABLE} (
        name TEXT PRIMARY KEY,
        position INTEGER NOT NULL
    ) WITHOUT ROWID"""

TABLES = registry.stored_tables()
VIEWS = [view for model in registry.READ_MODELS for view in model.views]
INDEXES = [index for table in TABLES for index in table.indexes]

KEYS = {TRACKING_TABLE: "name"} | {table.name: ", ".join(table.key) for table in TABLES}
"""Each table's ordering key: what makes ``SELECT *`` comparable row by row."""


def fingerprint() -> int:
    """A number that changes whenever any table, view or index does."""
    text = "\n".join([TRACKING_DDL, *(t.ddl for t in TABLES), *VIEWS, *INDEXES])
    digest = hashlib.sha256(" ".join(text.split()).encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1  # user_version is signed


FINGERPRINT = fingerprint()

migrations = Migrations("projections.readmodel")

INDEXES_MIGRATION = "m002_indexes"


class SchemaChanged(RuntimeError):
    """The file was made by another version of the read models: rebuild it."""


@migrations()
def m001_tables(db: Database) -> None:
    """The bare tables and views of every read model, and the tracking row."""
    db.execute(TRACKING_DDL)
    for table in TABLES:
        db.execute(table.ddl)
    for view in VIEWS:
        db.execute(view)
    db.execute(
        f"INSERT INTO {TRACKING_TABLE} (name, position) VALUES (?, 0)", [TRACKING]
    )
    db.execute(f"PRAGMA user_version = {FINGERPRINT}")


@migrations(name=INDEXES_MIGRATION)
def m002_indexes(db: Database) -> None:
    """The indexes queries read through; built last by a rebuild."""
    for index in INDEXES:
        db.execute(index)


def _database(conn: sqlite3.Connection) -> Database:
    return Database(conn, execute_plugins=False, recursive_triggers=False)


def check(conn: sqlite3.Connection) -> None:
    """Raises :class:`SchemaChanged` if the file was made with another schema."""
    made_with = conn.execute("PRAGMA user_version").fetchone()[0]
    if made_with == FINGERPRINT:
        return
    made = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = '_sqlite_migrations'"
    ).fetchone()[0]
    if made_with == 0 and not made:
        return  # a fresh file
    msg = (
        "the read models were built by another version of Verdict Ledger; "
        "run `ledger rebuild` to build them afresh from the log"
    )
    raise SchemaChanged(msg)


def migrate(conn: sqlite3.Connection, *, stop_before: str | None = None) -> None:
    """Makes a fresh file's schema, once, even with several processes opening.

    The check is lock-free; applying takes the write lock and checks again, so
    two workers starting together cannot both create the tables.

    Raises:
        SchemaChanged: If the file was made with another schema.
    """
    check(conn)
    db = _database(conn)
    if not migrations.pending(db):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        migrations.apply(db, stop_before=stop_before)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def is_migrated(conn: sqlite3.Connection) -> bool:
    """Whether every migration, indexes included, has been applied."""
    return not migrations.pending(_database(conn))
