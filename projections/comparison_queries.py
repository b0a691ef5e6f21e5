"""Queries of the comparisons: the list, and a comparison page's data."""

from __future__ import annotations

from typing import Any

from ledger.domainmodel import pair
from projections.card_queries import CARD_COLUMNS, card_from_row, retirement
from projections.models import (
    ComparisonSummary,
    ComparisonView,
    HeadToHead,
    Page,
    SplitItem,
)
from projections.snapshots import (
    ReadModelFile,
    cursor_position,
    every,
    first_page,
    page_size,
)


class ComparisonQueries(ReadModelFile):
    """Published comparisons, and both cards with the split and the tally."""

    def comparisons(self) -> list[ComparisonSummary]:
        """Every published comparison, in the order published."""
        return every(self.comparisons_page)

    def comparisons_page(
        self,
        after: int = 0,
        limit: int = 100,
        *,
        tool: str | None = None,
        live: bool = False,
    ) -> Page[ComparisonSummary]:
        """A page of the published comparisons, in the order published.

        Args:
            after: The cursor: the publication position the page starts after.
            limit: How many comparisons at most.
            tool: Only the comparisons of this tool.
            live: Leave the retired ones out.
        """
        limit = page_size(limit)
        where = "published_position > ?"
        params: list[Any] = [cursor_position(after)]
        if tool is not None:
            where += " AND (lo = ? OR hi = ?)"
            params += [tool, tool]
        if live:
            where += " AND retired = 0"
        with self._snapshot() as conn:
            rows = conn.execute(
                "SELECT a, b, question, retired, published_position FROM comparisons "
                f"WHERE {where} ORDER BY published_position LIMIT ?",
                [*params, limit + 1],
            ).fetchall()
        page = first_page(rows, limit, lambda row: row[4])
        items = [
            ComparisonSummary(a=a, b=b, question=q, retired=bool(r))
            for a, b, q, r, _ in page.items
        ]
        return Page(items=items, next=page.next)

    def comparison(self, a: str, b: str) -> ComparisonView | None:
        """A comparison page, with ``a`` and ``b`` in the order asked for.

        Returns:
            The view, or None if these two tools are not compared.
        """
        if a == b:
            return None
        lo, hi = pair(a, b)
        with self._snapshot() as conn:
            found = conn.execute(
                "SELECT c.question, c.retired, t.lo_picks, t.hi_picks, t.total, "
                "c.retired_at, c.retired_position, c.retired_reason "
                "FROM comparisons c JOIN head_to_head t USING (lo, hi) "
                "WHERE c.lo = ? AND c.hi = ?",
                (lo, hi),
            ).fetchone()
            if found is None:
                return None
            cards = {
                row[0]: card_from_row(row)
                for row in conn.execute(
                    f"SELECT {CARD_COLUMNS} FROM tools WHERE slug IN (?, ?)", (lo, hi)
                )
            }
            split = conn.execute(
                "SELECT s.reviewer, coalesce(p.lens, ''), s.lo_verdict, s.hi_verdict "
                "FROM splits s LEFT JOIN reviewers p ON p.handle = s.reviewer "
                "WHERE s.lo = ? AND s.hi = ? ORDER BY p.enrolled_position, s.reviewer",
                (lo, hi),
            ).fetchall()
        question, retired, lo_picks, hi_picks, total, *retired_since = found
        flip = a != lo
        return ComparisonView(
            question=question,
            a=cards[a],
            b=cards[b],
            split=[
                SplitItem(
                    reviewer=reviewer,
                    lens=lens,
                    a=hi_verdict if flip else lo_verdict,
                    b=lo_verdict if flip else hi_verdict,
                )
                for reviewer, lens, lo_verdict, hi_verdict in split
            ],
            head_to_head=HeadToHead(
                a=hi_picks if flip else lo_picks,
                b=lo_picks if flip else hi_picks,
                total=total,
            ),
            retired=bool(retired),
            retirement=retirement(*retired_since),
        )
