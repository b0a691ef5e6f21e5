"""Tables of the ledger's own beside the PostgreSQL event log.

With a PostgreSQL event store, what every node must agree on besides the log
(API tokens, idempotency keys) lives in the same database and schema as the
log, so a node finds what another node wrote. This module says where that
is, opens pools of connections to it, and creates tables there in turn with
the log's own tables and the node registry's (one lock per schema,
:func:`tables_lock`), since nodes starting together would otherwise race in
PostgreSQL's catalogue.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from ledger.settings import Settings

RECONNECT_SECONDS = 5.0
"""How long a pool retries a lost connection before connecting on demand."""


@dataclass(frozen=True)
class Place:
    """Where the shared tables live: the log's database and schema.

    Attributes:
        url: The ``postgresql://`` URL of ``LEDGER_EVENT_STORE``.
        schema: ``POSTGRES_SCHEMA``, as the log's recorder reads it.
        timeout: Seconds to wait for a connection (``LEDGER_LOCK_TIMEOUT``).
    """

    url: str
    schema: str
    timeout: float

    @classmethod
    def of(cls, settings: Settings, env: Mapping[str, str] | None = None) -> Place:
        """The place of ``settings``' PostgreSQL event store.

        Args:
            settings: Settings whose event store is a PostgreSQL URL.
            env: What the ledger was given besides the process environment
                (the schema, in tests); it wins, as it does for the log.
        """
        assert settings.event_store is not None, "only for a PostgreSQL store"
        merged = {**os.environ, **(env or {})}
        schema = merged.get("POSTGRES_SCHEMA", "").strip() or "public"
        return cls(settings.event_store, schema, float(settings.lock_timeout or 10))

    def table(self, name: str) -> sql.Composed:
        """``schema.name``, quoted."""
        return sql.SQL("{}.{}").format(
            sql.Identifier(self.schema), sql.Identifier(name)
        )

    def pool(
        self,
        max_size: int,
    ) -> ConnectionPool:
        """A pool of autocommit connections, each checked before it is handed out.

        A connection that a restart or an outage broke is replaced rather
        than failing the request that took it; with the server out of reach
        a caller waits :attr:`timeout` and gets an error the API answers 503.
        """
        connect = int(max(self.timeout, 1))
        return ConnectionPool(
            self.url,
            min_size=1,
            max_size=max_size,
            timeout=self.timeout,
            reconnect_timeout=RECONNECT_SECONDS,
            check=ConnectionPool.check_connection,
            kwargs={"autocommit": True, "connect_timeout": connect},
            name=f"ledger-{self.schema}",
            open=True,
        )

    def open_table(
        self, name: str, columns: str, index: tuple[str, str], max_size: int
    ) -> ConnectionPool:
        """A pool of connections for the table ``name``, created if it is missing.

        Args:
            name: The table, in :attr:`schema`.
            columns: Its columns and constraints, as ``CREATE TABLE`` takes them.
            index: The suffix of its one index's name, and the indexed columns.
            max_size: Connections the pool opens at most.
        """
        table = self.table(name)
        statements = [
            sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                table, sql.SQL(columns)
            ),
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                sql.Identifier(f"{name}_{index[0]}"), table, sql.SQL(index[1])
            ),
        ]
        pool = self.pool(max_size)
        try:
            with pool.connection() as conn:
                self._create_in_turn(conn, statements)
        except BaseException:
            pool.close()
            raise
        return pool

    def _create_in_turn(
        self, conn: psycopg.Connection, statements: Sequence[sql.Composed]
    ) -> None:
        """Runs ``statements`` (``CREATE … IF NOT EXISTS``) under the schema lock."""
        with tables_lock(conn, self.schema), conn.transaction():
            for statement in statements:
                conn.execute(statement)


@contextmanager
def tables_lock(conn: psycopg.Connection[Any], schema: str) -> Iterator[None]:
    """Holds the lock under which tables of ``schema`` are created, one at a time.

    ``CREATE TABLE IF NOT EXISTS`` is not safe against itself: nodes (or
    workers) creating one table at the same moment fail with a duplicate key
    in PostgreSQL's catalogue. A session advisory lock named after the
    schema makes them take turns; whoever comes second finds the table made.
    """
    key = f"{schema}.ledger-tables"
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
