"""Tool cards, every version of a tool's fields, and the verdict history.

A card is a tool's fields with its panel and community figures. It holds the
four counts (panel ship and skip, community ship and skip) and stores beside
them what derives from them: totals, ship shares and 95% Wilson intervals.

``card_days`` (:mod:`~projections.readmodels.verdict_days`) sums the history
up per tool and day. ``tool_events`` has a row for every event that concerns
a tool. For an event
that changed a card (``kind`` is ``tool``, ``review`` or ``vote``) the row
holds the card's counts after it and the version of the tool's fields the
card showed: that is the verdict history (the counts before an event are the
counts after the tool's previous one), and a card as it stood at any position
is one lookup of it joined with ``tool_versions``. An event that concerns two
tools and no card (a comparison's) names both, so the audit index can be read
by tool.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ledger.domainmodel import Comparison, Review, Tool, Vote, pair
from ledger.rules import TOOL_FIELDS
from projections.decoding import iso_text
from projections.readmodel_parts import History, ReadModel, Row, Rows, Table, unknown
from projections.readmodels import (
    NOT_RETIRED,
    RETIREMENT,
    RETIREMENT_DDL,
    changed_by,
    reinstate,
    retire,
)
from projections.readmodels.head_to_heads import COMPARISONS
from projections.readmodels.verdict_days import CARD_DAYS, counted
from projections.readmodels.vote_moves import PAIR, TOOL
from projections.stats import figure_columns

FIGURES = """
    {p}_ship INTEGER NOT NULL, {p}_skip INTEGER NOT NULL, {p}_total INTEGER NOT NULL,
    {p}_pct REAL, {p}_low REAL, {p}_high REAL"""


def _card_values(card: Row) -> tuple[Any, ...]:
    return (
        card["slug"],
        card["id"],
        *(card[name] for name in TOOL_FIELDS),
        *_figures(card["panel_ship"], card["panel_skip"]),
        *_figures(card["community_ship"], card["community_skip"]),
        card["version"],
        card["position"],
        iso_text(card["updated_at"]),
        card["retired"],
        card["registered_position"],
        *(card[name] for name in RETIREMENT),
    )


@lru_cache(maxsize=65536)
def _figures(ship: int, skip: int) -> tuple[Any, ...]:
    return figure_columns(ship, skip)


TOOLS = Table(
    "tools",
    f"""
    CREATE TABLE tools (
        slug TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL, vendor TEXT NOT NULL, category TEXT NOT NULL,
        tagline TEXT NOT NULL, description TEXT NOT NULL, entry TEXT NOT NULL,
        license TEXT NOT NULL,
        {FIGURES.format(p="panel")},
        {FIGURES.format(p="community")},
        version INTEGER NOT NULL,
        position INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        retired INTEGER NOT NULL,
        registered_position INTEGER NOT NULL,
        {RETIREMENT_DDL}
    ) WITHOUT ROWID""",
    key=("slug",),
    columns=(
        "slug",
        "id",
        *TOOL_FIELDS,
        "panel_ship",
        "panel_skip",
        "panel_total",
        "panel_pct",
        "panel_low",
        "panel_high",
        "community_ship",
        "community_skip",
        "community_total",
        "community_pct",
        "community_low",
        "community_high",
        "version",
        "position",
        "updated_at",
        "retired",
        "registered_position",
        *RETIREMENT,
    ),
    lookups=("id",),
    indexes=(
        "CREATE INDEX IF NOT EXISTS idx_tools_registered "
        "ON tools (registered_position)",
    ),
    values=_card_values,
)

TOOL_VERSIONS = History(
    "tool_versions",
    f"""
    CREATE TABLE tool_versions (
        slug TEXT NOT NULL, version INTEGER NOT NULL,
        name TEXT NOT NULL, vendor TEXT NOT NULL, category TEXT NOT NULL,
        tagline TEXT NOT NULL, description TEXT NOT NULL, entry TEXT NOT NULL,
        license TEXT NOT NULL, retired INTEGER NOT NULL,
        at TEXT NOT NULL, position INTEGER NOT NULL,
        {RETIREMENT_DDL},
        PRIMARY KEY (slug, version)
    ) WITHOUT ROWID""",
    key=("slug", "version"),
    insert=f"INSERT INTO tool_versions VALUES ({','.join('?' * 15)})",
)

VERDICT_KINDS = "kind IN ('tool', 'review')"
"""The rows of edits and panel reviews: few, so indexed apart from the votes."""

TOOL_EVENTS = History(
    "tool_events",
    """
    CREATE TABLE tool_events (
        position INTEGER PRIMARY KEY,
        tool TEXT NOT NULL, other_tool TEXT, kind TEXT, tool_version INTEGER,
        panel_ship INTEGER, panel_skip INTEGER,
        community_ship INTEGER, community_skip INTEGER
    )""",
    key=("position",),
    insert=f"INSERT INTO tool_events VALUES ({','.join('?' * 9)})",
    indexes=(
        "CREATE INDEX IF NOT EXISTS idx_tool_events_tool_position "
        "ON tool_events (tool, position)",
        "CREATE INDEX IF NOT EXISTS idx_tool_events_other_tool "
        "ON tool_events (other_tool, position) WHERE other_tool IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS idx_tool_events_verdicts "
        f"ON tool_events (position) WHERE {VERDICT_KINDS}",
        "CREATE INDEX IF NOT EXISTS idx_tool_events_tool_verdicts "
        f"ON tool_events (tool, position) WHERE {VERDICT_KINDS}",
    ),
)

BEFORE = ", ".join(
    f"lag(e.{count}, 1, 0) OVER (PARTITION BY e.tool ORDER BY e.position)"
    for count in ("panel_ship", "panel_skip", "community_ship", "community_skip")
)
"""The counts before each card row: the tool's previous row's (as SQL)."""

PREVIOUS = (
    "LEFT JOIN tool_events p ON p.position = ("
    "SELECT max(q.position) FROM tool_events q "
    "WHERE q.tool = e.tool AND q.position < e.position AND q.kind IS NOT NULL)"
)
"""Joins each card row ``e`` with the tool's previous one, ``p``: what
:data:`BEFORE` reads, for a few rows at a time (a window would read all)."""

HISTORY = f"""
    CREATE VIEW history AS
    SELECT e.position, e.tool AS slug, a.at, a.type, e.kind, a.actor, a.reason,
        e.tool_version, {BEFORE},
        e.panel_ship, e.panel_skip, e.community_ship, e.community_skip
    FROM tool_events e JOIN audit a USING (position)
    WHERE e.kind IS NOT NULL"""
"""Every event that changed a card: who, why, and the counts around it."""


def _counts(card: Row) -> tuple[int, int, int, int]:
    return (
        card["panel_ship"],
        card["panel_skip"],
        card["community_ship"],
        card["community_skip"],
    )


def _changed(rows: Rows, card: Row, event: Any, kind: str) -> None:
    """Records that ``event`` changed ``card``: its row of the verdict history."""
    card["position"] = event.position
    card["updated_at"] = event.at
    counts = _counts(card)
    rows[TOOL_EVENTS].append(
        (event.position, card["slug"], None, kind, card["version"], *counts)
    )
    counted(rows, card["slug"], event.timestamp, event.position, counts, 0)


def _new_version(rows: Rows, card: Row, event: Any) -> None:
    rows[TOOL_VERSIONS].append(
        (
            card["slug"],
            card["version"],
            *(card[name] for name in TOOL_FIELDS),
            card["retired"],
            event.at,
            event.position,
            *(card[name] for name in RETIREMENT),
        )
    )


def registered(rows: Rows, event: Any) -> None:
    card = rows[TOOLS].add(
        {
            "slug": event.slug,
            "id": event.aggregate_id,
            **{name: getattr(event, name) for name in TOOL_FIELDS},
            "panel_ship": 0,
            "panel_skip": 0,
            "community_ship": 0,
            "community_skip": 0,
            "version": event.version,
            "position": event.position,
            "updated_at": event.at,
            "retired": 0,
            "registered_position": event.position,
            **NOT_RETIRED,
        }
    )
    _new_version(rows, card, event)
    _changed(rows, card, event, "tool")


def edited(rows: Rows, event: Any) -> None:
    card = changed_by(rows, TOOLS, event, "tool")
    if card is not None:
        for name, value in event.changes.items():
            if name in TOOL_FIELDS:
                card[name] = value
        _versioned(rows, card, event)


def retired(rows: Rows, event: Any) -> None:
    card = changed_by(rows, TOOLS, event, "tool")
    if card is not None:
        retire(card, event)
        _versioned(rows, card, event)


def reinstated(rows: Rows, event: Any) -> None:
    card = changed_by(rows, TOOLS, event, "tool")
    if card is not None:
        reinstate(card)
        _versioned(rows, card, event)


def _versioned(rows: Rows, card: Row, event: Any) -> None:
    _new_version(rows, card, event)
    _changed(rows, card, event, "tool")


def reviewed(rows: Rows, event: Any) -> None:
    """Moves the review's weight on its tool's panel figures."""
    if event.completed is None:
        return  # panel_reviews has warned
    tool, was, now = event.completed
    card = rows[TOOLS][tool]
    if card is None:
        unknown(event, "tool")
        return
    if was is not None:
        card["panel_" + was] -= 1
    if now is not None:
        card["panel_" + now] += 1
    _changed(rows, card, event, "review")


class _Moved(dict[str | None, tuple[int, int]]):
    """What moving a vote from ``before`` to each choice adds to ship and skip."""

    def __init__(self, before: str | None) -> None:
        super().__init__()
        self.before = before

    def __missing__(self, after: str | None) -> tuple[int, int]:
        before = self.before
        found = self[after] = (
            (after == "ship") - (before == "ship"),
            (after == "skip") - (before == "skip"),
        )
        return found


class _Community(dict[str | None, _Moved]):
    """``_COMMUNITY[before][after]``: what a vote's move adds to ship and skip.

    Two dict subscripts, cheaper than the four comparisons they stand for on
    the busiest path of a fold.
    """

    def __missing__(self, before: str | None) -> _Moved:
        found = self[before] = _Moved(before)
        return found


_COMMUNITY = _Community()


def voted(rows: Rows, event: Any) -> None:
    """Moves a community vote on a tool; records a head-to-head pick by tool.

    Most events of any log are votes, so this one is kept lean: it writes
    the card's time as stored, which :func:`_card_values` makes ISO text.
    """
    move = event.completed
    if move is None:
        return  # vote_moves has warned
    kind, key, before, after = move
    if kind is not TOOL:
        if kind is PAIR:
            _concerns_two(rows, event, *key)
        return
    card = rows[TOOLS][key]
    if card is None:
        unknown(event, "tool")
        return
    add_ship, add_skip = _COMMUNITY[before][after]
    ship = card["community_ship"] = card["community_ship"] + add_ship
    skip = card["community_skip"] = card["community_skip"] + add_skip
    position = card["position"] = event.position
    timestamp = card["updated_at"] = event.timestamp
    counts = (card["panel_ship"], card["panel_skip"], ship, skip)
    rows[TOOL_EVENTS].append((position, key, None, "vote", card["version"], *counts))
    counted(rows, key, timestamp, position, counts, 1)


def published(rows: Rows, event: Any) -> None:
    _concerns_two(rows, event, *pair(event.a, event.b))


def comparison_changed(rows: Rows, event: Any) -> None:
    comparison = rows[COMPARISONS].find("id", event.aggregate_id)
    if comparison is not None:  # else head_to_heads has warned
        _concerns_two(rows, event, comparison["lo"], comparison["hi"])


def _concerns_two(rows: Rows, event: Any, lo: str, hi: str) -> None:
    """Records an event that concerns two tools but no card."""
    rows[TOOL_EVENTS].append((event.position, lo, hi, *_NO_CARD))


_NO_CARD = (None,) * 6
"""What a row of ``tool_events`` holds of a card when the event changed none."""


READ_MODEL = ReadModel(
    name="cards",
    tables=(TOOLS, TOOL_VERSIONS, TOOL_EVENTS, CARD_DAYS),
    views=(HISTORY,),
    handlers={
        Tool.Registered: registered,
        Tool.Edited: edited,
        Tool.Retired: retired,
        Tool.Reinstated: reinstated,
        Review.Submitted: reviewed,
        Review.Revised: reviewed,
        Review.Resubmitted: reviewed,
        Review.Withdrawn: reviewed,
        Vote.Cast: voted,
        Vote.Changed: voted,
        Vote.Retracted: voted,
        Comparison.Published: published,
        Comparison.Edited: comparison_changed,
        Comparison.Retired: comparison_changed,
    },
)
