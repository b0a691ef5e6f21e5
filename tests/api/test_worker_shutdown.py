"""A served ledger asked to stop stops, all its workers, however it is asked.

granian hears a stop signal through the worker's event loop, and its
handler blocks that loop for good when it hears too many (see
:class:`api.event_stream.Shutdown`); a worker is often signalled more than
once (a Ctrl-C reaches the whole process group, then the main process sends
SIGTERM too). And a signal that reached a worker before granian's handler
was in place was lost. Either left a worker running, deaf to SIGTERM, with
the main process waiting for it. Here, in this process's own loop with a
handler registered as granian registers its own, and end to end with real
``ledger serve`` processes under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from api.event_stream import STOP_SIGNALS, Shutdown
from tests.api.helpers import _launch, _wait_until_up, issue_tokens

SIGINT, SIGTERM = signal.SIGINT, signal.SIGTERM
STOPPED_WITHIN = 10.0
"""Seconds a signalled server has to be gone, workers and all."""


async def _signalled(*signals: signal.Signals, held: bool) -> tuple[bool, list[str]]:
    """Sends ``signals`` to this process; returns what granian's handler heard.

    ``held``: sent while blocked, as to a worker still starting, and let in
    by :meth:`Shutdown.watch_signals`; else sent after it.
    """
    loop = asyncio.get_running_loop()
    heard: list[str] = []
    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, heard.append, number.name)
    shutdown = Shutdown()
    if held:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    else:
        shutdown.watch_signals()
    for number in signals:
        os.kill(os.getpid(), number)
        await asyncio.sleep(0.02)
    if held:
        shutdown.watch_signals()
    await asyncio.sleep(0.1)
    for number in STOP_SIGNALS:
        loop.remove_signal_handler(number)
    return shutdown.stopping, heard


@contextlib.contextmanager
def _signals_restored() -> Iterator[None]:
    handlers = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    try:
        yield
    finally:
        for number in STOP_SIGNALS:  # discards any still waiting
            signal.signal(number, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for number, handler in handlers.items():
            signal.signal(number, handler)


def test_granian_hears_each_stop_signal_once_however_often_it_comes() -> None:
    with _signals_restored():
        stopping, heard = asyncio.run(
            _signalled(SIGTERM, SIGTERM, SIGINT, SIGTERM, SIGINT, held=False)
        )
    # the streams were ended, and granian's handler heard each signal once
    assert stopping
    assert heard == ["SIGTERM", "SIGINT"]


def test_a_worker_stopped_while_it_starts_lets_granian_hear_one_stop() -> None:
    with _signals_restored():
        stopping, heard = asyncio.run(_signalled(SIGINT, SIGTERM, held=True))
    # both were waiting; one reached granian, before it served, the other
    # was discarded
    assert stopping
    assert heard == ["SIGINT"]


def _group(pgid: int) -> list[psutil.Process]:
    """The live (not zombie) processes of process group ``pgid``."""
    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == pgid and (
                process.status() != psutil.STATUS_ZOMBIE
            ):
                members.append(process)
    return members


def _gone_within(process: subprocess.Popen[bytes], seconds: float) -> list[str]:
    """Waits for the group led by ``process`` to end; returns who is left."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        process.poll()
        if not _group(process.pid):
            return []
        time.sleep(0.05)
    return [" ".join(member.cmdline()) for member in _group(process.pid)]


@contextlib.contextmanager
def _serving_group(
    home: Path,
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """``ledger serve`` with 2 workers in a process group of its own.

    Whatever is left of the group afterwards is SIGKILLed.
    """
    process, base, log_path = _launch(home, 2, None, new_group=True)
    try:
        yield process, base, log_path
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _load(base: str, editor: str, stop: threading.Event, stream: bool) -> None:
    """Creates tools, or holds an event stream open, until ``stop``."""
    headers = {"Authorization": f"Bearer {editor}"}
    with httpx.Client(base_url=base, timeout=5) as client:
        while not stop.is_set():
            try:
                if stream:
                    with client.stream(
                        "GET", "/api/events/stream?after=0", timeout=None
                    ) as answer:
                        for _ in answer.iter_bytes():
                            if stop.is_set():
                                break
                else:
                    slug = f"t-{uuid.uuid4().hex[:12]}"
                    tool = {"slug": slug, "name": "N", "vendor": "V", "category": "C"}
                    client.post("/api/tools", json=tool, headers=headers)
            except httpx.HTTPError:
                time.sleep(0.05)


@pytest.mark.parametrize("signum", [SIGTERM, SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_loaded_server_signalled_as_a_group_stops_with_all_its_workers(
    home: Path, signum: signal.Signals
) -> None:
    editor = issue_tokens(home)["editor"]
    for _ in range(2):  # each round hung more often than not before the fix
        stop = threading.Event()
        with _serving_group(home) as (process, base, log_path):
            _wait_until_up(process, base, log_path)
            load = [
                threading.Thread(target=_load, args=(base, editor, stop, stream))
                for stream in (False, False, True, True, True)
            ]
            for thread in load:
                thread.start()
            try:
                time.sleep(1.0)
                # as a Ctrl-C does: every worker, and the main process
                os.killpg(process.pid, signum)
                left = _gone_within(process, STOPPED_WITHIN)
            finally:
                stop.set()
                for thread in load:
                    thread.join(10)
            assert left == [], log_path.read_text(errors="replace")


def test_a_server_signalled_while_its_workers_start_stops_with_them(
    home: Path,
) -> None:
    for _ in range(3):
        with _serving_group(home) as (process, _, log_path):
            deadline = time.monotonic() + 30
            while "Spawning worker-2" not in log_path.read_text(errors="replace"):
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.01)
            # the workers are importing the app: granian's handler is not in yet
            process.send_signal(signal.SIGINT)
            left = _gone_within(process, STOPPED_WITHIN)
            assert left == [], log_path.read_text(errors="replace")
