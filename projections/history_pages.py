"""The SQL of a page of a tool's verdict history, and of its buckets.

A history page reads only its own rows, however long the history: the rows
come from the index of the tool's history in log order, from the cursor on,
and each row's "before" figures from the tool's previous row (one index
lookup each) rather than from a window over the whole history. Filters keep
the same shape: a kind narrows the index walked (the few edits and reviews
have an index of their own), a time range becomes a range of positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from projections.decoding import iso
from projections.readmodels.cards import PREVIOUS, VERDICT_KINDS
from projections.readmodels.verdict_days import BUCKETS

KINDS = {"edit": "tool", "panel": "review", "community": "vote"}
"""The history's kinds of change, as readers name them and as rows store them."""

NAMES = {stored: name for name, stored in KINDS.items()}

COLUMNS = (
    "e.position, a.at, a.type, e.kind, a.actor, a.reason, "
    "coalesce(p.panel_ship, 0), coalesce(p.panel_skip, 0), "
    "coalesce(p.community_ship, 0), coalesce(p.community_skip, 0), "
    "e.panel_ship, e.panel_skip, e.community_ship, e.community_skip"
)
"""What a history item is read from: ``e`` the change, ``p`` the one before."""


class EmptyTimeRange(ValueError):
    """A history filter's ``since`` is not before its ``until``."""


@dataclass(frozen=True)
class HistoryFilter:
    """Which of a tool's changes a history page lists.

    Attributes:
        kinds: The kinds of change (of :data:`KINDS`); empty means all.
        since: Only changes stamped at or after this time.
        until: Only changes stamped before this time.
        actor: Only changes made by this actor.
    """

    kinds: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None

    def __post_init__(self) -> None:
        unknown = self.kinds - KINDS.keys()
        if unknown:
            msg = f"unknown kind {sorted(unknown)[0]!r}; known: " + ", ".join(KINDS)
            raise ValueError(msg)
        if self.since and self.until and self.since >= self.until:
            msg = (
                f"since ({self.since.isoformat()}) must be before until "
                f"({self.until.isoformat()})"
            )
            raise EmptyTimeRange(msg)


def page_query(
    conn: Any,
    slug: str,
    after: int | None,
    limit: int,
    newest_first: bool,
    only: HistoryFilter,
) -> tuple[str, list[Any]]:
    """The SQL and parameters of up to ``limit`` changes after the cursor.

    Args:
        conn: The read-model connection, to turn times into positions.
        slug: The tool.
        after: The cursor: the position the page starts after (oldest first)
            or before (newest first); None starts at the beginning or the end.
        limit: How many rows at most.
        newest_first: The order of the page.
        only: The filters.
    """
    where = ["e.tool = ?", "e.kind IS NOT NULL"]
    params: list[Any] = [slug]
    kinds = sorted(KINDS[kind] for kind in only.kinds)
    if kinds and "vote" not in kinds:
        # Spelled as the partial index says, so that it is the index walked.
        where.append(f"e.{VERDICT_KINDS}")
    if kinds:
        where.append(f"e.kind IN ({','.join('?' * len(kinds))})")
        params += kinds
    if after is not None:
        where.append("e.position < ?" if newest_first else "e.position > ?")
        params.append(after)
    join = ""
    if only.since or only.until or only.actor:
        join = "JOIN audit a USING (position)"
    if only.since:
        first = _first_position_at(conn, only.since)
        where += ["e.position >= ?", "a.at >= ?"]
        params += [first, iso(only.since)]
    if only.until:
        last = _last_position_before(conn, only.until)
        where += ["e.position <= ?", "a.at < ?"]
        params += [last, iso(only.until)]
    if only.actor:
        where.append("a.actor = ?")
        params.append(only.actor)
    order = "DESC" if newest_first else ""
    rows = (
        f"SELECT e.* FROM tool_events e {join} WHERE {' AND '.join(where)} "
        f"ORDER BY e.position {order} LIMIT ?"
    )
    params.append(limit)
    query = (
        f"SELECT {COLUMNS} FROM ({rows}) e JOIN audit a USING (position) "
        f"{PREVIOUS} ORDER BY e.position {order}"
    )
    return query, params


def _first_position_at(conn: Any, moment: datetime) -> int:
    """The first position stamped at or after ``moment`` (past the end if none).

    Stamps rise with positions, so the changes from a time on are the
    changes from this position on; the stamp itself is checked as well.
    """
    row = conn.execute(
        "SELECT position FROM audit WHERE at >= ? ORDER BY at, position LIMIT 1",
        (iso(moment),),
    ).fetchone()
    return 2**62 if row is None else int(row[0])


def _last_position_before(conn: Any, moment: datetime) -> int:
    """The last position stamped before ``moment`` (0 if none)."""
    row = conn.execute(
        "SELECT position FROM audit WHERE at < ? "
        "ORDER BY at DESC, position DESC LIMIT 1",
        (iso(moment),),
    ).fetchone()
    return 0 if row is None else int(row[0])


@dataclass(frozen=True)
class HistoryExtent:
    """How long a tool's history is: its changes, and its first and last day."""

    changes: int
    first: date | None = None
    last: date | None = None

    def finest_bucket(self, most: int) -> str:
        """The finest bucket size that spans the history in ``most`` buckets.

        Months when even they would be more: then the newest ``most`` months
        are what fits.
        """
        for bucket in ("day", "week"):
            if (
                self.first is None
                or self.last is None
                or buckets_spanned(bucket, self.first, self.last) <= most
            ):
                return bucket
        return "month"


def bucket_end(bucket: str, start: date) -> date:
    """The day after the last of the bucket of ``bucket`` size from ``start``."""
    if bucket == "day":
        return start + timedelta(days=1)
    if bucket == "week":
        return start + timedelta(days=7)
    if bucket == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    msg = f"unknown bucket {bucket!r}; known: " + ", ".join(BUCKETS)
    raise ValueError(msg)


def bucket_start(bucket: str, day: date) -> date:
    """The first day of the bucket of ``bucket`` size that ``day`` falls in."""
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def buckets_spanned(bucket: str, first: date, last: date) -> int:
    """How many buckets of ``bucket`` size the days ``first`` to ``last`` span."""
    if bucket == "month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    days = (bucket_start(bucket, last) - bucket_start(bucket, first)).days
    return days // (7 if bucket == "week" else 1) + 1
