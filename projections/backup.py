"""``ledger backup``: an online, consistent copy of what a ledger home needs.

Copying ``events.sqlite`` with ``cp`` loses every commit still in its
write-ahead log, and a copy made while a writer commits can be torn. Each
SQLite file here is copied with SQLite's backup API from inside one read
transaction, so the copy is the database exactly as of one commit, WAL
included, while the server keeps committing (WAL mode lets writers go on
past an open reader, and the copy never restarts).

The files are copied in an order that keeps them consistent with one
another although each is its own snapshot: the checkpoints before the read
models (a checkpoint is only signed over projected events), the read models
before the API's idempotency keys (which name answered writes) and those
before the log, so nothing copied refers to an event the copied log lacks.
The keys personal data is sealed with (``keys.sqlite``) come last, so every
key the copied log needs is in the copy; a key destroyed before the backup
is in no backup made afterwards.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import cast

from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.application import Ledger
from ledger.settings import Settings
from projections import files, schema
from projections.backup_manifest import (
    MANIFEST,
    BackupError,
    FileEntry,
    Manifest,
    Progress,
    entry_of,
)
from projections.checkpoints import ChainSettings

PAGES_PER_STEP = 1024
Position = Callable[[sqlite3.Connection], "int | None"]


@dataclass(frozen=True)
class HomeFile:
    """A file of the home that a ledger needs back after a restore.

    Attributes:
        name: Its name in the home.
        secret: A key kept as bytes with mode 0600, rather than a database.
        required: A home without it cannot be backed up.
        position: For a database, what to read from the copied snapshot for
            the manifest (the log's head, the projected position…).
        private: A database of secrets: copied as of one commit like any
            other, but in its own rollback-journal mode (never switched to
            WAL, whose file would keep old pages) and with mode 0600.
    """

    name: str
    secret: bool = False
    required: bool = False
    position: Position | None = None
    private: bool = False


def _newest_checkpoint(conn: sqlite3.Connection) -> int | None:
    return conn.execute("SELECT MAX(tree_size) FROM checkpoints").fetchone()[0]


def home_files(ledger: Ledger, extra: Sequence[HomeFile] = ()) -> list[HomeFile]:
    """Every file of ``ledger``'s home a restore needs, in the order to copy them.

    Args:
        ledger: The ledger whose home it is.
        extra: The files of the packages above this one (the API's
            idempotency keys), copied after the read models and before the log.
    """
    settings = ledger.settings
    chain = ChainSettings(home=settings.home)
    catalog = [
        HomeFile(settings.secret_path.name, secret=True, required=True),
        HomeFile(settings.auth_path.name),
        HomeFile(chain.store_path.name, position=_newest_checkpoint),
        HomeFile(chain.key_path.name, secret=True),
        HomeFile(files.readmodel_path(settings).name, position=schema.tracked_position),
        *extra,
    ]
    if settings.event_store is None:
        recorder = cast("SQLiteApplicationRecorder", ledger.recorder)
        statement = recorder.select_max_notification_id_statement

        def head(conn: sqlite3.Connection) -> int:
            return int(conn.execute(statement).fetchone()[0] or 0)

        catalog.append(
            HomeFile(settings.events_path.name, required=True, position=head)
        )
        # After the log: a key made while the log was copied is in the
        # backup, so nothing the copied log seals is unreadable after a
        # restore; a key destroyed meanwhile stays destroyed (running
        # `ledger erase` again records that erasure).
        catalog.append(HomeFile(settings.keys_path.name, private=True))
    return catalog


TRANSIENT = (
    ".*",
    "*-wal",
    "*-shm",
    "*-journal",
    "*.lock",
    f"{Path(files.FILENAME).stem}-*",
)
"""What a home holds that no restore needs: locks, SQLite's own journals,
temporary names, and read-model generations (the current one is copied
under the name readers open)."""


def left_out(
    home: Path, manifest: Manifest, transient: Sequence[str] = ()
) -> list[str]:
    """Files of ``home`` neither in the backup nor known to be transient.

    Args:
        home: The home that was backed up.
        manifest: The backup's manifest.
        transient: Patterns of what the packages above keep only while they
            run, besides :data:`TRANSIENT`.
    """
    patterns = (*TRANSIENT, *transient)
    return sorted(
        entry.name
        for entry in home.iterdir()
        if entry.name not in manifest.files
        and not any(fnmatch.fnmatch(entry.name, pattern) for pattern in patterns)
    )


def check_home(settings: Settings) -> None:
    """Refuses to back up a home without its secret or (embedded) its log.

    Call it before opening a :class:`Ledger`, which would make both.

    Raises:
        BackupError: Saying what is missing.
    """
    if not settings.secret_path.exists():
        msg = (
            f"{settings.home} has no server secret ({settings.secret_path.name}): "
            "it is not a ledger home, or its secret was lost"
        )
        raise BackupError(msg)
    if settings.event_store is None and not settings.events_path.exists():
        msg = f"{settings.home} has no event store ({settings.events_path.name})"
        raise BackupError(msg)


def _copy_secret(source: Path, target: Path) -> None:
    data = source.read_bytes()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _copy_database(
    source: Path,
    target: Path,
    position: Position | None,
    progress: Progress,
    *,
    private: bool = False,
) -> int | None:
    """Copies one database as of one commit; returns ``position`` read from it.

    A ``private`` one (see :class:`HomeFile`) keeps its journal mode and
    gets mode 0600.
    """
    conn = files.connect(source, create=False, wal=not private)
    copy = sqlite3.connect(target)
    try:
        # A read starts the snapshot; every step of the copy then reads the
        # same commit, and other connections' commits never restart it.
        conn.execute("BEGIN")
        conn.execute("SELECT COUNT(*) FROM sqlite_schema").fetchone()
        found = position(conn) if position is not None else None
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]

        def told(_status: int, remaining: int, total: int) -> None:
            progress(source.name, (total - remaining) * page_size, total * page_size)

        conn.backup(copy, pages=PAGES_PER_STEP, progress=told)
        conn.execute("COMMIT")
    finally:
        copy.close()
        conn.close()
    os.chmod(target, 0o600 if private else source.stat().st_mode & 0o777)
    files.fsync(target)
    return found


def _staging(target: Path) -> Path:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        msg = f"{target} is not an empty directory: back up into a new one"
        raise BackupError(msg)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}")
    staging.mkdir(mode=0o700)
    return staging


def backup(
    ledger: Ledger,
    target: Path,
    *,
    extra: Sequence[HomeFile] = (),
    progress: Progress = lambda _name, _done, _total: None,
) -> Manifest:
    """Copies ``ledger``'s home into the new directory ``target``, online.

    The copy is made in a hidden directory beside ``target`` and renamed to
    it once its manifest is written, so ``target`` only ever holds a
    complete backup.

    Args:
        ledger: The ledger whose home to copy (see :func:`check_home`).
        target: A directory that does not exist yet, or an empty one.
        extra: Files of the packages above (see :func:`home_files`).
        progress: Told how far each database's copy has got.

    Returns:
        The manifest written beside the files.

    Raises:
        BackupError: A required file is missing or ``target`` is not empty.
    """
    settings = ledger.settings
    check_home(settings)
    staging = _staging(target)
    try:
        entries: dict[str, FileEntry] = {}
        positions: dict[str, int | None] = {}
        for item in home_files(ledger, extra):
            source, copied = settings.home / item.name, staging / item.name
            if not source.exists():
                if item.required:
                    msg = f"{source} disappeared while it was being backed up"
                    raise BackupError(msg)
                continue
            if item.secret:
                _copy_secret(source, copied)
            else:
                positions[item.name] = _copy_database(
                    source, copied, item.position, progress, private=item.private
                )
            entries[item.name] = entry_of(copied)
        chain = ChainSettings(home=settings.home)
        embedded = settings.event_store is None
        head = positions[settings.events_path.name] if embedded else None
        manifest = Manifest(
            ledger_version=version("verdict-ledger"),
            created_at=datetime.now(UTC),
            event_store="sqlite" if embedded else "postgresql",
            log_head=ledger.head_position() if head is None else head,
            projected_position=positions.get(files.readmodel_path(settings).name),
            checkpoint_size=positions.get(chain.store_path.name),
            files=entries,
        )
        manifest.write(staging)
        files.fsync(staging / MANIFEST)
        files.fsync(staging)
        os.replace(staging, target)
        files.fsync(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)
        raise
    return manifest
