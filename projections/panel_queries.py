"""Queries of the review panel: its active reviewers, and any one reviewer."""

from __future__ import annotations

from typing import Any

from projections.card_queries import retirement
from projections.models import Page, PanelMember
from projections.snapshots import (
    ReadModelFile,
    cursor_position,
    first_page,
    page_size,
    stored_time,
)

_MEMBER = (
    "handle, name, lens, version, position, updated_at, retired, "
    "retired_at, retired_position, retired_reason"
)


def _member(row: tuple[Any, ...]) -> PanelMember:
    return PanelMember(
        handle=row[0],
        name=row[1],
        lens=row[2],
        version=row[3],
        position=row[4],
        updated_at=stored_time(row[5]),
        retired=bool(row[6]),
        retirement=retirement(*row[7:10]),
    )


class PanelQueries(ReadModelFile):
    """The panel's reviewers, as enrolled, edited and retired."""

    def panel_page(self, after: int = 0, limit: int = 100) -> Page[PanelMember]:
        """A page of the active reviewers, in the order enrolled.

        Args:
            after: The cursor: the enrolment position the page starts after.
            limit: How many reviewers at most.
        """
        limit = page_size(limit)
        with self._snapshot() as conn:
            rows = conn.execute(
                f"SELECT {_MEMBER}, enrolled_position FROM reviewers "
                "WHERE enrolled_position > ? AND retired = 0 "
                "ORDER BY enrolled_position LIMIT ?",
                (cursor_position(after), limit + 1),
            ).fetchall()
        page = first_page(rows, limit, lambda row: row[-1])
        members = [_member(row) for row in self._opened(page.items)]
        return Page(items=members, next=page.next)

    def panel_member(self, handle: str) -> PanelMember | None:
        """The reviewer of ``handle``, retired or not; None if never enrolled."""
        with self._snapshot() as conn:
            row = conn.execute(
                f"SELECT {_MEMBER} FROM reviewers WHERE handle = ?", (handle,)
            ).fetchone()
        return None if row is None else _member(self._opened([row])[0])
