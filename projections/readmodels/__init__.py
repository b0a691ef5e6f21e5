"""The read models: one module each, with its tables, its folds and its writes.

Each module ends with a ``READ_MODEL`` that says what the engine needs to
know; :mod:`projections.registry` lists them.
"""

from __future__ import annotations

from typing import Any

from projections.readmodel_parts import Row, Rows, Table, unknown


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
