"""The weekly digest: what one ISO week changed, read from the existing read models.

A digest names the comparisons published in the week, the tools whose panel
figures moved over it and the tools whose community share swung most, each
with its figures before the week and after it. Every part is a handful of
index lookups, whatever the log holds: the figures come from ``card_days``
(a tool's card at the end of every UTC day, keyed by tool and day), one
range of a tool's days for the week and one lookup of its last day before,
so a week of a million-event ledger reads a few rows per tool. Comparisons
are walked from the ``comparisons`` table (a few per tool), each dated by
its publishing event's row of the audit.

Weeks are UTC, as the days of ``card_days`` are: an event belongs to the
week its timestamp falls in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from ledger.weeks import Week
from projections.engine import tracked_position
from projections.models import PROVISIONAL_BELOW, Figures
from projections.snapshots import ReadModelFile, stored_time
from projections.stats import figures

SWINGS = 5
"""How many community swings a digest lists."""
VERDICTS = 20
"""How many changed verdicts a digest lists (the rest are counted)."""
COMPARISONS = 20
"""How many new comparisons a digest lists (the rest are counted)."""


class NewComparison(msgspec.Struct, frozen=True):
    """A comparison published during the week; ``a`` and ``b`` as published."""

    a: str
    b: str
    a_name: str
    b_name: str
    question: str
    published_at: datetime
    position: int
    retired: bool = False


class VerdictChange(msgspec.Struct, frozen=True):
    """A tool whose panel figures ended the week other than they began it."""

    tool: str
    name: str
    before: Figures
    after: Figures
    retired: bool = False


class CommunitySwing(msgspec.Struct, frozen=True):
    """A tool whose community ship share moved over the week.

    ``swing`` is the move in percentage points (after minus before);
    ``votes`` counts the week's vote events on the tool (cast, changed or
    retracted).
    """

    tool: str
    name: str
    before: Figures
    after: Figures
    votes: int
    swing: float
    retired: bool = False


class Digest(msgspec.Struct, frozen=True):
    """One week's digest, as data.

    Attributes:
        week: The week's label (``2026-W48``).
        start: Its first instant (Monday 00:00 UTC).
        end: The first instant after it (the next Monday 00:00 UTC).
        complete: Whether the week had ended when the digest was read; a
            digest of the running week says what happened so far.
        position: The log position the read models reflected when read.
        comparisons: The comparisons published in the week, oldest first.
        verdicts: The tools whose panel figures changed, the biggest move first.
        swings: The biggest community swings, the biggest first.
        more_comparisons: How many more comparisons were published than listed.
        more_verdicts: How many more verdicts changed than listed.
    """

    week: str
    start: datetime
    end: datetime
    complete: bool
    position: int
    comparisons: list[NewComparison]
    verdicts: list[VerdictChange]
    swings: list[CommunitySwing]
    more_comparisons: int = 0
    more_verdicts: int = 0

    @property
    def quiet(self) -> bool:
        """Whether nothing the digest reports happened in the week."""
        return not (self.comparisons or self.verdicts or self.swings)


_COMPARISONS = """
    SELECT c.a, c.b, coalesce(ta.name, c.a), coalesce(tb.name, c.b), c.question,
        c.retired, c.published_position, e.at
    FROM comparisons c CROSS JOIN audit e ON e.position = c.published_position
    LEFT JOIN tools ta ON ta.slug = c.a LEFT JOIN tools tb ON tb.slug = c.b
    WHERE e.at >= ?1 AND e.at < ?2
    ORDER BY c.published_position"""
"""The week's new comparisons: the comparisons outside, so a busy week's
audit rows are never walked (a ``CROSS JOIN`` keeps SQLite to that order)."""

_TOOL_WEEKS = """
    SELECT w.slug, w.name, w.retired, w.votes,
        coalesce(b.panel_ship, 0), coalesce(b.panel_skip, 0),
        coalesce(b.community_ship, 0), coalesce(b.community_skip, 0),
        w.panel_ship, w.panel_skip, w.community_ship, w.community_skip
    FROM (
        SELECT t.slug, t.name, t.retired, sum(d.votes) AS votes,
            max(d.position), d.panel_ship, d.panel_skip,
            d.community_ship, d.community_skip
        FROM tools t CROSS JOIN card_days d
            ON d.tool = t.slug AND d.day >= ?1 AND d.day < ?2
        GROUP BY t.slug
    ) w
    LEFT JOIN card_days b ON b.tool = w.slug AND b.day = (
        SELECT max(day) FROM card_days WHERE tool = w.slug AND day < ?1)"""
"""Each tool changed in the week: its card after the week's last change
(the bare columns of the row with ``max(position)``) and after the last
change before the week (none: the tool was not registered yet)."""


def _moved(before: Figures, after: Figures) -> float:
    """How far a ship share moved, in points; appearing or vanishing counts 100."""
    if before.ship_pct is None or after.ship_pct is None:
        return 0.0 if before.ship_pct == after.ship_pct else 100.0
    return after.ship_pct - before.ship_pct


def _swings(rows: list[tuple[Any, ...]], most: int) -> list[CommunitySwing]:
    """The ``most`` biggest community swings of the tools that got votes.

    A share needs a count before the week to swing from, and enough votes
    after it (not provisional) for the move to mean anything: one vote on
    a new tool is not a swing from nothing to 100%.
    """
    found = []
    for slug, name, retired, votes, *counts in rows:
        before, after = figures(*counts[2:4]), figures(*counts[6:8])
        if votes == 0 or before.total == 0 or after.total < PROVISIONAL_BELOW:
            continue
        swing = _moved(before, after)
        if swing:
            found.append(
                CommunitySwing(
                    tool=slug,
                    name=name,
                    before=before,
                    after=after,
                    votes=votes,
                    swing=swing,
                    retired=bool(retired),
                )
            )
    found.sort(key=lambda item: (-abs(item.swing), -item.votes, item.tool))
    return found[:most]


def _verdicts(rows: list[tuple[Any, ...]]) -> list[VerdictChange]:
    """The tools whose panel counts differ after the week from before it."""
    found = []
    for slug, name, retired, _, *counts in rows:
        if counts[0:2] == counts[4:6]:
            continue
        found.append(
            VerdictChange(
                tool=slug,
                name=name,
                before=figures(*counts[0:2]),
                after=figures(*counts[4:6]),
                retired=bool(retired),
            )
        )
    found.sort(key=lambda item: (-abs(_moved(item.before, item.after)), item.tool))
    return found


class DigestQueries(ReadModelFile):
    """The weekly digest of the verdicts and comparisons."""

    def digest(
        self,
        week: Week,
        *,
        swings: int = SWINGS,
        verdicts: int = VERDICTS,
        comparisons: int = COMPARISONS,
        now: datetime | None = None,
    ) -> Digest:
        """What ``week`` brought, as the read models hold it now.

        Args:
            week: The week.
            swings: How many community swings to list.
            verdicts: How many changed verdicts to list at most.
            comparisons: How many new comparisons to list at most.
            now: The time that says whether the week is over (default: now).
        """
        first, after = week.monday.isoformat(), week.end.date().isoformat()
        with self._snapshot() as conn:
            position = tracked_position(conn)
            published = conn.execute(_COMPARISONS, (first, after)).fetchall()
            changed = conn.execute(_TOOL_WEEKS, (first, after)).fetchall()
        new = [
            NewComparison(
                a=a,
                b=b,
                a_name=a_name,
                b_name=b_name,
                question=question,
                published_at=stored_time(at),
                position=at_position,
                retired=bool(retired),
            )
            for a, b, a_name, b_name, question, retired, at_position, at in published
        ]
        moved = _verdicts(changed)
        return Digest(
            week=week.label,
            start=week.start,
            end=week.end,
            complete=week.is_over(now or datetime.now(UTC)),
            position=position,
            comparisons=new[:comparisons],
            verdicts=moved[:verdicts],
            swings=_swings(changed, swings),
            more_comparisons=max(0, len(new) - comparisons),
            more_verdicts=max(0, len(moved) - verdicts),
        )
