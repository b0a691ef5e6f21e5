"""Helpers of the tamper-evidence tests: a ledger with a log worth checking."""

from __future__ import annotations

import sqlite3
from pathlib import Path

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


def backdate(home: Path, position: int) -> None:
    """Rewrites the stored time of the event at ``position``, as a forger would.

    The state stays valid JSON of its class, so the read models still fold
    it: only the chain can tell.
    """
    with events_file(home) as conn:
        (state,) = conn.execute(
            f"SELECT state FROM {TABLE} WHERE rowid = ?", (position,)
        ).fetchone()
        conn.execute(
            f"UPDATE {TABLE} SET state = ? WHERE rowid = ?",
            (state.replace(b'"timestamp":"20', b'"timestamp":"19', 1), position),
        )
