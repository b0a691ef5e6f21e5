"""Idempotency keys in PostgreSQL, beside the event log, shared by every node.

The same keys, answers and claims as :class:`api.idempotency_store.IdempotencyStore`
keeps in ``api.sqlite``, decided the same way (:func:`api.idempotency_store.verdict`),
in the table ``ledger_idempotency`` of the log's schema; so a retry that
lands on another node replays the first node's answer.

A claim is held by a session-level advisory lock, named after the log's
schema, the token and the key, on a connection the claiming request keeps
for as long as it runs. PostgreSQL frees a session's locks when its
connection ends, however it ends (the request done, its process killed, the
node's host gone, once the server notices), so a claim is dead exactly when
nobody holds its lock: a retry that takes the lock of a claim without an
answer has an orphan, and holds it. The answer is stored over the holding
connection, so a request whose connection (and lock) was lost cannot
overwrite what a retry that took over since decided.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time

import msgspec
import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from api.idempotency_store import PURGE_EVERY, Claim, Kept, StoredResponse, verdict
from ledger.postgres_tables import Place

TABLE = "ledger_idempotency"

COLUMNS = (
    "scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, "
    "created DOUBLE PRECISION NOT NULL, status INTEGER, body BYTEA, "
    "headers TEXT, request_id TEXT, after_position BIGINT, PRIMARY KEY (scope, key)"
)
"""The columns of ``api.sqlite``'s keys; a claim's owner is its lock instead."""

POOL_SIZE = 16
"""Connections one worker holds at most: one per request running with a key,
and one at a time for the short statements."""

Connection = psycopg.Connection[TupleRow]


def lock_id(schema: str, scope: str, key: str) -> int:
    """The advisory lock of a key's claim: a 64-bit hash of schema, scope and key.

    Two keys sharing a lock (a chance of about one in 2**64 a pair) would
    only make one wait for the other, answering 409 meanwhile.
    """
    name = "\0".join((schema, scope, key)).encode()
    digest = hashlib.blake2b(name, digest_size=8, person=b"ledger-idem").digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresIdempotencyStore:
    """Idempotency keys in the table ``ledger_idempotency`` of the log's schema.

    Args:
        place: The log's database and schema.
        ttl: Seconds a key is remembered after first use.
    """

    errors = (psycopg.Error,)

    def __init__(self, place: Place, ttl: float) -> None:
        self._place = place
        self._ttl = ttl
        self._table = place.table(TABLE)
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], Connection] = {}
        self._last_purge = 0.0
        self._pool = place.open_table(TABLE, COLUMNS, ("created", "created"), POOL_SIZE)

    def claim(
        self, scope: str, key: str, fingerprint: str, request_id: str, after: int
    ) -> Claim:
        """Claims ``key`` for a request, or says why it cannot run again.

        See :meth:`api.idempotency_store.IdempotencyStore.claim`; a claim
        taken keeps its connection (and lock) until the request lets go.
        """
        now = time.time()
        self._purge(now)
        conn = self._pool.getconn()
        try:
            claim = self._claim_on(conn, scope, key, fingerprint, (request_id, after))
        except BaseException:
            self._put(conn)
            raise
        if not claim.taken:
            self._put(conn)
            return claim
        with self._lock:
            self._held[scope, key] = conn
        return claim

    def _claim_on(
        self,
        conn: Connection,
        scope: str,
        key: str,
        fingerprint: str,
        run: tuple[str, int],
    ) -> Claim:
        lock = lock_id(self._place.schema, scope, key)
        held = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock,)).fetchone()
        row = conn.execute(
            sql.SQL(
                "SELECT fingerprint, created, status, body, headers, request_id, "
                "after_position FROM {} WHERE scope = %s AND key = %s"
            ).format(self._table),
            (scope, key),
        ).fetchone()
        kept = None if row is None else Kept(*row)
        if held != (True,):
            # Its holder is running; a key not written yet is being claimed.
            if kept is None:
                return Claim(in_flight=True)
            return verdict(kept, fingerprint, lambda: True)
        if kept is not None and kept.expired(time.time(), self._ttl):
            # Answered or dead (the lock is ours): an expired key may go.
            self._forget(conn, scope, key)
            kept = None
        claim = verdict(kept, fingerprint, lambda: False)
        if claim.claimed:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (scope, key, fingerprint, created, request_id, "
                    "after_position) VALUES (%s, %s, %s, %s, %s, %s)"
                ).format(self._table),
                (scope, key, fingerprint, time.time(), *run),
            )
        return claim

    def adopt(self, scope: str, key: str, request_id: str, after: int) -> None:
        """Makes a taken-over orphan this request's own, before it runs."""
        with self._lock:
            conn = self._held[scope, key]
        conn.execute(
            sql.SQL(
                "UPDATE {} SET request_id = %s, after_position = %s "
                "WHERE scope = %s AND key = %s"
            ).format(self._table),
            (request_id, after, scope, key),
        )

    def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        """Records the answer of a claimed request for later replays."""
        headers = msgspec.json.encode(response.headers).decode()
        self._let_go(
            scope,
            key,
            sql.SQL(
                "UPDATE {} SET status = %s, body = %s, headers = %s "
                "WHERE scope = %s AND key = %s"
            ),
            (response.status, response.body, headers),
        )

    def release(self, scope: str, key: str) -> None:
        """Forgets a claim whose request was refused, so a corrected retry can run."""
        self._let_go(
            scope,
            key,
            sql.SQL("DELETE FROM {} WHERE status IS NULL AND scope = %s AND key = %s"),
        )

    def abandon(self, scope: str, key: str) -> None:
        """Lets go of a claim whose request may or may not have appended."""
        self._let_go(scope, key, None)

    def _let_go(
        self,
        scope: str,
        key: str,
        statement: sql.SQL | None,
        values: tuple[object, ...] = (),
    ) -> None:
        """Runs ``statement`` on the claim's own connection, then lets it go.

        ``statement`` takes ``values``, then the scope and key. Run where the
        lock is held, it fails rather than writes if the lock was lost with
        the connection.
        """
        with self._lock:
            conn = self._held.pop((scope, key), None)
        if conn is None:
            return
        try:
            if statement is not None:
                conn.execute(statement.format(self._table), (*values, scope, key))
        finally:
            self._put(conn)

    def _put(self, conn: Connection) -> None:
        """Returns a connection to the pool, its locks dropped (or it closed)."""
        if not conn.closed:
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock_all()")
        self._pool.putconn(conn)

    def _forget(self, conn: Connection, scope: str, key: str) -> None:
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE scope = %s AND key = %s").format(self._table),
            (scope, key),
        )

    def _purge(self, now: float) -> None:
        """Forgets expired keys: answered ones, and claims nobody holds."""
        with self._lock:
            if now - self._last_purge < PURGE_EVERY:
                return
            self._last_purge = now
        cutoff = now - self._ttl
        with self._pool.connection() as conn:
            conn.execute(
                sql.SQL(
                    "DELETE FROM {} WHERE created < %s AND status IS NOT NULL"
                ).format(self._table),
                (cutoff,),
            )
            dead = conn.execute(
                sql.SQL(
                    "SELECT scope, key FROM {} WHERE created < %s AND status IS NULL"
                ).format(self._table),
                (cutoff,),
            ).fetchall()
            for scope, key in dead:
                lock = lock_id(self._place.schema, str(scope), str(key))
                taken = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock,))
                if taken.fetchone() == (True,):
                    self._forget(conn, str(scope), str(key))
                    conn.execute("SELECT pg_advisory_unlock(%s)", (lock,))

    def close(self) -> None:
        """Lets go of every claim still held here (they become recoverable)."""
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for conn in held:
            self._put(conn)
        self._pool.close()
