"""Queries of the cards: tools, their reviews, and a card as it stood."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import msgspec

from ledger.rules import TOOL_FIELDS
from projections.decoding import iso
from projections.models import (
    Card,
    Figures,
    Page,
    Retirement,
    ReviewItem,
)
from projections.snapshots import (
    ReadModelFile,
    cursor_position,
    every,
    first_page,
    page_size,
    stored_time,
)
from projections.stats import card_figures

CARD_COLUMNS = (
    "slug, name, vendor, category, tagline, description, entry, license, "
    "panel_ship, panel_skip, panel_total, panel_pct, panel_low, panel_high, "
    "community_ship, community_skip, community_total, community_pct, "
    "community_low, community_high, version, position, updated_at, retired, "
    "retired_at, retired_position, retired_reason"
)
"""The columns of ``tools`` a :class:`~projections.models.Card` is read from."""


def _fields(row: tuple[Any, ...]) -> dict[str, str]:
    """A card's slug and tool fields from the first eight columns of ``row``."""
    return dict(zip(("slug", *TOOL_FIELDS), row[:8], strict=True))


def retirement(at: str | None, position: int, reason: str) -> Retirement | None:
    """The retirement of stored ``retired_*`` columns; None if there is none."""
    if at is None:
        return None
    return Retirement(at=stored_time(at), position=position, reason=reason)


def card_from_row(row: tuple[Any, ...]) -> Card:
    """A card from a row of :data:`CARD_COLUMNS`."""
    return Card(
        **_fields(row),
        panel=Figures(*row[8:14]),
        community=Figures(*row[14:20]),
        version=row[20],
        position=row[21],
        updated_at=stored_time(row[22]),
        retired=bool(row[23]),
        retirement=retirement(*row[24:27]),
    )


