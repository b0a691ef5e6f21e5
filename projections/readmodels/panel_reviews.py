"""The panel's current review per (tool, reviewer), and the reviewer split.

A review row is the reviewer's live verdict and rationale with its revision
count; a withdrawn review is kept, flagged. This read model folds before the
ones that count verdicts (the cards' panel figures) and completes each
review event with what it moved, a :data:`Verdicts`: the tool, the verdict
that counted before the event and the one that counts after it (None where
none does).

The reviewer split of a comparison (each reviewer's live verdicts on both
tools) is a pure function of the reviews, so it is a view, not a table kept
in step: :data:`SPLITS` is the one place it is written.
"""

from __future__ import annotations

from typing import Any

from ledger.domainmodel import Review
from projections.engine import StateRows
from projections.readmodel_parts import ReadModel, Row, Rows, Table, unknown

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
        "CREATE INDEX IF NOT EXISTS idx_reviews_tool_submitted "
        "ON reviews (tool, submitted_position)",
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


Verdicts = tuple[str, str | None, str | None]
"""What a review event moved on its tool: ``(tool, before, after)``."""


def counted(review: Row) -> str | None:
    """The verdict a review counts for on its tool's card: none once withdrawn."""
    return None if review["withdrawn"] else review["verdict"]


def submitted(rows: Rows, event: Any) -> None:
    event.completed = (event.tool, None, event.verdict)
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
        _moved(review, event)


def withdrawn(rows: Rows, event: Any) -> None:
    review = _changing(rows[REVIEWS], event)
    if review is not None:
        review["withdrawn"] = 1
        _moved(review, event)


def _changing(reviews: StateRows, event: Any) -> Row | None:
    review = reviews[event.aggregate_id]
    if review is None:
        unknown(event, "review")
        return None
    event.completed = (review["tool"], counted(review), None)
    review["version"] = event.version
    review["position"] = event.position
    return review


def _moved(review: Row, event: Any) -> None:
    """Completes ``event`` with the verdict that counts after it."""
    tool, before, _ = event.completed
    event.completed = (tool, before, counted(review))


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
