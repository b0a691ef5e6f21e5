"""Storage faults injected for real, for the fault tests.

Each helper makes the fault happen to the real thing: another connection
holds the event store's SQLite write lock, a small file system fills up, a
file becomes immutable, the route to PostgreSQL is cut. Each one clears its
fault on exit, so a test can check that the service recovers by itself.
The file-system faults need root (mounts, ``chattr``); :func:`need_root`
skips a test with the reason otherwise.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.api.helpers import free_port


def need_root() -> None:
    """Skips the test unless it runs as root (it mounts file systems)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small file system (run as uid 0)")
    for tool in ("mount", "umount", "mkfs.ext4", "chattr"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} to mount a small file system")


@contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """Holds SQLite's write lock on ``database`` from another connection."""
    other = sqlite3.connect(database, isolation_level=None, timeout=10)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@contextmanager
def small_filesystem(root: Path, megabytes: int = 16) -> Iterator[Path]:
    """An ext4 file system of ``megabytes`` MB, loop-mounted; yields its mount.

    ext4 (not tmpfs) because it honours the immutable flag on files that
    are already open, which :func:`immutable` relies on.
    """
    image = root / "fs.img"
    mount = root / "fs"
    mount.mkdir()
    with image.open("wb") as out:
        out.truncate(megabytes * 1024 * 1024)
    _run("mkfs.ext4", "-q", "-F", "-m", "0", str(image))
    try:
        _run("mount", "-o", "loop", str(image), str(mount))
    except subprocess.CalledProcessError as error:
        pytest.skip(f"cannot loop-mount a file system here: {error.stderr!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, timeout=60)
        image.unlink(missing_ok=True)


@contextmanager
def disk_full(mount: Path) -> Iterator[None]:
    """Fills the file system at ``mount`` to the last block; frees it on exit."""
    filler = mount / "filler"
    chunk = b"\0" * (1024 * 1024)
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass
        try:  # the last partial megabyte, then whatever blocks remain
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    try:
        yield
    finally:
        filler.unlink()


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """Makes ``paths`` immutable (``chattr +i``): writes fail, even to open files.

    The closest a test can come to a home that turned read-only under a
    running server: a read-only remount is refused while files are open for
    writing, and root ignores file modes.
    """
    for path in paths:
        _run("chattr", "+i", str(path))
    try:
        yield
    finally:
        for path in paths:
            _run("chattr", "-i", str(path))


class TcpProxy:
    """A TCP relay from a local port to ``target``, that can be cut and restored.

    Pointing the event store at the proxy and cutting it is PostgreSQL
    becoming unreachable: open connections are reset, new ones refused,
    and the port is the same when the route comes back.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listens (again) on the proxy's port."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.1)
        self._listener = listener
        self._stop.clear()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Stops listening and resets every relayed connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for end in pair:
                end.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(
                target=self._relay, args=(client, upstream), daemon=True
            ).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        ends = [client, upstream]
        try:
            while True:
                ready, _, _ = select.select(ends, [], [], 0.2)
                if self._stop.is_set() and not ready:
                    return
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is client else client).sendall(data)
        except (OSError, ValueError):  # cut: the sockets were closed under it
            return
        finally:
            for end in ends:
                end.close()
