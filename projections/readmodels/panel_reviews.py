"""The panel's current review per (tool, reviewer), and the reviewer split.

A review row is the reviewer's live verdict and rationale with its revision
count; a withdrawn review is kept, flagged. Each row also remembers, in
``was``, the verdict that counted before its latest event (None if none
did), so that the read models that count verdicts (the cards' panel figures)
see what the event moved: this read model folds before them.

The reviewer split of a comparison (each reviewer's live verdicts on both
tools) is a pure function of the reviews, so it is a view, not a table kept
in step: :data:`SPLITS` is the one place it is written.
"""

from __future__ import annotations

from typing import Any

from ledger.domainmodel import Review
from projections.engine import ReadModel, Row, Rows, StateRows, Table, unknown

REVIEWS = Table(
    "reviews",
    """
    CREATE TABLE reviews (
        id TEXT PRIMARY KEY,
        tool TEXT NOT NULL, reviewer TEXT NOT NULL,
        verdict TEXT NOT NULL, rationale TEXT NOT NULL,
        revision INTEGER NOT NULL,
        submitted_at TEXT NOT NULL, revised_at TEXT,
        withdrawn INTEGER NOT NULL,
        version INTEGER NOT NULL,
        submitted_position INTEGER NOT NULL, position INTEGER NOT NULL
    ) WITHOUT ROWID""",
    key=("id",),
    columns=(
        "id",
        "tool",
        "reviewer",
        "verdict",
        "rationale",
        "revision",
        "submitted_at",
        "revised_at",
        "withdrawn",
        "version",
        "submitted_position",
        "position",
    ),
    indexes=(
        "CREATE UNIQUE INDEX IF NOT EXISTS idx_reviews_tool_reviewer "
        "ON reviews (tool, reviewer)",
    ),
)

SPLITS = """
    CREATE VIEW splits AS
    SELECT c.lo, c.hi, r.reviewer,
        max(CASE WHEN r.tool = c.lo THEN r.verdict END) AS lo_verdict,
        max(CASE WHEN r.tool = c.hi THEN r.verdict END) AS hi_verdict
    FROM comparisons c JOIN reviews r ON r.tool IN (c.lo, c.hi) AND r.withdrawn = 0
    GROUP BY c.lo, c.hi, r.reviewer"""
"""Each reviewer's live verdicts on both tools of every comparison."""


def counted(review: Row) -> str | None:
    """The verdict a review counts for on its tool's card: none once withdrawn."""
    return None if review["withdrawn"] else review["verdict"]


def submitted(rows: Rows, event: Any) -> None:
    rows[REVIEWS].add(
        {
            "id": event.aggregate_id,
            "tool": event.tool,
            "reviewer": event.reviewer,
            "verdict": event.verdict,
            "rationale": event.rationale,
            "revision": 0,
            "submitted_at": event.at,
            "revised_at": None,
            "withdrawn": 0,
            "version": event.version,
            "submitted_position": event.position,
            "position": event.position,
            "was": None,
        }
    )


def revised(rows: Rows, event: Any) -> None:
    """A revision, or a resubmission after a withdrawal: a new live verdict."""
    review = _changing(rows[REVIEWS], event)
    if review is not None:
        review["verdict"] = event.verdict
        review["rationale"] = event.rationale
        review["withdrawn"] = 0
        review["revision"] += 1
        review["revised_at"] = event.at


def withdrawn(rows: Rows, event: Any) -> None:
    review = _changing(rows[REVIEWS], event)
    if review is not None:
        review["withdrawn"] = 1


def _changing(reviews: StateRows, event: Any) -> Row | None:
    review = reviews[event.aggregate_id]
    if review is None:
        unknown(event, "review")
        return None
    review["was"] = counted(review)
    review["version"] = event.version
    review["position"] = event.position
    return review


READ_MODEL = ReadModel(
    name="panel_reviews",
    tables=(REVIEWS,),
    views=(SPLITS,),
    handlers={
        Review.Submitted: submitted,
        Review.Revised: revised,
        Review.Resubmitted: revised,
        Review.Withdrawn: withdrawn,
    },
)
