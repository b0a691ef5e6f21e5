"""Where ``ledger serve``'s workers share their metrics, without leaking it.

prometheus_client's multiprocess mode keeps each worker's samples in files
of one directory, which must be fresh when the server starts. It used to be
a temporary directory removed when the server stopped, so every crash (or
SIGKILL) left one behind in the temp folder. Now each server makes
``LEDGER_HOME/run/metrics-<pid>`` and holds a lock on a file in it for as
long as it (or any worker that inherited the lock) lives; a server starting
on the same home removes every such directory whose lock nobody holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

PREFIX = "metrics-"
LOCK = "owner.lock"


def run_dir(home: Path) -> Path:
    """The directory of a home's runtime state: nothing in it outlives a server."""
    return home / "run"


def sweep(home: Path) -> list[Path]:
    """Removes the metrics directories of servers that are gone.

    Returns:
        The directories removed.
    """
    removed: list[Path] = []
    parent = run_dir(home)
    if not parent.is_dir():
        return removed
    for found in parent.glob(PREFIX + "*"):
        if found.is_dir() and not _owned(found):
            shutil.rmtree(found, ignore_errors=True)
            removed.append(found)
    return removed


def _owned(directory: Path) -> bool:
    """Whether a live process holds ``directory``'s lock."""
    try:
        handle = (directory / LOCK).open("rb")
    except FileNotFoundError:
        # Made but not locked yet: gone unless its maker still runs.
        return _alive(directory.name.removeprefix(PREFIX))
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def owned(home: Path) -> Iterator[Path]:
    """A fresh metrics directory of this process, removed afterwards.

    Sweeps the directories of servers that are gone first. The lock's file
    descriptor is inheritable, so workers forked from this process keep the
    directory theirs even if this process is killed before them.
    """
    sweep(home)
    directory = run_dir(home) / f"{PREFIX}{os.getpid()}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    lock = (directory / LOCK).open("wb")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        os.set_inheritable(lock.fileno(), True)
        yield directory
    finally:
        lock.close()
        shutil.rmtree(directory, ignore_errors=True)
