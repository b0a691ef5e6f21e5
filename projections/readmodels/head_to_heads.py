"""Published comparisons, and the community's picks in each head-to-head.

A comparison is keyed by the order-free pair of its tools (``lo``, ``hi``);
``a`` and ``b`` keep the order it was published in. Its tally counts the
picks of every voter whose vote is live, moved by the vote events that
:mod:`~projections.readmodels.vote_moves` completes.
"""

from __future__ import annotations

from typing import Any

from ledger.domainmodel import Comparison, Vote, pair
from projections.readmodel_parts import ReadModel, Rows, Table, unknown
from projections.readmodels import (
    NOT_RETIRED,
    RETIREMENT,
    RETIREMENT_DDL,
    changed_by,
    retire,
)
from projections.readmodels.vote_moves import PAIR

COMPARISONS = Table(
    "comparisons",
    f"""
    CREATE TABLE comparisons (
        lo TEXT NOT NULL, hi TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        a TEXT NOT NULL, b TEXT NOT NULL, question TEXT NOT NULL,
        retired INTEGER NOT NULL, version INTEGER NOT NULL,
        published_position INTEGER NOT NULL, position INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        {RETIREMENT_DDL},
        PRIMARY KEY (lo, hi)
    ) WITHOUT ROWID""",
    key=("lo", "hi"),
    columns=(
        "lo",
        "hi",
        "id",
        "a",
        "b",
        "question",
        "retired",
        "version",
        "published_position",
        "position",
        "updated_at",
        *RETIREMENT,
    ),
    lookups=("id",),
    indexes=(
        "CREATE INDEX IF NOT EXISTS idx_comparisons_published "
        "ON comparisons (published_position)",
        "CREATE INDEX IF NOT EXISTS idx_comparisons_hi ON comparisons (hi)",
    ),
)

HEAD_TO_HEAD = Table(
    "head_to_head",
    """
    CREATE TABLE head_to_head (
        lo TEXT NOT NULL, hi TEXT NOT NULL,
        lo_picks INTEGER NOT NULL, hi_picks INTEGER NOT NULL,
        total INTEGER NOT NULL,
        PRIMARY KEY (lo, hi)
    ) WITHOUT ROWID""",
    key=("lo", "hi"),
    columns=("lo", "hi", "lo_picks", "hi_picks", "total"),
)


def published(rows: Rows, event: Any) -> None:
    lo, hi = pair(event.a, event.b)
    rows[COMPARISONS].add(
        {
            "lo": lo,
            "hi": hi,
            "id": event.aggregate_id,
            "a": event.a,
            "b": event.b,
            "question": event.question,
            "retired": 0,
            "version": event.version,
            "published_position": event.position,
            "position": event.position,
            "updated_at": event.at,
            **NOT_RETIRED,
        }
    )
    rows[HEAD_TO_HEAD].add(
        {"lo": lo, "hi": hi, "lo_picks": 0, "hi_picks": 0, "total": 0}
    )


def edited(rows: Rows, event: Any) -> None:
    comparison = changed_by(rows, COMPARISONS, event, "comparison")
    if comparison is not None:
        comparison["question"] = event.question


def retired(rows: Rows, event: Any) -> None:
    comparison = changed_by(rows, COMPARISONS, event, "comparison")
    if comparison is not None:
        retire(comparison, event)


def picked(rows: Rows, event: Any) -> None:
    """Moves a head-to-head pick from the vote's old choice to its new one."""
    move = event.completed
    if move is None or move[0] is not PAIR:
        return  # an unknown vote (vote_moves has warned), or a tool's
    _, key, before, after = move
    tally = rows[HEAD_TO_HEAD][key]
    if tally is None:
        unknown(event, "comparison")
        return
    lo, hi = key
    if before == lo:
        tally["lo_picks"] -= 1
    elif before == hi:
        tally["hi_picks"] -= 1
    if after == lo:
        tally["lo_picks"] += 1
    elif after == hi:
        tally["hi_picks"] += 1
    tally["total"] = tally["lo_picks"] + tally["hi_picks"]


READ_MODEL = ReadModel(
    name="head_to_heads",
    tables=(COMPARISONS, HEAD_TO_HEAD),
    handlers={
        Comparison.Published: published,
        Comparison.Edited: edited,
        Comparison.Retired: retired,
        Vote.Cast: picked,
        Vote.Changed: picked,
        Vote.Retracted: picked,
    },
)
