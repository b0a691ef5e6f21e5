"""``/api/events``: the audit log, page by page or as a live stream."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio.to_thread
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from api import param_bounds
from api.event_stream import follow
from api.pagination import DEFAULT_LIMIT, LINK_HEADER, Limit, link_header, link_with
from api.problem_details import ApiProblem, documented
from api.read_your_writes import READ
from api.schemas import EventList
from ledger import log as event_log
from ledger.application import Ledger
from projections.queries import ReadModel

_POSITION = re.compile(r"[0-9]{1,19}")  # positions stay below 2**62


def _check_type(type_: str | None) -> None:
    if type_ is not None and type_ not in event_log.EVENT_CLASSES:
        known = ", ".join(sorted(event_log.EVENT_CLASSES))
        raise ApiProblem(
            "unknown-event-type", f"unknown event type {type_!r}; known: {known}"
        )


def _resume_point(last_event_id: str) -> int:
    found = _POSITION.fullmatch(last_event_id.strip())
    if found is None:
        shown = last_event_id[:40] + ("…" if len(last_event_id) > 40 else "")
        raise ApiProblem(
            "invalid-last-event-id",
            f"Last-Event-ID must be a log position, not {shown!r}",
        )
    return int(found.group())


def _check_start(start: int, head: int) -> None:
    """Refuses to start a stream after a position the log has not reached.

    Such a client followed another log (or this one before a restore), and
    nothing it could be sent would be right. A refusal (not a stream that
    waits) ends an EventSource's reconnecting: it gives up on any answer
    but 200, where a stream that failed would have it reconnect for ever.
    """
    if start > head:
        raise ApiProblem(
            "position-beyond-log",
            f"position {start} is past the end of the log (head {head}); "
            "start again without Last-Event-ID or after",
        )


class EventsController(Controller):
    """Every event of the log, for auditors and followers."""

    path = "/api/events"
    tags = ["events"]

    @get(
        "/",
        sync_to_thread=False,
        summary="A page of the audit log, oldest first, optionally filtered",
        response_headers=LINK_HEADER,
        responses=documented(*READ),
    )
    def page(
        self,
        request: Request[Any, Any, State],
        read_model: NamedDependency[ReadModel],
        after: Annotated[
            int,
            QueryParameter(
                ge=0,
                le=2**62,
                description="Start after this position",
                schema_extra=param_bounds.POSITION,
            ),
        ] = 0,
        limit: Limit = DEFAULT_LIMIT,
        tool: Annotated[
            str | None, QueryParameter(description="Only events about this tool")
        ] = None,
        actor: Annotated[
            str | None, QueryParameter(description="Only events by this actor")
        ] = None,
        type_: Annotated[
            str | None,
            QueryParameter(
                name="type",
                description="Only this event type, e.g. Review.Revised",
                schema_extra={"enum": sorted(event_log.EVENT_CLASSES)},
            ),
        ] = None,
    ) -> Response[EventList]:
        """``next`` is the ``after`` of the next page; null when this is the last.

        The log position is this list's cursor, so ``after`` takes it; the
        ``Link`` header carries the whole next link, as on every list.
        """
        _check_type(type_)
        page = read_model.events(
            after=after, limit=limit, tool=tool, actor=actor, type=type_
        )
        following = page.next if isinstance(page.next, int) else None
        link = None if following is None else link_with(request, "after", following)
        return Response(
            EventList(items=page.items, next=following), headers=link_header(link)
        )

    @get(
        "/stream",
        summary="The log as server-sent events, live, resumable with Last-Event-ID",
        responses=documented(400, 422, 429),
    )
    async def stream(
        self,
        request: Request[Any, Any, State],
        ledger: NamedDependency[Ledger],
        after: Annotated[
            int | None,
            QueryParameter(
                ge=0,
                le=2**62,
                description="Start after this position (default: the current head)",
                schema_extra=param_bounds.POSITION,
            ),
        ] = None,
        last_event_id: Annotated[
            str | None,
            HeaderParameter(
                name="Last-Event-ID", description="Resume after this event id"
            ),
        ] = None,
    ) -> ServerSentEvent:
        """Each event's SSE ``id`` is its log position and ``event`` its type.

        A reconnecting client sends ``Last-Event-ID`` and gets every event
        after it, so nothing is missed. Idle streams get a keep-alive comment.
        Events come straight from the log, so they arrive before the read
        models have caught up. A start past the log's head (from
        ``Last-Event-ID`` or ``after``) is refused with 422 before any event
        is sent. One client address may hold
        ``LEDGER_STREAMS_PER_CLIENT`` streams open per worker; the next is
        refused with 429. A worker full of streams refuses more with 503.
        """
        start = after
        if last_event_id is not None:
            start = _resume_point(last_event_id)
        head: int = await anyio.to_thread.run_sync(ledger.head_position)
        if start is None:
            start = head
        _check_start(start, head)
        state = request.app.state
        client = request.client.host if request.client else "unknown"
        events: AsyncIterator[ServerSentEventMessage] = follow(
            state.log_watcher, start, on_end=state.stream_slots.take(client)
        )
        return ServerSentEvent(events)
