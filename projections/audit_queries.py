"""Queries of the audit index: a page of the log's events, filtered."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from ledger.log import EVENT_CLASSES
from projections.models import (
    AuditItem,
    Page,
)
from projections.snapshots import (
    ReadModelFile,
    first_page,
    page_size,
    stored_time,
)

_decode_data = msgspec.json.Decoder(dict[str, Any]).decode
_AUDIT = "position, at, type, aggregate_id, version, actor, reason, data, request_id"


class AuditQueries(ReadModelFile):
    """The log's events, page by page, by tool, actor or type."""

    def events(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        tool: str | None = None,
        actor: str | None = None,
        type: str | None = None,
    ) -> Page[AuditItem]:
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
        limit = page_size(limit)
        fetch = limit + 1  # one more, to know whether another page follows
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
            args: list[Any] = [after, *params, fetch]
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
            args = [tool, after, *params, fetch, tool, after, *params, fetch, fetch]
        with self._snapshot() as conn:
            rows = conn.execute(query, args).fetchall()
        rows = self._opened(rows)
        data = self._opened_tree([_decode_data(row[7]) for row in rows])
        items = [
            AuditItem(
                position=row[0],
                at=stored_time(row[1]),
                type=row[2],
                aggregate_id=UUID(hex=row[3]),
                version=row[4],
                actor=row[5],
                reason=row[6],
                data=found,
                request_id=row[8],
            )
            for row, found in zip(rows, data, strict=True)
        ]
        return first_page(items, limit, lambda item: item.position)
