"""The fold half of a bulk rebuild, in a process of its own.

For a large SQLite log, :class:`FoldProcess` replays the log (see
:mod:`projections.rebuild.replay`) into a scratch file in a process of its
own, beside the set loader
of :mod:`projections.rebuild.set_loader`, and through APSW (see
:mod:`projections.rebuild.scratch`). Once the loader is done with the new
file, it copies the folded tables over (into empty tables of the same shape,
record by record, without decoding them) and builds their indexes there.

It talks to the rebuild in lines: ``<position> <events>`` after each batch,
``folded <forgotten>`` when every event is folded; then it waits for
``copy`` on its standard input.
"""

from __future__ import annotations

import logging
from pathlib import Path

from projections.engine import TRACKING, TRACKING_TABLE
from projections.readmodel_parts import History, ReadModel, Table
from projections.rebuild import scratch
from projections.rebuild.later_events import LaterEvents
from projections.rebuild.processes import Helper, order, report
from projections.rebuild.replay import Advance, Replay, replay_log
from projections.rebuild.set_loader import set_based
from projections.registry import READ_MODELS
from projections.source import LogFile

log = logging.getLogger(__name__)
"""Where the fold process's warnings about odd events are relayed."""

FOLDED = "folded"
COPY = "copy"


def folded_models() -> list[ReadModel]:
    """The read models a bulk rebuild folds: all but the set-based ones."""
    loaded = set_based()
    return [model for model in READ_MODELS if model not in loaded]


def _stored(models: list[ReadModel]) -> list[Table | History]:
    return [t for m in models for t in m.tables if isinstance(t, Table | History)]


class FoldProcess(Helper):
    """Folds an SQLite log into a scratch file, then copies it into the new file.

    Args:
        scratch_file: A file migrated to its bare tables, which the fold fills.
        target: The new generation file.
        log_file: The SQLite log's file and events table.
        stop: The last position to fold.
        batch_size: Events per fold transaction.
        held_limit: How many held rows the fold keeps at most.
    """

    def __init__(
        self,
        scratch_file: Path,
        target: Path,
        log_file: tuple[str, str],
        stop: int,
        batch_size: int,
        held_limit: int,
    ) -> None:
        args = [str(scratch_file), str(target), *log_file, str(stop), str(batch_size)]
        super().__init__(
            "folding the log",
            __name__,
            [*args, str(held_limit)],
            talks=True,
            warns_to=log,
        )
        self.scratch = scratch_file
        self.forgotten = 0

    def fold(self, advance: Advance) -> int:
        """Follows the fold until every event is folded; returns how many."""
        events = 0
        for line in self.lines():
            if line.startswith(FOLDED):
                self.forgotten = int(line.split()[1])
                return events
            position, count = (int(part) for part in line.split())
            events += count
            advance(count, position)
        self.finish()  # it stopped before folding everything: why?
        msg = "the fold stopped early"
        raise RuntimeError(msg)

    def copy(self) -> None:
        """Lets the fold copy into the new file, and waits until it has."""
        self.tell(COPY)
        self.finish()


def fold_and_copy(
    scratch_file: str,
    target: str,
    log_file: tuple[str, str],
    stop: int,
    batch_size: int,
    held_limit: int,
) -> None:
    """The fold process: replays into ``scratch_file``, then copies into ``target``."""
    models = folded_models()
    source = LogFile(scratch.connect_apsw(log_file[0], read_only=True), log_file[1])
    conn = scratch.connect_apsw(scratch_file)
    later = LaterEvents(source.with_later_events())
    replay = Replay(conn, models, source, held_limit, later)
    replay_log(source, replay, stop, batch_size, lambda n, at: report(at, n))
    conn.close()
    report(FOLDED, replay.forgotten)
    if order() != COPY:
        return  # the rebuild failed elsewhere
    tables = _stored(models)
    conn = scratch.connect_apsw(target)
    conn.execute("ATTACH ? AS folded", (scratch_file,))
    conn.execute("BEGIN IMMEDIATE")
    for table in tables:
        conn.execute(f"INSERT INTO main.{table.name} SELECT * FROM folded.{table.name}")
    conn.execute(
        f"UPDATE main.{TRACKING_TABLE} SET position = "
        f"(SELECT position FROM folded.{TRACKING_TABLE} WHERE name = ?) WHERE name = ?",
        (TRACKING, TRACKING),
    )
    conn.execute("COMMIT")
    conn.execute("DETACH folded")
    scratch.index(conn, [i for t in tables for i in t.indexes], alone=True)
    conn.close()


def main(args: list[str]) -> None:
    """The fold process's entry point (see :class:`FoldProcess`)."""
    scratch_file, target, log_file, table, *numbers = args
    stop, batch_size, held_limit = (int(number) for number in numbers)
    fold_and_copy(scratch_file, target, (log_file, table), stop, batch_size, held_limit)
