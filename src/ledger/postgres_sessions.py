"""Signed-in sessions in PostgreSQL, beside the log and its tokens.

The sessions :class:`ledger.sessions.SessionStore` keeps in ``auth.sqlite``,
in the table ``ledger_sessions`` of the log's schema, so a person signed in
through one node is signed in on every node, and signing out on one ends
the session everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from ledger.postgres_tables import Place
from ledger.sessions import SessionStoreBase

TABLE = "ledger_sessions"

COLUMNS = (
    "digest TEXT PRIMARY KEY, token_id TEXT NOT NULL, csrf_secret TEXT NOT NULL, "
    "created_at TEXT NOT NULL, seen_at TEXT NOT NULL, expires_at TEXT NOT NULL"
)
"""The columns of :class:`ledger.sessions.SessionStore`'s table."""

POOL_SIZE = 2
"""Connections one store (one worker process) holds at most."""


class PostgresSessionStore(SessionStoreBase):
    """Sessions in the table ``ledger_sessions`` of the log's schema.

    Thread-safe: a pool hands each statement a connection of its own.

    Args:
        place: The log's database and schema.
    """

    thread_safe = True
    remote = True

    def __init__(self, place: Place) -> None:
        self._table = place.table(TABLE)
        self._pool = place.open_table(
            TABLE, COLUMNS, ("by_expiry", "expires_at"), POOL_SIZE
        )

    def _sql(self, statement: str) -> sql.Composed:
        text = statement.replace("?", "%s").format(sessions="{sessions}")
        return sql.SQL(text).format(sessions=self._table)

    def _rows(self, statement: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            return conn.execute(self._sql(statement), args).fetchall()

    def _change(self, statement: str, args: Sequence[object]) -> int:
        with self._pool.connection() as conn:
            return conn.execute(self._sql(statement), args).rowcount

    def close(self) -> None:
        self._pool.close()
