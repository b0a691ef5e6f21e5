"""One log watcher feeds every stream of a worker, and streams behind it catch up.

In-process, on a real ledger: the watcher's window is made tiny here, so a
stream that falls behind it (or resumes from an old position) has to read
the log by position itself, as a slow client's does in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
import pytest
from litestar.response.sse import ServerSentEventMessage

from api.event_stream import Shutdown, follow
from api.log_watcher import LogWatcher
from ledger.application import Ledger
from tests.api.bulk_votes import append_votes
from tests.api.helpers import ledger_settings, make_home

HELLO = "verdict ledger events"


async def _ids(stream: AsyncIterator[ServerSentEventMessage], count: int) -> list[int]:
    ids = []
    while len(ids) < count:
        sse = await anext(stream)
        if sse.id is not None:
            ids.append(int(sse.id))
    return ids


async def _watched(home: Path) -> None:
    ledger = Ledger(ledger_settings(home))
    shutdown = Shutdown()
    watcher = LogWatcher(ledger, poll=0.01, keepalive=3600, shutdown=shutdown, keep=4)
    watcher.start()
    ended: list[str] = []
    start = ledger.head_position()
    live = follow(watcher, start, on_end=lambda: ended.append("live"))
    resumed = follow(watcher, 2, on_end=lambda: ended.append("old"))
    never_started = follow(watcher, 0, on_end=lambda: ended.append("-"))
    try:
        for stream in (live, resumed):
            assert (await anext(stream)).comment == HELLO
        # when far more events are appended at once than the window keeps
        written = await anyio.to_thread.run_sync(append_votes, ledger, 30)
        # then each stream gets every event after its start, in order
        assert await _ids(live, 30) == written
        assert await _ids(resumed, written[-1] - 2) == list(range(3, written[-1] + 1))
        # and one more append reaches both from the window
        more = await anyio.to_thread.run_sync(append_votes, ledger, 1)
        assert await _ids(live, 1) == more
        assert await _ids(resumed, 1) == more
        # when the worker stops, every stream ends and frees its slot
        shutdown.stop()
        for stream in (live, resumed):
            assert [sse async for sse in stream] == []
        assert sorted(ended) == ["live", "old"]
        # and a stream that never started frees its slot once dropped
        del never_started
        assert sorted(ended) == ["-", "live", "old"]
    finally:
        await watcher.close()
        ledger.close()


@pytest.mark.usefixtures("event_store")
def test_every_stream_gets_every_event_even_behind_the_window(tmp_path: Path) -> None:
    asyncio.run(_watched(make_home(tmp_path)))


async def _kept_alive(home: Path) -> None:
    ledger = Ledger(ledger_settings(home))
    watcher = LogWatcher(ledger, poll=0.01, keepalive=0.05, shutdown=Shutdown())
    watcher.start()
    streams = [follow(watcher, 0, on_end=lambda: None) for _ in range(3)]
    try:
        for stream in streams:
            assert (await anext(stream)).comment == HELLO
            backlog = await _ids(stream, ledger.head_position())
            assert backlog == list(range(1, ledger.head_position() + 1))
        # when nothing is appended, every stream gets the watcher's ticks
        for stream in streams:
            assert (await anext(stream)).encode() == b": keep-alive\r\n\r\n"
    finally:
        for stream in streams:
            await stream.aclose()
        await watcher.close()
        ledger.close()


@pytest.mark.usefixtures("event_store")
def test_quiet_streams_get_a_keep_alive_at_each_tick(tmp_path: Path) -> None:
    asyncio.run(_kept_alive(make_home(tmp_path)))
