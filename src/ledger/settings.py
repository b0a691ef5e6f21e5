"""Settings read from the environment, in one place.

The domain never reads the environment itself; everything that varies between
a laptop, CI and a production node arrives here, so the event store can move
from the embedded SQLite file to PostgreSQL without touching the domain.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast
from urllib.parse import unquote, urlsplit

SECRET_BYTES = 32

T = TypeVar("T", bool, int, float, str)
FLAGS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def env_value(
    env: Mapping[str, str],
    name: str,
    default: T,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: Collection[str] = (),
    url_schemes: Collection[str] = (),
) -> T:
    """The variable ``name`` of ``env``, read as the type of ``default``.

    Every ``LEDGER_*`` variable of every package is read through here, so a
    bad value always fails the same way and before anything is opened: one
    line that names the variable, what it takes and what it was given.

    Args:
        env: The environment, ``os.environ`` or a mapping standing in for it.
        name: The variable.
        default: The value while the variable is unset or empty; its type is
            the type read (a bool takes 1/0, true/false, yes/no or on/off).
        minimum: The smallest number allowed.
        maximum: The largest number allowed.
        choices: The only words a text value may be, matched ignoring case
            and returned as spelt here.
        url_schemes: For a URL, the schemes allowed. A URL may carry a
            password, so a refused one is shown only up to its scheme.

    Returns:
        The value, or ``default``.

    Raises:
        ValueError: ``"NAME must be WHAT, not 'VALUE'"``.
    """
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = _parse(raw, type(default), minimum, maximum, choices, url_schemes)
    if value is None:
        expected = _expected(type(default), minimum, maximum, choices, url_schemes)
        msg = f"{name} must be {expected}, not {_shown(raw, url_schemes)}"
        raise ValueError(msg)
    return cast("T", value)


def _parse(
    raw: str,
    kind: type,
    minimum: float | None,
    maximum: float | None,
    choices: Collection[str],
    url_schemes: Collection[str],
) -> bool | int | float | str | None:
    """``raw`` as ``kind`` within the limits, or None where it is not."""
    if kind is bool:
        return FLAGS.get(raw.lower())
    if kind is str:
        if choices:
            return {choice.lower(): choice for choice in choices}.get(raw.lower())
        if url_schemes and urlsplit(raw).scheme not in url_schemes:
            return None
        return raw
    try:
        number: int | float = kind(raw)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    if (minimum is not None and number < minimum) or (
        maximum is not None and number > maximum
    ):
        return None
    return number


def _shown(raw: str, url_schemes: Collection[str]) -> str:
    """The refused value as the message quotes it: a URL only to its scheme."""
    if not url_schemes:
        return repr(raw)
    scheme, separator, _ = raw.partition("://")
    return repr(f"{scheme}://…") if separator else "a value without a scheme"


def _either(words: Collection[str]) -> str:
    """``a, b or c``."""
    *first, last = words
    return f"{', '.join(first)} or {last}" if first else last


def _expected(
    kind: type,
    minimum: float | None,
    maximum: float | None,
    choices: Collection[str],
    url_schemes: Collection[str],
) -> str:
    """What a variable of ``kind`` within the limits takes, in words."""
    if kind is bool:
        return _either(FLAGS)
    if choices:
        return _either(choices)
    if url_schemes:
        return "a " + _either([f"{scheme}://" for scheme in url_schemes]) + " URL"
    what = "an integer" if kind is int else "a number"
    if minimum is not None and maximum is not None:
        return f"{what} from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"{what} of at least {minimum:g}"
    return what


@dataclass(frozen=True)
class Settings:
    """Where the ledger lives and how its event store is reached.

    Attributes:
        home: Directory holding the embedded event store, read models and secrets.
        event_store: ``None`` for the embedded SQLite store, or a
            ``postgresql://`` URL for the shared PostgreSQL store.
        lock_timeout: Seconds a writer waits for SQLite's write lock, or for
            PostgreSQL's table lock and a connection to it.
    """

    home: Path = field(default_factory=lambda: Path("var"))
    event_store: str | None = None
    lock_timeout: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads ``LEDGER_HOME``, ``LEDGER_EVENT_STORE`` and ``LEDGER_LOCK_TIMEOUT``.

        Raises:
            ValueError: A variable has a value it cannot take (see
                :func:`env_value`).
        """
        env = os.environ if environ is None else environ
        event_store = env_value(
            env, "LEDGER_EVENT_STORE", "", url_schemes=("postgresql", "postgres")
        )
        return cls(
            home=Path(env_value(env, "LEDGER_HOME", "var")),
            event_store=event_store or None,
            lock_timeout=env_value(env, "LEDGER_LOCK_TIMEOUT", 10, minimum=0),
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
    def keys_path(self) -> Path:
        """The SQLite file of the keys personal data is sealed with."""
        return self.home / "keys.sqlite"

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
                "PERSISTENCE_MODULE": "ledger.sqlite_recorder:LedgerSQLiteFactory",
                "SQLITE_DBNAME": str(self.events_path),
                "SQLITE_LOCK_TIMEOUT": str(self.lock_timeout),
            }
        url = urlsplit(self.event_store)
        if url.scheme not in ("postgresql", "postgres"):
            msg = f"LEDGER_EVENT_STORE must be a postgresql:// URL, not {url.scheme!r}"
            raise ValueError(msg)
        return {
            "PERSISTENCE_MODULE": "ledger.postgres_appends:EarlyUnlockPostgresFactory",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_LOCK_TIMEOUT": str(self.lock_timeout),
            # How long a statement waits for a connection from the pool: with
            # the server out of reach, that is how long until a 503.
            "POSTGRES_CONNECT_TIMEOUT": str(self.lock_timeout or ""),
        }
