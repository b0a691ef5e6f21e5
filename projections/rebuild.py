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

import gc
import os
import time
from collections.abc import Callable, Iterator
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
from projections.source import LogSource

BATCH_SIZE = 20_000
BULK_MIN_EVENTS = 50_000
SCRATCH = ".fold"
"""Suffix of the file a bulk rebuild folds into before copying it over."""

_Advance = Callable[[int, int], None]


@dataclass(frozen=True)
class RebuildResult:
    """What a rebuild replayed: events, the position reached, and how fast."""

    events: int
    position: int
    seconds: float

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

    Raises:
        FileExistsError: If ``target`` already exists.
    """
    if target.exists():
        msg = f"{target} already exists; a rebuild starts from an empty file"
        raise FileExistsError(msg)
    started = time.perf_counter()
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
                replay = _new_replay(conn, source)
                events = _replay(source, replay, total, batch_size, advance)
            else:
                events = _replay_beside_bulk_load(
                    source, conn, log, total, batch_size, advance
                )
        schema.migrate(conn)  # the query indexes, built once over all rows
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
        events=events, position=position, seconds=time.perf_counter() - started
    )


def _replay_beside_bulk_load(
    source: LogSource,
    conn: store.Connection,
    log: tuple[str, str],
    stop: int,
    batch_size: int,
    advance: _Advance,
) -> int:
    """Folds into a scratch file while SQL loads the audit into ``conn``.

    The two run at once (see :mod:`projections.bulk`); the folded tables are
    then copied over bare, which SQLite does record by record without decoding
    them, and their query indexes are built by the caller, in the target, when
    both cores are free: cheaper than building them in the scratch file, where
    they would be copied entry by entry as well.
    """
    target = Path(conn.real_path)
    scratch = target.with_name(f"{target.name}{SCRATCH}")
    loader = BulkLoad(target, log, stop)
    loader.start()
    folded = bulk_connection(scratch)
    try:
        try:
            schema.migrate(folded, stop_before=schema.AUDIT_INDEXES)
            replay = _new_replay(folded, source, bulk=True)
            events = _replay(source, replay, stop, batch_size, advance)
        except BaseException:
            loader.cancel()
            raise
        finally:
            folded.close()
            loader.result()
        conn.execute("ATTACH ? AS folded", (str(scratch),))
        conn.execute("BEGIN")
        for table in FOLDED_TABLES:
            conn.execute(f"INSERT INTO main.{table} SELECT * FROM folded.{table}")
        conn.execute(
            "UPDATE main.tracking SET position = "
            "(SELECT position FROM folded.tracking WHERE name = ?) WHERE name = ?",
            (schema.TRACKING, schema.TRACKING),
        )
        conn.execute("COMMIT")
        conn.execute("DETACH folded")
    finally:
        store.discard(scratch)
    conn.execute("PRAGMA threads=2")  # the index sorts that follow, on both cores
    return events


FOLDED_TABLES = tuple(
    table for table in schema.KEYS if table not in ("tracking", "audit")
)
"""The tables a bulk rebuild folds in Python; SQL loads the audit."""


def _new_replay(
    conn: store.Connection, source: LogSource, *, bulk: bool = False
) -> fold.Replay:
    """A replay that holds only the votes the log names again, where known."""
    changing = source.changed_aggregates(fold.Replay.MAX_VOTES)
    return fold.Replay(conn, bulk=bulk, changing=changing)


def _replay(
    source: LogSource,
    replay: fold.Replay,
    stop: int,
    batch_size: int,
    advance: _Advance,
) -> int:
    """Folds the log up to ``stop`` into ``replay``'s file; returns the events."""
    conn = replay.conn
    events = after = 0
    # The fold holds up to a million small objects that never form cycles;
    # collecting them over and over would cost a quarter of the rebuild.
    collecting = gc.isenabled()
    gc.disable()
    try:
        while batch := source.read(after, batch_size, stop):
            after = fold.project(conn, after, batch, replay)
            events += len(batch)
            advance(len(batch), after)
        # The current rows are written, and the splits derived from them, in
        # no order of theirs: a cache that holds them all spares rereads.
        (loading_cache,) = conn.execute("PRAGMA cache_size").fetchone()
        conn.execute("PRAGMA cache_size=-32768")
        conn.execute("BEGIN")
        replay.finish()
        conn.execute("COMMIT")
        conn.execute(f"PRAGMA cache_size={int(loading_cache)}")
    finally:
        if collecting:
            gc.enable()
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
def _progress(enabled: bool, total: int, console: Console | None) -> Iterator[_Advance]:
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
