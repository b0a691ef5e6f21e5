"""Readiness: whether a request sent to this node now would be served.

Liveness (``/healthz/live``) says only that the process answers; a load
balancer restarts what fails it. Readiness (``/healthz/ready``) says whether
to send traffic here, and fails while any of these does:

- ``read_models``: the read-model file answers and the projector follows
  the log, so reads are current;
- ``event_store``: a write could take the store's lock now. On SQLite, a
  fresh connection takes the write lock (``BEGIN IMMEDIATE``) and lets go
  (``ROLLBACK``) within ``LEDGER_READY_TIMEOUT``, which a held lock, a
  read-only file or a file it may not open fails; on PostgreSQL, a fresh
  connection asks whether the server is a read-only standby;
- ``disk``: the file system of ``LEDGER_HOME`` is writable and has
  ``LEDGER_MIN_FREE_BYTES`` free (a full disk fails a write, not a probe);
- ``last_write``: this worker's latest write did not fail with a storage
  fault within the ``Retry-After`` it answered. A fault no probe sees (a
  file that turned immutable) fails writes; once its ``Retry-After`` has
  passed the node is ready again, so the next write can find out whether
  it has cleared.

Every check is cheap (no append, nothing written), so probes may be frequent.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from dataclasses import dataclass
from urllib.parse import quote

from api.storage_faults import LastWrite, storage_fault
from ledger.settings import Settings
from projections.projector import Projector
from projections.queries import ReadModel

RETRY_AFTER = 5
"""Seconds a client waits when the node is not ready for a reason of its own."""


@dataclass(frozen=True)
class Check:
    """One readiness check's outcome.

    Attributes:
        name: What was checked: ``read_models``, ``event_store``, ``disk``
            or ``last_write``.
        ok: Whether it passed.
        detail: What was found, in words.
        retry_after: Seconds to wait before asking again, when it failed.
    """

    name: str
    ok: bool
    detail: str
    retry_after: int = RETRY_AFTER


def _sqlite_lock(path: str, timeout: float) -> None:
    """Takes and releases SQLite's write lock on ``path``; raises if it cannot.

    SQLite opens a file it may not write read-only without a word, and in
    WAL mode takes the lock all the same, so the files are asked first.
    """
    for file in (path, path + "-wal", os.path.dirname(path)):
        if os.path.exists(file) and not os.access(file, os.W_OK):
            raise PermissionError(errno.EACCES, "may not be written", file)
    uri = f"file:{quote(path)}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def _postgres_primary(url: str, timeout: float) -> bool:
    """Whether the server at ``url`` answers and takes writes (not a standby)."""
    import psycopg  # only for a PostgreSQL store

    # libpq's connect_timeout is whole seconds, and at least 2.
    with psycopg.connect(
        url, connect_timeout=max(2, round(timeout)), autocommit=True
    ) as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    return row is not None and not row[0]


def event_store(settings: Settings, timeout: float) -> Check:
    """Whether a write could take the event store's lock now."""
    name = "event_store"
    try:
        if settings.event_store is None:
            _sqlite_lock(str(settings.events_path), timeout)
        elif not _postgres_primary(settings.event_store, timeout):
            return Check(name, False, "the server is a read-only standby")
    except Exception as error:
        fault = storage_fault(error)
        if fault is None:
            raise
        return Check(name, False, fault.detail, fault.retry_after)
    return Check(name, True, "writable")


def disk(settings: Settings, min_free: int) -> Check:
    """Whether ``LEDGER_HOME``'s file system is writable with room to spare."""
    name = "disk"
    try:
        found = os.statvfs(settings.home)
    except OSError as error:
        return Check(name, False, f"LEDGER_HOME cannot be read: {error.strerror}")
    if found.f_flag & os.ST_RDONLY:
        return Check(name, False, "LEDGER_HOME is on a read-only file system")
    free = found.f_bavail * found.f_frsize
    if free < min_free:
        return Check(
            name,
            False,
            f"{free} bytes free where LEDGER_HOME is, fewer than "
            f"LEDGER_MIN_FREE_BYTES ({min_free})",
        )
    return Check(name, True, f"{free} bytes free")


def read_models(read_model: ReadModel, projector: Projector) -> Check:
    """Whether reads are served, and kept current."""
    name = "read_models"
    try:
        position = read_model.position()
    except Exception:
        return Check(name, False, "the read models are not open")
    if not projector.following:
        return Check(name, False, f"at position {position}, and not following the log")
    return Check(name, True, f"at position {position}")


def last_write(health: LastWrite) -> Check:
    """Whether this worker's latest write met a storage fault a moment ago."""
    fault = health.recent_fault()
    if fault is None:
        return Check("last_write", True, "no recent storage fault")
    return Check("last_write", False, fault.detail, fault.retry_after)
