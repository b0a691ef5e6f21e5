"""Folding batches of the log into read models, exactly once.

The engine knows no read model. A read model (a module of
:mod:`projections.readmodels`) declares its tables and its handlers, plain
functions of the rows they need and one decoded event; the registry
(:mod:`projections.registry`) says which handlers each event class has. The
engine does the rest:

- a :class:`Batch` decodes a batch of the log, hands each event to its
  handlers in registry order, and loads the rows they ask for as they ask
  (or all at once, where a read model says which it will need);
- it then writes every row it holds with one statement per table;
- :func:`project` does that inside one ``BEGIN IMMEDIATE`` transaction
  together with the new tracking position, and skips every event at or
  below the position the file already reflects, so several projectors on
  one file never apply an event twice and a crash between commits simply
  projects the batch again.

The kinds of table and the shape of a handler are declared in
:mod:`projections.readmodel_parts`; here are the rows a fold holds of them
(:class:`StateRows`, :class:`HeldRows`) and the fold itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import (
    Container,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from itertools import islice
from typing import Any

import msgspec
from eventsourcing.utils import resolve_topic

from projections.decoding import decode
from projections.readmodel_parts import (
    SQL,
    Handler,
    Held,
    History,
    Log,
    ReadModel,
    Row,
    Rows,
    Table,
    Tally,
)
from projections.source import Raw, chunks

TRACKING_TABLE = "tracking"
TRACKING = "readmodel"
"""The tracking row's name: one position for every read model in the file."""


class StateRows(dict[Any, Row | None]):
    """A :class:`Table`'s rows in one fold, by key; ``rows[key]`` is None if absent.

    A key not held yet is read from the file on first use, unless the fold
    is ``complete``: a rebuild starts from an empty file, so every row it
    needs is one it made itself.
    """

    def __init__(self, table: Table, conn: SQL | None, *, complete: bool) -> None:
        super().__init__()
        self.table = table
        self.conn = None if complete else conn
        self.found: dict[str, dict[Any, Any]] = {name: {} for name in table.lookups}

    def __missing__(self, key: Any) -> Row | None:
        if self.conn is None:
            return None
        self.load([key])
        return self.get(key)

    def add(self, row: Row) -> Row:
        """Holds ``row`` (new or changed) under its key, to be written."""
        key = self.key_of(row)
        self[key] = row
        for name, found in self.found.items():
            found[row[name]] = key
        return row

    def key_of(self, row: Row) -> Any:
        """The row's primary key: a value, or a tuple for several columns."""
        names = self.table.key
        return row[names[0]] if len(names) == 1 else tuple(row[n] for n in names)

    def find(self, column: str, value: Any) -> Row | None:
        """The row whose unique ``column`` holds ``value``, or None."""
        key = self.found[column].get(value)
        if key is None and self.conn is not None:
            self.load([value], column)
            key = self.found[column].get(value)
        return None if key is None else self[key]

    def load(self, keys: Iterable[Any], column: str | None = None) -> None:
        """Reads the rows of ``keys`` (values of ``column``) not held yet."""
        if self.conn is None:
            return
        names = self.table.key if column is None else (column,)
        held = self if column is None else self.found[column]
        wanted = sorted({key for key in keys if key not in held})
        for chunk in chunks(wanted):
            if len(names) == 1:
                where = f"{names[0]} IN ({','.join('?' * len(chunk))})"
                params: list[Any] = list(chunk)
            else:
                one = "(" + ",".join("?" * len(names)) + ")"
                where = (
                    f"({','.join(names)}) IN (VALUES {','.join([one] * len(chunk))})"
                )
                params = [value for key in chunk for value in key]
            cursor = self.conn.execute(
                f"SELECT * FROM {self.table.name} WHERE {where}", params
            )
            columns = [column[0] for column in cursor.description]
            for values in cursor.fetchall():
                self.add(dict(zip(columns, values, strict=True)))
        for key in wanted:
            if column is None:
                self.setdefault(key, None)

    def written(self) -> Iterator[tuple[Any, ...]]:
        """Every row held, as the values the table stores, in key order."""
        values = self.table.values
        columns = self.table.columns
        for key in sorted(self):
            row = self[key]
            if row is not None:
                yield values(row) if values else tuple(row[c] for c in columns)


