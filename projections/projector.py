"""Following the log into the read models, live.

eventsourcing's SQLite recorder cannot be subscribed to, so the projector
polls the log. To keep lag low without polling hard, the ledger wakes it
right after every local append (``Ledger.add_listener``); appends by other
processes are found by the poll. On PostgreSQL a LISTEN/NOTIFY listener
calls :meth:`Projector.wake` the same way for every node's appends
(:mod:`projections.following`), and because the poll stays, a lost
notification only costs one poll interval, never a stall.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ledger.application import Ledger
from projections import engine, files, registry, schema
from projections.chain_queries import StoredTree
from projections.checkpoints import Checkpointer
from projections.models import Lag
from projections.rebuild import rebuild_if_schema_changed
from projections.source import LogSource

logger = logging.getLogger(__name__)


class Projector:
    """Keeps one read-model file up to date with one ledger's log.

    Several projectors, in this or other processes, may follow the same file
    at once: every batch re-checks the tracking position inside its write
    transaction, so each event is applied exactly once whoever gets there
    first.

    Args:
        ledger: The ledger whose log is followed.
        path: The read-model file (see :func:`projections.files.readmodel_path`).
        batch_size: Events per transaction; larger batches fold faster.
        poll_interval: Seconds between polls when nothing wakes the projector.
        checkpointer: Signs a checkpoint of the log's tree when one is due,
            after a batch and between polls; None signs none.
    """

    def __init__(
        self,
        ledger: Ledger,
        path: Path,
        *,
        batch_size: int = 5000,
        poll_interval: float = 0.5,
        checkpointer: Checkpointer | None = None,
    ) -> None:
        if batch_size < 1:
            msg = f"batch_size must be at least 1, not {batch_size}"
            raise ValueError(msg)
        self.ledger = ledger
        self.path = Path(path)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.source = LogSource(ledger)
        self.checkpointer = checkpointer
        self.dispatch = registry.dispatch()
        self.on_commit: Callable[[int], None] | None = None
        """Called with the new position after every batch this projector commits."""
        self._conn: files.Connection | None = None
        self._status: files.Connection | None = None
        self._status_lock = threading.Lock()
        self._projecting = threading.Lock()
        self._projected = threading.Condition()
        self._position = 0
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        rebuild_if_schema_changed(ledger, self.path)
        self._position = schema.tracked_position(self._connection())

    @property
    def position(self) -> int:
        """The position this projector last saw the file reflect."""
        return self._position

    def _connection(self) -> files.Connection:
        """The open file, reopened if a rebuild has swapped in another."""
        conn = self._conn
        if conn is not None and not files.swapped(conn, self.path):
            return conn
        if conn is not None:
            conn.close()
        conn = files.connect(self.path)
        schema.migrate(conn)
        self._conn = conn
        return conn

    def catch_up(self, *, stop: int | None = None) -> int:
        """Projects every event up to the head of the log (or ``stop``) now.

        Returns:
            The position the read models reflect afterwards.
        """
        return self._catch_up(stop, None)

    def _catch_up(self, stop: int | None, interrupt: threading.Event | None) -> int:
        with self._projecting:
            while True:
                conn = self._connection()
                after = schema.tracked_position(conn)
                self._advanced(after)
                if stop is not None and after >= stop:
                    return after
                if interrupt is not None and interrupt.is_set():
                    return after  # stopping: the rest waits for the next start
                raws = self.source.read(after, self.batch_size, stop)
                if not raws:
                    return after
                batch = engine.Batch(conn, self.dispatch, log=self.source)
                try:
                    position = engine.project(conn, after, raws, batch)
                except engine.GapError:
                    continue  # swapped for a file that reflects less: re-read
                self._sign_if_due(conn)
                self._advanced(position)
                if self.on_commit is not None:
                    self.on_commit(position)

    def _sign_if_due(self, conn: files.Connection) -> None:
        """Publishes a checkpoint of the tree the file holds, if one is due.

        A failure is logged, never raised: projecting must go on, and the
        next batch or poll tries again.
        """
        checkpointer = self.checkpointer
        if checkpointer is None:
            return
        try:
            tree = StoredTree(conn)
            if checkpointer.due(tree.size()):
                head = tree.head()  # its root only when it is to be signed
                checkpointer.sign(head.size, head.root)
        except Exception:
            logger.exception("signing a checkpoint failed; trying again later")

    def _advanced(self, position: int) -> None:
        with self._projected:
            if position != self._position:
                self._position = position
                self._projected.notify_all()

    # Following.

    def wake(self, position: int = 0) -> None:
        """Asks the follower to look at the log now (a listener for appends)."""
        self._wakeup.set()

    @property
    def following(self) -> bool:
        """Whether the follower thread is running (see :meth:`start`)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Follows the log in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self.ledger.add_listener(self.wake)
        self._thread = threading.Thread(
            target=self._follow, name="projector", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stops following and waits for the current batch to commit."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wakeup.set()
        thread.join(timeout)
        self._thread = None
        self.ledger.remove_listener(self.wake)

    def close(self) -> None:
        """Stops following and closes the read-model file."""
        self.stop()
        with self._projecting, self._status_lock:
            for conn in (self._conn, self._status):
                if conn is not None:
                    conn.close()
            self._conn = self._status = None
            self.source.close()
            if self.checkpointer is not None:
                self.checkpointer.close()

    def _follow(self) -> None:
        while not self._stopping.is_set():
            # Cleared before catching up, so an append during the catch-up
            # wakes the next round instead of being lost.
            self._wakeup.clear()
            try:
                self._catch_up(None, self._stopping)
                with self._projecting:
                    self._sign_if_due(self._connection())
            except Exception:
                logger.exception("projecting failed; retrying after the poll interval")
            self._wakeup.wait(self.poll_interval)

    # Waiting and lag.

    def wait_for(self, position: int, timeout: float) -> bool:
        """Waits (at most ``timeout`` seconds) until the file reflects ``position``."""
        deadline = time.monotonic() + timeout
        with self._projected:
            while self._position < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._projected.wait(remaining)
            return True

    def lag(self) -> Lag:
        """How far the file trails the log right now (without waiting for a batch)."""
        head = self.ledger.head_position()
        with self._status_lock:
            conn = self._status
            if conn is None or files.swapped(conn, self.path):
                if conn is not None:
                    conn.close()
                conn = self._status = files.connect(self.path)
            projected = schema.tracked_position(conn)
        return Lag(head=head, projected=projected, lag=max(0, head - projected))
