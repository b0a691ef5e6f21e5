"""The read-model file: where a node keeps it, how it is opened and swapped.

All read models of a node share one SQLite file so that one transaction can
update every one of them together with the tracking position. A rebuild
writes a fresh generation file beside it and swaps it in; the swap has to be
atomic for readers *and* safe for SQLite, which forbids renaming a database
file that others have open in WAL mode (their ``-wal``/``-shm`` files keep the
old name and a later connection would pair them with the new file). So the
name readers open, ``readmodel.sqlite``, is replaced by a symbolic link to
the new generation with one ``os.replace``; every generation keeps its own
``-wal`` and ``-shm`` and no database file is ever renamed. Readers notice a
swap because ``os.stat`` of the name (which follows the link) reports a
different inode than the file they have open.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from ledger.settings import Settings

FILENAME = "readmodel.sqlite"
BUSY_TIMEOUT_MS = 30_000
OPEN_ATTEMPTS = 50


def readmodel_path(settings: Settings | None = None) -> Path:
    """The read-model file of the node whose home ``settings`` names."""
    return (settings or Settings.from_env()).home / FILENAME


class Connection(sqlite3.Connection):
    """A read-model connection that remembers which file generation it opened."""

    inode: int = 0
    real_path: str = ""


def _inode(path: Path | str) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def swapped(conn: Connection, path: Path) -> bool:
    """Whether ``path`` now names another file than the one ``conn`` opened."""
    return _inode(path) != conn.inode


def _open(target: str, mode: str) -> Connection:
    uri = f"file:{quote(target)}?mode={mode}"
    conn = sqlite3.connect(
        uri,
        uri=True,
        isolation_level=None,  # transactions are always explicit
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_MS / 1000,
        factory=Connection,
    )
    assert isinstance(conn, Connection)
    return conn


def connect(path: Path, *, create: bool = True, wal: bool = True) -> Connection:
    """Opens the generation ``path`` names now, creating it if allowed.

    Args:
        path: The read-model name (a file, or a link to the current generation).
        create: Create an empty file when nothing exists at ``path``.
        wal: Put the file in WAL mode (the live default); a rebuild's bulk
            load passes False and switches to WAL before the swap.

    Raises:
        FileNotFoundError: If nothing exists at ``path`` and ``create`` is False.
    """
    for _ in range(OPEN_ATTEMPTS):
        real = os.path.realpath(path)
        try:
            conn = _open(real, "rw")
        except sqlite3.OperationalError:
            if os.path.exists(real):
                raise  # the file is there and still cannot be opened
            if os.path.islink(path):
                continue  # swapped between resolving and opening: resolve again
            if not create:
                msg = f"no read model at {path}; run `ledger project` first"
                raise FileNotFoundError(msg) from None
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = _open(real, "rwc")
        inode = _inode(real)
        if inode is None:  # its generation was retired while we opened it
            conn.close()
            continue
        conn.inode, conn.real_path = inode, real
        _configure(conn, wal=wal)
        return conn
    msg = f"{path} kept changing while being opened"
    raise RuntimeError(msg)


def _configure(conn: Connection, *, wal: bool) -> None:
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if wal and conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode=WAL")
    # A read model can always be rebuilt from the log, so a commit may be lost
    # in a power cut (never torn: WAL keeps it atomic); the tracking position
    # is in the same transaction, so a lost commit is simply projected again.
    conn.execute("PRAGMA synchronous=NORMAL")


def fsync(path: Path) -> None:
    """Puts a file (or a directory's entries) on disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_generation(path: Path) -> Path:
    """A fresh, unused file name for the next generation beside ``path``."""
    return path.with_name(f"{path.stem}-{secrets.token_hex(6)}{path.suffix}")


def generations(path: Path) -> list[Path]:
    """Every generation file beside ``path``, current or not."""
    return sorted(path.parent.glob(f"{path.stem}-*{path.suffix}"))


def _remove_database(real: str, *, keep_main: bool = False) -> None:
    names = [real + "-wal", real + "-shm", real + "-journal"]
    if not keep_main:
        names.insert(0, real)
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def swap_in(path: Path, built: Path) -> None:
    """Makes ``path`` name ``built`` in one atomic step; retires the previous file.

    Open connections to the previous generation keep working on it (POSIX
    keeps an unlinked file alive) until they notice the swap and reopen.
    """
    previous = os.path.realpath(path) if os.path.lexists(path) else None
    link = path.with_name(f".{path.name}.{secrets.token_hex(6)}.link")
    os.symlink(built.name, link)
    try:
        os.replace(link, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        raise
    if previous is not None and previous != os.path.realpath(built):
        # A plain file at ``path`` (the first generation) was unlinked by the
        # replace itself; only its journal files are left to remove.
        _remove_database(previous, keep_main=previous == os.path.abspath(path))


def discard(built: Path) -> None:
    """Removes a generation that was never swapped in."""
    _remove_database(str(built))


@contextlib.contextmanager
def rebuild_lock(path: Path) -> Iterator[None]:
    """Serialises rebuilds of one read model across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
