"""Connections for files that nobody reads until a rebuild is done with them.

A rebuild writes a new generation (and a scratch file) that no reader sees
before the swap, so there is nothing to protect while loading: no journal, no
syncs, and a failed build is deleted whole. Loading appends, so a small page
cache does; sorting for indexes spills to temporary files past it rather than
growing memory (and small sorting runs stay in the processor's caches).

The fold of a large SQLite log runs through APSW (see
:mod:`projections.rebuild.fold_process`), whose bundled SQLite is newer and
reads the log faster than Python's ``sqlite3`` (docs/PERFORMANCE.md). Two
SQLite libraries must never have one file open in one process, as closing it
in either would drop the other's POSIX locks, so a process uses one binding
or the other.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import apsw

from projections import files

CACHE_KIB = 2048
INDEXING_CACHE_KIB = 1024

LOADING = ("journal_mode=OFF", "synchronous=OFF", f"cache_size={-CACHE_KIB}")


def connect(path: Path) -> files.Connection:
    """A ``sqlite3`` connection for loading ``path``."""
    conn = files.connect(path, wal=False)
    for pragma in LOADING:
        conn.execute(f"PRAGMA {pragma}")
    return conn


def connect_apsw(path: Path | str, *, read_only: bool = False) -> apsw.Connection:
    """An APSW connection for loading ``path``, or for reading it only."""
    if read_only:
        return apsw.Connection(
            f"file:{quote(str(path))}?mode=ro",
            flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI,
        )
    conn = apsw.Connection(str(path))
    conn.set_busy_timeout(files.BUSY_TIMEOUT_MS)
    for pragma in LOADING:
        conn.execute(f"PRAGMA {pragma}").fetchall()
    return conn


def index(
    conn: apsw.Connection | files.Connection, statements: list[str], *, alone: bool
) -> None:
    """Builds indexes; ``alone``, once nothing else runs, with every core sorting."""
    if alone:
        conn.execute(f"PRAGMA threads={os.cpu_count() or 1}").fetchall()
        conn.execute(f"PRAGMA cache_size={-INDEXING_CACHE_KIB}").fetchall()
    conn.execute("BEGIN IMMEDIATE")
    for statement in statements:
        conn.execute(statement)
    conn.execute("COMMIT")
