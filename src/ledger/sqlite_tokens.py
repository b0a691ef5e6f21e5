"""The embedded store's tokens: a small SQLite file, ``auth.sqlite``, in the home.

What a token store does is in :class:`ledger.auth.TokenStoreBase`; this is
where the embedded store keeps the table, and how an older file's schema is
brought up to date. Beside a PostgreSQL log the same table lives in the
database (:mod:`ledger.postgres_tokens`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from ledger.auth import INSERT_TOKEN, TokenStoreBase

SCHEMA_VERSION = 1
"""``PRAGMA user_version`` of the current schema; 0 is the first one."""

CREATE = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    role TEXT NOT NULL,
    reviewer TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)"""
# What each schema version adds to the one before; version 1 lets tokens
# expire and remember their last use. Existing rows never expire.
MIGRATIONS = {
    1: (
        "ALTER TABLE tokens ADD COLUMN expires_at TEXT",
        "ALTER TABLE tokens ADD COLUMN last_used_at TEXT",
        "CREATE INDEX IF NOT EXISTS tokens_by_role ON tokens (role)",
    ),
}


class TokenStore(TokenStoreBase):
    """Hashed tokens in a small SQLite file beside the embedded event store.

    Opening the store brings an older file's schema up to date in one
    write transaction, keeping every token it holds working. A connection
    belongs to the thread that opened it, so each thread opens its own.
    """

    busy = (sqlite3.OperationalError,)

    def __init__(self, path: Path, secret: bytes) -> None:
        super().__init__(secret)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite_utils.Database(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._migrate()

    def _migrate(self) -> None:
        conn = self._db.conn
        if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        # Several workers may open the file at once: the first to take the
        # write lock migrates, the others then find the version current.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute(CREATE)
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def _sql(self, statement: str) -> str:
        return statement.format(tokens="tokens", seq="rowid")

    def _rows(self, statement: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        # A plain indexed SELECT: sqlite-utils' Table.get re-reads the schema
        # on every call, which costs more than a token check itself.
        return self._db.execute(self._sql(statement), list(args)).fetchall()

    def _change(self, statement: str, args: Sequence[object]) -> int:
        with self._db.conn:
            return self._db.execute(self._sql(statement), list(args)).rowcount

    def _insert(self, values: Sequence[object]) -> int:
        with self._db.conn:
            cursor = self._db.execute(
                INSERT_TOKEN.format(tokens="tokens"), list(values)
            )
        seq = cursor.lastrowid
        assert seq is not None, "an INSERT into a rowid table sets it"
        return seq

    def close(self) -> None:
        self._db.close()
