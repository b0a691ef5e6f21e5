"""Queries of the verdict history: pages of changes, buckets, the feed's changes."""

from __future__ import annotations

from datetime import date
from typing import Any

from projections.history_pages import (
    COLUMNS,
    NAMES,
    HistoryExtent,
    HistoryFilter,
    bucket_end,
    page_query,
)
from projections.models import (
    HistoryBucket,
    HistoryItem,
    Page,
)
from projections.readmodels.cards import PREVIOUS, VERDICT_KINDS
from projections.readmodels.verdict_days import rollup
from projections.snapshots import (
    ReadModelFile,
    cursor_position,
    every,
    first_page,
    page_size,
    stored_time,
)
from projections.stats import card_figures


def history_item(row: tuple[Any, ...]) -> HistoryItem:
    """A history item from a row of :data:`~projections.history_pages.COLUMNS`."""
    return HistoryItem(
        position=row[0],
        at=stored_time(row[1]),
        type=row[2],
        kind=NAMES[row[3]],
        actor=row[4],
        reason=row[5],
        before=card_figures(*row[6:10]),
        after=card_figures(*row[10:14]),
    )


class HistoryQueries(ReadModelFile):
    """A tool's verdict history, whole, by page, by bucket; the newest verdicts."""

    def history(self, slug: str) -> list[HistoryItem]:
        """Every event that changed the tool's card, oldest first.

        For the command line and tests; readers get :meth:`history_page`.
        """
        return every(lambda after, limit: self.history_page(slug, after, limit))

    def history_page(
        self,
        slug: str,
        after: int | None = None,
        limit: int = 100,
        *,
        newest_first: bool = False,
        only: HistoryFilter | None = None,
    ) -> Page[HistoryItem]:
        """A page of the events that changed the tool's card, with the figures
        around each.

        Events are listed in log order, so those appended while a reader
        pages oldest first come after the pages read, and newest first before
        them: a page never repeats or skips one.

        Args:
            slug: The tool.
            after: The cursor: the position the page starts after (or, newest
                first, before); None for the first page.
            limit: How many events at most.
            newest_first: List the newest change first.
            only: Which changes to list (all by default).
        """
        limit = page_size(limit)
        if after is not None:
            after = cursor_position(after)
        with self._snapshot() as conn:
            query, params = page_query(
                conn,
                slug,
                after,
                limit + 1,
                newest_first,
                only or HistoryFilter(),
            )
            rows = conn.execute(query, params).fetchall()
        page = first_page(rows, limit, lambda row: row[0])
        items = [history_item(row) for row in self._opened(page.items)]
        return Page(items=items, next=page.next)

    def history_buckets(
        self,
        slug: str,
        bucket: str,
        after: str | None = None,
        limit: int = 100,
        *,
        newest_first: bool = False,
    ) -> Page[HistoryBucket]:
        """A page of the tool's history summarised by day, ISO week or month.

        Read from the per-day sums of the history, never the history itself.

        Args:
            slug: The tool.
            bucket: ``day``, ``week`` or ``month``.
            after: The cursor: a day (``YYYY-MM-DD``); oldest first, the page
                starts with the bucket that day falls in; newest first, with the
                bucket before it. None for the first page.
            limit: How many buckets at most.
            newest_first: List the newest bucket first.
        """
        limit = page_size(limit)
        sql = rollup(bucket, newest_first=newest_first)
        bound = after if after is not None else ("9999" if newest_first else "")
        with self._snapshot() as conn:
            rows = conn.execute(sql, (slug, bound, limit + 1)).fetchall()
        items = []
        for start, changes, votes, position, *counts in rows:
            first = date.fromisoformat(start)
            found = card_figures(*counts)
            items.append(
                HistoryBucket(
                    start=first,
                    end=bucket_end(bucket, first),
                    changes=changes,
                    votes=votes,
                    position=position,
                    panel=found.panel,
                    community=found.community,
                )
            )
        if newest_first:
            return first_page(items, limit, lambda item: item.start.isoformat())
        return first_page(items, limit, lambda item: item.end.isoformat())

    def history_extent(self, slug: str) -> HistoryExtent:
        """How many changes the tool's history holds, and the days it spans."""
        with self._snapshot() as conn:
            changes, first, last = conn.execute(
                "SELECT total(changes), min(day), max(day) FROM card_days "
                "WHERE tool = ?",
                (slug,),
            ).fetchone()
        if first is None:
            return HistoryExtent(0)
        return HistoryExtent(
            int(changes), date.fromisoformat(first), date.fromisoformat(last)
        )

    def verdict_changes(self, limit: int = 50) -> list[tuple[str, HistoryItem]]:
        """The newest changes to panel verdicts and tools (not votes), newest first.

        Community votes are left out: they would drown a feed of verdicts.
        """
        limit = page_size(limit)
        with self._snapshot() as conn:
            rows = conn.execute(
                f"SELECT e.tool, {COLUMNS} "
                "FROM (SELECT * FROM tool_events INDEXED BY idx_tool_events_verdicts "
                f"WHERE {VERDICT_KINDS} ORDER BY position DESC LIMIT ?) e "
                f"JOIN audit a USING (position) {PREVIOUS} "
                "ORDER BY e.position DESC",
                (limit,),
            ).fetchall()
        return [(row[0], history_item(row[1:])) for row in self._opened(rows)]
