"""Which event each community vote on a tool stands on: the provenance of its figures.

A card counts a tool's current votes, ship and skip, but keeps no vote: what
each vote last did is held in memory by :mod:`~projections.readmodels.vote_moves`
and worked out from the log when needed. To name the event behind each
counted vote, this read model keeps a row for every event of a vote on a
tool (cast, changed, retracted) with the choice it left. A vote counts in
its tool's ship (or skip) figure through its newest row, when that row's
choice is ship (or skip): so a figure's events are the rows of that choice
that no later row of the same vote replaced, found through two indexes
(:data:`FIGURE` and :data:`REPLACED`) however long the log. The panel's
figures need nothing new: a current review row already holds the position
of the review's latest event.

Only rows are ever added, so a rebuild holds none of them in memory. A bulk
rebuild folds them with the other read models rather than loading them with
SQL: one more small row per vote event costs the fold about a quarter of
what finding each vote's subject in the log with SQL costs the set loader,
already the busier of the two helpers (docs/PERFORMANCE.md).
"""

from __future__ import annotations

from typing import Any

from ledger.domainmodel import Vote
from projections.readmodel_parts import History, ReadModel, Rows
from projections.readmodels.vote_moves import TOOL

FIGURE = (
    "CREATE INDEX IF NOT EXISTS idx_vote_events_figure "
    "ON vote_events (tool, choice, position)"
)
"""A figure's candidate events in log order: one tool's rows of one choice."""

REPLACED = (
    "CREATE INDEX IF NOT EXISTS idx_vote_events_replaced "
    "ON vote_events (vote, position) WHERE version > 1"
)
"""Whether a vote has a later row: only changes and retractions can be later,
so only they are indexed (most votes are cast once and never changed)."""

VOTE_EVENTS = History(
    "vote_events",
    """
    CREATE TABLE vote_events (
        position INTEGER PRIMARY KEY,
        tool TEXT NOT NULL, vote TEXT NOT NULL, version INTEGER NOT NULL,
        choice TEXT
    )""",
    key=("position",),
    insert="INSERT INTO vote_events VALUES (?, ?, ?, ?, ?)",
    indexes=(FIGURE, REPLACED),
)
"""Every event of a vote on a tool: the tool, the vote (its aggregate id) and
version, and the choice the event left (None once retracted)."""

CURRENT = (
    "NOT EXISTS (SELECT 1 FROM vote_events l WHERE l.vote = e.vote "
    "AND l.version > 1 AND l.position > e.position)"
)
"""SQL: the row ``e`` is its vote's newest, so its choice is what the vote counts
as now (``l.version > 1`` is spelled as :data:`REPLACED` says, to walk it)."""


def voted(rows: Rows, event: Any) -> None:
    """Records what a vote event left, if the vote is on a tool.

    ``vote_moves`` folds first and completes the event with its move, so a
    vote counts here exactly when the cards count it.
    """
    move = event.completed
    if move is None or move[0] != TOOL:
        return
    rows[VOTE_EVENTS].append(
        (event.position, move[1], event.aggregate_id, event.version, move[3])
    )


READ_MODEL = ReadModel(
    name="provenance",
    tables=(VOTE_EVENTS,),
    handlers={Vote.Cast: voted, Vote.Changed: voted, Vote.Retracted: voted},
)
