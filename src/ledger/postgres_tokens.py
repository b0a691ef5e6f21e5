"""API tokens in PostgreSQL, beside the event log, shared by every node.

The same tokens as :class:`ledger.sqlite_tokens.TokenStore` keeps in ``auth.sqlite``
(the same digests, roles, expiry, revocation and last use, by the same code
in :class:`ledger.auth.TokenStoreBase`), in the table ``ledger_tokens`` of
the log's schema. A token issued on one node works on every node, and one
revoked on any node is refused by all from their next request on, since
every check reads the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from ledger.auth import INSERT_TOKEN, TokenStoreBase
from ledger.postgres_tables import Place

TABLE = "ledger_tokens"

COLUMNS = (
    "seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, digest TEXT NOT NULL, "
    "role TEXT NOT NULL, reviewer TEXT, created_at TEXT NOT NULL, "
    "expires_at TEXT, last_used_at TEXT, revoked_at TEXT"
)
"""The columns of the SQLite store's table
(:class:`ledger.sqlite_tokens.TokenStore`); ``seq`` orders them."""

POOL_SIZE = 4
"""Connections one store (one worker process) holds at most."""


class PostgresTokenStore(TokenStoreBase):
    """Hashed tokens in the table ``ledger_tokens`` of the log's schema.

    Thread-safe: a pool hands each statement a connection of its own, so one
    store serves every thread of a worker.

    Args:
        place: The log's database and schema.
        secret: The server secret that keys the digests (the same on every
            node, copied with ``secret.key``).
    """

    thread_safe = True
    remote = True
    busy = (psycopg.OperationalError,)

    def __init__(self, place: Place, secret: bytes) -> None:
        super().__init__(secret)
        self._table = place.table(TABLE)
        self._pool = place.open_table(
            TABLE, COLUMNS, ("by_role", "role, seq"), POOL_SIZE
        )

    def _sql(self, statement: str) -> sql.Composed:
        # The shared statements use ? placeholders; psycopg takes %s.
        text = statement.replace("?", "%s").format(tokens="{tokens}", seq="seq")
        return sql.SQL(text).format(tokens=self._table)

    def _rows(self, statement: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            return conn.execute(self._sql(statement), args).fetchall()

    def _change(self, statement: str, args: Sequence[object]) -> int:
        with self._pool.connection() as conn:
            return conn.execute(self._sql(statement), args).rowcount

    def _insert(self, values: Sequence[object]) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(
                self._sql(INSERT_TOKEN + " RETURNING seq"), values
            ).fetchone()
        assert row is not None, "INSERT ... RETURNING returns the row"
        seq: int = row[0]
        return seq

    def close(self) -> None:
        self._pool.close()
