"""The review panel: each reviewer's name, lens and whether they still review.

A retired reviewer keeps their row, with since when and why they were retired.
"""

from __future__ import annotations

from typing import Any

from ledger.domainmodel import Reviewer
from projections.readmodel_parts import ReadModel, Rows, Table
from projections.readmodels import (
    NOT_RETIRED,
    RETIREMENT,
    RETIREMENT_DDL,
    changed_by,
    retire,
)

REVIEWERS = Table(
    "reviewers",
    f"""
    CREATE TABLE reviewers (
        handle TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL, lens TEXT NOT NULL, retired INTEGER NOT NULL,
        version INTEGER NOT NULL, enrolled_position INTEGER NOT NULL,
        position INTEGER NOT NULL, updated_at TEXT NOT NULL,
        {RETIREMENT_DDL}
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
        *RETIREMENT,
    ),
    lookups=("id",),
    indexes=(
        "CREATE INDEX IF NOT EXISTS idx_reviewers_enrolled "
        "ON reviewers (enrolled_position)",
    ),
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
            **NOT_RETIRED,
        }
    )


def profile_edited(rows: Rows, event: Any) -> None:
    reviewer = changed_by(rows, REVIEWERS, event, "reviewer")
    if reviewer is not None:
        for name, value in event.changes.items():
            if name in PROFILE:
                reviewer[name] = value


def retired(rows: Rows, event: Any) -> None:
    reviewer = changed_by(rows, REVIEWERS, event, "reviewer")
    if reviewer is not None:
        retire(reviewer, event)


READ_MODEL = ReadModel(
    name="panel",
    tables=(REVIEWERS,),
    handlers={
        Reviewer.Enrolled: enrolled,
        Reviewer.ProfileEdited: profile_edited,
        Reviewer.Retired: retired,
    },
)
