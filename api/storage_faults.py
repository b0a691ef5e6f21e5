"""Storage faults: the failures a client should retry rather than report.

A write can fail because the store could not take it just now: SQLite's lock
held past the busy timeout, a full disk, a read-only file or file system, an
I/O error, PostgreSQL out of reach. None of these says anything about the
request, and none leaves anything behind (the append is one transaction, and
it rolled back), so each is answered 503 with ``Retry-After``
(:mod:`api.problem_details`) instead of a 500 that reads as a bug.

eventsourcing raises its own classes (``OperationalError``,
``InterfaceError``, …) with the driver's error as the cause, and the API's own
SQLite files (tokens, idempotency keys, rate limits) raise :mod:`sqlite3`'s;
:func:`storage_fault` looks through the chain for what the driver said. A
driver error that is a bug (SQLite's ``no such table``, a syntax error, a
constraint) is not a fault and stays a 500.
"""

from __future__ import annotations

import errno
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError

BUSY, FULL, READ_ONLY, FAILING, UNREACHABLE = (
    "busy",
    "full",
    "read-only",
    "failing",
    "unreachable",
)

DETAILS = {
    BUSY: "the ledger's storage is busy: another writer held its lock past the wait",
    FULL: "the disk holding the ledger's storage is full",
    READ_ONLY: "the ledger's storage cannot be written (read-only or not permitted)",
    FAILING: "the ledger's storage failed to read or write (an I/O error)",
    UNREACHABLE: "the event store cannot be reached",
}
"""What each cause tells the client; the driver's own words go to the log."""

RETRY_AFTER = {BUSY: 1, FULL: 5, READ_ONLY: 5, FAILING: 5, UNREACHABLE: 5}
"""Seconds a client waits before retrying, by cause: contention clears fast."""

# Primary result codes (https://sqlite.org/rescode.html), extended codes masked.
_SQLITE_CAUSES = {
    3: READ_ONLY,  # SQLITE_PERM
    5: BUSY,  # SQLITE_BUSY
    6: BUSY,  # SQLITE_LOCKED
    7: FAILING,  # SQLITE_NOMEM
    8: READ_ONLY,  # SQLITE_READONLY
    10: FAILING,  # SQLITE_IOERR
    13: FULL,  # SQLITE_FULL
    14: READ_ONLY,  # SQLITE_CANTOPEN: a file or directory it may not open
    15: BUSY,  # SQLITE_PROTOCOL: a WAL lock race
}

_ERRNO_CAUSES = {
    errno.ENOSPC: FULL,
    errno.EDQUOT: FULL,
    errno.EROFS: READ_ONLY,
    errno.EACCES: READ_ONLY,
    errno.EPERM: READ_ONLY,
    errno.EIO: FAILING,
}

# PostgreSQL SQLSTATEs (appendix A of its manual) by cause; classes by prefix.
_SQLSTATE_CAUSES = {
    "53100": FULL,  # disk_full
    "25006": READ_ONLY,  # read_only_sql_transaction: a standby after failover
    "55P03": BUSY,  # lock_not_available: LEDGER_LOCK_TIMEOUT ran out
    "57014": BUSY,  # query_canceled: a statement timeout
    "40001": BUSY,  # serialization_failure
    "40P01": BUSY,  # deadlock_detected
    "53300": BUSY,  # too_many_connections
    "57P01": UNREACHABLE,  # admin_shutdown
    "57P02": UNREACHABLE,  # crash_shutdown
    "57P03": UNREACHABLE,  # cannot_connect_now
}
_SQLSTATE_CLASSES = {"08": UNREACHABLE, "53": BUSY, "58": FAILING}