class HeldRows(dict[str, Any]):
    """A :class:`Held` table's rows by aggregate id, worked out from the log.

    Args:
        held: The table.
        log: The log, for rows not held.
        limit: How many rows to keep at most; past it the oldest half is
            forgotten, and worked out again from the log if named again.
        complete: Every row there is was made by this fold (a rebuild), so
            until it forgets some, a row not held does not exist.
    """

    def __init__(
        self,
        held: Held,
        log: Log | None,
        limit: int | None = None,
        *,
        complete: bool = False,
    ) -> None:
        super().__init__()
        self.held = held
        self.log = log
        self.limit = limit
        self.complete = complete
        self.forgotten = 0
        """How many times the oldest rows were let go."""
        self.later: Container[str] | None = None
        """The aggregates that have events after their first, where known (a
        superset will do): only their rows are worth holding."""

    def hold(self, aggregate_id: str, row: Any) -> None:
        """Holds an aggregate's first row, unless no later event can ask for it."""
        later = self.later
        if later is None or aggregate_id in later:
            self[aggregate_id] = row

    @property
    def holds_all(self) -> bool:
        """Whether a row not held does not exist (nothing to look up)."""
        return self.complete and not self.forgotten

    def get_before(self, aggregate_id: str, version: int) -> Any:
        """The row as the aggregate's events before ``version`` leave it."""
        row = self.get(aggregate_id)
        if row is None and not self.holds_all:
            self.load({aggregate_id: version})
            row = self.get(aggregate_id)
        return row

    def load(self, below: Mapping[str, int]) -> None:
        """Works out the rows of the aggregates in ``below`` that are not held.

        Args:
            below: By aggregate id, the first version the batch names; the
                row is what the events before it add up to.
        """
        if self.log is None or self.holds_all:
            return
        wanted = {key: version for key, version in below.items() if key not in self}
        if not wanted:
            return
        by_aggregate: dict[str, list[Raw]] = {}
        for raw in self.log.earlier_events(wanted):
            by_aggregate.setdefault(raw[1], []).append(raw)
        fold = self.held.fold
        for key, raws in by_aggregate.items():
            row = fold(raws)
            if row is not None:
                self[key] = row

    def trim(self) -> None:
        """Forgets the oldest half of the rows once there are more than the limit."""
        if self.limit is None or len(self) <= self.limit:
            return
        for key in list(islice(self, len(self) // 2)):
            del self[key]
        self.forgotten += 1


class Dispatch(dict[str, tuple[Handler, ...]]):
    """By stored topic, the handlers that fold the event, in read-model order.

    Worked out on first sight of each topic: a handler registered for a
    class folds the events of its subclasses too. An event that no read
    model folds gets no handlers, and is not even decoded.

    Args:
        read_models: The read models, in the order their handlers run.
    """

    def __init__(self, read_models: Sequence[ReadModel]) -> None:
        super().__init__()
        self.read_models = tuple(read_models)
        self.tables = [table for model in self.read_models for table in model.tables]
        self.preloads = [m.preload for m in self.read_models if m.preload is not None]
        self.stored_folds = [
            m.fold_stored for m in self.read_models if m.fold_stored is not None
        ]

    def __missing__(self, topic: str) -> tuple[Handler, ...]:
        event_class = resolve_topic(topic)
        found = self[topic] = tuple(
            handler
            for model in self.read_models
            for registered, handler in model.handlers.items()
            if issubclass(event_class, registered)
        )
        return found


class Batch:
    """The fold of consecutive events into the rows they touch, then one write.

    Args:
        conn: The read-model file.
        dispatch: The read models' handlers by topic.
        log: The log, for held rows not held.
        complete: Every row the fold needs is one it makes (a rebuild);
            otherwise rows are read from the file as the handlers ask.
        held_limit: How many held rows to keep at most (see :class:`HeldRows`).
    """

    def __init__(
        self,
        conn: SQL,
        dispatch: Dispatch,
        *,
        log: Log | None = None,
        complete: bool = False,
        held_limit: int | None = None,
    ) -> None:
        self.conn = conn
        self.handlers = dispatch
        self.preloads = dispatch.preloads
        self.stored_folds = dispatch.stored_folds
        self.tables = dispatch.tables
        self.rows: Rows = {}
        for table in self.tables:
            if isinstance(table, Table):
                self.rows[table] = StateRows(table, conn, complete=complete)
            elif isinstance(table, Tally):
                self.rows[table] = {}
            elif isinstance(table, History):
                self.rows[table] = []
            else:
                self.rows[table] = HeldRows(table, log, held_limit, complete=complete)

    def fold(self, raws: Sequence[Raw]) -> None:
        """Decodes ``raws`` and hands each event to its handlers, in log order."""
        rows = self.rows
        for fold_stored in self.stored_folds:
            fold_stored(rows, raws)
        for preload in self.preloads:
            preload(rows, raws)
        by_topic = self.handlers
        for raw in raws:
            handlers = by_topic[raw[3]]
            if handlers:
                try:
                    event = decode(raw)
                except (msgspec.DecodeError, msgspec.ValidationError) as error:
                    msg = f"the event at position {raw[0]} cannot be read: {error}"
                    raise UndecodableEvent(msg) from error
                for handler in handlers:
                    handler(rows, event)
        for table in self.tables:
            if isinstance(table, Held):
                rows[table].trim()

    def write_history(self) -> None:
        """Writes, then forgets, the rows the batch added to each History and Tally."""
        for table, rows in self.rows.items():
            if isinstance(table, History) and rows:
                added = rows.values() if isinstance(table, Tally) else rows
                self.conn.executemany(table.insert, added)
                rows.clear()

    def write_state(self) -> None:
        """Writes every current row held, over the stored one of its key."""
        for table, rows in self.rows.items():
            if isinstance(table, Table):
                self.conn.executemany(table.replace_statement(), list(rows.written()))

    def write(self) -> None:
        """Writes everything the batch folded."""
        self.write_history()
        self.write_state()


class UndecodableEvent(ValueError):
    """A stored event whose state is not what its class stores: a damaged log."""


class GapError(RuntimeError):
    """The file's tracking position is behind the batch's start.

    Happens when the file was swapped for a rebuilt one that reflects less
    than the batch assumed; the caller re-reads from the tracked position.
    """


def tracked_position(conn: SQL) -> int:
    """The position every read model in the file reflects (0 before any)."""
    try:
        row = conn.execute(
            f"SELECT position FROM {TRACKING_TABLE} WHERE name = ?", (TRACKING,)
        ).fetchone()
    except sqlite3.OperationalError:  # no tables yet
        return 0
    return int(row[0]) if row else 0


def project(conn: SQL, after: int, raws: Sequence[Raw], batch: Batch) -> int:
    """Applies ``raws`` (read after position ``after``) exactly once.

    Args:
        conn: A read-model connection in autocommit mode.
        after: The position the batch was read after; the file must reflect
            at least that much, or events between would be skipped.
        raws: Consecutive events of the log, oldest first.
        batch: The fold to apply them with.

    Returns:
        The position the file reflects after this transaction.

    Raises:
        GapError: If the file reflects less than ``after``.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        tracked = tracked_position(conn)
        if tracked < after:
            msg = f"read model at {tracked}, batch starts after {after}"
            raise GapError(msg)
        fresh = raws
        if raws and raws[0][0] <= tracked:  # a replayed or overlapping batch
            fresh = [raw for raw in raws if raw[0] > tracked]
        if fresh:
            batch.fold(fresh)
            batch.write()
            tracked = fresh[-1][0]
            conn.execute(
                f"UPDATE {TRACKING_TABLE} SET position = ? WHERE name = ?",
                (tracked, TRACKING),
            )
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return tracked
