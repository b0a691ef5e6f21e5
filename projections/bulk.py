"""The set-based half of a rebuild: the audit rows, in SQL.

An ``audit`` row is a function of its event alone, so it needs no fold. When
the log is an SQLite file, SQLite computes every row straight from it with
one ``INSERT … SELECT``, in C, and indexes them. :class:`BulkLoad` runs that
in a process of its own, so it takes one core while the Python fold
(:mod:`projections.replayer`) computes everything else on the other. The
statement gives exactly the rows the fold would
(``tests/projections/test_rebuild_bulk.py`` checks that), with one exception
handled after it: states stored by an older class version, which
only Python can upcast, are re-decoded and their ``data`` rewritten.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from eventsourcing.utils import get_topic

from ledger.log import ENVELOPE, EVENT_CLASSES
from projections import schema, store
from projections.events import decode, iso_text
from projections.fold import audit_row

_TYPE = "substr(topic, instr(topic, ':') + 1)"
_AT = "state ->> 'timestamp'"

AUDIT = f"""
    INSERT INTO audit
    SELECT rowid,
        CASE WHEN length({_AT}) = 27 AND substr({_AT}, 27) = 'Z' THEN {_AT}
             ELSE iso_text({_AT}) END,
        {_TYPE}, originator_id, originator_version,
        coalesce(state ->> 'actor', ''), coalesce(state ->> 'reason', ''),
        coalesce(state ->> 'request_id', ''),
        json_remove(state, {", ".join(f"'$.{key}'" for key in ENVELOPE)},
                    '$.class_version')
    FROM log.{{table}} WHERE rowid <= ?1"""


class BulkLoad:
    """Fills and indexes the ``audit`` of a new read-model file from an SQLite log.

    The statements run in a process of their own (``python -m
    projections.bulk``). A thread would seem to do, since ``sqlite3``
    releases the GIL while a statement runs, but SQLite's process-wide locks
    (its allocator's, notably) then slow the fold beside it by a third.

    Args:
        target: The new generation file, already migrated to its bare tables.
        log: The SQLite log's file and events table.
        stop: The last position to load; the fold replays the same range.
    """

    def __init__(self, target: Path, log: tuple[str, str], stop: int) -> None:
        self.target = target
        self.log = log
        self.stop = stop
        self.peak_rss_kb = 0
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Starts loading, in a new process."""
        command = [sys.executable, "-m", "projections.bulk", str(self.target)]
        self._process = subprocess.Popen(
            [*command, *self.log, str(self.stop)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def result(self) -> None:
        """Waits for the load; raises if it failed."""
        assert self._process is not None, "start() first"
        assert self._process.stderr is not None
        stderr = self._process.stderr.read()  # its only pipe: no deadlock
        self._process.stderr.close()
        self.peak_rss_kb = store.wait(self._process)
        store.helper_failed(
            "loading the audit", self._process, stderr.decode(errors="replace")
        )

    def cancel(self) -> None:
        """Stops loading, when the fold beside it failed."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            self.peak_rss_kb = store.wait(self._process)
            if self._process.stderr is not None:
                self._process.stderr.close()

    def load(self) -> None:
        """Runs the statements here, in this process."""
        conn = bulk_connection(self.target)
        try:
            conn.create_function("iso_text", 1, iso_text, deterministic=True)
            log_uri = f"file:{quote(self.log[0])}?mode=ro"
            conn.execute("ATTACH ? AS log", (log_uri,))
            table = self.log[1]
            conn.execute("BEGIN")
            conn.execute(AUDIT.format(table=table), (self.stop,))
            self._upcast(conn, table)
            conn.execute("COMMIT")
            conn.execute("DETACH log")
            # The audit's indexes only: the folded tables get theirs once
            # they are copied in.
            schema.migrate(conn, stop_before=schema.TOOL_EVENT_INDEXES)
        finally:
            conn.close()
        # Written without syncs; put it on disk now, while the fold still
        # runs, rather than all at once when the rebuild ends.
        store.fsync(self.target)

    def _upcast(self, conn: sqlite3.Connection, table: str) -> None:
        """Rewrites the audit rows of states that an upcaster must bring up."""
        for cls in EVENT_CLASSES.values():
            version = getattr(cls, "class_version", 1)
            if version == 1:
                continue
            rows = conn.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM log.{table} WHERE topic = ? AND rowid <= ? "
                "AND coalesce(state ->> 'class_version', 1) < ?",
                (get_topic(cls), self.stop, version),
            ).fetchall()
            updates = []
            for raw in rows:
                row = audit_row(decode(raw))
                updates.append((row[-1], row[0]))
            conn.executemany("UPDATE audit SET data = ? WHERE position = ?", updates)


def bulk_connection(path: Path, cache_kib: int = 2048) -> store.Connection:
    """A connection for loading a file nobody reads yet: no journal, no syncs.

    Loading appends, so a small page cache does; sorting for indexes spills
    to temporary files past it rather than growing memory, and sorting in
    small runs, which stay in the processor's caches, measured faster too.
    """
    conn = store.connect(path, wal=False)
    # Nothing to protect while loading: a failed build is deleted whole.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute(f"PRAGMA cache_size={-cache_kib}")
    return conn


if __name__ == "__main__":
    target, log_file, log_table, stop = sys.argv[1:]
    BulkLoad(Path(target), (log_file, log_table), int(stop)).load()
