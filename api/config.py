"""The HTTP side's settings, read from the environment in one place.

Everything an operator tunes per node (where to listen, how many workers, how
much a client may send or ask for) lives here beside the ledger's own
:class:`ledger.settings.Settings`, so handlers never read the environment
themselves. Every variable is read with :func:`ledger.settings.env_value`, so
a bad value fails the same way whichever package reads it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from api import access_lists
from api.subscriber_mail import sender
from ledger.mail_transport import MailSettings
from ledger.settings import Settings, env_value
from projections.checkpoints import ChainSettings
from projections.following import FollowSettings

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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
        subscribe_per_window: Subscription requests (``POST /api/subscriptions``
            and the pages' form) one client address may make per
            ``subscribe_window_seconds``.
        subscribe_window_seconds: The rate-limit window for subscribing.
        min_position_timeout: Longest a read waits for ``min_position``.
        ready_timeout_seconds: Longest ``/healthz/ready`` waits for the event
            store's write lock (SQLite) or a connection (PostgreSQL).
        min_free_bytes: Free space below which the disk holding
            ``LEDGER_HOME`` makes the node not ready.
        idempotency_ttl_seconds: How long an ``Idempotency-Key`` is remembered.
        stream_keepalive_seconds: How often every event stream sends a
            keep-alive comment, so proxies do not drop idle connections.
        stream_poll_seconds: How often a worker's log watcher looks for
            events appended by other processes (local appends wake it at
            once); one watcher serves every stream of the worker.
        streams_per_client: Event streams one client address may hold open
            on one worker; the next is refused with 429.
        connections_per_worker: Connections a worker serves at once, open
            event streams and idle keep-alive connections included (granian's
            backpressure); further ones wait to be accepted. Event streams may
            take three quarters of them (see :attr:`streams_per_worker`).
        header_timeout_seconds: Longest wait for a request's headers, from
            the connection's opening or the previous answer's end, so also
            how long an idle keep-alive connection is kept.
        body_timeout_seconds: Longest a request's body may take to arrive,
            from when the app first reads it; a slower one is answered 408.
        access_log: Whether to log one JSON line per request.
        write_lock: Whether this node's workers take turns writing through a
            file lock (embedded store only; see
            :class:`api.writer_thread.WriterThread`).
        log_level: Level of the ``api`` and ``projections`` loggers.
        metrics_allow: Client networks that may read ``/metrics`` without a
            token; none by default, so it needs an admin or metrics token.
        cors_origins: Browser origins allowed to call the API from another
            site (CORS); none by default, which keeps CORS off.
        chain: The log's origin and how often its checkpoints are signed;
            by default, the defaults, in the ledger's home.
        follow: How the projector follows a PostgreSQL log (fallback poll,
            node name); by default, the defaults for the ledger's home.
        public_url: The site's address as readers reach it
            (``LEDGER_PUBLIC_URL``), which links in mails start with; by
            default the address the node listens on.
        mail: The SMTP relay, its CA and the sender of the site's mails,
            checked at start-up; by default the outbox folder.
    """

    ledger: Settings = field(default_factory=Settings)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 64 * 1024
    voter_tokens_per_window: int = 20
    voter_window_seconds: int = 60
    subscribe_per_window: int = 10
    subscribe_window_seconds: int = 3600
    min_position_timeout: float = 2.0
    ready_timeout_seconds: float = 1.0
    min_free_bytes: int = 32 * 1024 * 1024
    idempotency_ttl_seconds: int = 24 * 3600
    stream_keepalive_seconds: float = 15.0
    stream_poll_seconds: float = 0.1
    streams_per_client: int = 16
    connections_per_worker: int = 4096
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    access_log: bool = True
    write_lock: bool = True
    log_level: str = "INFO"
    metrics_allow: tuple[access_lists.Network, ...] = ()
    cors_origins: tuple[str, ...] = ()
    chain: ChainSettings | None = None
    follow: FollowSettings | None = None
    public_url: str = ""
    mail: MailSettings = field(default_factory=MailSettings)

    @property
    def site_url(self) -> str:
        """Where links in mails point: ``public_url``, or this node's address."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def sender(self) -> str:
        """The ``From`` of the site's mails (see :func:`api.subscriber_mail.sender`)."""
        return sender(self.site_url, self.mail.mail_from)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        """Reads the ``LEDGER_*`` variables (see the README's table).

        Raises:
            ValueError: A variable has a value it cannot take, in one line
                that names it (see :func:`ledger.settings.env_value`).
        """
        env = os.environ if environ is None else environ
        defaults = cls()
        ledger = Settings.from_env(env)
        return cls(
            ledger=ledger,
            chain=ChainSettings.from_env(ledger, env),
            follow=FollowSettings.from_env(ledger.home, env),
            host=env_value(env, "LEDGER_HOST", defaults.host),
            public_url=env_value(
                env, "LEDGER_PUBLIC_URL", "", url_schemes=("http", "https")
            ),
            port=env_value(env, "LEDGER_PORT", defaults.port, minimum=0, maximum=65535),
            workers=env_value(env, "LEDGER_WORKERS", defaults.workers, minimum=1),
            max_body_bytes=env_value(
                env, "LEDGER_MAX_BODY_BYTES", defaults.max_body_bytes, minimum=1
            ),
            voter_tokens_per_window=env_value(
                env,
                "LEDGER_VOTER_TOKENS_PER_WINDOW",
                defaults.voter_tokens_per_window,
                minimum=0,
            ),
            voter_window_seconds=env_value(
                env,
                "LEDGER_VOTER_WINDOW_SECONDS",
                defaults.voter_window_seconds,
                minimum=1,
            ),
            subscribe_per_window=env_value(
                env,
                "LEDGER_SUBSCRIBE_PER_WINDOW",
                defaults.subscribe_per_window,
                minimum=0,
            ),
            subscribe_window_seconds=env_value(
                env,
                "LEDGER_SUBSCRIBE_WINDOW_SECONDS",
                defaults.subscribe_window_seconds,
                minimum=1,
            ),
            min_position_timeout=env_value(
                env,
                "LEDGER_MIN_POSITION_TIMEOUT",
                defaults.min_position_timeout,
                minimum=0,
            ),
            ready_timeout_seconds=env_value(
                env,
                "LEDGER_READY_TIMEOUT",
                defaults.ready_timeout_seconds,
                minimum=0.01,
            ),
            min_free_bytes=env_value(
                env, "LEDGER_MIN_FREE_BYTES", defaults.min_free_bytes, minimum=0
            ),
            idempotency_ttl_seconds=env_value(
                env,
                "LEDGER_IDEMPOTENCY_TTL",
                defaults.idempotency_ttl_seconds,
                minimum=0,
            ),
            stream_keepalive_seconds=env_value(
                env,
                "LEDGER_STREAM_KEEPALIVE",
                defaults.stream_keepalive_seconds,
                minimum=0.1,
            ),
            stream_poll_seconds=env_value(
                env, "LEDGER_STREAM_POLL", defaults.stream_poll_seconds, minimum=0.01
            ),
            streams_per_client=env_value(
                env,
                "LEDGER_STREAMS_PER_CLIENT",
                defaults.streams_per_client,
                minimum=1,
            ),
            connections_per_worker=env_value(
                env,
                "LEDGER_CONNECTIONS_PER_WORKER",
                defaults.connections_per_worker,
                minimum=4,
            ),
            header_timeout_seconds=env_value(
                env,
                "LEDGER_HEADER_TIMEOUT",
                defaults.header_timeout_seconds,
                minimum=0.1,
            ),
            body_timeout_seconds=env_value(
                env,
                "LEDGER_BODY_TIMEOUT",
                defaults.body_timeout_seconds,
                minimum=0.1,
            ),
            access_log=env_value(env, "LEDGER_ACCESS_LOG", defaults.access_log),
            write_lock=env_value(env, "LEDGER_WRITE_LOCK", defaults.write_lock),
            metrics_allow=access_lists.networks(
                "LEDGER_METRICS_ALLOW", env_value(env, "LEDGER_METRICS_ALLOW", "")
            ),
            cors_origins=access_lists.origins(
                "LEDGER_CORS_ORIGINS", env_value(env, "LEDGER_CORS_ORIGINS", "")
            ),
            log_level=env_value(
                env, "LEDGER_LOG_LEVEL", defaults.log_level, choices=LOG_LEVELS
            ),
            mail=MailSettings.from_env(env),
        )

    def __post_init__(self) -> None:
        if self.chain is None:  # frozen: set once, as a default would be
            object.__setattr__(self, "chain", ChainSettings(home=self.ledger.home))
        if self.follow is None:
            object.__setattr__(self, "follow", FollowSettings.of(self.ledger.home))

    @property
    def streams_per_worker(self) -> int:
        """Event streams one worker holds open at most, from all clients.

        Three quarters of its connections, so a crowd of streams cannot take
        the connections that requests need.
        """
        return self.connections_per_worker * 3 // 4

    @property
    def chain_settings(self) -> ChainSettings:
        """The log's checkpoint settings (see :attr:`chain`)."""
        assert self.chain is not None, "set in __post_init__"
        return self.chain

    @property
    def api_db_path(self) -> Path:
        """The small SQLite file of idempotency keys and rate-limit windows."""
        return self.ledger.home / "api.sqlite"
