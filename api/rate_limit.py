"""Fixed-window rate limits that hold across a node's worker processes.

The counters live in the node's ``api.sqlite`` in ``LEDGER_HOME``, so a
client cannot multiply its allowance (of voter tokens, say) by the number of
workers. Deleting the file only resets the windows.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rate (
    bucket TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL
);
"""


class RateLimiter:
    """Counts requests per bucket in fixed windows.

    Args:
        path: The SQLite file; created if missing.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, timeout=10, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def hit(self, bucket: str, limit: int, window: int) -> int | None:
        """Counts one request in ``bucket``'s current window.

        Returns:
            None while the window has seen at most ``limit`` requests, else
            the whole seconds until it resets (for ``Retry-After``, at least 1).
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
        return max(1, math.ceil(start + window - now))

    def close(self) -> None:
        with self._lock:
            self._db.close()
