"""``ledger restore``: a checked backup put in place of a home, all at once.

Nothing is touched until every file the manifest names has been found with
its size and checksum, and the server secret is among them: a home restored
without it would quietly make a new one, and every old token and every
voter's hash would stop matching. The files are then copied (and checked
again as they are read) into a hidden directory beside the home, which
takes the home's place in one rename (on Linux, one atomic exchange with
the old home), so an interrupted restore leaves either the old home or the
new one, never a mix of both.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from ledger.settings import Settings
from projections import files
from projections.backup_manifest import (
    MANIFEST,
    BackupError,
    FileEntry,
    Manifest,
    Progress,
    sha256_of,
)

AT_FDCWD = -100
RENAME_EXCHANGE = 2
STAGING = ".{name}.restore-"


def check_backup(directory: Path, progress: Progress | None = None) -> Manifest:
    """The manifest of the backup in ``directory``, once every file matches it.

    Raises:
        BackupError: The backup has no manifest or no secret, or a file is
            missing or does not match its checksum; the message names it.
    """
    manifest = Manifest.read(directory)
    secret = Settings(home=directory).secret_path.name
    if secret not in manifest.files or not (directory / secret).is_file():
        msg = (
            f"the backup in {directory} has no server secret ({secret}); without "
            "it no old token would work and every voter would count as new, so "
            "it cannot be restored"
        )
        raise BackupError(msg)
    events = Settings(home=directory).events_path.name
    if manifest.event_store == "sqlite" and events not in manifest.files:
        msg = (
            f"the backup in {directory} is incomplete: its {MANIFEST} lists no {events}"
        )
        raise BackupError(msg)
    for name, entry in sorted(manifest.files.items()):
        path = directory / name
        if not path.is_file():
            msg = f"the backup in {directory} is incomplete: {name} is missing"
            raise BackupError(msg)
        told = _told(progress, name, entry)
        if path.stat().st_size != entry.size or sha256_of(path, read=told) != (
            entry.sha256
        ):
            msg = (
                f"the backup in {directory} is damaged: {name} does not match "
                f"the size and SHA-256 in its {MANIFEST}"
            )
            raise BackupError(msg)
    return manifest


def _told(
    progress: Progress | None, name: str, entry: FileEntry
) -> Callable[[int], None]:
    if progress is None:
        return lambda _done: None
    return lambda done: progress(name, done, entry.size)


def holders(home: Path) -> list[int]:
    """Processes (of those this user may look at) with a file of ``home`` open.

    A serving node keeps its event store, read models and token store open,
    so this finds ``ledger serve`` whether or not it is writing right now.
    Reads Linux's ``/proc``; elsewhere it finds nothing.
    """
    inside = os.path.realpath(home) + os.sep
    found = []
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(inside):
                        found.append(int(pid))
                        break
    return found


def _check_target(
    home: Path, directory: Path, manifest: Manifest, settings: Settings, force: bool
) -> None:
    """Refuses a home the backup must not replace, or would not be used from."""
    if Path(os.path.realpath(directory)).is_relative_to(home):
        msg = f"the backup {directory} is inside the home {home} it would replace"
        raise BackupError(msg)
    if manifest.event_store == "postgresql" and settings.event_store is None:
        msg = (
            "this backup's log is in PostgreSQL, but LEDGER_EVENT_STORE is not "
            "set: a ledger on the restored home would start an empty embedded "
            "log. Set it to the database the log's dump is restored into"
        )
        raise BackupError(msg)
    if manifest.event_store == "sqlite" and settings.event_store is not None:
        msg = (
            "this backup holds an embedded event store, but LEDGER_EVENT_STORE "
            "points at PostgreSQL, which a restored home would use instead: unset it"
        )
        raise BackupError(msg)
    if not home.exists():
        return
    if not home.is_dir():
        msg = f"LEDGER_HOME {home} is not a directory"
        raise BackupError(msg)
    busy = holders(home)
    if busy:
        pids = ", ".join(map(str, busy))
        msg = (
            f"{home} is in use by process {pids} (a running `ledger serve`?); "
            "stop it before restoring"
        )
        raise BackupError(msg)
    if not force and any(home.iterdir()):
        msg = f"{home} is not empty; pass --force to replace the ledger it holds"
        raise BackupError(msg)


def _exchange(first: Path, second: Path) -> bool:
    """Swaps two directories' names in one step; False where Linux cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p] * 2 + [ctypes.c_uint]
    paths = (AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second))
    if renameat2(*paths, RENAME_EXCHANGE) == 0:
        return True
    failure = ctypes.get_errno()
    if failure in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(failure, os.strerror(failure), str(second))


def _swap_in(staging: Path, home: Path) -> None:
    """Puts ``staging`` at ``home``; whatever ``home`` held ends up at ``staging``."""
    if not home.exists():
        os.rename(staging, home)
        return
    if _exchange(staging, home):
        return
    # Without an atomic exchange there is, for a moment, no home at all
    # (never a half-restored one); the old one waits under a name of its own.
    old = home.with_name(f".{home.name}.replaced-{secrets.token_hex(4)}")
    os.rename(home, old)
    os.rename(staging, home)
    os.rename(old, staging)


def restore(
    directory: Path,
    settings: Settings,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> Manifest:
    """Replaces the home ``settings`` names with the backup in ``directory``.

    Args:
        directory: A backup made by :func:`projections.backup.backup`.
        settings: Where to restore it, and which event store will be used.
        force: Replace a home that already holds files (never one in use).
        progress: Told how far each file's check and copy have got.

    Returns:
        The backup's manifest.

    Raises:
        BackupError: Saying why nothing was changed.
    """
    manifest = check_backup(directory, progress)
    home = Path(os.path.realpath(settings.home))
    _check_target(home, directory, manifest, settings, force)
    home.parent.mkdir(parents=True, exist_ok=True)
    for left in home.parent.glob(STAGING.format(name=home.name) + "*"):
        shutil.rmtree(left, ignore_errors=True)  # from a restore that was killed
    staging = home.with_name(STAGING.format(name=home.name) + secrets.token_hex(4))
    staging.mkdir(mode=0o700)
    try:
        for name, entry in sorted(manifest.files.items()):
            _copy_checked(directory / name, staging / name, entry, progress)
        files.fsync(staging)
        try:
            _swap_in(staging, home)
        except OSError as error:
            msg = (
                f"cannot put the restored home in place of {home} ({error}); if it "
                "is a mount point, point LEDGER_HOME at a directory inside it"
            )
            raise BackupError(msg) from error
        files.fsync(home.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _copy_checked(
    source: Path, target: Path, entry: FileEntry, progress: Progress | None
) -> None:
    try:
        mode = int(entry.mode, 8) & 0o777
    except ValueError:
        mode = 0o600
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        digest = sha256_of(source, out, _told(progress, source.name, entry))
        out.flush()
        os.fsync(out.fileno())
    if digest != entry.sha256:
        msg = f"{source} changed while it was being restored; nothing was replaced"
        raise BackupError(msg)
    os.chmod(target, mode)
