"""Rebuilding the read models from position 0, blue/green.

The log is replayed into a fresh generation file beside the live one with the
same fold the live projector uses (so both produce the same rows), then
swapped in with one atomic rename of the name readers open. Readers keep
reading the old generation until the swap and never see a half-built view.

The replay streams the log a batch at a time and holds the cards, reviews
and votes it met (votes spill to a temporary table past a bound, so memory
stays bounded however long the log is). The file is bulk-loaded without a
journal and without the query indexes, which are built once at the end; a
failed rebuild just deletes its file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ledger.application import Ledger
from projections import fold, schema, store
from projections.bulk import BulkLoad, bulk_connection
from projections.replayer import Advance, FoldProcess, new_replay, replay_log
from projections.source import LogSource

BATCH_SIZE = 20_000
BULK_MIN_EVENTS = 50_000
SCRATCH = ".fold"
"""Suffix of the file a bulk rebuild folds into before copying it over."""


@dataclass(frozen=True)
class RebuildResult:
    """What a rebuild replayed: events, the position reached, and how fast."""

    events: int
    position: int
    seconds: float
    helpers_peak_rss_kb: int = 0
    """The peak RSS of the helper processes a bulk rebuild ran, added."""
    spills: int = 0
    """How many times the fold moved the votes it held to disk."""

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


class RateColumn(ProgressColumn):
    """Events per second, as rich only knows bytes per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} events/s", style="cyan")


def build(
    ledger: Ledger,
    target: Path,
    *,
    stop: int | None = None,
    batch_size: int = BATCH_SIZE,
    progress: bool = False,
    console: Console | None = None,
    bulk: bool | None = None,
    max_votes: int = fold.Replay.MAX_VOTES,
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
        bulk: Let SQL load the audit rows beside the fold, in a
            second process (see :mod:`projections.bulk`); possible when the
            log is an SQLite file. With False, the fold writes every row
            itself, as it does for any other store; by default, bulk loading
            is used for logs of at least ``BULK_MIN_EVENTS`` events, below
            which starting the second process costs more than it saves.
        max_votes: How many votes the fold holds in memory before it spills
            them to a temporary table; what bounds its memory.

    Raises:
        FileExistsError: If ``target`` already exists.
    """
    if target.exists():
        msg = f"{target} already exists; a rebuild starts from an empty file"
        raise FileExistsError(msg)
    started = time.perf_counter()
    helpers_peak_rss_kb = 0
    source = LogSource(ledger)
    conn = bulk_connection(target)
    try:
        schema.migrate(conn, stop_before=schema.AUDIT_INDEXES)
        total = stop if stop is not None else source.head()
        with _progress(progress, total, console) as advance:
            if bulk is None:
                bulk = total >= BULK_MIN_EVENTS
            log = source.sqlite_file if bulk else None
            if log is None:
                replay = new_replay(conn, source, max_votes=max_votes)
                events = replay_log(source, replay, total, batch_size, advance)
                spills = replay.spills
            else:
                scratch = target.with_name(f"{target.name}{SCRATCH}")
                folder = FoldProcess(scratch, target, log, total, batch_size, max_votes)
                loader = BulkLoad(target, log, total)
                events = _replay_beside_bulk_load(folder, loader, advance)
                helpers_peak_rss_kb = folder.peak_rss_kb + loader.peak_rss_kb
                spills = folder.spills
        # The query indexes, built once over all rows; after a bulk load,
        # this only records them, as the helper processes built them.
        schema.migrate(conn)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA main.wal_checkpoint(TRUNCATE)")
        position = schema.tracked_position(conn)
    except BaseException:
        conn.close()
        store.discard(target)
        raise
    finally:
        source.close()
    conn.close()
    store.fsync(target)
    return RebuildResult(
        events=events,
        position=position,
        seconds=time.perf_counter() - started,
        helpers_peak_rss_kb=helpers_peak_rss_kb,
        spills=spills,
    )


def _replay_beside_bulk_load(
    folder: FoldProcess, loader: BulkLoad, advance: Advance
) -> int:
    """Folds the log and loads its audit into the new file in two processes.

    The fold runs in a scratch file (see :mod:`projections.replayer`) while
    SQL loads the audit (see :mod:`projections.bulk`); once the loader is
    done with the new file, the fold copies its tables over. Returns the
    events folded.
    """
    folded = bulk_connection(folder.scratch)
    schema.migrate(folded, stop_before=schema.AUDIT_INDEXES)
    folded.close()
    try:
        folder.start()  # first: the longer of the two
        loader.start()
        events = folder.fold(advance)
        loader.result()
        folder.copy()
    except BaseException:
        folder.cancel()
        loader.cancel()
        raise
    finally:
        store.discard(folder.scratch)
    return events


def rebuild(
    ledger: Ledger,
    path: Path,
    *,
    batch_size: int = BATCH_SIZE,
    progress: bool = False,
    console: Console | None = None,
) -> RebuildResult:
    """Rebuilds every read model of ``path`` from the log and swaps it in.

    Rebuilds of one path are serialised; live projectors and readers carry on
    with the old generation and move to the new one when they notice the swap.
    """
    path = Path(path)
    with store.rebuild_lock(path):
        _remove_abandoned(path)
        built = store.new_generation(path)
        result = build(
            ledger, built, batch_size=batch_size, progress=progress, console=console
        )
        try:
            store.swap_in(path, built)
        except BaseException:
            store.discard(built)
            raise
        store.fsync(path.parent)
    return result


def _remove_abandoned(path: Path) -> None:
    """Deletes generations left by rebuilds that died before their swap."""
    current = os.path.realpath(path)
    for generation in store.generations(path):
        if os.path.realpath(generation) != current:
            store.discard(generation)
    for scratch in path.parent.glob(f"{path.stem}-*{path.suffix}{SCRATCH}"):
        store.discard(scratch)


@contextmanager
def _progress(enabled: bool, total: int, console: Console | None) -> Iterator[Advance]:
    if not enabled:
        yield lambda _events, _position: None
        return
    columns = (
        TextColumn("[bold]rebuild"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("rebuild", total=total or None)
        yield lambda _events, position: bar.update(task, completed=position)
