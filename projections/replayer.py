"""The fold half of a rebuild: replaying the log, batch by batch.

:func:`replay_log` folds the log into a file with a :class:`~projections.fold.Replay`;
a rebuild runs it in this process for small logs and logs of other stores.
For a large SQLite log, :class:`FoldProcess` runs it in a process of its own
(``python -m projections.replayer``) beside the audit loader of
:mod:`projections.bulk`, through APSW rather than ``sqlite3``: APSW's newer
SQLite reads the log about a third faster here. That process
opens only the log, the scratch file it folds into and the new file it
copies the folds into, and through APSW alone: two SQLite libraries must
never have one file open in one process, as closing it in either would drop
the other's POSIX locks.
"""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO
from urllib.parse import quote

import apsw

from projections import fold, schema, store
from projections.source import LogFile, LogSource

log = logging.getLogger(__name__)

Advance = Callable[[int, int], None]
"""Told the events of each batch folded and the position reached."""

FOLDED_TABLES = tuple(
    table for table in schema.KEYS if table not in ("tracking", "audit")
)
"""The tables a bulk rebuild folds in Python; SQL loads the audit."""

_FOLDED = "folded"
_COPY = "copy"


def new_replay(
    conn: fold.Connection,
    source: LogSource | LogFile,
    *,
    bulk: bool = False,
    max_votes: int | None = None,
) -> fold.Replay:
    """A replay that holds only the votes the log names again, where known.

    Args:
        conn: The file to fold into.
        source: The log.
        bulk: Leave the audit rows to :mod:`projections.bulk`.
        max_votes: How many votes to hold before spilling them to disk; by
            default :attr:`~projections.fold.Replay.MAX_VOTES`.
    """
    bound = fold.Replay.MAX_VOTES if max_votes is None else max_votes
    changing = source.changed_aggregates(bound)
    return fold.Replay(conn, bulk=bulk, max_votes=bound, changing=changing)


def replay_log(
    source: LogSource | LogFile,
    replay: fold.Replay,
    stop: int,
    batch_size: int,
    advance: Advance,
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


class FoldProcess:
    """Folds an SQLite log into a scratch file, then copies it into the new file.

    The copy waits for :meth:`copy`, which the caller sends once the audit
    loader is done with the new file. Copying into empty tables of the same
    shape goes record by record without decoding them; the history's query
    indexes are then built there (m003, which finds them done).

    Args:
        scratch: A file migrated to its bare tables, which the fold fills.
        target: The new generation file.
        log: The SQLite log's file and events table.
        stop: The last position to fold.
        batch_size: Events per fold transaction.
        max_votes: How many votes to hold before spilling them to disk.
    """

    def __init__(
        self,
        scratch: Path,
        target: Path,
        log: tuple[str, str],
        stop: int,
        batch_size: int,
        max_votes: int = fold.Replay.MAX_VOTES,
    ) -> None:
        self.scratch = scratch
        self.args = [str(scratch), str(target), *log]
        self.args += [str(stop), str(batch_size), str(max_votes)]
        self.peak_rss_kb = 0
        self.spills = 0
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None

    def start(self) -> None:
        """Starts folding, in a new process."""
        # A file, not a pipe: warnings about odd events may be many, and a
        # full pipe would stall the fold while this process reads progress.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed on exit)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "projections.replayer", *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def fold(self, advance: Advance) -> int:
        """Follows the fold until every event is folded; returns how many."""
        process = self._started()
        assert process.stdout is not None
        events = 0
        for line in process.stdout:
            if line.startswith(_FOLDED):
                self.spills = int(line.split()[1])
                return events
            position, count = (int(part) for part in line.split())
            events += count
            advance(count, position)
        self._finished()  # it stopped before folding everything: why?
        msg = "the fold stopped early"
        raise RuntimeError(msg)

    def copy(self) -> None:
        """Lets the fold copy into the new file, and waits until it has."""
        process = self._started()
        assert process.stdin is not None
        try:
            process.stdin.write(f"{_COPY}\n")
            process.stdin.close()
        except BrokenPipeError:
            pass  # it has failed: _finished() says why
        self._finished()

    def cancel(self) -> None:
        """Stops folding."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            self._finished(check=False)

    def _started(self) -> subprocess.Popen[str]:
        assert self._process is not None, "start() first"
        return self._process

    def _finished(self, *, check: bool = True) -> None:
        process = self._started()
        if process.stdout is not None:
            process.stdout.close()
        self.peak_rss_kb = store.wait(process)
        assert self._stderr is not None
        self._stderr.seek(0)
        stderr = self._stderr.read().decode(errors="replace")
        self._stderr.close()
        if not check:
            return  # stopped: what it said on the way out does not matter
        store.helper_failed("folding the log", process, stderr)
        for line in stderr.splitlines():  # its warnings about odd events
            log.warning("%s", line)


def _connect(path: str, *, read_only: bool = False) -> apsw.Connection:
    """An APSW connection; for writing, as :func:`bulk.bulk_connection` makes one."""
    if read_only:
        return apsw.Connection(
            f"file:{quote(path)}?mode=ro",
            flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI,
        )
    conn = apsw.Connection(path)
    conn.set_busy_timeout(store.BUSY_TIMEOUT_MS)
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-2048"):
        conn.execute(f"PRAGMA {pragma}").fetchall()
    return conn


def open_log(log: tuple[str, str]) -> LogFile:
    """The SQLite log ``(file, table)``, read through APSW as the fold reads it.

    Only for a process that has no ``sqlite3`` connection to the file open.
    """
    return LogFile(_connect(log[0], read_only=True), log[1])


def _fold_and_copy(
    scratch: str,
    target: str,
    log: tuple[str, str],
    stop: int,
    batch_size: int,
    max_votes: int,
) -> None:
    """The fold process: replays into ``scratch``, then copies into ``target``."""
    source = open_log(log)
    conn = _connect(scratch)
    replay = new_replay(conn, source, bulk=True, max_votes=max_votes)
    replay_log(source, replay, stop, batch_size, _report)
    conn.close()
    print(_FOLDED, replay.spills, flush=True)
    if sys.stdin.readline().strip() != _COPY:
        return  # the rebuild failed elsewhere
    conn = _connect(target)
    conn.execute("ATTACH ? AS folded", (scratch,))
    conn.execute("BEGIN IMMEDIATE")
    for name in FOLDED_TABLES:
        conn.execute(f"INSERT INTO main.{name} SELECT * FROM folded.{name}")
    conn.execute(
        "UPDATE main.tracking SET position = "
        "(SELECT position FROM folded.tracking WHERE name = ?) WHERE name = ?",
        (schema.TRACKING, schema.TRACKING),
    )
    conn.execute("COMMIT")
    conn.execute("DETACH folded")
    # Nothing else runs by now: sort on both cores, in runs that stay small.
    conn.execute("PRAGMA threads=2").fetchall()
    conn.execute("PRAGMA cache_size=-1024").fetchall()
    conn.execute("BEGIN IMMEDIATE")
    for ddl in schema.TOOL_EVENT_INDEX_DDL:
        conn.execute(ddl)
    conn.execute("COMMIT")
    conn.close()


def _report(count: int, position: int) -> None:
    print(position, count, flush=True)


if __name__ == "__main__":
    scratch, target, log_file, table, *numbers = sys.argv[1:]
    stop, batch_size, max_votes = (int(number) for number in numbers)
    _fold_and_copy(scratch, target, (log_file, table), stop, batch_size, max_votes)
