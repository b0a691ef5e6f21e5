"""The audit index: every event of the log, its envelope and its data.

A row is a function of its event alone, so it has two forms, kept side by
side here and checked against each other by the tests: :func:`row`, which a
live projector folds event by event, and :func:`load`, one ``INSERT …
SELECT`` that lets SQLite compute every row straight from an SQLite log,
which is what a rebuild does. Only states stored by an older class version,
which only Python can upcast, go through :func:`row` in both.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec
from eventsourcing.domain import DomainEvent
from eventsourcing.utils import get_topic

from ledger.log import ENVELOPE, EVENT_CLASSES
from projections.decoding import decode, envelope, iso_text
from projections.readmodel_parts import History, ReadModel, Rows

AUDIT = History(
    "audit",
    """
    CREATE TABLE audit (
        position INTEGER PRIMARY KEY,
        at TEXT NOT NULL, type TEXT NOT NULL, aggregate_id TEXT NOT NULL,
        version INTEGER NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,
        request_id TEXT NOT NULL, data TEXT NOT NULL
    )""",
    key=("position",),
    insert=f"INSERT INTO audit VALUES ({','.join('?' * 9)})",
    indexes=(
        "CREATE INDEX IF NOT EXISTS idx_audit_type_position ON audit (type, position)",
        "CREATE INDEX IF NOT EXISTS idx_audit_actor_position "
        "ON audit (actor, position)",
        "CREATE INDEX IF NOT EXISTS idx_audit_at ON audit (at)",
    ),
)

_encode = msgspec.json.Encoder().encode


def row(event: Any) -> tuple[Any, ...]:
    """The audit row of one event, in Python."""
    stored, data = envelope(event)
    return (
        event.position,
        event.at,
        event.type_name,
        event.aggregate_id,
        event.version,
        stored["actor"],
        stored["reason"],
        stored["request_id"],
        _encode(data).decode(),
    )


def recorded(rows: Rows, event: Any) -> None:
    rows[AUDIT].append(row(event))


_AT = "state ->> 'timestamp'"
LOAD = f"""
    INSERT INTO audit
    SELECT rowid,
        CASE WHEN length({_AT}) = 27 AND substr({_AT}, 27) = 'Z' THEN {_AT}
             ELSE iso_text({_AT}) END,
        substr(topic, instr(topic, ':') + 1), originator_id, originator_version,
        coalesce(state ->> 'actor', ''), coalesce(state ->> 'reason', ''),
        coalesce(state ->> 'request_id', ''),
        json_remove(state, {", ".join(f"'$.{key}'" for key in ENVELOPE)},
                    '$.class_version')
    FROM {{log}} WHERE rowid <= ?1"""
"""The same rows as :func:`row`, for every event of an attached SQLite log."""


def load(conn: sqlite3.Connection, log: str, stop: int) -> None:
    """Fills the audit from the SQLite log ``log`` (``schema.table``) up to ``stop``."""
    # For timestamps not in the usual fixed-width form.
    conn.create_function("iso_text", 1, iso_text, deterministic=True)
    conn.execute(LOAD.format(log=log), (stop,))
    upcasts = {
        get_topic(cls): cls
        for cls in EVENT_CLASSES.values()
        if getattr(cls, "class_version", 1) > 1
    }
    for topic, cls in upcasts.items():
        stale = conn.execute(
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {log} WHERE topic = ? AND rowid <= ? "
            "AND coalesce(state ->> 'class_version', 1) < ?",
            (topic, stop, cls.class_version),
        ).fetchall()
        conn.executemany(
            "UPDATE audit SET data = ? WHERE position = ?",
            [(row(decode(raw))[-1], raw[0]) for raw in stale],
        )


READ_MODEL = ReadModel(
    name="audit",
    tables=(AUDIT,),
    handlers={DomainEvent: recorded},  # every stored event, whatever its class
    bulk_load=load,
)
