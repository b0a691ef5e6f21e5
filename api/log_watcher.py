"""One watcher of the log per worker, shared by every event stream it serves.

A stream that polled the log by itself cost a query (and a thread hop) per
poll interval, so a thousand idle streams kept a core busy doing nothing.
Here one task per worker looks for new events: at once when this process
appends (the ledger's listener pokes it), else every ``poll`` seconds for
the appends of other processes, and only while some stream is open. It
reads each new event once, encodes it once, keeps the newest ones in a
bounded window and wakes every stream; each stream then takes what it has
not sent yet from the window. The keep-alive comments are ticked here too,
every ``keepalive`` seconds for all streams at once, rather than by a timer
per stream. A stream that has fallen behind the window (a
slow reader, or one resuming from an old ``Last-Event-ID``) reads the log
by position itself until it has caught up, so no stream ever holds a queue
and a stalled client costs nothing but its own connection. The window holds
events with their personal data opened, so an erasure read into it empties
it of the events read before: a stream that still wants those reads them
from the log again, where they open as erased.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import functools
import logging
from collections.abc import Iterator

import anyio.to_thread

from api.event_stream import BATCH, EncodedMessage, Shutdown, read_messages
from ledger.application import Ledger

KEEP = 4096
"""Newest events kept for the streams; a stream further behind reads the log."""

log = logging.getLogger("api.log_watcher")


class LogWatcher:
    """Follows the log's head for all the streams of one worker.

    Args:
        ledger: The worker's ledger, whose appends wake the watcher at once.
        poll: Seconds between looks for other processes' appends.
        keepalive: Seconds between the streams' keep-alive comments.
        shutdown: Ends the streams when the worker stops.
        keep: How many of the newest events the window holds.
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        poll: float,
        keepalive: float,
        shutdown: Shutdown,
        keep: int = KEEP,
    ) -> None:
        self.ledger = ledger
        self._poll = poll
        self._keepalive = keepalive
        self.ticks = 0
        """How many keep-alive ticks there have been; each stream sends one."""
        self._keep = keep
        self.shutdown = shutdown
        # The window holds every event after ``_base`` up to ``_head``.
        self._base: int | None = None
        self._head = 0
        self._positions: list[int] = []
        self._messages: list[EncodedMessage] = []
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._followers = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Starts the watching task on the running loop."""
        self._loop = asyncio.get_running_loop()
        self.ledger.add_listener(self._on_append)
        self.shutdown.on_stop(self._stop)
        self._tasks = [
            asyncio.create_task(self._run(), name="log-watcher"),
            asyncio.create_task(self._tick(), name="stream-keepalive"),
        ]

    async def close(self) -> None:
        """Ends every stream and the watching task."""
        self._stop()
        self.ledger.remove_listener(self._on_append)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def changed(self) -> asyncio.Event:
        """Set once the window has gained events (or the worker stops).

        Take it before looking at the window: an event set meanwhile is
        then still seen, so a wake-up is never missed.
        """
        return self._changed

    @contextlib.contextmanager
    def following(self) -> Iterator[None]:
        """Counts a stream as open while the block runs; the first wakes the task."""
        self._followers += 1
        if self._followers == 1:
            self._wake.set()
        try:
            yield
        finally:
            self._followers -= 1

    def since(self, after: int) -> list[EncodedMessage] | None:
        """Up to a batch of the window's events after position ``after``.

        Returns:
            The events (none yet while ``after`` is at or past the newest
            event read), or None when ``after`` is before the window: the
            stream must read the log itself.
        """
        if self._base is None or after < self._base:
            return None
        start = bisect.bisect_right(self._positions, after)
        return self._messages[start : start + BATCH]

    def wake(self) -> None:
        """Looks at the log now (another node appended); safe from any thread."""
        self._on_append(0)

    def _on_append(self, _: int) -> None:
        # Runs in the writer's thread; a closed loop must not fail the write.
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._wake.set)

    def _stop(self) -> None:
        self._changed.set()
        self._wake.set()

    async def _run(self) -> None:
        idle = True
        while not self.shutdown.stopping:
            if not self._followers:
                idle = True
                await self._wake.wait()
                self._wake.clear()
                continue
            self._wake.clear()
            try:
                if idle:
                    # Whatever was appended while no stream was open is read
                    # from the log by the streams that need it.
                    head = await anyio.to_thread.run_sync(self.ledger.head_position)
                    self._restart(head)
                    idle = False
                else:
                    await self._read_new()
            except Exception:  # a failed read must not end every stream
                log.exception("reading the log for the event streams failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll):
                    await self._wake.wait()

    async def _tick(self) -> None:
        """Wakes every stream to send its keep-alive, every ``keepalive`` s."""
        while not self.shutdown.stopping:
            await asyncio.sleep(self._keepalive)
            self.ticks += 1
            self._notify()

    async def _read_new(self) -> None:
        """Reads what was appended since the last look, a batch at a time."""
        read = 0
        while not self.shutdown.stopping:
            found = await anyio.to_thread.run_sync(
                functools.partial(read_messages, self.ledger, self._head)
            )
            if not found:
                return
            self._add(found)
            read += len(found)
            if len(found) < BATCH:
                return
            if read >= self._keep:
                # Far behind: let the streams read the backlog themselves
                # rather than fill the window with what they may never want.
                head = await anyio.to_thread.run_sync(self.ledger.head_position)
                self._restart(head)
                return

    def _restart(self, head: int) -> None:
        """Empties the window, to start after ``head``."""
        self._positions.clear()
        self._messages.clear()
        self._base = self._head = head
        self._notify()

    def _add(self, found: list[EncodedMessage]) -> None:
        if any(message.erasure for message in found):
            # All of ``found`` was read after the key was destroyed.
            self._positions.clear()
            self._messages.clear()
            self._base = self._head
        self._positions.extend(message.position for message in found)
        self._messages.extend(found)
        self._head = found[-1].position
        excess = len(self._positions) - 2 * self._keep
        if excess > 0:
            drop = excess + self._keep
            self._base = self._positions[drop - 1]
            del self._positions[:drop]
            del self._messages[:drop]
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
