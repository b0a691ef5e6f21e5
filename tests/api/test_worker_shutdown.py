"""A worker asked to stop stops, even when the signal's wake-up byte is lost.

granian's worker stops on a callback asyncio runs when it reads a signal's
byte from the loop's self-pipe; a burst of thread-safe callbacks (a thousand
stream clients leaving at once) can fill that pipe, and the byte of a signal
arriving then is dropped. Here, in this process's own loop, with a handler
registered as granian registers its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

from api.event_stream import Shutdown


async def _signal_while_the_pipe_is_full() -> tuple[bool, list[str]]:
    loop = asyncio.get_running_loop()
    heard: list[str] = []
    loop.add_signal_handler(signal.SIGTERM, heard.append, "granian")
    shutdown = Shutdown()
    shutdown.watch_signals()

    def burst() -> None:
        for _ in range(20_000):
            loop.call_soon_threadsafe(lambda: None)

    # while the loop is busy (here: blocked in join) a burst fills its pipe
    flood = threading.Thread(target=burst)
    flood.start()
    flood.join()
    # and then the signal comes
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(200):
        await asyncio.sleep(0.01)
        if heard:
            break
    return shutdown.stopping, heard


# Python reports the byte it could not write, as it would in the worker.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_signal_that_finds_the_self_pipe_full_still_reaches_granian() -> None:
    before = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}
    try:
        stopping, heard = asyncio.run(_signal_while_the_pipe_is_full())
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
    # the streams were ended, and granian's own handler ran too
    assert stopping
    assert heard[:1] == ["granian"]
