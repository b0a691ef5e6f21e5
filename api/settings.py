"""The HTTP side's settings, read from the environment in one place.

Everything an operator tunes per node (where to listen, how many workers, how
much a client may send or ask for) lives here beside the ledger's own
:class:`ledger.Settings`, so handlers never read the environment themselves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ledger.settings import Settings

N = TypeVar("N", int, float)


def _number(env: Mapping[str, str], name: str, default: N, kind: type[N]) -> N:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError as error:
        what = "an integer" if kind is int else "a number"
        msg = f"{name} must be {what}, not {raw!r}"
        raise ValueError(msg) from error


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return _number(env, name, default, int)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if not raw:
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class ApiSettings:
    """How one API node listens and what it allows.

    Attributes:
        ledger: Where the ledger and its read models live.
        host: Interface ``ledger serve`` binds to.
        port: Port ``ledger serve`` binds to.
        workers: granian worker processes.
        max_body_bytes: Largest request body accepted; larger ones get 413.
        voter_tokens_per_window: Anonymous voter tokens one client address may
            obtain per ``voter_window_seconds``.
        voter_window_seconds: The rate-limit window for ``POST /api/voters``.
        min_position_timeout: Longest a read waits for ``min_position``.
        idempotency_ttl_seconds: How long an ``Idempotency-Key`` is remembered.
        stream_keepalive_seconds: Quiet time before the event stream sends a
            keep-alive comment, so proxies do not drop idle connections.
        stream_poll_seconds: How often the event stream looks for events
            appended by other processes (local appends wake it at once).
        access_log: Whether to log one JSON line per request.
        write_lock: Whether this node's workers take turns writing through a
            file lock (embedded store only; see :class:`api.writer.Writer`).
        log_level: Level of the ``api`` loggers.
    """

    ledger: Settings = field(default_factory=Settings)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 64 * 1024
    voter_tokens_per_window: int = 20
    voter_window_seconds: int = 60
    min_position_timeout: float = 2.0
    idempotency_ttl_seconds: int = 24 * 3600
    stream_keepalive_seconds: float = 15.0
    stream_poll_seconds: float = 0.5
    access_log: bool = True
    write_lock: bool = True
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        """Reads the ``LEDGER_*`` variables (see the README's table)."""
        env = os.environ if environ is None else environ
        return cls(
            ledger=Settings.from_env(dict(env)),
            host=env.get("LEDGER_HOST") or "127.0.0.1",
            port=_int(env, "LEDGER_PORT", 8000),
            workers=_int(env, "LEDGER_WORKERS", 1),
            max_body_bytes=_int(env, "LEDGER_MAX_BODY_BYTES", 64 * 1024),
            voter_tokens_per_window=_int(env, "LEDGER_VOTER_TOKENS_PER_WINDOW", 20),
            voter_window_seconds=_int(env, "LEDGER_VOTER_WINDOW_SECONDS", 60),
            min_position_timeout=_float(env, "LEDGER_MIN_POSITION_TIMEOUT", 2.0),
            idempotency_ttl_seconds=_int(env, "LEDGER_IDEMPOTENCY_TTL", 24 * 3600),
            stream_keepalive_seconds=_float(env, "LEDGER_STREAM_KEEPALIVE", 15.0),
            stream_poll_seconds=_float(env, "LEDGER_STREAM_POLL", 0.5),
            access_log=_flag(env, "LEDGER_ACCESS_LOG", True),
            write_lock=_flag(env, "LEDGER_WRITE_LOCK", True),
            log_level=(env.get("LEDGER_LOG_LEVEL") or "INFO").upper(),
        )

    @property
    def api_db_path(self) -> Path:
        """The small SQLite file of idempotency keys and rate-limit windows."""
        return self.ledger.home / "api.sqlite"
