"""Idempotency keys: who holds each, and the answers given.

With the embedded event store, keys live in ``api.sqlite`` in
``LEDGER_HOME``, so every worker process of a node shares them; with a
PostgreSQL event store, in a table beside the log
(:mod:`api.postgres_idempotency`), so every node does.
:func:`open_idempotency_store` opens the one the settings call for; both
decide a claim the same way (:func:`verdict`).

A claim records, besides the request's fingerprint, the request id its
command stamps on its events and the log head before the command ran, so
that a retry can find out from the log alone what a request that died did.
While its request runs, a claim's lock is held (here a locked file,
:mod:`api.claim_locks`; on PostgreSQL an advisory lock); a claim without an
answer whose lock nobody holds is an orphan, which one retry at a time
takes over. Nothing here is part of the ledger; deleting
the keys forgets only the keys.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from api.claim_locks import ClaimLocks

if TYPE_CHECKING:
    from api.config import ApiSettings

PURGE_EVERY = 60.0

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS idempotency (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        created REAL NOT NULL,
        status INTEGER,
        body BLOB,
        headers TEXT,
        owner TEXT,
        request_id TEXT,
        after_position INTEGER,
        PRIMARY KEY (scope, key)
    )""",
    "CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created)",
)
# Columns a file made before claims could be recovered lacks.
_ADDED = (("owner", "TEXT"), ("request_id", "TEXT"), ("after_position", "INTEGER"))


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to an idempotent request, kept for replays."""

    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Orphan:
    """A claim whose request ended without storing its answer.

    Attributes:
        request_id: The id that request stamped on the events it appended, if
            any ("" for a claim recorded before request ids were kept).
        after: The log head before it ran; its events come after it.
    """

    request_id: str
    after: int


@dataclass(frozen=True)
class Claim:
    """What :meth:`IdempotencyStore.claim` found for a key.

    Exactly one is set: ``claimed`` (this request runs the command),
    ``orphan`` (this request took over a dead request's claim and must ask
    the log what it did), ``replay`` (an earlier request finished; answer the
    same), ``in_flight`` (an earlier request is still running) or
    ``mismatch`` (the key was used for a different request).
    """

    claimed: bool = False
    orphan: Orphan | None = None
    replay: StoredResponse | None = None
    in_flight: bool = False
    mismatch: bool = False

    @property
    def taken(self) -> bool:
        """Whether the claiming request now holds the key (to run or recover)."""
        return self.claimed or self.orphan is not None


@dataclass(frozen=True)
class Kept:
    """A key's row, as either store keeps it.

    Attributes:
        fingerprint: What makes a retry the same request.
        created: When the key was first used (seconds since the epoch).
        status: The stored answer's status; None while it has none.
        body: The stored answer's body.
        headers: The stored answer's headers, as JSON.
        request_id: The request id the claiming request stamps on its events.
        after: The log head before that request ran.
    """

    fingerprint: str
    created: float
    status: int | None
    body: bytes | None
    headers: str | bytes | None
    request_id: str | None
    after: int | None

    def expired(self, now: float, ttl: float) -> bool:
        """Whether the key is older than it is remembered for."""
        return self.created < now - ttl


def verdict(kept: Kept | None, fingerprint: str, live: Callable[[], bool]) -> Claim:
    """What a request with ``fingerprint`` gets for a key kept as ``kept``.

    Args:
        kept: The key's row; None for a key not used (or forgotten).
        fingerprint: The request's fingerprint.
        live: Whether another request holds the key's claim; asked only of
            a claim without an answer.

    Returns:
        ``claimed`` or ``orphan`` (the caller must then hold the key),
        ``replay``, ``in_flight`` or ``mismatch``.
    """
    if kept is None:
        return Claim(claimed=True)
    if kept.fingerprint != fingerprint:
        return Claim(mismatch=True)
    if kept.status is not None:
        headers = msgspec.json.decode(kept.headers or b"{}")
        return Claim(
            replay=StoredResponse(kept.status, bytes(kept.body or b""), headers)
        )
    if live():
        return Claim(in_flight=True)
    return Claim(orphan=Orphan(kept.request_id or "", kept.after or 0))


class KeyStore(Protocol):
    """What :mod:`api.idempotency` needs of a store of keys."""

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """The store's own failures (storing an answer may meet one)."""
        ...

    def claim(
        self, scope: str, key: str, fingerprint: str, request_id: str, after: int
    ) -> Claim: ...

    def adopt(self, scope: str, key: str, request_id: str, after: int) -> None: ...

    def complete(self, scope: str, key: str, response: StoredResponse) -> None: ...

    def release(self, scope: str, key: str) -> None: ...

    def abandon(self, scope: str, key: str) -> None: ...

    def close(self) -> None: ...


def open_idempotency_store(settings: ApiSettings) -> KeyStore:
    """The idempotency keys every worker (and, on PostgreSQL, every node) shares."""
    ttl = settings.idempotency_ttl_seconds
    if settings.ledger.event_store is None:
        return IdempotencyStore(settings.api_db_path, ttl)
    # Imported here so that the embedded store never imports psycopg.
    from api.postgres_idempotency import PostgresIdempotencyStore
    from ledger.postgres_tables import Place

    return PostgresIdempotencyStore(Place.of(settings.ledger), ttl)


