"""What a read model is made of, as the engine reads it: its tables and handlers.

A read model (a module of :mod:`projections.readmodels`) declares its tables
with these types and folds events with plain functions of the rows they
need (a :data:`Handler`); :mod:`projections.engine` does the rest. Four
kinds of table exist: a :class:`Table` keeps one current row per key (a
card, a review), a :class:`History` only ever gains rows (the verdict
history, the audit), a :class:`Tally` adds each batch's rows into the stored
ones of the same key (the verdict history by day), and :class:`Held` rows
are never stored in the file but worked out from the log (what a vote last
chose).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from projections.decoding import Event
from projections.source import Raw

log = logging.getLogger(__name__)
"""Where handlers warn about odd events."""

Row = dict[str, Any]
Rows = dict[Any, Any]
"""The rows a handler reaches: by table, the table's rows in this fold."""
Handler = Callable[[Rows, Any], None]
"""A read model's fold of one event: ``handler(rows, event)``."""


class SQL(Protocol):
    """A connection that runs SQL: ``sqlite3``'s, or APSW's in a rebuild."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...

    def close(self) -> None: ...


class Log(Protocol):
    """Where held rows are worked out from: the log's earlier events."""

    def earlier_events(self, below: Mapping[str, int]) -> list[Raw]: ...


@dataclass(frozen=True, eq=False)
class Table:
    """A table of current rows, one per key, replaced whenever a row changes.

    Attributes:
        name: The table's name.
        ddl: Its ``CREATE TABLE`` statement.
        key: The primary key's columns, which also order its rows.
        columns: Every column, in the order rows are written.
        lookups: Unique columns a handler may also find a row by.
        indexes: The indexes queries read through, built once after a rebuild.
        values: How a row becomes the values of ``columns`` (by default,
            each column's value as held); lets a row hold counts and store
            what derives from them.
    """

    name: str
    ddl: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    lookups: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()
    values: Callable[[Row], tuple[Any, ...]] | None = None

    def replace_statement(self) -> str:
        """The statement that writes a row over the one of the same key."""
        marks = ",".join("?" * len(self.columns))
        return (
            f"INSERT OR REPLACE INTO {self.name} ({','.join(self.columns)}) "
            f"VALUES ({marks})"
        )


@dataclass(frozen=True, eq=False)
class History:
    """A table that only gains rows, one or none per event, in log order.

    Attributes:
        name: The table's name.
        ddl: Its ``CREATE TABLE`` statement.
        key: The columns that order its rows.
        insert: The ``INSERT`` a handler's rows are written with; handlers
            append tuples of its parameters.
        indexes: The indexes queries read through, built once after a rebuild.
    """

    name: str
    ddl: str
    key: tuple[str, ...]
    insert: str
    indexes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Tally(History):
    """A table whose rows add up by key: a batch's rows are merged into the file's.

    A handler's rows are a dict by key of lists of ``insert``'s parameters,
    which it adds into as it folds; ``insert`` is an upsert that adds them to
    the stored row of the same key. Only one batch's rows are ever held, so
    a rebuild keeps no more of the table in memory than a live fold.
    """


@dataclass(frozen=True, eq=False)
class Held:
    """Rows worked out from the log rather than stored: never in the file.

    Attributes:
        name: What the rows are, for messages.
        fold: Folds an aggregate's earlier events (raw, oldest first) into
            its row; None if they add up to nothing.
    """

    name: str
    fold: Callable[[Sequence[Raw]], Any]


@dataclass(frozen=True, eq=False)
class ReadModel:
    """One read model as the engine sees it.

    Attributes:
        name: Its name, as ``ledger status`` lists it.
        tables: The tables it owns, in the order they are created.
        handlers: Its fold of each event class it reads. A handler registered
            for a base class folds every subclass's events too.
        views: ``CREATE VIEW`` statements over its tables (and others').
        preload: Given the rows and a batch's stored events before they are
            folded, loads at once the rows the handlers will ask for one by
            one.
        bulk_load: A set-based form of the whole read model, for a rebuild
            from an SQLite log (see :mod:`projections.rebuild`):
            ``bulk_load(conn, log, stop)`` fills its tables with SQL from the
            events of ``log`` (an attached ``schema.table``) up to ``stop``,
            giving exactly the rows its handlers would.
        fold_stored: A fold of every stored event as stored, undecoded, for
            a read model of the log itself rather than of what its events
            mean (the Merkle tree): given the rows and each batch's stored
            events, in log order, before the handlers see them.
    """

    name: str
    tables: tuple[Table | History | Held, ...]
    handlers: Mapping[type[Any], Handler]
    views: tuple[str, ...] = ()
    preload: Callable[[Rows, Sequence[Raw]], None] | None = None
    bulk_load: Callable[[sqlite3.Connection, str, int], None] | None = None
    fold_stored: Callable[[Rows, Sequence[Raw]], None] | None = None


def unknown(event: Event, what: str) -> None:
    """Warns that ``event`` names something its read model never saw."""
    log.warning("event %s names an unknown %s", event.position, what)
