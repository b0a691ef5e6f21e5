"""Waking a node's followers the moment any node appends to a PostgreSQL log.

eventsourcing's PostgreSQL recorder sends ``NOTIFY`` on the recorder's
``channel_name`` inside every appending transaction, so PostgreSQL delivers
it to every listener when (and only if) the append commits. Its own
``subscribe`` listens on a connection borrowed from the recorder's pool and
reads the events itself; a node only needs to be told to look, on a
connection it can name (``application_name``, to tell it apart in
``pg_stat_activity``) and open again when the server drops it. Hence this
small listener of our own: it calls its wake functions on every
notification and after every (re)connection, and never reads the log.

It is only the fast path: the followers it wakes keep polling every
``LEDGER_FOLLOW_FALLBACK`` seconds, so a lost notification or a dead
connection costs at most that interval, never a stall.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

logger = logging.getLogger(__name__)

Wake = Callable[[], object]

CHECK_SECONDS = 0.25
"""How often the listening thread looks whether it is asked to stop."""

KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
"""TCP keep-alives, so that a connection dropped without a word (a vanished
host) fails within about 25 s and is opened again, instead of never."""


class LogListener:
    """LISTENs on one recorder's notification channel; calls the wake functions.

    Args:
        recorder: The PostgreSQL recorder whose appends notify.
        application_name: The listening connection's name in ``pg_stat_activity``.
        retry_seconds: The wait before connecting again after a failure.
    """

    def __init__(
        self,
        recorder: PostgresApplicationRecorder,
        *,
        application_name: str,
        retry_seconds: float = 1.0,
    ) -> None:
        self.channel = recorder.channel_name
        kwargs = recorder.datastore.pool.kwargs
        conninfo: dict[str, Any] = dict(
            (kwargs() if callable(kwargs) else kwargs) or {}
        )
        conninfo.pop("row_factory", None)
        self._conninfo = {
            **conninfo,
            **KEEPALIVE,
            "application_name": application_name,
            "connect_timeout": 5,
            "autocommit": True,
        }
        self.retry_seconds = retry_seconds
        self.connections = 0
        """How many times the listener has started listening (1 + reconnections)."""
        self._wakes: list[Wake] = []
        self._listening = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, wake: Wake) -> None:
        """Also calls ``wake`` (from the listening thread) on every notification."""
        self._wakes.append(wake)

    @property
    def listening(self) -> bool:
        """Whether a connection is listening right now."""
        return self._listening.is_set()

    def start(self) -> None:
        """Listens in a daemon thread until :meth:`close`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="log-listener", daemon=True
        )
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stops listening and closes the connection."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            listened = self.connections
            try:
                self._listen()
            except psycopg.Error as error:
                failures = 1 if self.connections > listened else failures + 1
                # Once per outage, not once a retry while the server is away.
                logger.log(
                    logging.WARNING if failures == 1 else logging.DEBUG,
                    "listening for appends failed (%s); polling until it is "
                    "back, connecting again every %g s",
                    error,
                    self.retry_seconds,
                )
            finally:
                self._listening.clear()
            self._stopping.wait(self.retry_seconds)

    def _listen(self) -> None:
        with psycopg.connect(**self._conninfo) as conn:
            conn.execute(SQL("LISTEN {0}").format(Identifier(self.channel)))
            self.connections += 1
            self._listening.set()
            # Whatever was appended while nobody listened is looked for now.
            self._wake()
            while not self._stopping.is_set():
                for _ in conn.notifies(timeout=CHECK_SECONDS, stop_after=1):
                    self._wake()

    def _wake(self) -> None:
        for wake in self._wakes:
            try:
                wake()
            except Exception:
                logger.exception("waking a follower of the log failed")
