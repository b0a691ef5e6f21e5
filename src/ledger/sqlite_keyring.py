"""Person keys in ``keys.sqlite`` of the ledger's home, beside the embedded store.

The keys :mod:`ledger.personal_data` seals with, one row per person; a
destroyed key leaves a tombstone row (no key, and whether its erasure was
recorded). :mod:`ledger.postgres_keyring` keeps the same rows beside a
PostgreSQL log.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.personal_data import (
    KEY_BYTES,
    adopt_outcome,
    destroy_outcome,
    now_text,
)

KEYS_DDL = (
    "CREATE TABLE IF NOT EXISTS person_keys ("
    "person TEXT PRIMARY KEY, key BLOB, created_at TEXT NOT NULL, "
    "erased_at TEXT, recorded INTEGER NOT NULL DEFAULT 0)"
)


class SqliteKeyring:
    """Person keys in ``keys.sqlite`` of the ledger's home.

    ``secure_delete`` overwrites a destroyed key's bytes in the file, and the
    rollback journal (not WAL) is deleted after each commit, so no copy of a
    destroyed key is left in a file of the home. Each thread opens its own
    connection.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Only the ledger's user reads the keys (SQLite's journal takes the
        # file's mode); made so before SQLite creates the file.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.path = path
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute(KEYS_DDL)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def key(self, person: str, *, create: bool) -> bytes | None:
        conn = self._conn()
        row = conn.execute(
            "SELECT key FROM person_keys WHERE person = ?", (person,)
        ).fetchone()
        if row is not None and row[0] is not None:
            return bytes(row[0])
        if not create:
            return None
        with conn:
            conn.execute(
                "INSERT INTO person_keys (person, key, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (person) DO UPDATE SET key = excluded.key, "
                "created_at = excluded.created_at, erased_at = NULL, recorded = 0 "
                "WHERE person_keys.key IS NULL",
                (person, AESGCM.generate_key(KEY_BYTES * 8), now_text()),
            )
        return self.key(person, create=False)

    def keys(self, persons: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted(set(persons))
        found: dict[str, bytes] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for person, key in self._conn().execute(
                f"SELECT person, key FROM person_keys WHERE person IN ({marks}) "
                "AND key IS NOT NULL",
                chunk,
            ):
                found[person] = bytes(key)
        return found

    def erased(self, person: str) -> bool:
        row = (
            self._conn()
            .execute(
                "SELECT 1 FROM person_keys WHERE person = ? AND key IS NULL", (person,)
            )
            .fetchone()
        )
        return row is not None

    def destroy(self, person: str) -> str:
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT key, recorded FROM person_keys WHERE person = ?", (person,)
            ).fetchone()
            outcome = destroy_outcome(*(row or (None, None)))
            if outcome == "destroyed":
                conn.execute(
                    "UPDATE person_keys SET key = NULL, erased_at = ?, recorded = 0 "
                    "WHERE person = ?",
                    (now_text(), person),
                )
        return outcome

    def mark_recorded(self, person: str) -> None:
        with self._conn() as conn:
            conn.execute(
                "UPDATE person_keys SET recorded = 1 WHERE person = ?", (person,)
            )

    def live_keys(self) -> list[tuple[str, bytes, str]]:
        rows = self._conn().execute(
            "SELECT person, key, created_at FROM person_keys "
            "WHERE key IS NOT NULL ORDER BY person"
        )
        return [(person, bytes(key), created_at) for person, key, created_at in rows]

    def adopt(self, person: str, key: bytes, created_at: str) -> str:
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT key FROM person_keys WHERE person = ?", (person,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO person_keys (person, key, created_at) "
                    "VALUES (?, ?, ?)",
                    (person, key, created_at),
                )
        return adopt_outcome(row, key)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
