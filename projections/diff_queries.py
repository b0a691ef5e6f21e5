"""Queries of what changed on a tool's card between two points of the log.

A point is a log position, or a time standing for the newest event stamped
at or before it (:func:`parse_point` reads either, as readers write them).
A diff is two lookups of the card as it stood (no replay) and a page of the
verdict history between the two positions, so it costs the same however long
the log or the span.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from typing import Any

import msgspec

from projections.card_queries import card_at, position_at
from projections.history_pages import COLUMNS
from projections.history_queries import history_item
from projections.models import Change, Diff, Page, Point
from projections.readmodels.cards import PREVIOUS
from projections.snapshots import (
    ReadModelFile,
    cursor_position,
    first_page,
    page_size,
    stored_time,
)

MAX_POSITION = 2**62
"""The largest log position a point (or a cursor) can name."""

_POSITION = re.compile(r"[0-9]{1,19}")

CHANGES = (
    f"SELECT {COLUMNS}, CASE a.type WHEN 'Tool.Edited' "
    "THEN a.data ->> '$.changes' END "
    "FROM (SELECT e.* FROM tool_events e WHERE e.tool = ? AND e.kind IS NOT NULL "
    "AND e.position > ? AND e.position <= ? ORDER BY e.position LIMIT ?) e "
    f"JOIN audit a USING (position) {PREVIOUS} ORDER BY e.position"
)
"""A page of the changes to a card in a range of positions, with an edit's fields."""

_decode_changes = msgspec.json.Decoder(dict[str, str]).decode


def parse_point(text: str) -> int | datetime:
    """A point of the log as a reader writes it: a position, or an ISO-8601 time.

    A whole number is a position; anything else must be an ISO-8601 date or
    time (a date means its midnight), naive meaning UTC.

    Returns:
        The position, or the time in UTC.

    Raises:
        ValueError: For anything else, or a position past 2**62.
    """
    if _POSITION.fullmatch(text):
        position = int(text)
        if position <= MAX_POSITION:
            return position
    else:
        try:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                return moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    msg = (
        f"{text!r} is neither a log position (a whole number from 0 to 2**62) "
        "nor an ISO-8601 time"
    )
    raise ValueError(msg)


def _change(row: tuple[Any, ...]) -> Change:
    item = history_item(row)
    edits = row[14]
    return Change(
        **msgspec.structs.asdict(item),
        changes=None if edits is None else _decode_changes(edits),
    )


def _point(conn: sqlite3.Connection, slug: str, position: int) -> Point:
    stamp = conn.execute(
        "SELECT at FROM audit WHERE position = ?", (position,)
    ).fetchone()
    return Point(
        position=position,
        at=None if stamp is None else stored_time(stamp[0]),
        card=card_at(conn, slug, position),
    )


class DiffQueries(ReadModelFile):
    """A tool's card at two points of the log, and the changes between them."""

    def resolve(self, point: int | datetime) -> int:
        """The position a point stands at: itself, or the newest event up to a time."""
        if isinstance(point, int):
            return point
        with self._snapshot() as conn:
            return position_at(conn, point)

    def diff(
        self,
        slug: str,
        start: int,
        end: int,
        after: int | None = None,
        limit: int = 100,
    ) -> Diff:
        """The card at ``start`` and at ``end``, and a page of the changes between.

        The changes are the events after ``start``, up to and including
        ``end``, that changed the card (its reviews, votes and own events),
        oldest first, each with the card's figures around it.

        Args:
            slug: The tool.
            start: The earlier position.
            end: The later position; the read model must reflect it.
            after: The cursor: the position the page of changes starts after;
                None for the first page.
            limit: How many changes at most.

        Raises:
            ValueError: If ``start`` is after ``end``, or for a bad cursor or limit.
        """
        if start > end:
            msg = f"the diff's start ({start}) is after its end ({end})"
            raise ValueError(msg)
        limit = page_size(limit)
        first = start if after is None else max(start, cursor_position(after))
        with self._snapshot() as conn:
            points = (_point(conn, slug, start), _point(conn, slug, end))
            rows = conn.execute(CHANGES, (slug, first, end, limit + 1)).fetchall()
        page = first_page(rows, limit, lambda row: row[0])
        return Diff(
            tool=slug,
            start=points[0],
            end=points[1],
            events=Page(
                items=[_change(row) for row in self._opened(page.items)],
                next=page.next,
            ),
        )
