"""Settings read from the environment, in one place.

The domain never reads the environment itself; everything that varies between
a laptop, CI and a production node arrives here, so the event store can move
from the embedded SQLite file to PostgreSQL without touching the domain.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

SECRET_BYTES = 32


@dataclass(frozen=True)
class Settings:
    """Where the ledger lives and how its event store is reached.

    Attributes:
        home: Directory holding the embedded event store, read models and secrets.
        event_store: ``None`` for the embedded SQLite store, or a
            ``postgresql://`` URL for the shared PostgreSQL store.
        lock_timeout: Seconds a writer waits for SQLite's write lock.
    """

    home: Path = field(default_factory=lambda: Path("var"))
    event_store: str | None = None
    lock_timeout: int = 10

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Reads ``LEDGER_HOME`` and ``LEDGER_EVENT_STORE``."""
        env = os.environ if environ is None else environ
        return cls(
            home=Path(env.get("LEDGER_HOME") or "var"),
            event_store=env.get("LEDGER_EVENT_STORE") or None,
            lock_timeout=int(env.get("LEDGER_LOCK_TIMEOUT") or 10),
        )

    @property
    def events_path(self) -> Path:
        """The embedded event store's SQLite file."""
        return self.home / "events.sqlite"

    @property
    def auth_path(self) -> Path:
        """The SQLite file of hashed API tokens."""
        return self.home / "auth.sqlite"

    @property
    def secret_path(self) -> Path:
        """The server secret that keys voter hashes."""
        return self.home / "secret.key"

    def ensure_home(self) -> Path:
        """Creates the home directory if needed and returns it."""
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home

    def server_secret(self) -> bytes:
        """Returns the server secret, creating it (mode 0600) on first use."""
        path = self.secret_path
        if not path.exists():
            self.ensure_home()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(SECRET_BYTES))
        secret = path.read_bytes()
        if len(secret) < SECRET_BYTES:
            msg = f"server secret {path} is shorter than {SECRET_BYTES} bytes"
            raise ValueError(msg)
        return secret

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment eventsourcing's infrastructure factory expects."""
        if self.event_store is None:
            self.ensure_home()
            return {
                "PERSISTENCE_MODULE": "ledger.store:LedgerSQLiteFactory",
                "SQLITE_DBNAME": str(self.events_path),
                "SQLITE_LOCK_TIMEOUT": str(self.lock_timeout),
            }
        url = urlsplit(self.event_store)
        if url.scheme not in ("postgresql", "postgres"):
            msg = f"LEDGER_EVENT_STORE must be a postgresql:// URL, not {url.scheme!r}"
            raise ValueError(msg)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": (
                "ledger.store_postgres:LedgerPostgresApplicationRecorder"
            ),
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_LOCK_TIMEOUT": str(self.lock_timeout),
        }
