"""The set-based half of a bulk rebuild: read models that SQL can load alone.

A read model whose rows are each a function of one event (the audit) needs
no fold: it declares a ``bulk_load``, SQL that computes every row straight
from an SQLite log, in C. :class:`SetLoader` runs those in a process of its
own, so they take one core while the Python fold
(:mod:`projections.rebuild.fold_process`) takes the other, and then indexes
the tables they filled. A thread would seem to do, since ``sqlite3``
releases the GIL while a statement runs, but SQLite's process-wide locks
(its allocator's, notably) then slow the fold beside it (docs/PERFORMANCE.md).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from projections import files
from projections.readmodel_parts import History, ReadModel, Table
from projections.rebuild import scratch
from projections.rebuild.processes import Helper
from projections.registry import READ_MODELS


def set_based(read_models: tuple[ReadModel, ...] = READ_MODELS) -> list[ReadModel]:
    """The read models a bulk rebuild loads with SQL instead of folding."""
    return [model for model in read_models if model.bulk_load is not None]


class SetLoader(Helper):
    """Loads and indexes the set-based read models of a new file from an SQLite log.

    Args:
        target: The new generation file, already migrated to its bare tables.
        log: The SQLite log's file and events table.
        stop: The last position to load; the fold replays the same range.
    """

    def __init__(self, target: Path, log: tuple[str, str], stop: int) -> None:
        super().__init__(
            "loading the set-based read models",
            __name__,
            [str(target), *log, str(stop)],
        )


def load(target: Path, log: tuple[str, str], stop: int) -> None:
    """Runs the loads here, in this process."""
    conn = scratch.connect(target)
    try:
        conn.execute("ATTACH ? AS log", (f"file:{quote(log[0])}?mode=ro",))
        conn.execute("BEGIN")
        models = set_based()
        for model in models:
            assert model.bulk_load is not None
            model.bulk_load(conn, f"log.{log[1]}", stop)
        conn.execute("COMMIT")
        conn.execute("DETACH log")
        # Their indexes only: the folded tables get theirs once copied in.
        indexes = [
            index
            for model in models
            for table in model.tables
            if isinstance(table, Table | History)
            for index in table.indexes
        ]
        scratch.index(conn, indexes, alone=False)
    finally:
        conn.close()
    # Written without syncs; put it on disk now, while the fold still runs,
    # rather than all at once when the rebuild ends.
    files.fsync(target)


def main(args: list[str]) -> None:
    """The loader process's entry point (see :class:`SetLoader`)."""
    target, log_file, log_table, stop = args
    load(Path(target), (log_file, log_table), int(stop))
