"""Queries of where a card's figures come from: the events each one counts now.

Each figure of a card is a count (panel ship and skip, community ship and
skip), and provenance lists the events behind it, one per review or vote
counted: for the panel, the latest event of each live review with that
verdict (a review row keeps its position); for the community, the event
that left each vote at that choice (see
:mod:`~projections.readmodels.provenance`). Lists are in log order and paged
by position, so a page never repeats an event while the log grows: a vote
that changes moves to the end of its new figure's list.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from projections.card_queries import CARD_COLUMNS, card_from_row
from projections.engine import tracked_position
from projections.models import CHOICES, SIDES, Page, Provenance, Source
from projections.readmodels.provenance import CURRENT
from projections.snapshots import (
    ReadModelFile,
    cursor_position,
    first_page,
    page_size,
    stored_time,
)

SOURCES = {
    "panel": (
        "SELECT r.position, a.at, a.type, a.actor, r.reviewer FROM reviews r "
        "JOIN audit a USING (position) "
        "WHERE r.tool = ? AND r.verdict = ? AND r.withdrawn = 0 AND r.position > ? "
        "ORDER BY r.position LIMIT ?"
    ),
    "community": (
        "SELECT e.position, a.at, a.type, a.actor, NULL FROM vote_events e "
        "JOIN audit a USING (position) "
        f"WHERE e.tool = ? AND e.choice = ? AND e.position > ? AND {CURRENT} "
        "ORDER BY e.position LIMIT ?"
    ),
}
"""By side, the SQL of a page of the events one figure counts now."""


def _source(row: tuple[Any, ...]) -> Source:
    return Source(
        position=row[0],
        at=stored_time(row[1]),
        type=row[2],
        actor=row[3],
        reviewer=row[4],
    )


def _page(
    conn: sqlite3.Connection,
    slug: str,
    side: str,
    choice: str,
    after: int,
    limit: int,
) -> Page[Source]:
    if side not in SIDES or choice not in CHOICES:
        msg = (
            f"a figure is one of {', '.join(SIDES)} and one of "
            f"{', '.join(CHOICES)}, not {side!r} {choice!r}"
        )
        raise ValueError(msg)
    rows = conn.execute(SOURCES[side], (slug, choice, after, limit + 1)).fetchall()
    page = first_page(rows, limit, lambda row: row[0])
    return Page(items=[_source(row) for row in page.items], next=page.next)


class ProvenanceQueries(ReadModelFile):
    """The events behind each figure of a card, as the read model stands."""

    def provenance(self, slug: str, limit: int = 100) -> Provenance | None:
        """The card, and the first page of the events behind each of its figures.

        All read in one snapshot, so each figure's events add up to the
        card's count at the position given with them.

        Args:
            slug: The tool.
            limit: How many events at most, per figure.

        Returns:
            The provenance, or None if no such tool was registered.
        """
        limit = page_size(limit)
        with self._snapshot() as conn:
            row = conn.execute(
                f"SELECT {CARD_COLUMNS} FROM tools WHERE slug = ?", (slug,)
            ).fetchone()
            if row is None:
                return None
            sources = {
                (side, choice): _page(conn, slug, side, choice, 0, limit)
                for side in SIDES
                for choice in CHOICES
            }
            position = tracked_position(conn)
        return Provenance(position=position, card=card_from_row(row), sources=sources)

    def sources_page(
        self,
        slug: str,
        side: str,
        choice: str,
        after: int = 0,
        limit: int = 100,
    ) -> Page[Source]:
        """A page of the events one figure of the card counts now, in log order.

        Args:
            slug: The tool.
            side: ``panel`` or ``community``.
            choice: ``ship`` or ``skip``.
            after: The cursor: the position the page starts after.
            limit: How many events at most.

        Raises:
            ValueError: For an unknown side or choice, a bad cursor or limit.
        """
        limit = page_size(limit)
        with self._snapshot() as conn:
            return _page(conn, slug, side, choice, cursor_position(after), limit)
