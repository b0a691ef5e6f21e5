"""Following the log for the event stream, without blocking the event loop.

Reads of the log run in a worker thread. Between reads the stream waits on
an asyncio event that the ledger's listener sets after every append in this
process, so local writes go out at once; appends by other processes (other
workers, other nodes) are found by the periodic poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from types import FrameType
from typing import Any

import anyio.to_thread
import msgspec
from litestar.response.sse import ServerSentEventMessage

from ledger import log as event_log
from ledger.application import Ledger
from projections.models import AuditItem

BATCH = 500
RETRY_MS = 2000
_encode = msgspec.json.Encoder().encode


def message(event: event_log.LoggedEvent) -> ServerSentEventMessage:
    """One log event as an SSE message; ``data`` has the audit item shape."""
    item = msgspec.convert(event, AuditItem, from_attributes=True)
    return ServerSentEventMessage(
        data=_encode(item), event=event.type, id=event.position
    )


class Shutdown:
    """Ends the streams when the worker is asked to stop.

    granian stops a worker by waiting for its open connections before it
    runs the app's shutdown, and an event stream never ends by itself; so
    the worker would never stop. This chains a handler onto SIGINT and
    SIGTERM (keeping whatever handler was there) that ends every stream;
    their clients reconnect elsewhere with ``Last-Event-ID`` and miss nothing.
    """

    def __init__(self) -> None:
        self.stopping = False
        self._wakes: set[asyncio.Event] = set()

    def watch_signals(self) -> None:
        """Chains onto SIGINT and SIGTERM; only the main thread can."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(number)

            def handler(
                signum: int, frame: FrameType | None, previous: Any = previous
            ) -> None:
                loop.call_soon_threadsafe(self.stop)
                if callable(previous):
                    previous(signum, frame)

            signal.signal(number, handler)

    def stop(self) -> None:
        """Ends every stream at its next step."""
        self.stopping = True
        for wake in self._wakes:
            wake.set()

    @contextlib.contextmanager
    def watching(self, wake: asyncio.Event) -> Iterator[None]:
        """Sets ``wake`` when stopping, while the block runs."""
        self._wakes.add(wake)
        try:
            yield
        finally:
            self._wakes.discard(wake)


async def follow(
    ledger: Ledger,
    after: int,
    *,
    poll: float,
    keepalive: float,
    shutdown: Shutdown,
) -> AsyncIterator[ServerSentEventMessage]:
    """Yields every event after ``after``, then each new one as it is appended.

    Ends only when the worker stops (or the client goes away).
    """
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def on_append(_: int) -> None:
        # Runs in the writer's thread; a closed loop must not fail the write.
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:
            return

    ledger.add_listener(on_append)
    try:
        with shutdown.watching(wake):
            yield ServerSentEventMessage(
                data=None, comment="verdict ledger events", retry=RETRY_MS
            )
            quiet_since = loop.time()
            while not shutdown.stopping:
                wake.clear()
                read = functools.partial(
                    event_log.read, ledger.recorder, after=after, limit=BATCH
                )
                events = await anyio.to_thread.run_sync(read)
                for event in events:
                    yield message(event)
                    after = event.position
                if len(events) == BATCH:
                    continue
                now = loop.time()
                if events:
                    quiet_since = now
                elif now - quiet_since >= keepalive:
                    yield ServerSentEventMessage(data=None, comment="keep-alive")
                    quiet_since = now
                wait = min(poll, max(keepalive - (now - quiet_since), 0.0))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=wait or poll)
    finally:
        ledger.remove_listener(on_append)
