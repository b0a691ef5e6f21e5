"""Where each node of a shared PostgreSQL log has projected up to.

Nodes share one log but each keeps its read models in its own
``LEDGER_HOME``, which no other node (nor ``ledger status`` run elsewhere)
can see. So every node's projector also writes its position, under the
node's name, to a small table beside the log: ``ledger_nodes`` in the log's
schema, created if missing. ``ledger status`` lists it with each node's lag.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from ledger.application import Ledger
from ledger.postgres_tables import tables_lock

logger = logging.getLogger(__name__)

TABLE = "ledger_nodes"


@dataclass(frozen=True)
class NodeRow:
    """One node's last reported projected position."""

    name: str
    projected: int
    updated_at: datetime


def registry_of(ledger: Ledger) -> NodeRegistry | None:
    """The node table beside ``ledger``'s log, or None on the embedded store."""
    recorder = ledger.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        return NodeRegistry(recorder)
    return None


class NodeRegistry:
    """The ``ledger_nodes`` table of one PostgreSQL log.

    Args:
        recorder: The log's recorder; its pool and schema are used.
    """

    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self.recorder = recorder
        self.datastore = recorder.datastore
        self.table = SQL("{0}.{1}").format(
            Identifier(self.datastore.schema), Identifier(TABLE)
        )
        self._created = False

    def _create(self) -> None:
        if self._created:
            return
        with (
            self.datastore.get_connection() as conn,
            tables_lock(conn, self.datastore.schema),
        ):
            conn.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0} (name text PRIMARY KEY, "
                    "projected bigint NOT NULL, updated_at timestamptz NOT NULL)"
                ).format(self.table)
            )
        self._created = True

    def record(self, name: str, position: int) -> None:
        """Sets ``name``'s projected position (it only ever grows).

        A node's workers each report the one file they share, in whatever
        order their commits land; keeping the greatest keeps the right one.
        """
        self._create()
        with self.datastore.get_connection() as conn:
            conn.execute(
                SQL(
                    "INSERT INTO {0} AS n (name, projected, updated_at) "
                    "VALUES (%s, %s, now()) ON CONFLICT (name) DO UPDATE SET "
                    "projected = GREATEST(n.projected, EXCLUDED.projected), "
                    "updated_at = now()"
                ).format(self.table),
                (name, position),
            )

    def report(self, name: str, position: int) -> None:
        """:meth:`record`, with a failure logged rather than raised.

        Called after every projected batch: a report that could not be made
        (the server is away) must not stop the projecting, and the next
        batch reports again.
        """
        try:
            self.record(name, position)
        except Exception:
            logger.warning(
                "reporting node %r at position %d failed", name, position, exc_info=True
            )

    def nodes(self) -> list[NodeRow]:
        """Every node that has reported, by name."""
        self._create()
        with self.datastore.get_connection() as conn:
            rows = conn.execute(
                SQL("SELECT name, projected, updated_at FROM {0} ORDER BY name").format(
                    self.table
                )
            ).fetchall()
        return [
            NodeRow(row["name"], row["projected"], row["updated_at"]) for row in rows
        ]