class CardQueries(ReadModelFile):
    """Cards, the tools' names, the panel's reviews and past scorecards."""

    def tools(self) -> list[Card]:
        """Every tool's current card, retired ones included, in the order registered.

        For the command line and tests; readers get :meth:`tools_page`.
        """
        return every(self.tools_page)

    def tools_page(
        self, after: int = 0, limit: int = 100, *, live: bool = False
    ) -> Page[Card]:
        """A page of the cards, in the order the tools were registered.

        A tool registered while a reader pages goes at the end of the list,
        so a page never repeats or skips one.

        Args:
            after: The cursor: the registration position the page starts after.
            limit: How many cards at most.
            live: Leave the retired ones out.
        """
        limit = page_size(limit)
        only_live = " AND retired = 0" if live else ""
        with self._snapshot() as conn:
            rows = conn.execute(
                f"SELECT {CARD_COLUMNS}, registered_position FROM tools "
                f"WHERE registered_position > ?{only_live} "
                "ORDER BY registered_position LIMIT ?",
                (cursor_position(after), limit + 1),
            ).fetchall()
        page = first_page(rows, limit, lambda row: row[-1])
        return Page(items=[card_from_row(row) for row in page.items], next=page.next)

    def names(self, slugs: list[str]) -> dict[str, str]:
        """The names of the tools of ``slugs`` that exist, by slug."""
        with self._snapshot() as conn:
            return dict(
                conn.execute(
                    "SELECT slug, name FROM tools WHERE slug IN "
                    "(SELECT value FROM json_each(?))",
                    (msgspec.json.encode(slugs).decode(),),
                ).fetchall()
            )

    def tool(self, slug: str) -> Card | None:
        """The tool's current card, or None if no such tool was registered."""
        with self._snapshot() as conn:
            row = conn.execute(
                f"SELECT {CARD_COLUMNS} FROM tools WHERE slug = ?", (slug,)
            ).fetchone()
        return None if row is None else card_from_row(row)

    def reviews(self, slug: str) -> list[ReviewItem]:
        """The panel's current reviews of a tool, in the order first submitted."""
        return every(lambda after, limit: self.reviews_page(slug, after, limit))

    def reviews_page(
        self, slug: str, after: int = 0, limit: int = 100
    ) -> Page[ReviewItem]:
        """A page of the tool's current reviews, in the order first submitted.

        Args:
            slug: The tool.
            after: The cursor: the position of the first submission the page
                starts after.
            limit: How many reviews at most.
        """
        limit = page_size(limit)
        with self._snapshot() as conn:
            rows = conn.execute(
                "SELECT r.reviewer, coalesce(p.lens, ''), r.verdict, r.rationale, "
                "r.revision, r.submitted_at, r.revised_at, r.withdrawn, "
                "r.submitted_position "
                "FROM reviews r LEFT JOIN reviewers p ON p.handle = r.reviewer "
                "WHERE r.tool = ? AND r.submitted_position > ? "
                "ORDER BY r.submitted_position LIMIT ?",
                (slug, cursor_position(after), limit + 1),
            ).fetchall()
        page = first_page(rows, limit, lambda row: row[8])
        items = [
            ReviewItem(
                reviewer=row[0],
                lens=row[1],
                verdict=row[2],
                rationale=row[3],
                revision=row[4],
                submitted_at=stored_time(row[5]),
                revised_at=None if row[6] is None else stored_time(row[6]),
                withdrawn=bool(row[7]),
            )
            for row in self._opened(page.items)
        ]
        return Page(items=items, next=page.next)

    def card_as_of(
        self, slug: str, *, at: datetime | None = None, position: int | None = None
    ) -> Card | None:
        """The tool's card as it stood at a time or a log position.

        ``at`` means "as of the newest event stamped at or before it" (a
        naive ``at`` is taken as UTC); see :func:`card_at`.

        Returns:
            The card, or None if the tool did not exist yet.

        Raises:
            ValueError: Unless exactly one of ``at`` and ``position`` is given.
        """
        if (at is None) == (position is None):
            msg = "give exactly one of at= and position="
            raise ValueError(msg)
        with self._snapshot() as conn:
            point = position if at is None else position_at(conn, at)
            return None if point is None else card_at(conn, slug, point)


def position_at(conn: sqlite3.Connection, at: datetime) -> int:
    """The position of the newest event stamped at or before ``at`` (0 if none).

    A naive ``at`` is taken as UTC.
    """
    found = conn.execute(
        "SELECT position FROM audit WHERE at <= ? "
        "ORDER BY at DESC, position DESC LIMIT 1",
        (iso(at),),
    ).fetchone()
    return 0 if found is None else int(found[0])


def card_at(conn: sqlite3.Connection, slug: str, position: int) -> Card | None:
    """The tool's card right after the event at ``position``; None before it existed.

    A lookup of the last change to the card at or before ``position``, joined
    with the tool's fields of that version: no replay.
    """
    fields = ", ".join(f"v.{name}" for name in TOOL_FIELDS)
    row = conn.execute(
        f"SELECT e.tool, {fields}, e.panel_ship, e.panel_skip, "
        "e.community_ship, e.community_skip, e.tool_version, e.position, "
        "a.at, v.retired, v.retired_at, v.retired_position, v.retired_reason "
        "FROM tool_events e "
        "JOIN audit a ON a.position = e.position "
        "JOIN tool_versions v "
        "ON v.slug = e.tool AND v.version = e.tool_version "
        "WHERE e.tool = ? AND e.kind IS NOT NULL AND e.position <= ? "
        "ORDER BY e.position DESC LIMIT 1",
        (slug, position),
    ).fetchone()
    if row is None:
        return None
    figures = card_figures(*row[8:12])
    return Card(
        **_fields(row),
        panel=figures.panel,
        community=figures.community,
        version=row[12],
        position=row[13],
        updated_at=stored_time(row[14]),
        retired=bool(row[15]),
        retirement=retirement(*row[16:19]),
    )
