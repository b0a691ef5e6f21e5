"""The query layer: what ``api`` (and the CLI) read, as msgspec Structs.

Every answer is read inside one read transaction, so a comparison page's two
cards, split and tally come from the same moment of the log. Connections are
kept one per thread and reopened when a rebuild has swapped in a new
generation of the file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from ledger.domainmodel import pair
from ledger.log import EVENT_CLASSES
from ledger.rules import TOOL_FIELDS
from projections import files, schema
from projections.decoding import iso
from projections.models import (
    AuditItem,
    AuditPage,
    Card,
    ComparisonSummary,
    ComparisonView,
    Figures,
    HeadToHead,
    HistoryItem,
    ReviewItem,
    SplitItem,
)
from projections.readmodels.cards import BEFORE
from projections.stats import card_figures

MAX_PAGE = 1000
_decode_data = msgspec.json.Decoder(dict[str, Any]).decode

_CARD = (
    "slug, name, vendor, category, tagline, description, entry, license, "
    "panel_ship, panel_skip, panel_total, panel_pct, panel_low, panel_high, "
    "community_ship, community_skip, community_total, community_pct, "
    "community_low, community_high, version, position, updated_at, retired"
)
_HISTORY = (
    f"e.position, a.at, a.type, a.actor, a.reason, {BEFORE}, "
    "e.panel_ship, e.panel_skip, e.community_ship, e.community_skip"
)
_AUDIT = "position, at, type, aggregate_id, version, actor, reason, data, request_id"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _fields(row: tuple[Any, ...]) -> dict[str, str]:
    """A card's slug and tool fields from the first eight columns of ``row``."""
    return dict(zip(("slug", *TOOL_FIELDS), row[:8], strict=True))


def _card(row: tuple[Any, ...]) -> Card:
    return Card(
        **_fields(row),
        panel=Figures(*row[8:14]),
        community=Figures(*row[14:20]),
        version=row[20],
        position=row[21],
        updated_at=_time(row[22]),
        retired=bool(row[23]),
    )


def _history(row: tuple[Any, ...]) -> HistoryItem:
    return HistoryItem(
        position=row[0],
        at=_time(row[1]),
        type=row[2],
        actor=row[3],
        reason=row[4],
        before=card_figures(*row[5:9]),
        after=card_figures(*row[9:13]),
    )


