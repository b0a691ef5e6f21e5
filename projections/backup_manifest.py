"""A backup's ``manifest.json``: what it holds, at which positions, and checksums.

``ledger backup`` writes it last, so a directory without one is an
interrupted backup; ``ledger restore`` trusts nothing in the directory that
the manifest does not name with the size and SHA-256 it finds there.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

import msgspec

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK = 1 << 20
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
"""A file of the home as a manifest may name it: no directories, no dot files."""
Progress = Callable[[str, int, int], None]
"""Told ``(file name, bytes done, bytes in all)`` as a large file is copied."""


class BackupError(Exception):
    """A backup cannot be taken, or a backup cannot be restored, and why."""


class FileEntry(msgspec.Struct, frozen=True):
    """One file of the backup.

    Attributes:
        size: Its length in bytes.
        sha256: The hex SHA-256 of its bytes.
        mode: Its permission bits in octal (``"0600"`` for the secrets),
            given back to it on restore.
    """

    size: int
    sha256: str
    mode: str


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    """What a backup holds and where the log stood when it was taken.

    Attributes:
        format: The manifest's own version.
        ledger_version: The ``verdict-ledger`` release that took it.
        created_at: When it was taken (UTC).
        event_store: ``sqlite`` when the log is in the backup, ``postgresql``
            when it must be dumped and restored with PostgreSQL's own tools.
        log_head: The log's newest position in the backup (for PostgreSQL,
            the head when the home's files had been copied: a dump taken
            afterwards holds at least this much).
        projected_position: The position the backed-up read models reflect;
            None when the home had none yet.
        checkpoint_size: The tree size of the newest signed checkpoint in
            the backup, None before the first.
        files: Each file by its name in the home.
    """

    format: int = FORMAT
    ledger_version: str
    created_at: datetime
    event_store: Literal["sqlite", "postgresql"]
    log_head: int
    projected_position: int | None
    checkpoint_size: int | None
    files: dict[str, FileEntry]

    def write(self, directory: Path) -> None:
        """Writes the manifest into ``directory``, indented for people."""
        text = msgspec.json.format(msgspec.json.encode(self), indent=2)
        (directory / MANIFEST).write_bytes(text + b"\n")

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """The manifest of the backup in ``directory``.

        Raises:
            BackupError: There is none, or it is not a manifest this version
                can read, or it names a file outside the home.
        """
        path = directory / MANIFEST
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            msg = f"{directory} is not a complete backup: it has no {MANIFEST}"
            raise BackupError(msg) from None
        try:
            manifest = msgspec.json.decode(raw, type=cls)
        except msgspec.DecodeError as error:
            msg = f"{path} is not a backup manifest: {error}"
            raise BackupError(msg) from error
        if manifest.format != FORMAT:
            msg = f"{path} has format {manifest.format}; this ledger reads {FORMAT}"
            raise BackupError(msg)
        for name in manifest.files:
            if not SAFE_NAME.fullmatch(name):
                msg = f"{path} names {name!r}, which is not a file of a ledger home"
                raise BackupError(msg)
        return manifest


def sha256_of(
    path: Path,
    copy_to: BinaryIO | None = None,
    read: Callable[[int], None] = lambda _done: None,
) -> str:
    """The hex SHA-256 of a file's bytes, written on to ``copy_to`` if given.

    Copying and hashing in one pass means a restored file is checked as it
    was read, not as it was read once before.

    Args:
        path: The file.
        copy_to: Where to write the bytes as they are hashed.
        read: Told how many bytes have been read so far, for a progress bar.
    """
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            if copy_to is not None:
                copy_to.write(chunk)
            done += len(chunk)
            read(done)
    return digest.hexdigest()


def entry_of(path: Path) -> FileEntry:
    """A file's size, checksum and mode, as the manifest records them."""
    stat = path.stat()
    return FileEntry(
        size=stat.st_size, sha256=sha256_of(path), mode=f"{stat.st_mode & 0o777:04o}"
    )
