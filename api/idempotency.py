"""``Idempotency-Key``: a retried create appends once and replays its answer.

The first request with a key claims it (per token) and its answer is kept;
a retry with the same body gets that answer again, marked
``Idempotent-Replayed: true``, and appends nothing. Keys live in the node's
``api.sqlite`` in ``LEDGER_HOME``, so every worker process shares them: a
retry that lands on another worker still replays. Nothing here is part of
the ledger; deleting the file forgets only the keys.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Request, Response

from api.problem_details import ApiProblem
from api.security import principal_of

MAX_KEY = 255
JSON = "application/json"

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
"""


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to an idempotent request, kept for replays."""

    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Claim:
    """What :meth:`IdempotencyStore.claim` found for a key.

    Exactly one of ``claimed`` (this request runs the command), ``replay``
    (an earlier request finished; answer the same), ``in_flight`` (an earlier
    request is still running) and ``mismatch`` (the key was used for a
    different request) is set.
    """

    claimed: bool = False
    replay: StoredResponse | None = None
    in_flight: bool = False
    mismatch: bool = False


class IdempotencyStore:
    """Idempotency keys and the answers they were given, for a while.

    Args:
        path: The SQLite file; created if missing.
        ttl: Seconds a key is remembered after first use.
    """

    def __init__(self, path: Path, ttl: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._ttl = ttl
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, timeout=10, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # A remembered answer must survive a crash, or a retry would append twice.
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

    def close(self) -> None:
        with self._lock:
            self._db.close()


def fingerprint(request: Request[Any, Any, Any], data: Any) -> str:
    """What makes two requests the same request: method, path and body."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path}\n".encode())
    digest.update(msgspec.json.encode(data))
    return digest.hexdigest()


async def idempotent(
    request: Request[Any, Any, Any],
    data: Any,
    create: Callable[[], Awaitable[StoredResponse]],
) -> Response[Any]:
    """Runs ``create`` once per ``Idempotency-Key`` and replays its answer.

    Without the header the request simply runs. With it, the first request
    claims the key (per token); a retry with the same body gets the first
    answer again and appends nothing; the same key with a different body is
    a 422; a retry while the first is still running is a 409. A request that
    fails releases its key, because it appended nothing and its retry
    deserves a fresh try.
    """
    key = request.headers.get("idempotency-key")
    if key is None:
        return _response(await create())
    key = key.strip()
    if not key or len(key) > MAX_KEY:
        raise ApiProblem(
            "invalid-idempotency-key",
            f"Idempotency-Key must be 1-{MAX_KEY} characters",
        )
    store: IdempotencyStore = request.app.state.idempotency
    scope = principal_of(request).token_id
    claim = await anyio.to_thread.run_sync(
        store.claim, scope, key, fingerprint(request, data)
    )
    if claim.mismatch:
        raise ApiProblem(
            "idempotency-key-reused",
            f"Idempotency-Key {key!r} was already used for a different request; "
            "use a new key for a new request",
        )
    if claim.in_flight:
        raise ApiProblem(
            "idempotency-key-in-flight",
            f"a request with Idempotency-Key {key!r} is still being processed; "
            "retry shortly",
            {"Retry-After": "1"},
        )
    if claim.replay is not None:
        return _response(claim.replay, replayed=True)
    try:
        stored = await create()
    except BaseException:
        await anyio.to_thread.run_sync(store.release, scope, key)
        raise
    await anyio.to_thread.run_sync(store.complete, scope, key, stored)
    return _response(stored)


def _response(stored: StoredResponse, *, replayed: bool = False) -> Response[Any]:
    headers = dict(stored.headers)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        content=stored.body, status_code=stored.status, media_type=JSON, headers=headers
    )
