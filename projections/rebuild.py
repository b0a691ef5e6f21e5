"""Rebuilding the read models from position 0, blue/green.

The log is replayed into a fresh generation file beside the live one with the
same fold the live projector uses (so both produce the same rows), then
swapped in with one atomic rename of the name readers open. Readers keep
reading the old generation until the swap and never see a half-built view.

The replay streams the log a batch at a time and keeps all state (votes,
reviews…) in the new file, so memory stays bounded however long the log is.
The file is bulk-loaded without a journal and without the query indexes,
which are built once at the end; a failed rebuild just deletes its file.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from projections.source import LogSource

BATCH_SIZE = 10_000

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
) -> RebuildResult:
    """Replays the log from position 0 (up to ``stop``) into a new file.

    Args:
        ledger: The ledger whose log is replayed.
        target: A path where no file exists yet.
        stop: Replay up to this position only (the view as it stood then).
        batch_size: Events per transaction.
        progress: Show a progress bar with events/s and ETA.
        console: Where the progress bar is drawn.

    Raises:
        FileExistsError: If ``target`` already exists.
    """
    if target.exists():
        msg = f"{target} already exists; a rebuild starts from an empty file"
        raise FileExistsError(msg)
    started = time.perf_counter()
    source = LogSource(ledger)
    try:
        total = stop if stop is not None else source.head()
        with _progress(progress, total, console) as advance:
            if source.sqlite_file is not None:
                events, position = _build_beside_log(
                    source, target, stop, batch_size, advance
                )
            else:
                events, position = _build_alone(
                    source, target, stop, batch_size, advance
                )
    finally:
        source.close()
    _fsync(target)
    return RebuildResult(
        events=events, position=position, seconds=time.perf_counter() - started
    )


def _bulk_connection(path: Path) -> store.Connection:
    conn = store.connect(path, wal=False)
    # Nothing to protect while loading: a failed build is deleted whole.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-65536")
    return conn


def _replay(
    source: LogSource,
    conn: store.Connection,
    stop: int | None,
    batch_size: int,
    advance: _Advance,
    audit_sink: fold.AuditSink | None = None,
) -> tuple[int, int]:
    events = after = 0
    votes = fold.VoteCache()
    while True:
        batch = source.read(after, batch_size, stop)
        if not batch:
            break
        after = fold.project(conn, after, batch, audit_sink=audit_sink, votes=votes)
        events += len(batch)
        advance(len(batch), after)
    conn.execute("BEGIN")
    votes.flush(conn)
    conn.execute("COMMIT")
    return events, after


def _finish(conn: store.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _build_alone(
    source: LogSource,
    target: Path,
    stop: int | None,
    batch_size: int,
    advance: _Advance,
) -> tuple[int, int]:
    """The portable build: one fold writes every table (any event store)."""
    conn = _bulk_connection(target)
    try:
        schema.migrate(conn, stop_before=schema.AUDIT_INDEXES)
        result = _replay(source, conn, stop, batch_size, advance)
        schema.migrate(conn)
        _finish(conn)
    except BaseException:
        conn.close()
        store.discard(target)
        raise
    conn.close()
    return result


def _build_beside_log(
    source: LogSource,
    target: Path,
    stop: int | None,
    batch_size: int,
    advance: _Advance,
) -> tuple[int, int]:
    """The build for a SQLite log, on both cores.

    The audit index needs no state, so a second thread fills it with plain
    SQL straight from the attached event store (SQLite does that work without
    holding Python's GIL) while this thread folds everything else into a
    side file. The side file's tables are then copied in whole.
    """
    assert source.sqlite_file is not None
    side = target.with_name(target.name + ".fold")
    store.discard(side)
    filler: AuditFiller | None = None
    conn = _bulk_connection(target)
    folded = _bulk_connection(side)
    try:
        schema.migrate(conn, stop_before=schema.AUDIT_INDEXES)
        schema.migrate(folded, stop_before=schema.AUDIT_INDEXES)
        filler = AuditFiller(target, *source.sqlite_file)
        result = _replay(source, folded, stop, batch_size, advance, filler.submit)
        filler.close()
        schema.migrate(folded)  # index the side file while the filler indexes
        folded.close()
        filler.join()
        schema.migrate(conn)
        conn.execute("ATTACH DATABASE ? AS folded", (str(side),))
        conn.execute("BEGIN")
        for table in schema.TABLES:
            if table not in ("audit", "tracking"):
                conn.execute(f"INSERT INTO main.{table} SELECT * FROM folded.{table}")
        conn.execute(
            "UPDATE main.tracking SET position = "
            "(SELECT position FROM folded.tracking WHERE name = ?) WHERE name = ?",
            (schema.TRACKING, schema.TRACKING),
        )
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE folded")
        _finish(conn)
    except BaseException:
        if filler is not None:
            filler.abandon()
        conn.close()
        folded.close()
        store.discard(target)
        raise
    finally:
        store.discard(side)
    conn.close()
    return result


class AuditFiller:
    """Fills a new file's ``audit`` table from the SQLite event store, in a thread.

    Each committed batch of the fold hands over its position range; the
    thread copies that range's events into ``audit`` with one ``INSERT …
    SELECT``, decoding the JSON states inside SQLite, then applies the few
    corrections the fold found (upcast states, unusual timestamps), so the
    rows equal those the fold itself would write. At the end it builds the
    audit indexes.

    Args:
        target: The new read-model file, already migrated up to its indexes.
        events_file: The event store's SQLite file.
        table: The event store's table of stored events.
    """

    _FILL = (
        "INSERT INTO audit (position, at, type, aggregate_id, version, actor, "
        "reason, request_id, data) "
        "SELECT rowid, json_extract(state, '$.timestamp'), "
        "substr(topic, instr(topic, ':') + 1), originator_id, originator_version, "
        "coalesce(json_extract(state, '$.actor'), ''), "
        "coalesce(json_extract(state, '$.reason'), ''), "
        "coalesce(json_extract(state, '$.request_id'), ''), "
        "json_remove(state, '$.timestamp', '$.originator_topic', '$.actor', "
        "'$.reason', '$.request_id', '$.class_version') "
        "FROM log.{table} WHERE rowid > ? AND rowid <= ?"
    )

    def __init__(self, target: Path, events_file: str, table: str) -> None:
        self._target = target
        self._events_file = events_file
        self._fill = self._FILL.format(table=table)
        self._work: queue.Queue[tuple[int, int, list[Any]] | None] = queue.Queue(8)
        self._error: BaseException | None = None
        self._abandoned = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit", daemon=True)
        self._thread.start()

    def submit(self, after: int, last: int, fixups: list[Any]) -> None:
        """Queues the range ``(after, last]`` of a committed batch."""
        self._put((after, last, fixups))

    def close(self) -> None:
        """Says no more ranges will come; the thread then builds the indexes."""
        self._put(None)

    def join(self) -> None:
        """Waits for the thread; re-raises what it failed with."""
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """Stops the thread early after a failure elsewhere."""
        self._abandoned.set()
        self._thread.join()

    def _put(self, item: tuple[int, int, list[Any]] | None) -> None:
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._work.put(item, timeout=0.1)
            except queue.Full:
                continue
            return

    def _run(self) -> None:
        try:
            conn = _bulk_connection(self._target)
        except BaseException as error:
            self._error = error
            return
        try:
            conn.execute("ATTACH DATABASE ? AS log", (self._events_file,))
            while not self._abandoned.is_set():
                try:
                    item = self._work.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is None:
                    conn.execute("DETACH DATABASE log")
                    conn.execute("PRAGMA threads=2")
                    schema.migrate(conn, stop_before=schema.TOOL_EVENT_INDEXES)
                    return
                after, last, fixups = item
                conn.execute("BEGIN")
                conn.execute(self._fill, (after, last))
                conn.executemany(
                    "UPDATE audit SET at = ?2, data = ?9 WHERE position = ?1",
                    fixups,
                )
                conn.execute("COMMIT")
        except BaseException as error:
            self._error = error
        finally:
            conn.close()


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
        _fsync(path.parent)
    return result


def _remove_abandoned(path: Path) -> None:
    """Deletes generations left by rebuilds that died before their swap."""
    current = os.path.realpath(path)
    for generation in store.generations(path):
        if os.path.realpath(generation) != current:
            store.discard(generation)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