@dataclass(frozen=True)
class StorageFault:
    """Why storage refused, in the terms a client and an operator need.

    Attributes:
        cause: One of ``busy``, ``full``, ``read-only``, ``failing``,
            ``unreachable``.
        detail: What the client is told.
        retry_after: Seconds the client waits before retrying.
        reason: The driver's own message, for the log only.
    """

    cause: str
    detail: str
    retry_after: int
    reason: str

    @classmethod
    def of(cls, cause: str, error: BaseException) -> StorageFault:
        return cls(cause, DETAILS[cause], RETRY_AFTER[cause], str(error))


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the errors it was raised from or while handling."""
    seen: set[int] = set()
    found: BaseException | None = error
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        yield found
        found = found.__cause__ or found.__context__


def _sqlite_cause(error: sqlite3.Error) -> str | None:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return _SQLITE_CAUSES.get(code & 0xFF)
    # Raised without a code (some of the module's own checks): by its words.
    return BUSY if "database is locked" in str(error) else None


def _postgres_cause(psycopg: Any, error: Any) -> str | None:
    """The cause of a psycopg error; None where it is a bug."""
    state: str | None = error.sqlstate
    if state is None:
        # Raised by the client itself: no connection, a closed one, a pool
        # that timed out waiting for one.
        if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
            return UNREACHABLE
        return None
    return _SQLSTATE_CAUSES.get(state) or _SQLSTATE_CLASSES.get(state[:2])


def storage_fault(error: BaseException) -> StorageFault | None:
    """The storage fault behind ``error``, or None if it is not one.

    The first driver error in the chain decides: a known fault code is a
    fault, any other driver error is not (it is a bug to fix, not to retry).
    eventsourcing's ``OperationalError`` and ``InterfaceError`` with no
    driver error behind them (its pool timed out, or was closed as the
    worker stops) mean the store was out of reach.
    """
    psycopg = sys.modules.get("psycopg")  # only imported for a PostgreSQL store
    wrapped = False
    for found in _chain(error):
        cause: str | None
        if isinstance(found, sqlite3.Error):
            cause = _sqlite_cause(found)
            return None if cause is None else StorageFault.of(cause, found)
        if psycopg is not None and isinstance(found, psycopg.Error):
            cause = _postgres_cause(psycopg, found)
            return None if cause is None else StorageFault.of(cause, found)
        if isinstance(found, OSError) and found.errno in _ERRNO_CAUSES:
            return StorageFault.of(_ERRNO_CAUSES[found.errno], found)
        wrapped = wrapped or isinstance(found, OperationalError | InterfaceError)
    return StorageFault.of(UNREACHABLE, error) if wrapped else None


class NotAttempted(Exception):
    """A queued command the writer did not run: the one before it met a fault.

    The store failed a moment ago, so running the rest of the batch would
    only make each of them wait out the same timeout. Raised from the fault,
    so it answers as that fault does.
    """


def not_attempted(fault: BaseException) -> NotAttempted:
    """A :class:`NotAttempted` raised from ``fault``, for one queued command."""
    error = NotAttempted("not attempted: the store failed the command before it")
    error.__cause__ = fault
    return error


class LastWrite:
    """Whether this worker's latest write met a storage fault, and when.

    Readiness reads it: a probe cannot see every fault (an append that
    fails on a full disk starts like one that succeeds), but the writes
    themselves do. A fault counts for its ``Retry-After``; after that the
    node says it is ready again, so that a write can find out whether the
    fault has cleared.
    """

    def __init__(self) -> None:
        self._latest: tuple[StorageFault, float] | None = None

    def record(self, outcomes: Sequence[Any]) -> BaseException | None:
        """Notes commands' outcomes; returns the first storage fault among them."""
        for outcome in outcomes:
            if not isinstance(outcome, BaseException):
                self._latest = None
                continue
            fault = storage_fault(outcome)
            if fault is not None:
                self._latest = (fault, time.monotonic())
                return outcome
        return None

    def recent_fault(self) -> StorageFault | None:
        """The latest write's fault, while its ``Retry-After`` has not passed."""
        latest = self._latest
        if latest is None:
            return None
        fault, at = latest
        return fault if time.monotonic() - at < fault.retry_after else None
