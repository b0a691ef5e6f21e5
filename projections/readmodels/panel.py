"""The review panel: each reviewer's name, lens and whether they still review."""

from __future__ import annotations

from typing import Any

from ledger.domainmodel import Reviewer
from projections.engine import ReadModel, Row, Rows, Table, unknown

REVIEWERS = Table(
    "reviewers",
    """
    CREATE TABLE reviewers (
        handle TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL, lens TEXT NOT NULL, retired INTEGER NOT NULL,
        version INTEGER NOT NULL, enrolled_position INTEGER NOT NULL,
        position INTEGER NOT NULL, updated_at TEXT NOT NULL
    ) WITHOUT ROWID""",
    key=("handle",),
    columns=(
        "handle",
        "id",
        "name",
        "lens",
        "retired",
        "version",
        "enrolled_position",
        "position",
        "updated_at",
    ),
    lookups=("id",),
)

PROFILE = ("name", "lens")
"""What a profile edit may change."""


def enrolled(rows: Rows, event: Any) -> None:
    rows[REVIEWERS].add(
        {
            "handle": event.handle,
            "id": event.aggregate_id,
            "name": event.name,
            "lens": event.lens,
            "retired": 0,
            "version": event.version,
            "enrolled_position": event.position,
            "position": event.position,
            "updated_at": event.at,
        }
    )


def profile_edited(rows: Rows, event: Any) -> None:
    reviewer = _changing(rows, event)
    if reviewer is not None:
        for name, value in event.changes.items():
            if name in PROFILE:
                reviewer[name] = value


def retired(rows: Rows, event: Any) -> None:
    reviewer = _changing(rows, event)
    if reviewer is not None:
        reviewer["retired"] = 1


def _changing(rows: Rows, event: Any) -> Row | None:
    reviewer = rows[REVIEWERS].find("id", event.aggregate_id)
    if reviewer is None:
        unknown(event, "reviewer")
        return None
    reviewer["version"] = event.version
    reviewer["position"] = event.position
    reviewer["updated_at"] = event.at
    return reviewer


READ_MODEL = ReadModel(
    name="panel",
    tables=(REVIEWERS,),
    handlers={
        Reviewer.Enrolled: enrolled,
        Reviewer.ProfileEdited: profile_edited,
        Reviewer.Retired: retired,
    },
)
