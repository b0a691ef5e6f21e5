"""The erasures: whose personal data was erased, when, and why.

One row per ``Erasure.Recorded``, naming the person only by kind and
pseudonym (``reviewer:<handle>``, ``subscriber:<id>``), never by the data
that was erased. Everything sealed for that person reads as erased from the
moment their key was destroyed; this table is the log's own account of it,
for operators and audits.
"""

from __future__ import annotations

from typing import Any

from ledger.people import Erasure
from projections.decoding import envelope
from projections.readmodel_parts import History, ReadModel, Rows

ERASURES = History(
    "erasures",
    """
    CREATE TABLE erasures (
        position INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        person TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL
    )""",
    key=("position",),
    insert="INSERT INTO erasures VALUES (?,?,?,?,?)",
    indexes=("CREATE INDEX IF NOT EXISTS idx_erasures_person ON erasures (person)",),
)


def recorded(rows: Rows, event: Any) -> None:
    kind = event.person.partition(":")[0]
    reason = envelope(event)[0]["reason"]
    rows[ERASURES].append((event.position, event.at, event.person, kind, reason))


READ_MODEL = ReadModel(
    name="erasures",
    tables=(ERASURES,),
    handlers={Erasure.Recorded: recorded},
)
