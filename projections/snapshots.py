"""A read-model file as queries see it: a connection a thread, a snapshot a query.

Every answer is read inside one read transaction, so a comparison page's two
cards, split and tally come from the same moment of the log. Connections are
kept one per thread and reopened when a rebuild has swapped in a new
generation of the file. The paging helpers every list shares live here too.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.personal_data import Sealer, is_sealed
from projections import files, schema
from projections.models import (
    Page,
)

MAX_PAGE = 1000
"""The most items one page of any list holds."""


def stored_time(value: str) -> datetime:
    """A time as the read models store it, as a datetime."""
    return datetime.fromisoformat(value)


def first_page(items: list[Any], limit: int, key: Any) -> Page[Any]:
    """The first ``limit`` of ``items`` (read one more, to know if more follow)."""
    if len(items) <= limit:
        return Page(items=items)
    return Page(items=items[:limit], next=key(items[limit - 1]))


def page_size(limit: int) -> int:
    """``limit``, checked to be a page size."""
    if not 1 <= limit <= MAX_PAGE:
        msg = f"limit must be between 1 and {MAX_PAGE}, not {limit}"
        raise ValueError(msg)
    return limit


def cursor_position(after: int) -> int:
    """``after``, checked to be a log position a cursor can hold."""
    if not 0 <= after <= 2**62:
        msg = f"a cursor's position must be between 0 and 2**62, not {after}"
        raise ValueError(msg)
    return after


def every(
    page: Callable[[Any, int], Page[Any]],
    start: Any = 0,
    most: int | None = None,
) -> list[Any]:
    """The items of a list, read a page at a time from ``start``: all, or ``most``."""
    items: list[Any] = []
    after = start
    while most is None or len(items) < most:
        found = page(after, MAX_PAGE)
        items += found.items
        if found.next is None:
            break
        after = found.next
    return items if most is None else items[:most]


class ReadModelFile:
    """One node's read-model file, opened for queries.

    Thread-safe: each thread gets its own connection. After ``ledger
    rebuild`` swaps in a new generation, the next query of every thread
    reopens onto it.

    The read models hold personal data as stored, sealed
    (:mod:`ledger.personal_data`); queries open it as they answer, with
    ``sealer``, so a reader sees the clear text while its person's key lives
    and :data:`~ledger.personal_data.ERASED` from the moment it is destroyed.

    Args:
        path: The read-model file (see :func:`projections.files.readmodel_path`);
            created empty if nothing has projected into it yet.
        sealer: Opens the sealed text queries answer with; None leaves it
            sealed, as stored (for tools that copy or compare read models).
    """

    def __init__(self, path: Path, sealer: Sealer | None = None) -> None:
        self.path = Path(path)
        self.sealer = sealer
        self._local = threading.local()
        self._all: list[files.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._connection()

    def _connection(self) -> files.Connection:
        if self._closed:
            msg = "the read model is closed"
            raise RuntimeError(msg)
        conn: files.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not files.swapped(conn, self.path):
            return conn
        fresh = files.connect(self.path)
        schema.migrate(fresh)
        with self._lock:
            if conn is not None:
                self._all.remove(conn)
                conn.close()
            self._all.append(fresh)
        self._local.conn = fresh
        return fresh

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every SELECT inside sees the same commit."""
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _opened(self, rows: list[Any]) -> list[Any]:
        """``rows`` (tuples of columns) with their sealed text opened.

        One key lookup for all the rows, made per query and never kept: a
        key destroyed by any process of any node shows as erased at once.
        """
        if self.sealer is None or not any(
            is_sealed(value) for row in rows for value in row
        ):
            return rows
        opened = iter(self.sealer.unseal_all(value for row in rows for value in row))
        return [tuple(next(opened) for _ in row) for row in rows]

    def _opened_tree(self, value: Any) -> Any:
        """``value`` (decoded JSON) with its sealed text opened."""
        return value if self.sealer is None else self.sealer.unseal_tree(value)

    def close(self) -> None:
        """Closes every thread's connection; the read model is unusable after."""
        with self._lock:
            self._closed = True
            for conn in self._all:
                conn.close()
            self._all.clear()

    # Position.

    def position(self) -> int:
        """The log position every read model in the file reflects."""
        return schema.tracked_position(self._connection())

    def wait_for(self, position: int, timeout: float = 2.0) -> bool:
        """Waits, bounded, until the read models reflect ``position``.

        Polls the file, so it works in any process, whoever projects.

        Returns:
            Whether ``position`` was reached within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        pause = 0.002
        while self.position() < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)
        return True
