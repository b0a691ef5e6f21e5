"""Person keys in PostgreSQL, beside the log, shared by every node.

The same keys as :class:`ledger.sqlite_keyring.SqliteKeyring` keeps in
``keys.sqlite``, in the table ``ledger_person_keys`` of the log's schema: a
key made on one node opens the data on every node, and a key destroyed on
any node is gone for all of them at their next read. After destroying a key
the table is rewritten (``VACUUM FULL``), so the destroyed key's bytes do
not linger in the table's dead rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg import sql

from ledger.personal_data import (
    KEY_BYTES,
    KeyringUnavailable,
    adopt_outcome,
    destroy_outcome,
    now_text,
)
from ledger.postgres_tables import Place

TABLE = "ledger_person_keys"
COLUMNS = (
    "person TEXT PRIMARY KEY, key BYTEA, created_at TEXT NOT NULL, "
    "erased_at TEXT, recorded INTEGER NOT NULL DEFAULT 0"
)
POOL_SIZE = 2


class PostgresKeyring:
    """Person keys in the table ``ledger_person_keys`` of the log's schema."""

    def __init__(self, place: Place) -> None:
        self._table = place.table(TABLE)
        self._pool = place.open_table(
            TABLE, COLUMNS, ("erased", "erased_at"), POOL_SIZE
        )

    def _q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(table=self._table)

    def key(self, person: str, *, create: bool) -> bytes | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                self._q("SELECT key FROM {table} WHERE person = %s"), (person,)
            ).fetchone()
            if row is not None and row[0] is not None:
                return bytes(row[0])
            if not create:
                return None
            conn.execute(
                self._q(
                    "INSERT INTO {table} AS k (person, key, created_at) "
                    "VALUES (%s, %s, %s) ON CONFLICT (person) DO UPDATE SET "
                    "key = excluded.key, created_at = excluded.created_at, "
                    "erased_at = NULL, recorded = 0 WHERE k.key IS NULL"
                ),
                (person, AESGCM.generate_key(KEY_BYTES * 8), now_text()),
            )
            row = conn.execute(
                self._q("SELECT key FROM {table} WHERE person = %s"), (person,)
            ).fetchone()
        assert row is not None, "the key was just made"
        key = row[0]
        assert key is not None, "the key was just made"
        return bytes(key)

    def keys(self, persons: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted(set(persons))
        try:
            with self._pool.connection() as conn:
                rows = conn.execute(
                    self._q(
                        "SELECT person, key FROM {table} "
                        "WHERE person = ANY(%s) AND key IS NOT NULL"
                    ),
                    (wanted,),
                ).fetchall()
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            raise KeyringUnavailable(str(error)) from error
        return {person: bytes(key) for person, key in rows}

    def erased(self, person: str) -> bool:
        with self._pool.connection() as conn:
            row = conn.execute(
                self._q("SELECT 1 FROM {table} WHERE person = %s AND key IS NULL"),
                (person,),
            ).fetchone()
        return row is not None

    def destroy(self, person: str) -> str:
        with self._pool.connection() as conn:
            with conn.transaction():
                row = conn.execute(
                    self._q(
                        "SELECT key, recorded FROM {table} WHERE person = %s FOR UPDATE"
                    ),
                    (person,),
                ).fetchone()
                outcome = destroy_outcome(*(row or (None, None)))
                if outcome == "destroyed":
                    conn.execute(
                        self._q(
                            "UPDATE {table} SET key = NULL, erased_at = %s, "
                            "recorded = 0 WHERE person = %s"
                        ),
                        (now_text(), person),
                    )
            if outcome == "destroyed":
                conn.execute(self._q("VACUUM FULL {table}"))
        return outcome

    def mark_recorded(self, person: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                self._q("UPDATE {table} SET recorded = 1 WHERE person = %s"),
                (person,),
            )

    def live_keys(self) -> list[tuple[str, bytes, str]]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                self._q(
                    "SELECT person, key, created_at FROM {table} "
                    "WHERE key IS NOT NULL ORDER BY person"
                )
            ).fetchall()
        return [(person, bytes(key), created_at) for person, key, created_at in rows]

    def adopt(self, person: str, key: bytes, created_at: str) -> str:
        with self._pool.connection() as conn:
            inserted = conn.execute(
                self._q(
                    "INSERT INTO {table} (person, key, created_at) "
                    "VALUES (%s, %s, %s) ON CONFLICT (person) DO NOTHING "
                    "RETURNING person"
                ),
                (person, key, created_at),
            ).fetchone()
            if inserted is not None:
                return adopt_outcome(None, key)
            row = conn.execute(
                self._q("SELECT key FROM {table} WHERE person = %s"), (person,)
            ).fetchone()
        return adopt_outcome(row, key)

    def close(self) -> None:
        self._pool.close()
