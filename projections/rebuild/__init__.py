"""Rebuilding the read models from position 0, blue/green.

The log is replayed into a fresh generation file beside the live one with
the same read models the live projector folds (so both produce the same
rows), then swapped in with one atomic rename of the name readers open.
Readers keep reading the old generation until the swap and never see a
half-built view. The file is loaded without a journal and without the query
indexes, which are built once at the end; a failed rebuild deletes its file.

Everything here exists to make a full rebuild fast, apart from the read
models themselves: the replay that holds rows across batches
(:mod:`~projections.rebuild.replay`), and, for a large SQLite log, two
helper processes (:mod:`~projections.rebuild.processes`): one folds the log
(:mod:`~projections.rebuild.fold_process`) while the other loads with SQL
the read models that need no fold (:mod:`~projections.rebuild.set_loader`).
A large PostgreSQL log is first copied into a scratch SQLite file
(:mod:`~projections.rebuild.log_copy`) to take the same path.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from ledger.application import Ledger
from projections import files, schema
from projections.readmodel_parts import SQL
from projections.rebuild import log_copy, scratch
from projections.rebuild.fold_process import FoldProcess
from projections.rebuild.later_events import LaterEvents
from projections.rebuild.progress import progress_bar
from projections.rebuild.replay import HELD_LIMIT, Advance, Replay, replay_log
from projections.rebuild.set_loader import SetLoader
from projections.registry import READ_MODELS
from projections.source import LogSource

log = logging.getLogger(__name__)

BATCH_SIZE = 20_000
"""Events per fold transaction, for ``ledger rebuild`` and its benchmark alike."""
BULK_MIN_EVENTS = 50_000
"""Below this, starting two helper processes costs more than they save."""
SCRATCH = ".fold"
"""Suffix of the file a bulk rebuild folds into before copying it over."""
LOG_COPY = ".log"
"""Suffix of the scratch copy of a PostgreSQL log a bulk rebuild reads."""


@dataclass(frozen=True)
class RebuildResult:
    """What a rebuild replayed: events, the position reached, and how fast."""

    events: int
    position: int
    seconds: float
    helpers_peak_rss_kb: int = 0
    """The peak RSS of the helper processes a bulk rebuild ran, added."""
    forgotten: int = 0
    """How many times the fold let go of the oldest votes it held."""

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


def build(
    ledger: Ledger,
    target: Path,
    *,
    stop: int | None = None,
    batch_size: int = BATCH_SIZE,
    progress: bool = False,
    console: Console | None = None,
    bulk: bool | None = None,
    held_limit: int = HELD_LIMIT,
) -> RebuildResult:
    """Replays the log from position 0 (up to ``stop``) into a new file.

    Args:
        ledger: The ledger whose log is replayed.
        target: A path where no file exists yet.
        stop: Replay up to this position only (the view as it stood then);
            by default, up to the head when the rebuild starts.
        batch_size: Events per fold transaction.
        progress: Show a progress bar with events/s and ETA.
        console: Where the progress bar is drawn.
        bulk: Fold and load in two helper processes, which read the log as
            an SQLite file: the embedded store's own, or a scratch copy of a
            PostgreSQL log. With False, this process folds every read model
            itself, reading the log through the recorder; by default, helper
            processes are used from ``BULK_MIN_EVENTS`` events up.
        held_limit: How many votes the fold holds at most; what bounds its
            memory.

    Raises:
        FileExistsError: If ``target`` already exists.
    """
    if target.exists():
        msg = f"{target} already exists; a rebuild starts from an empty file"
        raise FileExistsError(msg)
    started = time.perf_counter()
    helpers_peak_rss_kb = 0
    source = LogSource(ledger)
    conn = scratch.connect(target)
    try:
        schema.migrate(conn, stop_before=schema.INDEXES_MIGRATION)
        total = stop if stop is not None else source.head()
        with progress_bar(progress, total, console) as advance:
            if bulk is None:
                bulk = total >= BULK_MIN_EVENTS
            log_file = _bulk_log(source, target, total) if bulk else None
            if log_file is None:
                ids = source.with_later_events()
                later = None if ids is None else LaterEvents(ids)
                replay = Replay(conn, READ_MODELS, source, held_limit, later)
                events = replay_log(source, replay, total, batch_size, advance)
                forgotten = replay.forgotten
            else:
                folder = FoldProcess(
                    target.with_name(f"{target.name}{SCRATCH}"),
                    target,
                    log_file,
                    total,
                    batch_size,
                    held_limit,
                )
                loader = SetLoader(target, log_file, total)
                events = _fold_beside_set_loader(folder, loader, advance)
                helpers_peak_rss_kb = folder.peak_rss_kb + loader.peak_rss_kb
                forgotten = folder.forgotten
        # The query indexes, built once over all rows; after a bulk load,
        # this only records them, as the helper processes built them.
        schema.migrate(conn)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA main.wal_checkpoint(TRUNCATE)")
        position = schema.tracked_position(conn)
    except BaseException:
        conn.close()
        files.discard(target)
        raise
    finally:
        source.close()
        files.discard(target.with_name(f"{target.name}{LOG_COPY}"))
    conn.close()
    files.fsync(target)
    return RebuildResult(
        events=events,
        position=position,
        seconds=time.perf_counter() - started,
        helpers_peak_rss_kb=helpers_peak_rss_kb,
        forgotten=forgotten,
    )


def _bulk_log(source: LogSource, target: Path, total: int) -> tuple[str, str] | None:
    """The SQLite log file the helper processes read, if the log has one.

    A PostgreSQL log is copied into a scratch file beside ``target``; states
    that only the mapper can read (encrypted, compressed) have none.
    """
    if source.sqlite_file is not None:
        return source.sqlite_file
    if source.readable_by_sql and log_copy.copyable(source.recorder):
        copy = target.with_name(f"{target.name}{LOG_COPY}")
        return log_copy.copy_log(source.recorder, copy, total)
    return None


def _fold_beside_set_loader(
    folder: FoldProcess, loader: SetLoader, advance: Advance
) -> int:
    """Folds the log and loads the set-based read models, in two processes.

    The fold runs in a scratch file while SQL loads the new file; once the
    loader is done with it, the fold copies its tables over. Returns the
    events folded.
    """
    folded = scratch.connect(folder.scratch)
    schema.migrate(folded, stop_before=schema.INDEXES_MIGRATION)
    folded.close()
    try:
        folder.start()  # first: the longer of the two
        loader.start()
        events = folder.fold(advance)
        loader.finish()
        folder.copy()
    except BaseException:
        folder.cancel()
        loader.cancel()
        raise
    finally:
        files.discard(folder.scratch)
    return events


def rebuild(
    ledger: Ledger,
    path: Path,
    *,
    batch_size: int = BATCH_SIZE,
    progress: bool = False,
    console: Console | None = None,
    check: Callable[[SQL], None] | None = None,
) -> RebuildResult:
    """Rebuilds every read model of ``path`` from the log and swaps it in.

    Rebuilds of one path are serialised; live projectors and readers carry on
    with the old generation and move to the new one when they notice the swap.

    Args:
        ledger: The ledger whose log is replayed.
        path: The read-model file.
        batch_size: Events per fold transaction.
        progress: Show a progress bar.
        console: Where the progress bar is drawn.
        check: Run on the new file before it is swapped in; whatever it
            raises discards the file and refuses the swap (the log's check
            against its newest checkpoint).
    """
    path = Path(path)
    with files.rebuild_lock(path):
        return _rebuild_locked(ledger, path, batch_size, progress, console, check)


def _rebuild_locked(
    ledger: Ledger,
    path: Path,
    batch_size: int,
    progress: bool,
    console: Console | None,
    check: Callable[[SQL], None] | None = None,
) -> RebuildResult:
    _remove_abandoned(path)
    built = files.new_generation(path)
    result = build(
        ledger, built, batch_size=batch_size, progress=progress, console=console
    )
    try:
        if check is not None:
            conn = files.connect(built, create=False)
            try:
                check(conn)
            finally:
                conn.close()
        files.swap_in(path, built)
    except BaseException:
        files.discard(built)
        raise
    files.fsync(path.parent)
    return result


def rebuild_if_schema_changed(ledger: Ledger, path: Path) -> RebuildResult | None:
    """Rebuilds ``path`` if it was made with another schema; else does nothing.

    What a node does when it starts on read models that an older or newer
    version of the code built: they can always be rebuilt from the log, so a
    schema change needs no migration. Checked again under the rebuild lock,
    so that several workers starting together rebuild once.
    """
    if _current(path):
        return None
    with files.rebuild_lock(path):
        if _current(path):
            return None
        log.warning("the read models at %s have another schema: rebuilding", path)
        return _rebuild_locked(ledger, path, BATCH_SIZE, False, None)


def _current(path: Path) -> bool:
    try:
        conn = files.connect(path, create=False)
    except FileNotFoundError:
        return True  # a fresh file gets the current schema
    try:
        schema.check(conn)
    except schema.SchemaChanged:
        return False
    finally:
        conn.close()
    return True


def _remove_abandoned(path: Path) -> None:
    """Deletes generations left by rebuilds that died before their swap."""
    current = os.path.realpath(path)
    for generation in files.generations(path):
        if os.path.realpath(generation) != current:
            files.discard(generation)
    for suffix in (SCRATCH, LOG_COPY):
        for left in path.parent.glob(f"{path.stem}-*{path.suffix}{suffix}"):
            files.discard(left)