class IdempotencyStore:
    """Idempotency keys in ``api.sqlite``, who holds them and their answers.

    Args:
        path: The SQLite file; created if missing. The claims' lock files
            live in the directory ``<stem>-claims`` beside it.
        ttl: Seconds a key is remembered after first use.
    """

    def __init__(self, path: Path, ttl: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._ttl = ttl
        self._lock = threading.Lock()
        self._locks = ClaimLocks(path.with_name(f"{path.stem}-claims"))
        self._held: dict[tuple[str, str], str] = {}
        self._db = sqlite3.connect(
            path, timeout=10, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # A remembered answer must survive a crash, or a retry would append twice.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                self._db.execute(statement)
            columns = {
                row[1] for row in self._db.execute("PRAGMA table_info(idempotency)")
            }
            for name, kind in _ADDED:
                if name not in columns:
                    self._db.execute(
                        f"ALTER TABLE idempotency ADD COLUMN {name} {kind}"
                    )
            self._db.execute("COMMIT")
        except BaseException:
            _rollback(self._db)
            raise
        self._last_purge = 0.0

    errors = (sqlite3.Error,)

    def claim(
        self, scope: str, key: str, fingerprint: str, request_id: str, after: int
    ) -> Claim:
        """Claims ``key`` for a request, or says why it cannot run again.

        Args:
            scope: Whose keys: the token's id.
            key: The ``Idempotency-Key``.
            fingerprint: What makes a retry the same request.
            request_id: The id this request's command stamps on its events.
            after: The log head now, before the command can run.
        """
        now = time.time()
        taken: str | None = None
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._purge(now)
                row = self._db.execute(
                    "SELECT fingerprint, created, status, body, headers, "
                    "request_id, after_position, owner "
                    "FROM idempotency WHERE scope = ? AND key = ?",
                    (scope, key),
                ).fetchone()
                kept = None if row is None else Kept(*row[:7])
                owner = None if row is None else row[7]
                expired = kept is not None and kept.expired(now, self._ttl)
                if kept is not None and expired and self._idle(kept.status, owner):
                    self._forget(scope, key)
                    kept = None
                claim = verdict(kept, fingerprint, lambda: self._locks.is_live(owner))
                if claim.claimed:
                    taken = self._locks.hold()
                    self._db.execute(
                        "INSERT INTO idempotency (scope, key, fingerprint, created, "
                        "owner, request_id, after_position) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (scope, key, fingerprint, now, taken, request_id, after),
                    )
                elif claim.orphan is not None:
                    taken = self._locks.hold()
                    self._db.execute(
                        "UPDATE idempotency SET owner = ? WHERE scope = ? AND key = ?",
                        (taken, scope, key),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                if taken is not None:
                    self._locks.drop(taken)
                _rollback(self._db)
                raise
            if taken is not None:
                self._held[scope, key] = taken
        return claim

    def adopt(self, scope: str, key: str, request_id: str, after: int) -> None:
        """Makes a taken-over orphan this request's own, before it runs.

        Called once the log showed the orphan appended nothing: from now on
        a recovery looks for this request's events instead.
        """
        with self._lock:
            self._db.execute(
                "UPDATE idempotency SET request_id = ?, after_position = ? "
                "WHERE scope = ? AND key = ? AND owner = ?",
                (request_id, after, scope, key, self._held[scope, key]),
            )

    def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        """Records the answer of a claimed request for later replays."""
        headers = msgspec.json.encode(response.headers).decode()
        self._let_go(
            scope,
            key,
            "UPDATE idempotency SET status = ?, body = ?, headers = ? "
            "WHERE scope = ? AND key = ? AND owner = ?",
            (response.status, response.body, headers),
        )

    def release(self, scope: str, key: str) -> None:
        """Forgets a claim whose request was refused, so a corrected retry can run."""
        self._let_go(
            scope,
            key,
            "DELETE FROM idempotency WHERE status IS NULL "
            "AND scope = ? AND key = ? AND owner = ?",
        )

    def abandon(self, scope: str, key: str) -> None:
        """Lets go of a claim whose request may or may not have appended.

        The claim stays, an orphan: the next retry asks the log.
        """
        self._let_go(scope, key, None)

    def _let_go(
        self, scope: str, key: str, statement: str | None, values: tuple[Any, ...] = ()
    ) -> None:
        """Runs ``statement`` on a claim held here, then drops its lock, come what may.

        ``statement`` takes ``values``, then the scope, key and owner.
        """
        with self._lock:
            owner = self._held.pop((scope, key), None)
            try:
                if statement is not None:
                    self._db.execute(statement, (*values, scope, key, owner))
            finally:
                if owner is not None:
                    self._locks.drop(owner)

    def close(self) -> None:
        with self._lock:
            self._held.clear()
            self._locks.close()
            self._db.close()

    def _idle(self, status: int | None, owner: str | None) -> bool:
        """Whether a claim has its answer or is dead: an expired one may go."""
        return status is not None or not self._locks.is_live(owner)

    def _forget(self, scope: str, key: str) -> None:
        self._db.execute(
            "DELETE FROM idempotency WHERE scope = ? AND key = ?", (scope, key)
        )

    def _purge(self, now: float) -> None:
        """Forgets expired keys (never a live claim) and dead claims' files."""
        if now - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = now
        cutoff = now - self._ttl
        self._db.execute(
            "DELETE FROM idempotency WHERE created < ? AND status IS NOT NULL",
            (cutoff,),
        )
        unanswered = self._db.execute(
            "SELECT scope, key, status, owner FROM idempotency "
            "WHERE created < ? AND status IS NULL",
            (cutoff,),
        ).fetchall()
        for scope, key, status, owner in unanswered:
            if self._idle(status, owner):
                self._forget(scope, key)
        self._locks.sweep()


def _rollback(db: sqlite3.Connection) -> None:
    # SQLite rolls back by itself after some errors (a full disk, I/O), and
    # then has no transaction left to roll back; the first error is the one.
    with contextlib.suppress(sqlite3.Error):
        db.execute("ROLLBACK")
