"""The API's own small state: idempotency keys and rate-limit windows.

Both live in one SQLite file in ``LEDGER_HOME`` (``api.sqlite``), so every
worker process of a node shares them: a retried POST that lands on another
worker still replays, and a client cannot multiply its voter-token allowance
by the number of workers. Nothing here is part of the ledger; deleting the
file loses only remembered keys and windows.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created REAL NOT NULL,
    status INTEGER,
    body BLOB,
    headers TEXT,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created);
CREATE TABLE IF NOT EXISTS rate (
    bucket TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to an idempotent request, kept for replays."""

    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Claim:
    """What :meth:`ApiStore.claim` found for an idempotency key.

    Exactly one of ``claimed`` (this request runs the command), ``replay``
    (an earlier request finished; answer the same), ``in_flight`` (an earlier
    request is still running) and ``mismatch`` (the key was used for a
    different request) is set.
    """

    claimed: bool = False
    replay: StoredResponse | None = None
    in_flight: bool = False
    mismatch: bool = False


class ApiStore:
    """Idempotency keys with a TTL, and fixed-window rate counters.

    Args:
        path: The SQLite file; created if missing.
        idempotency_ttl: Seconds a key is remembered after first use.
    """

    def __init__(self, path: Path, idempotency_ttl: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._ttl = idempotency_ttl
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, timeout=10, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._last_purge = 0.0

    def _purge(self, now: float) -> None:
        if now - self._last_purge < 60:
            return
        self._last_purge = now
        self._db.execute(
            "DELETE FROM idempotency WHERE created < ?", (now - self._ttl,)
        )

    def claim(self, scope: str, key: str, fingerprint: str) -> Claim:
        """Claims ``key`` for a request, or says why it cannot run again."""
        now = time.time()
        with self._lock:
            self._purge(now)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT fingerprint, created, status, body, headers "
                    "FROM idempotency WHERE scope = ? AND key = ?",
                    (scope, key),
                ).fetchone()
                if row is not None and row[1] < now - self._ttl:
                    self._db.execute(
                        "DELETE FROM idempotency WHERE scope = ? AND key = ?",
                        (scope, key),
                    )
                    row = None
                if row is None:
                    self._db.execute(
                        "INSERT INTO idempotency (scope, key, fingerprint, created) "
                        "VALUES (?, ?, ?, ?)",
                        (scope, key, fingerprint, now),
                    )
                    self._db.execute("COMMIT")
                    return Claim(claimed=True)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        stored_fingerprint, _, status, body, headers = row
        if stored_fingerprint != fingerprint:
            return Claim(mismatch=True)
        if status is None:
            return Claim(in_flight=True)
        return Claim(
            replay=StoredResponse(status, bytes(body), msgspec.json.decode(headers))
        )

    def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        """Records the answer of a claimed request for later replays."""
        with self._lock:
            self._db.execute(
                "UPDATE idempotency SET status = ?, body = ?, headers = ? "
                "WHERE scope = ? AND key = ?",
                (
                    response.status,
                    response.body,
                    msgspec.json.encode(response.headers).decode(),
                    scope,
                    key,
                ),
            )

    def release(self, scope: str, key: str) -> None:
        """Forgets a claim whose request failed, so a corrected retry can run."""
        with self._lock:
            self._db.execute(
                "DELETE FROM idempotency "
                "WHERE scope = ? AND key = ? AND status IS NULL",
                (scope, key),
            )

    def hit(self, bucket: str, limit: int, window: int) -> float | None:
        """Counts one request in ``bucket``'s current window.

        Returns:
            None if the request is within ``limit`` for the window, else the
            seconds until the window resets (for ``Retry-After``).
        """
        now = time.time()
        start = int(now // window * window)
        with self._lock:
            row: Any = self._db.execute(
                "INSERT INTO rate (bucket, window_start, count) VALUES (?, ?, 1) "
                "ON CONFLICT (bucket) DO UPDATE SET "
                "count = CASE WHEN window_start = excluded.window_start "
                "THEN count + 1 ELSE 1 END, "
                "window_start = excluded.window_start "
                "RETURNING count",
                (bucket, start),
            ).fetchone()
        if row[0] <= limit:
            return None
        return max(start + window - now, 0.0)

    def close(self) -> None:
        with self._lock:
            self._db.close()
