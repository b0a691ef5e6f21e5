"""Signed-in sessions of the editorial pages, kept beside the tokens.

A person signs in to the pages with an API token once; the server then
keeps a session that acts for that token, so the token never sits in a
browser. The browser holds only a random session id; the store keeps its
SHA-256 digest (a stolen copy of the table opens no session), the token it
acts for, a secret the pages derive their CSRF fields from, and when it
ends.

Sessions live where the tokens do, so every worker and, with a PostgreSQL
event store, every node sees the same ones: a table in ``auth.sqlite``
beside the embedded store, or ``ledger_sessions`` in the log's schema
(:mod:`ledger.postgres_sessions`). Open the right one with
:func:`open_session_store`. Whether the token is still live is the caller's
check, made on every request, so a revoked token ends its sessions at once.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.settings import Settings

IDLE = timedelta(hours=2)
"""A session unused this long has ended."""
LIFETIME = timedelta(hours=12)
"""A session ends this long after sign-in, however busy."""
SEEN_GRANULARITY = timedelta(minutes=1)
"""A session's last use is stored at most this often."""

_CREATE = (
    """CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    csrf_secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at)",
)
INSERT_SESSION = (
    "INSERT INTO {sessions} "
    "(digest, token_id, csrf_secret, created_at, seen_at, expires_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def _now(now: datetime | None) -> datetime:
    return (now if now is not None else datetime.now(UTC)).astimezone(UTC)


def _text(moment: datetime) -> str:
    """A fixed-width UTC time, so that stored times also compare as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def digest(session_id: str) -> str:
    """What the store keeps of a session id: its SHA-256, in hex."""
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """A live session, as the store keeps it.

    Attributes:
        token_id: The id of the API token the session acts for.
        csrf_secret: The key of the session's CSRF fields; never sent as is.
        created_at: When the person signed in.
        seen_at: Its last use stored, to :data:`SEEN_GRANULARITY`.
        expires_at: When it ends, however busy (:data:`LIFETIME`).
    """

    token_id: str
    csrf_secret: str
    created_at: datetime
    seen_at: datetime
    expires_at: datetime

    def live(self, now: datetime | None = None) -> bool:
        """Neither past its end nor idle longer than :data:`IDLE`."""
        moment = _now(now)
        return moment < self.expires_at and moment - self.seen_at < IDLE


class SessionStoreBase(ABC):
    """Opening, finding and ending sessions over a table of them.

    Statements use ``?`` placeholders and ``{sessions}`` for the table; the
    two stores say where the table is and how a statement runs.
    """

    thread_safe = False
    """Whether one store may serve every thread of a process."""
    remote = False
    """Whether a look-up is a round trip to a server rather than a file read."""

    @abstractmethod
    def _rows(self, statement: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        """The rows a query returns."""

    @abstractmethod
    def _change(self, statement: str, args: Sequence[object]) -> int:
        """Runs a write in a transaction of its own; the rows it changed."""

    @abstractmethod
    def close(self) -> None:
        """Lets go of the store's connections."""

    def open(self, token_id: str, now: datetime | None = None) -> tuple[str, Session]:
        """Starts a session for the token ``token_id``; returns its id and it.

        The id is shown once, to be set as the browser's cookie; only its
        digest is stored. Sessions that have ended are swept out meanwhile.
        """
        moment = _now(now)
        self._change(
            "DELETE FROM {sessions} WHERE expires_at <= ? OR seen_at <= ?",
            [_text(moment), _text(moment - IDLE)],
        )
        session_id = secrets.token_urlsafe(32)
        session = Session(
            token_id=token_id,
            csrf_secret=secrets.token_hex(32),
            created_at=moment,
            seen_at=moment,
            expires_at=moment + LIFETIME,
        )
        self._change(
            INSERT_SESSION,
            [
                digest(session_id),
                token_id,
                session.csrf_secret,
                _text(moment),
                _text(moment),
                _text(session.expires_at),
            ],
        )
        return session_id, session

    def find(self, session_id: str, now: datetime | None = None) -> Session | None:
        """The live session of ``session_id``, or None; stores this use.

        The use is written only when the stored one is older than
        :data:`SEEN_GRANULARITY`, so a busy session costs a write a minute.
        """
        rows = self._rows(
            "SELECT token_id, csrf_secret, created_at, seen_at, expires_at "
            "FROM {sessions} WHERE digest = ?",
            [digest(session_id)],
        )
        if not rows:
            return None
        token_id, csrf_secret, created, seen, expires = rows[0]
        session = Session(
            token_id=str(token_id),
            csrf_secret=str(csrf_secret),
            created_at=datetime.fromisoformat(str(created)),
            seen_at=datetime.fromisoformat(str(seen)),
            expires_at=datetime.fromisoformat(str(expires)),
        )
        moment = _now(now)
        if not session.live(moment):
            return None
        if moment - session.seen_at >= SEEN_GRANULARITY:
            self._change(
                "UPDATE {sessions} SET seen_at = ? WHERE digest = ?",
                [_text(moment), digest(session_id)],
            )
        return session

    def end(self, session_id: str) -> bool:
        """Deletes the session; False if there was none."""
        changed = self._change(
            "DELETE FROM {sessions} WHERE digest = ?", [digest(session_id)]
        )
        return changed == 1


class SessionStore(SessionStoreBase):
    """Sessions in the ``sessions`` table of ``auth.sqlite``.

    A connection belongs to the thread that opened it, so each thread opens
    its own, as with :class:`ledger.sqlite_tokens.TokenStore`.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        for statement in _CREATE:
            self._db.execute(statement)

    def _sql(self, statement: str) -> str:
        return statement.format(sessions="sessions")

    def _rows(self, statement: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        return self._db.execute(self._sql(statement), list(args)).fetchall()

    def _change(self, statement: str, args: Sequence[object]) -> int:
        return self._db.execute(self._sql(statement), list(args)).rowcount

    def close(self) -> None:
        self._db.close()


def open_session_store(
    settings: Settings, env: Mapping[str, str] | None = None
) -> SessionStoreBase:
    """The session store of ``settings``, beside its token store.

    Args:
        settings: The ledger's settings.
        env: What the ledger was given besides the process environment (the
            PostgreSQL schema, in tests).
    """
    if settings.event_store is None:
        return SessionStore(settings.auth_path)
    # Imported here so that the embedded store never imports psycopg.
    from ledger.postgres_sessions import PostgresSessionStore
    from ledger.postgres_tables import Place

    return PostgresSessionStore(Place.of(settings, env))
