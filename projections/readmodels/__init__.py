"""The read models: one module each, with its tables, its folds and its writes.

Each module ends with a ``READ_MODEL`` that says what the engine needs to
know; :mod:`projections.registry` lists them.
"""

from __future__ import annotations

from typing import Any

from projections.decoding import envelope
from projections.readmodel_parts import Row, Rows, Table, unknown

RETIREMENT = ("retired_at", "retired_position", "retired_reason")
"""The columns that say since when and why a retired row is retired."""

RETIREMENT_DDL = "retired_at TEXT, retired_position INTEGER, retired_reason TEXT"
"""Their definitions: null while the row is not retired."""

NOT_RETIRED: dict[str, Any] = dict.fromkeys(RETIREMENT)


def changed_by(rows: Rows, table: Table, event: Any, what: str) -> Row | None:
    """The row of the aggregate ``event`` changed, stamped with it; None if unknown.

    A row found by its aggregate's id keeps the version, log position and time
    of that aggregate's latest event.
    """
    row = rows[table].find("id", event.aggregate_id)
    if row is None:
        unknown(event, what)
        return None
    row["version"] = event.version
    row["position"] = event.position
    row["updated_at"] = event.at
    return row


def retire(row: Row, event: Any) -> None:
    """Marks ``row`` retired by ``event``: when, where in the log, and why.

    The reason is in the event's envelope, which the typed views leave out
    (few events are retirements, so it is decoded only for them).
    """
    row["retired"] = 1
    row["retired_at"] = event.at
    row["retired_position"] = event.position
    row["retired_reason"] = envelope(event)[0]["reason"]


def reinstate(row: Row) -> None:
    """Clears what :func:`retire` set."""
    row["retired"] = 0
    row.update(NOT_RETIRED)
