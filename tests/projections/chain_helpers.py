"""Helpers of the tamper-evidence tests: a ledger with a log worth checking."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from ledger import demo
from ledger.application import Ledger
from ledger.context import Context
from projections.log_leaves import leaf_hash
from projections.source import LogSource

CTX = Context(actor="editor:test", request_id="test")
TABLE = "stored_events"


def grow(ledger: Ledger, votes: int, start: int = 0) -> None:
    """Adds the demo (once) and ``votes`` community votes, one per voter."""
    if ledger.head_position() == 0:
        demo.load(ledger)
    tools = tuple(demo.TOOLS)
    for n in range(start, start + votes):
        choice = "ship" if n % 3 else "skip"
        ledger.cast_vote(CTX, f"voter-{n}", tools[n % 2], choice)


def leaf_hashes(ledger: Ledger) -> list[bytes]:
    """The leaf hash of every stored event, recomputed from the log."""
    source = LogSource(ledger)
    try:
        return [leaf_hash(raw) for raw in source.read(0, 1_000_000)]
    finally:
        source.close()


def events_file(home: Path) -> sqlite3.Connection:
    """The embedded event store's file, opened to be tampered with."""
    return sqlite3.connect(home / "events.sqlite", isolation_level=None)


Row = tuple[Any, ...]


class StoredEvents:
    """The log's table on the test's store, opened to be tampered with.

    The store is the one the environment names, as for the ``ledger``
    command the tests run: the SQLite file in ``home``, or the PostgreSQL
    schema ``POSTGRES_SCHEMA`` when ``LEDGER_EVENT_STORE`` is set. A
    position is SQLite's ``rowid``, PostgreSQL's ``notification_id``. Each
    block of changes is one transaction.
    """

    def __init__(self, home: Path) -> None:
        self.conn: Any
        if os.environ.get("LEDGER_EVENT_STORE"):
            self.conn = psycopg.connect(os.environ["LEDGER_EVENT_STORE"])
            schema = os.environ["POSTGRES_SCHEMA"]
            self.table = f'"{schema}".verdictledger_events'
            self.position, self.mark = "notification_id", "%s"
        else:
            self.conn = sqlite3.connect(home / "events.sqlite")
            self.table, self.position, self.mark = TABLE, "rowid", "?"

    def __enter__(self) -> StoredEvents:
        return self

    def __exit__(self, *failed: object) -> None:
        if failed[0] is None:
            self.conn.commit()
        self.conn.close()

    def _run(self, sql: str, *values: Any) -> Any:
        return self.conn.execute(
            sql.format(table=self.table, position=self.position, mark=self.mark),
            values,
        )

    def row(self, position: int) -> Row:
        """The event at ``position``: aggregate id, version, topic and state."""
        row: Row = self._run(
            "SELECT originator_id, originator_version, topic, state FROM {table} "
            "WHERE {position} = {mark}",
            position,
        ).fetchone()
        return row

    def set_state(self, position: int, state: bytes) -> None:
        self._run(
            "UPDATE {table} SET state = {mark} WHERE {position} = {mark}",
            state,
            position,
        )

    def delete(self, position: int) -> None:
        self._run("DELETE FROM {table} WHERE {position} = {mark}", position)

    def delete_after(self, kept: int) -> None:
        self._run("DELETE FROM {table} WHERE {position} > {mark}", kept)

    def insert(self, position: int, row: Row) -> None:
        """Stores ``row`` (as :meth:`row` reads one) at ``position``."""
        self._run(
            "INSERT INTO {table} ({position}, originator_id, originator_version, "
            "topic, state) VALUES ({mark}, {mark}, {mark}, {mark}, {mark})",
            position,
            *row,
        )

    def move(self, position: int, to: int) -> None:
        self._run(
            "UPDATE {table} SET {position} = {mark} WHERE {position} = {mark}",
            to,
            position,
        )


def backdate(home: Path, position: int) -> None:
    """Rewrites the stored time of the event at ``position``, as a forger would.

    The state stays valid JSON of its class, so the read models still fold
    it: only the chain can tell.
    """
    with StoredEvents(home) as events:
        state = bytes(events.row(position)[3])
        events.set_state(
            position, state.replace(b'"timestamp":"20', b'"timestamp":"19', 1)
        )
