"""Replaying the whole log into a fresh file: the fold a rebuild uses.

A rebuild writes into a file nobody reads until it is complete, so a
:class:`Replay` is one :class:`~projections.engine.Batch` kept from the first
event to the last: the rows a batch touched need not be read back by the
next one (a row it has not met does not exist yet), and the current rows
(cards, reviews, tallies…), which every batch would rewrite, are written once
by :meth:`Replay.finish`. Only the histories are written batch by batch, with
the tracking position, as a live projection writes them. Held rows (what
each vote last did) are kept only for aggregates with later events, and up to
a bound past which the oldest are worked out again from the log if named
again; so memory depends on what the read models hold, not on the log's
length.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Container, Sequence

from projections.engine import Batch, Dispatch, HeldRows, project
from projections.readmodel_parts import SQL, Log, ReadModel
from projections.source import LogFile, LogSource

Advance = Callable[[int, int], None]
"""Told the events of each batch folded and the position reached."""

HELD_LIMIT = 400_000
"""How many held rows (votes) a replay keeps before forgetting the oldest half.

Only votes that the log changes later are held, and they are changed soon
after they are cast, so the newest few hundred thousand are what later
events name; a forgotten one costs a read of its earlier events from the
log. The bound, not the log's length, is what the held rows can cost
(docs/PERFORMANCE.md).
"""


class Replay(Batch):
    """A fold that keeps its rows from one batch to the next, for rebuilds.

    Args:
        conn: The file being built, migrated to its bare tables.
        read_models: The read models to fold.
        log: The log, where forgotten held rows are worked out again.
        held_limit: How many held rows to keep at most.
        later: The aggregates that have events after their first (see
            :mod:`projections.rebuild.later_events`), where the log can
            tell; the others' held rows are not kept.
    """

    def __init__(
        self,
        conn: SQL,
        read_models: Sequence[ReadModel],
        log: Log,
        held_limit: int = HELD_LIMIT,
        later: Container[str] | None = None,
    ) -> None:
        super().__init__(
            conn, Dispatch(read_models), log=log, complete=True, held_limit=held_limit
        )
        for rows in self.rows.values():
            if isinstance(rows, HeldRows):
                rows.later = later

    def write(self) -> None:
        """Appends the batch's history rows; current rows wait for :meth:`finish`."""
        self.write_history()

    def finish(self) -> None:
        """Writes the current rows once, in one transaction."""
        self.conn.execute("BEGIN")
        self.write_state()
        self.conn.execute("COMMIT")

    @property
    def forgotten(self) -> int:
        """How many times the held rows outgrew their bound."""
        return sum(
            rows.forgotten for rows in self.rows.values() if isinstance(rows, HeldRows)
        )


def replay_log(
    source: LogSource | LogFile,
    replay: Replay,
    stop: int,
    batch_size: int,
    advance: Advance,
) -> int:
    """Folds the log up to ``stop`` into ``replay``'s file; returns the events."""
    conn = replay.conn
    events = after = 0
    # The fold holds many small objects that never form cycles; collecting
    # them over and over would cost a good part of the rebuild.
    collecting = gc.isenabled()
    gc.disable()
    try:
        while batch := source.read(after, batch_size, stop):
            after = project(conn, after, batch, replay)
            events += len(batch)
            advance(len(batch), after)
        replay.finish()
    finally:
        if collecting:
            gc.enable()
    return events