class ReadModel:
    """Answers queries from one node's read-model file.

    Thread-safe: each thread gets its own connection. After ``ledger
    rebuild`` swaps in a new generation, the next query of every thread
    reopens onto it.

    Args:
        path: The read-model file (see :func:`projections.files.readmodel_path`);
            created empty if nothing has projected into it yet.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[files.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._connection()

    def _connection(self) -> files.Connection:
        if self._closed:
            msg = "the read model is closed"
            raise RuntimeError(msg)
        conn: files.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not files.swapped(conn, self.path):
            return conn
        fresh = files.connect(self.path)
        schema.migrate(fresh)
        with self._lock:
            if conn is not None:
                self._all.remove(conn)
                conn.close()
            self._all.append(fresh)
        self._local.conn = fresh
        return fresh

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every SELECT inside sees the same commit."""
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        """Closes every thread's connection; the read model is unusable after."""
        with self._lock:
            self._closed = True
            for conn in self._all:
                conn.close()
            self._all.clear()

    # Position.

    def position(self) -> int:
        """The log position every read model in the file reflects."""
        return schema.tracked_position(self._connection())

    def wait_for(self, position: int, timeout: float = 2.0) -> bool:
        """Waits, bounded, until the read models reflect ``position``.

        Polls the file, so it works in any process, whoever projects.

        Returns:
            Whether ``position`` was reached within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        pause = 0.002
        while self.position() < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)
        return True

    # Tools.

    def tools(self) -> list[Card]:
        """Every tool's current card, retired ones included, by slug."""
        with self._snapshot() as conn:
            rows = conn.execute(f"SELECT {_CARD} FROM tools ORDER BY slug").fetchall()
        return [_card(row) for row in rows]

    def tool(self, slug: str) -> Card | None:
        """The tool's current card, or None if no such tool was registered."""
        with self._snapshot() as conn:
            row = conn.execute(
                f"SELECT {_CARD} FROM tools WHERE slug = ?", (slug,)
            ).fetchone()
        return None if row is None else _card(row)

    def reviews(self, slug: str) -> list[ReviewItem]:
        """The panel's current reviews of a tool, in the order first submitted."""
        with self._snapshot() as conn:
            rows = conn.execute(
                "SELECT r.reviewer, coalesce(p.lens, ''), r.verdict, r.rationale, "
                "r.revision, r.submitted_at, r.revised_at, r.withdrawn "
                "FROM reviews r LEFT JOIN reviewers p ON p.handle = r.reviewer "
                "WHERE r.tool = ? ORDER BY r.submitted_position",
                (slug,),
            ).fetchall()
        return [
            ReviewItem(
                reviewer=row[0],
                lens=row[1],
                verdict=row[2],
                rationale=row[3],
                revision=row[4],
                submitted_at=_time(row[5]),
                revised_at=None if row[6] is None else _time(row[6]),
                withdrawn=bool(row[7]),
            )
            for row in rows
        ]

    def history(self, slug: str) -> list[HistoryItem]:
        """Every event that changed the tool's card, oldest first."""
        with self._snapshot() as conn:
            rows = conn.execute(
                f"SELECT {_HISTORY} FROM tool_events e JOIN audit a USING (position) "
                "WHERE e.tool = ? AND e.kind IS NOT NULL ORDER BY e.position",
                (slug,),
            ).fetchall()
        return [_history(row) for row in rows]

    def card_as_of(
        self, slug: str, *, at: datetime | None = None, position: int | None = None
    ) -> Card | None:
        """The tool's card as it stood at a time or a log position.

        A lookup of the last change to the card at or before the point,
        joined with the tool's fields of that version: no replay. ``at``
        means "as of the newest event stamped at or before it" (a naive
        ``at`` is taken as UTC).

        Returns:
            The card, or None if the tool did not exist yet.

        Raises:
            ValueError: Unless exactly one of ``at`` and ``position`` is given.
        """
        if (at is None) == (position is None):
            msg = "give exactly one of at= and position="
            raise ValueError(msg)
        fields = ", ".join(f"v.{name}" for name in TOOL_FIELDS)
        with self._snapshot() as conn:
            if at is not None:
                found = conn.execute(
                    "SELECT position FROM audit WHERE at <= ? "
                    "ORDER BY at DESC, position DESC LIMIT 1",
                    (iso(at),),
                ).fetchone()
                if found is None:
                    return None
                position = found[0]
            row = conn.execute(
                f"SELECT e.tool, {fields}, e.panel_ship, e.panel_skip, "
                "e.community_ship, e.community_skip, e.tool_version, e.position, "
                "a.at, v.retired FROM tool_events e "
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
            updated_at=_time(row[14]),
            retired=bool(row[15]),
        )

    def verdict_changes(self, limit: int = 50) -> list[tuple[str, HistoryItem]]:
        """The newest changes to panel verdicts and tools (not votes), newest first.

        Community votes are left out: they would drown a feed of verdicts.
        """
        limit = _page_size(limit)
        with self._snapshot() as conn:
            rows = conn.execute(
                "SELECT e.tool, e.position, a.at, a.type, a.actor, a.reason, "
                "coalesce(p.panel_ship, 0), coalesce(p.panel_skip, 0), "
                "coalesce(p.community_ship, 0), coalesce(p.community_skip, 0), "
                "e.panel_ship, e.panel_skip, e.community_ship, e.community_skip "
                "FROM (SELECT * FROM tool_events INDEXED BY idx_tool_events_verdicts "
                "WHERE kind IN ('tool', 'review') ORDER BY position DESC LIMIT ?) e "
                "JOIN audit a USING (position) "
                "LEFT JOIN tool_events p ON p.position = ("
                "  SELECT max(q.position) FROM tool_events q "
                "  WHERE q.tool = e.tool AND q.position < e.position "
                "  AND q.kind IS NOT NULL) "
                "ORDER BY e.position DESC",
                (limit,),
            ).fetchall()
        return [(row[0], _history(row[1:])) for row in rows]

    # Comparisons.

    def comparisons(self) -> list[ComparisonSummary]:
        """Every published comparison, in the order published."""
        with self._snapshot() as conn:
            rows = conn.execute(
                "SELECT a, b, question, retired FROM comparisons "
                "ORDER BY published_position"
            ).fetchall()
        return [
            ComparisonSummary(a=a, b=b, question=q, retired=bool(r))
            for a, b, q, r in rows
        ]

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
                "SELECT c.question, c.retired, t.lo_picks, t.hi_picks, t.total "
                "FROM comparisons c JOIN head_to_head t USING (lo, hi) "
                "WHERE c.lo = ? AND c.hi = ?",
                (lo, hi),
            ).fetchone()
            if found is None:
                return None
            cards = {
                row[0]: _card(row)
                for row in conn.execute(
                    f"SELECT {_CARD} FROM tools WHERE slug IN (?, ?)", (lo, hi)
                )
            }
            split = conn.execute(
                "SELECT s.reviewer, coalesce(p.lens, ''), s.lo_verdict, s.hi_verdict "
                "FROM splits s LEFT JOIN reviewers p ON p.handle = s.reviewer "
                "WHERE s.lo = ? AND s.hi = ? ORDER BY p.enrolled_position, s.reviewer",
                (lo, hi),
            ).fetchall()
        question, retired, lo_picks, hi_picks, total = found
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
        )

    # The audit index.

    def events(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        tool: str | None = None,
        actor: str | None = None,
        type: str | None = None,
    ) -> AuditPage:
        """A page of the log's events after ``after``, optionally filtered.

        Returns:
            The page; its ``next`` is the cursor to pass as ``after`` for the
            following page, or None when this page reached the end.

        Raises:
            ValueError: For a negative cursor, a limit outside 1-1000 or an
                unknown event type.
        """
        if after < 0:
            msg = f"after must be 0 or more, not {after}"
            raise ValueError(msg)
        limit = _page_size(limit)
        if type is not None and type not in EVENT_CLASSES:
            msg = f"unknown event type {type!r}; known: " + ", ".join(
                sorted(EVENT_CLASSES)
            )
            raise ValueError(msg)
        filters, params = "", []
        if actor is not None:
            filters += " AND actor = ?"
            params.append(actor)
        if type is not None:
            filters += " AND type = ?"
            params.append(type)
        if tool is None:
            query = (
                f"SELECT {_AUDIT} FROM audit WHERE position > ?{filters} "
                "ORDER BY position LIMIT ?"
            )
            args: list[Any] = [after, *params, limit]
        else:
            # Each arm walks one index in position order and stops at the limit.
            arm = (
                "SELECT position FROM (SELECT e.position FROM tool_events e "
                "JOIN audit USING (position) WHERE e.{} = ? AND e.position > ?"
                f"{filters} ORDER BY e.position LIMIT ?)"
            )
            query = (
                f"SELECT {_AUDIT} FROM audit WHERE position IN ("
                f"{arm.format('tool')} UNION ALL {arm.format('other_tool')}) "
                "ORDER BY position LIMIT ?"
            )
            args = [tool, after, *params, limit, tool, after, *params, limit, limit]
        with self._snapshot() as conn:
            rows = conn.execute(query, args).fetchall()
        items = [
            AuditItem(
                position=row[0],
                at=_time(row[1]),
                type=row[2],
                aggregate_id=UUID(hex=row[3]),
                version=row[4],
                actor=row[5],
                reason=row[6],
                data=_decode_data(row[7]),
                request_id=row[8],
            )
            for row in rows
        ]
        more = len(items) == limit
        return AuditPage(items=items, next=items[-1].position if more else None)


def _page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        msg = f"limit must be between 1 and {MAX_PAGE}, not {limit}"
        raise ValueError(msg)
    return limit
