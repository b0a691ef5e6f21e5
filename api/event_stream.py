"""The event stream: what each stream sends, and ending them all on shutdown.

Every stream of a worker is fed by the worker's one
:class:`api.log_watcher.LogWatcher`; :func:`follow` is one stream's side of
it. Events are encoded once, whichever stream sends them, and reads of the
log run in a worker thread, never on the event loop. Personal data in an
event (sealed in the log) is opened when the event is read, with one key
lookup per batch; an erasure empties the watcher's window of events opened
before it (:class:`api.log_watcher.LogWatcher`).
"""

from __future__ import annotations

import asyncio
import functools
import signal
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import msgspec
from litestar.response.sse import ServerSentEventMessage

from ledger import log as event_log
from ledger.application import Ledger
from ledger.opened_log import opened
from ledger.people import Erasure
from projections.models import AuditItem

if TYPE_CHECKING:
    from api.log_watcher import LogWatcher

BATCH = 500
RETRY_MS = 2000
_encode = msgspec.json.Encoder().encode
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class EncodedMessage(ServerSentEventMessage):
    """An SSE message encoded once, however many streams send it.

    Litestar encodes each message a stream yields; with a thousand streams
    on one worker, that was a thousand encodings of the same event.
    """

    def __init__(
        self, encoded: bytes, position: int = 0, *, erasure: bool = False
    ) -> None:
        super().__init__(data=None, id=position or None)
        self.position = position
        self.encoded = encoded
        self.erasure = erasure
        """Whether the event records an erasure: what was read before is stale."""

    def encode(self) -> bytes:
        """The bytes encoded when the event was read."""
        return self.encoded


ERASURE = Erasure.Recorded.__qualname__
"""The type of the event that records an erasure."""


def message(event: event_log.LoggedEvent) -> EncodedMessage:
    """One log event as an SSE message; ``data`` has the audit item shape."""
    item = msgspec.convert(event, AuditItem, from_attributes=True)
    sse = ServerSentEventMessage(
        data=_encode(item), event=event.type, id=event.position
    )
    return EncodedMessage(sse.encode(), event.position, erasure=event.type == ERASURE)


KEEP_ALIVE = EncodedMessage(
    ServerSentEventMessage(data=None, comment="keep-alive").encode()
)
"""A comment that only keeps idle connections open through proxies."""


def read_messages(ledger: Ledger, after: int) -> list[EncodedMessage]:
    """Up to a batch of the log's events after ``after``, encoded (blocking)."""
    events = event_log.read(ledger.recorder, after=after, limit=BATCH)
    return [message(event) for event in opened(ledger.sealer, events)]


class Shutdown:
    """Ends the streams when the worker is asked to stop.

    granian stops a worker by waiting for its open connections before it
    runs the app's shutdown, and an event stream never ends by itself; so
    the worker would never stop. This chains a handler onto SIGINT and
    SIGTERM (keeping whatever handler was there) that ends every stream;
    their clients reconnect elsewhere with ``Last-Event-ID`` and miss
    nothing.

    granian hears a signal through the event loop, not through this
    handler, and its handler must not hear too many: it puts the stop on a
    one-slot channel (``WorkerSignal.set``) that the serving worker takes
    from once, so a third stop (a second one before the worker serves)
    blocks the worker's loop for good, deaf to any later SIGTERM. A worker
    is often signalled more than once: a Ctrl-C reaches the whole process
    group, and granian's main process then sends SIGTERM as well. So each
    signal is ignored once it has come, and a worker stopped before it
    serves hears no more (:meth:`watch_signals`). Should granian not hear
    the stop at all (its wake-up byte dropped because a burst of thread-safe
    callbacks filled the loop's self-pipe), the main process kills the
    worker after ``api.serve.WORKER_KILL_SECONDS``.
    """

    def __init__(self) -> None:
        self.stopping = False
        self.signalled = False
        """Whether SIGINT or SIGTERM has come (seen by this handler)."""
        self._callbacks: list[Callable[[], None]] = []

    def watch_signals(self) -> None:
        """Chains onto SIGINT and SIGTERM, then lets them in; main thread only.

        ``ledger serve`` forks its workers with the two signals blocked
        (:func:`api.serve.hold_signals_in_workers`): before granian's
        handler is in place a stop would be lost, and while the worker
        starts, two stops would block it. Call this once the worker has
        started. The signals are let in one at a time; once one has come,
        the other is ignored first, which discards it if it is waiting.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for number in STOP_SIGNALS:
            previous = signal.getsignal(number)

            def handler(
                signum: int, frame: FrameType | None, previous: Any = previous
            ) -> None:
                signal.signal(signum, signal.SIG_IGN)
                self.signalled = True
                loop.call_soon_threadsafe(self.stop)
                if callable(previous):
                    previous(signum, frame)

            signal.signal(number, handler)
        for number in STOP_SIGNALS:
            if self.signalled:
                signal.signal(number, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {number})

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Calls ``callback`` (on the event loop) when the worker stops."""
        self._callbacks.append(callback)

    def stop(self) -> None:
        """Ends every stream at its next step."""
        self.stopping = True
        for callback in self._callbacks:
            callback()


def follow(
    watcher: LogWatcher, after: int, *, on_end: Callable[[], None]
) -> AsyncIterator[ServerSentEventMessage]:
    """Every event after ``after``, then each new one as it is appended.

    Takes events from the watcher's window while ``after`` is in it, and
    reads the log by position while it is not (so a slow or resuming
    stream catches up without holding anything for it). Sends a keep-alive
    comment at each of the watcher's ticks. Ends only when the worker stops
    (or the client goes away).

    Args:
        watcher: The worker's log watcher.
        after: The position the stream starts after.
        on_end: Called once the stream has ended, or once it is dropped if
            it never started (an unstarted generator runs no ``finally``).
    """
    stream = _follow(watcher, after, on_end)
    weakref.finalize(stream, on_end)
    return stream


async def _follow(
    watcher: LogWatcher, after: int, on_end: Callable[[], None]
) -> AsyncIterator[ServerSentEventMessage]:
    shutdown = watcher.shutdown
    try:
        with watcher.following():
            yield ServerSentEventMessage(
                data=None, comment="verdict ledger events", retry=RETRY_MS
            )
            ticks = watcher.ticks
            while not shutdown.stopping:
                changed = watcher.changed
                found = watcher.since(after)
                if found is None:
                    read = functools.partial(read_messages, watcher.ledger, after)
                    found = await anyio.to_thread.run_sync(read)
                if found:
                    for sse in found:
                        yield sse
                    after = found[-1].position
                elif ticks != watcher.ticks:
                    ticks = watcher.ticks
                    yield KEEP_ALIVE
                else:
                    await changed.wait()
    finally:
        on_end()
